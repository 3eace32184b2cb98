"""Input normalisations (mtlsed.features.normalise): PCEN against librosa, clip band-mean removal, dataset
mode."""

import librosa
import numpy as np
import pytest
import torch

from mtlsed.config.settings import FeatureConfig
from mtlsed.features.cache import _band_stats
from mtlsed.features.logmel import logmel
from mtlsed.features.normalise import band_stats, clip_band_mean, normalise, pcen, pcen_smoothing

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def cfg() -> FeatureConfig:
    return FeatureConfig(sample_rate=16000)


@pytest.fixture(scope="module")
def clips(cfg) -> np.ndarray:
    """``(3, T, F)`` float32 log-mel of a chirp in noise with a loud burst, at three levels."""
    sr, seconds = cfg.sample_rate, 3.0
    rng = np.random.default_rng(0)
    y = 0.3 * librosa.chirp(fmin=100, fmax=6000, sr=sr, duration=seconds)
    y = y + 0.01 * rng.standard_normal(y.shape)
    y[sr : int(1.3 * sr)] *= 5.0
    return np.stack([logmel(y * level, cfg) for level in (1.0, 0.01, 1e-4)])


def _librosa_pcen(clip: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """The reference: librosa.pcen of the clip's mel energies (float64, int32-scaled), ``(T, F)``."""
    energy = np.maximum(np.exp(clip.astype(np.float64)) - cfg.log_eps, 0.0) * cfg.pcen_scale
    return librosa.pcen(
        energy.T,
        sr=cfg.sample_rate,
        hop_length=cfg.hop_length,
        gain=cfg.pcen_gain,
        bias=cfg.pcen_bias,
        power=cfg.pcen_power,
        time_constant=cfg.pcen_time_constant,
        eps=cfg.pcen_eps,
    ).T


def test_pcen_matches_librosa(cfg, clips):
    out = pcen(torch.from_numpy(clips), cfg)
    assert out.shape == clips.shape and out.dtype == torch.float32
    for i, clip in enumerate(clips):
        ref = _librosa_pcen(clip, cfg)
        assert ref.max() > 1.0  # a real dynamic range, not all zeros
        np.testing.assert_allclose(out[i].numpy(), ref, rtol=1e-6, atol=1e-6)


def test_pcen_other_settings_match_librosa(clips):
    cfg = FeatureConfig(sample_rate=16000, pcen_time_constant=0.06, pcen_gain=0.8, pcen_bias=10.0)
    cfg.pcen_power = 0.25
    out = pcen(torch.from_numpy(clips[:1]), cfg)[0].numpy()
    np.testing.assert_allclose(out, _librosa_pcen(clips[0], cfg), rtol=1e-6, atol=1e-6)


def test_pcen_smoothing_coefficient_is_librosas(cfg):
    t = cfg.pcen_time_constant * cfg.sample_rate / cfg.hop_length
    b = pcen_smoothing(cfg)
    assert 0 < b < 1
    assert t * t * b * b + b == pytest.approx(1.0, abs=1e-12)  # librosa's b = (sqrt(1 + 4 t^2) - 1) / (2 t^2)


def test_clip_band_mean_removes_a_fixed_band_response(clips):
    """A microphone response (a constant per band, every frame) vanishes exactly. So does a FilterAugment
    EQ, which is also constant over time: under clip_band_mean that augmentation is a no-op."""
    x = torch.from_numpy(clips)
    response = torch.from_numpy(np.random.default_rng(1).normal(0, 3, clips.shape[2]).astype(np.float32))
    base, shifted = clip_band_mean(x), clip_band_mean(x + response)
    assert base.shape == x.shape
    torch.testing.assert_close(shifted, base, rtol=0, atol=2e-5)
    torch.testing.assert_close(base.mean(dim=1), torch.zeros(3, clips.shape[2]), rtol=0, atol=2e-5)
    assert torch.allclose(clip_band_mean(x[0]), base[0])  # a single (T, F) clip too


def test_clip_band_mean_makes_filter_augment_a_no_op(cfg, clips):
    from mtlsed.features.augment import filter_augment

    x = torch.from_numpy(clips)
    eq = filter_augment(x, 1.0, 6.0, [3, 6], torch.Generator().manual_seed(0))
    assert not torch.allclose(eq, x)
    cbm = FeatureConfig(sample_rate=16000, normalise="clip_band_mean")
    std = np.full(clips.shape[2], 2.0, dtype=np.float32)
    torch.testing.assert_close(
        normalise(eq, cbm, np.zeros_like(std), std), normalise(x, cbm, 0 * std, std), rtol=0, atol=2e-5
    )


def test_dataset_mode_is_the_numpy_formula_bit_for_bit(cfg, clips):
    mean, std = _band_stats(clips, [0, 1, 2])
    expected = (clips - mean) / std  # what SedDataset computes
    out = normalise(torch.from_numpy(clips), cfg, torch.from_numpy(mean), torch.from_numpy(std))
    assert out.dtype == torch.float32 and out.shape == clips.shape
    assert np.array_equal(out.numpy(), expected.astype(np.float32))
    assert np.array_equal(normalise(torch.from_numpy(clips), cfg, mean, std).numpy(), expected)


def test_normalise_modes_shapes_and_statistics(clips):
    x = torch.from_numpy(clips)
    for mode in ("clip_band_mean", "pcen"):
        cfg = FeatureConfig(sample_rate=16000, normalise=mode)
        raw = normalise(x, cfg, np.zeros(clips.shape[2]), np.ones(clips.shape[2]))
        assert raw.shape == x.shape and raw.dtype == torch.float32 and torch.isfinite(raw).all()
        mean, std = band_stats(raw.numpy())
        if mode == "clip_band_mean":
            mean = np.zeros_like(mean)
        out = normalise(x, cfg, mean, std).numpy()
        m2, s2 = band_stats(out)
        np.testing.assert_allclose(m2, 0.0, atol=1e-4)
        np.testing.assert_allclose(s2, 1.0, atol=1e-3)
    with pytest.raises(ValueError):
        normalise(x, FeatureConfig(normalise="nope"), np.zeros(64), np.ones(64))  # type: ignore[arg-type]


def test_band_stats_is_the_caches_formula(clips):
    mean, std = band_stats(clips, chunk=2)
    ref_mean, ref_std = _band_stats(clips, [0, 1, 2])
    np.testing.assert_allclose(mean, ref_mean, rtol=1e-6)
    np.testing.assert_allclose(std, ref_std, rtol=1e-6)
    t_mean, _ = band_stats(torch.from_numpy(clips))
    assert np.array_equal(t_mean, mean) and mean.dtype == np.float32
    _, flat = band_stats(np.ones((2, 5, 3), dtype=np.float32))
    np.testing.assert_allclose(flat, 1e-6)  # the floor
