"""Training-time augmentations (mtlsed.features.augment), each checked against a hand computation."""

import math

import numpy as np
import pytest
import torch
from scipy.special import betaincinv

from mtlsed.config.settings import AugmentConfig
from mtlsed.features.augment import (
    LOG_PER_DB,
    active_runs,
    augment_batch,
    batch_generator,
    filter_min_bandwidth,
    freq_mixstyle,
    mix_energies,
    random_gain,
    time_masks,
)

torch.set_num_threads(1)

HOP = 0.01
PROBS = (
    "mixup_prob",
    "filter_prob",
    "time_mask_prob",
    "freq_mask_prob",
    "gain_prob",
    "shift_prob",
    "mixstyle_prob",
)


def only(**settings) -> AugmentConfig:
    """A config with every probability 0 but the settings given."""
    cfg = AugmentConfig()
    for name, value in settings.items():
        assert hasattr(cfg, name), name
        setattr(cfg, name, value)
    return cfg


def batch(n: int = 6, frames: int = 50, mels: int = 32, classes: int = 4, seed: int = 0):
    """Random raw log-mel ``(n, frames, mels)`` around -5 and {0, 1} labels ``(n, classes)``."""
    rng = np.random.default_rng(seed)
    x = torch.from_numpy(rng.normal(-5.0, 1.0, (n, frames, mels)).astype(np.float32))
    y = torch.from_numpy((rng.random((n, classes)) < 0.4).astype(np.float32))
    return x, y


def run(x, y, cfg, seed: int = 0):
    return augment_batch(x, y, cfg, batch_generator(seed, 1), HOP)


# -- the contract ----------------------------------------------------------------------------------------


def test_all_probabilities_zero_is_the_identity_and_draws_nothing():
    x, y = batch()
    gen = batch_generator(3, 7)
    before = gen.get_state().clone()
    out, out_y = augment_batch(x, y, AugmentConfig(), gen, HOP)
    assert torch.equal(out, x) and torch.equal(out_y, y)
    assert torch.equal(gen.get_state(), before)
    assert not AugmentConfig().enabled()
    assert all(only(**{p: 0.1}).enabled() for p in PROBS)


def test_inputs_are_not_modified_in_place():
    x, y = batch()
    x0, y0 = x.clone(), y.clone()
    cfg = only(**dict.fromkeys(PROBS, 1.0))
    out, out_y = run(x, y, cfg)
    assert torch.equal(x, x0) and torch.equal(y, y0)
    assert out.shape == x.shape and out.dtype == x.dtype and out_y.shape == y.shape
    assert not torch.equal(out, x)


def test_seeded_draws_are_deterministic():
    x, y = batch()
    cfg = only(**dict.fromkeys(PROBS, 0.5))
    a = augment_batch(x, y, cfg, batch_generator(0, 5), HOP)
    b = augment_batch(x, y, cfg, batch_generator(0, 5), HOP)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    for other in (batch_generator(0, 6), batch_generator(1, 5)):
        assert not torch.equal(augment_batch(x, y, cfg, other, HOP)[0], a[0])


def test_probability_is_per_clip():
    x, y = batch(n=400, frames=2, mels=2)
    out, _ = run(x, y, only(gain_prob=0.5))
    changed = (out != x).flatten(1).any(dim=1).float().mean().item()
    assert 0.4 < changed < 0.6


# -- mixup ------------------------------------------------------------------------------------------------


def test_mix_energies_closed_form():
    a, b = torch.full((3, 4), -2.0), torch.full((3, 4), 1.0)
    for lam in (0.0, 0.3, 1.0):
        expected = math.log(lam * math.exp(-2.0) + (1 - lam) * math.exp(1.0))
        torch.testing.assert_close(mix_energies(a, b, lam), torch.full((3, 4), expected))
    big = mix_energies(torch.full((2,), 200.0), torch.full((2,), 199.0), 0.5)  # exp would overflow
    torch.testing.assert_close(big, torch.full((2,), 200.0 + math.log(0.5 + 0.5 * math.exp(-1.0))))


def test_mixup_mixes_energies_with_a_partner_and_takes_the_max_label():
    n = 400  # clip i is the constant log(i + 1); its one-hot label names it in the mixed labels
    x = torch.log(torch.arange(1, n + 1, dtype=torch.float32)).view(n, 1, 1).expand(n, 3, 2).contiguous()
    y = torch.eye(n)
    out, out_y = run(x, y, only(mixup_prob=1.0, mixup_alpha=0.2))
    partners, lams = [], []
    for i in range(n):
        others = [j for j in torch.nonzero(out_y[i]).flatten().tolist() if j != i]
        assert out_y[i, i] == 1 and len(others) == 1  # the max of both labels, never mixed with itself
        j = others[0]
        partners.append(j)
        lam = (torch.exp(out[i].double()) - (j + 1)) / ((i + 1) - (j + 1))  # from the closed form
        assert lam.max() - lam.min() < 1e-4
        lams.append(lam.mean().item())
    assert sorted(partners) == list(range(n))  # a permutation
    lams = np.array(lams)
    assert lams.min() > -1e-3 and lams.max() < 1 + 1e-3
    assert abs(lams.mean() - 0.5) < 0.05
    assert abs(lams.var() - 1 / (4 * (2 * 0.2 + 1))) < 0.025  # Beta(0.2, 0.2): variance 1 / 5.6
    assert out_y.max() == 1


# -- Freq-MixStyle -------------------------------------------------------------------------------------------


def _mixstyle_draws(n: int, seed: int = 0):
    """The draws :func:`freq_mixstyle` makes from ``batch_generator(seed, 1)``, replayed: the clips chosen
    at probability 1 (all), each clip's partner (a permutation in cyclic order) and ``lam`` by inverse CDF."""
    gen = batch_generator(seed, 1)
    torch.rand(n, generator=gen)  # the choice
    order = torch.randperm(n, generator=gen).numpy()
    partner = np.empty(n, dtype=np.int64)
    partner[order] = np.roll(order, -1)
    lam = betaincinv(0.3, 0.3, torch.rand(n, generator=gen, dtype=torch.float64).numpy())
    return partner, lam


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mixstyle_takes_a_mixture_of_a_partners_band_statistics(seed):
    n, frames, mels = 200, 40, 5
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, frames, mels))
    z = (z - z.mean(axis=1, keepdims=True)) / z.std(axis=1, keepdims=True)  # mean 0, variance 1 per band
    mean = rng.uniform(-8, 0, (n, 1, mels))
    spread = rng.uniform(0.5, 3, (n, 1, mels))
    x = torch.from_numpy(mean + spread * z)  # float64: clip i's band means and spreads are known
    y = torch.from_numpy((rng.random((n, 3)) < 0.5).astype(np.float32))
    out, out_y = run(x, y, only(mixstyle_prob=1.0, mixstyle_alpha=0.3), seed=seed)
    assert torch.equal(out_y, y)  # labels untouched
    partner, lam = _mixstyle_draws(n, seed)
    assert (partner != np.arange(n)).all() and sorted(partner) == list(range(n))  # never itself
    sigma = np.sqrt(spread**2 + 1e-6)  # the biased spread over time, with the module's eps
    w = lam[:, None, None]
    mixed_mean = w * mean + (1 - w) * mean[partner]
    mixed_sigma = w * sigma + (1 - w) * sigma[partner]
    expected = spread * z / sigma * mixed_sigma + mixed_mean  # (x - mu) / sigma = spread z / sigma
    np.testing.assert_allclose(out.numpy(), expected, rtol=0, atol=1e-9)
    assert lam.min() >= 0 and lam.max() <= 1
    assert abs(lam.mean() - 0.5) < 0.06
    assert abs(lam.var() - 1 / (4 * (2 * 0.3 + 1))) < 0.03  # Beta(0.3, 0.3): variance 1 / 6.4


def test_mixstyle_chooses_each_clip_with_its_probability_and_leaves_a_single_clip_alone():
    x, y = batch(n=400, frames=6, mels=3)
    out, _ = run(x, y, only(mixstyle_prob=0.25))
    changed = (out != x).flatten(1).any(dim=1).numpy()
    chosen = (torch.rand(400, generator=batch_generator(0, 1)) < 0.25).numpy()
    _, lam = _mixstyle_draws(400)
    assert not (changed & ~chosen).any()  # only the chosen clips change
    assert (lam[chosen & ~changed] > 1 - 1e-6).all()  # a chosen clip stays only at lam 1 (within float32)
    assert 0.18 < chosen.mean() < 0.32
    one, _ = run(x[:1], y[:1], only(mixstyle_prob=1.0))
    assert torch.equal(one, x[:1])


def test_draws_do_not_depend_on_the_data_or_on_probabilities_above_0():
    """An augmentation that is on draws a fixed number of numbers for a batch shape: the generator ends in
    the same state whatever the data and the probabilities (above 0), so later augmentations draw alike."""
    states = []
    for data_seed, prob in [(0, 0.3), (1, 0.3), (0, 0.9), (2, 1e-9)]:
        x, y = batch(seed=data_seed)
        cfg = only(**dict.fromkeys(PROBS, prob))
        gen = batch_generator(0, 1)
        augment_batch(x, y, cfg, gen, HOP)
        states.append(gen.get_state())
    assert all(torch.equal(state, states[0]) for state in states[1:])


def test_mixstyle_comes_after_gain_and_before_the_time_masks():
    x, y = batch()
    cfg = only(gain_prob=1.0, mixstyle_prob=1.0, time_mask_prob=1.0)
    out, _ = run(x, y, cfg)
    gen = batch_generator(0, 1)
    step = random_gain(x, 1.0, cfg.gain_db, gen)
    step = freq_mixstyle(step, 1.0, cfg.mixstyle_alpha, gen)
    max_frames = int(math.floor(cfg.time_mask_max_s / HOP + 1e-6))
    step = time_masks(step, 1.0, cfg.time_masks, max_frames, gen)
    torch.testing.assert_close(out, step, rtol=0, atol=0)


# -- FilterAugment -----------------------------------------------------------------------------------------


def _steps(curve: torch.Tensor) -> list[int]:
    """Widths of the runs of equal values of ``(F,)``."""
    cuts = torch.nonzero((curve[1:] - curve[:-1]).abs() > 1e-4).flatten().tolist()
    edges = [0, *[c + 1 for c in cuts], curve.numel()]
    return [b - a for a, b in zip(edges[:-1], edges[1:], strict=True)]


@pytest.mark.parametrize("mels", [64, 5])
def test_filter_is_a_step_curve_in_db(mels):
    x, y = batch(n=60, frames=4, mels=mels)
    cfg = only(filter_prob=1.0, filter_db=6.0, filter_bands=[3, 6])
    out, out_y = run(x, y, cfg)
    assert torch.equal(out_y, y)
    diff = out.double() - x.double()
    torch.testing.assert_close(diff, diff[:, :1].expand_as(diff), rtol=0, atol=1e-5)  # same every frame
    assert diff.abs().max() <= 6.0 * LOG_PER_DB + 1e-5
    counts = set()
    for curve in diff[:, 0]:
        widths = _steps(curve)
        counts.add(len(widths))
        assert 3 <= len(widths) <= min(6, mels)
        assert min(widths) >= min(filter_min_bandwidth(mels), mels // len(widths))
    assert counts == (set(range(3, 7)) if mels == 64 else {3, 4, 5})  # the range is inclusive
    assert filter_min_bandwidth(128) == 6 and filter_min_bandwidth(64) == 3 and filter_min_bandwidth(8) == 1


# -- gain and shift ---------------------------------------------------------------------------------------


def test_gain_is_a_constant_offset_per_clip():
    x, y = batch(n=20)
    out, out_y = run(x, y, only(gain_prob=1.0, gain_db=6.0))
    assert torch.equal(out_y, y)
    diff = out.double() - x.double()
    offsets = diff[:, :1, :1]
    torch.testing.assert_close(diff, offsets.expand_as(diff), rtol=0, atol=1e-5)
    assert (offsets.abs() <= 6.0 * LOG_PER_DB + 1e-5).all() and (offsets.abs() > 0).all()
    assert offsets.std() > 0.1  # one gain per clip


def test_shift_is_a_circular_shift_of_the_frames():
    x, y = batch(n=10, frames=30)
    out, out_y = run(x, y, only(shift_prob=1.0))
    assert torch.equal(out_y, y)
    shifts = []
    for i in range(10):
        found = [k for k in range(30) if torch.equal(out[i], torch.roll(x[i], k, dims=0))]
        assert len(found) == 1 and found[0] != 0
        shifts.append(found[0])
    assert len(set(shifts)) > 3


# -- masks -------------------------------------------------------------------------------------------------


def _masked_frames(out: torch.Tensor, x: torch.Tensor) -> list[list[int]]:
    """Per clip, the frames of ``out`` replaced by the clip's per-band mean (the others must be intact)."""
    changed = (out != x).any(dim=2)  # (B, T)
    fill = x.mean(dim=1, keepdim=True).expand_as(x)
    torch.testing.assert_close(out[changed], fill[changed], rtol=0, atol=1e-6)
    return [torch.nonzero(row).flatten().tolist() for row in changed]


def test_time_masks_width_and_fill():
    x, y = batch(n=30, frames=100)  # stationary noise: no active run to protect
    x = -5.0 + 0.2 * (x + 5.0)
    cfg = only(time_mask_prob=1.0, time_masks=1, time_mask_max_s=0.2)  # at most 20 frames of 10 ms
    out, out_y = run(x, y, cfg)
    assert torch.equal(out_y, y)
    widths = []
    for frames in _masked_frames(out, x):
        assert frames and frames == list(range(frames[0], frames[0] + len(frames)))  # one stripe
        assert 1 <= len(frames) <= 20
        widths.append(len(frames))
    assert max(widths) > 10
    two = run(x, y, only(time_mask_prob=1.0, time_masks=2, time_mask_max_s=0.2), seed=1)[0]
    assert all(1 <= len(f) <= 40 for f in _masked_frames(two, x))


def _event_clip(starts=(100,), n: int = 8, frames: int = 200, mels: int = 32, width: int = 4):
    """Quiet noise with short loud events over every band at frames ``start:start + width``."""
    rng = np.random.default_rng(2)
    x = rng.normal(-10.0, 0.3, (n, frames, mels)).astype(np.float32)
    for start in starts:
        x[:, start : start + width] += 12.0
    return torch.from_numpy(x), torch.ones(n, 1)


def test_active_runs_find_the_event():
    x, _ = _event_clip()
    runs = active_runs(x[0])
    assert torch.nonzero(runs >= 0).flatten().tolist() == [100, 101, 102, 103] and runs.max() == 0
    assert torch.equal(active_runs(x), runs.expand(8, -1))  # batched
    two = active_runs(_event_clip((0, 50))[0][0])
    assert two[:4].tolist() == [0] * 4 and two[50:54].tolist() == [1] * 4 and (two[4:50] == -1).all()
    quiet = -10.0 + 0.05 * (x[0] + 10.0)
    assert (active_runs(quiet) < 0).all()


@pytest.mark.parametrize(("starts", "seeds"), [((100,), 200), ((0, 30), 50), ((196,), 50)])
def test_time_masks_never_erase_the_only_event(starts, seeds):
    x, y = _event_clip(starts)
    cfg = only(time_mask_prob=1.0, time_masks=2, time_mask_max_s=0.64)  # stripes up to 64 frames
    hit = 0
    for seed in range(seeds):
        out, _ = run(x, y, cfg, seed=seed)
        for frames in _masked_frames(out, x):
            assert len(frames) <= 128
            for start in starts:
                left = set(range(start, start + 4)) - set(frames)
                assert left, f"seed {seed}: the event at {start} was erased"
                hit += len(left) < 4
    assert hit > seeds / 10  # stripes do reach into the events: the rule is what keeps part of them


def test_freq_masks_width_and_fill():
    x, y = batch(n=30, frames=6, mels=32)
    out, out_y = run(x, y, only(freq_mask_prob=1.0, freq_masks=1, freq_mask_max_fraction=0.125))
    assert torch.equal(out_y, y)
    fill = x.mean(dim=2)
    widths = []
    for i in range(30):
        bands = torch.nonzero((out[i] != x[i]).any(dim=0)).flatten().tolist()
        assert bands == list(range(bands[0], bands[0] + len(bands))) and 1 <= len(bands) <= 4
        torch.testing.assert_close(
            out[i][:, bands], fill[i][:, None].expand(-1, len(bands)), rtol=0, atol=1e-6
        )
        widths.append(len(bands))
    assert set(widths) == {1, 2, 3, 4}
    thin = run(x, y, only(freq_mask_prob=1.0, freq_masks=1, freq_mask_max_fraction=0.01))[0]
    assert all(int((thin[i] != x[i]).any(dim=0).sum()) == 1 for i in range(30))  # at least one band


def test_batch_generator_is_a_pure_function_of_seed_and_iteration():
    a = torch.rand(4, generator=batch_generator(7, 3))
    assert torch.equal(a, torch.rand(4, generator=batch_generator(7, 3)))
    assert not torch.equal(a, torch.rand(4, generator=batch_generator(3, 7)))
    assert torch.rand(1, generator=batch_generator(-1, 0)).shape == (1,)


def test_partners_are_a_permutation_without_a_fixed_point():
    """The partner draw itself (``augment._partners``), for small and odd batch sizes and many seeds: every
    clip gets another clip, and every clip is someone's partner once."""
    from mtlsed.features.augment import _partners

    for n in (2, 3, 5, 16, 97):
        for seed in range(20):
            partner = _partners(n, batch_generator(seed, n)).tolist()
            assert sorted(partner) == list(range(n)), (n, seed)
            assert all(p != i for i, p in enumerate(partner)), (n, seed)
