"""On-the-fly augmentations of training batches of RAW log-mel ``(B, T, F)`` (``AugmentConfig``).

The features are ``log(mel_power + eps)`` (natural log, :mod:`mtlsed.features.logmel`), before the input
normalisation (:mod:`mtlsed.features.normalise`). :func:`augment_batch` applies, in this fixed order:

1. mixup (energies mixed, labels: the max of both clips),
2. FilterAugment (a random step EQ over the mel bands),
3. gain (one random gain per clip),
4. Freq-MixStyle (each band's mean and spread over time mixed with another clip's),
5. time masks (stripes that never erase a clip's only event, see :func:`active_runs`),
6. frequency masks,
7. a circular time shift.

Each is decided per clip with its probability; every random number comes from the ``torch.Generator``
given (drawn on the CPU, so a batch on a GPU is augmented exactly as on a CPU). An augmentation whose
probability is 0 draws nothing: with every probability at 0 the result equals the input and the
generator is untouched. One that is on draws a fixed number of numbers for a batch of a given shape,
whatever the data and whichever clips it picks, so changing one probability (above 0) leaves the draws
of the others as they were. :func:`batch_generator` seeds one generator per training iteration.

Time masks never erase a clip's event whole. The event times are unknown (weak labels), so the clip's
energy stands in (:func:`active_runs`): frames whose total mel power is more than 6 dB above the clip's
20 % quantile are active, and a stripe that, with the clip's earlier stripes, would cover every frame of
a run of active frames is drawn again (up to 10 times), then skipped.

Gains are power gains in dB: ``g`` dB adds ``g * ln(10) / 10`` to a natural-log power.
Settings and conventions follow the field's public code (DESED_task mixup,
FilterAugSED's step filter, the CPJKU DCASE 2024 task 1 baseline's Freq-MixStyle, PANNs' SpecAugmentation).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.special import betaincinv

from mtlsed.config.settings import AugmentConfig
from mtlsed.features.normalise import work_dtype

LOG_PER_DB = math.log(10.0) / 10.0  # a power gain of 1 dB in natural-log units
ACTIVE_QUANTILE = 0.2  # a clip's quiet level: this quantile of its frame energies
ACTIVE_MARGIN_DB = 6.0  # frames this far above the quiet level are active
MASK_TRIES = 10  # draws of a time stripe before it is skipped


def batch_generator(seed: int, iteration: int) -> torch.Generator:
    """A CPU generator seeded from ``(seed, iteration)``: iteration ``it`` of seed ``s`` always draws the
    same augmentation (a resumed run included)."""
    seq = np.random.SeedSequence([seed % 2**64, iteration % 2**64])
    gen = torch.Generator()
    gen.manual_seed(int(seq.generate_state(1, dtype=np.uint64)[0]))
    return gen


def augment_batch(
    logmel: torch.Tensor,
    labels: torch.Tensor,
    cfg: AugmentConfig,
    generator: torch.Generator,
    hop_s: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Augment a batch: raw log-mel ``(B, T, F)`` and clip labels ``(B, K)`` in {0, 1} -> new tensors of the
    same shapes (the inputs are never modified). ``hop_s`` is the frame hop in seconds (for the time
    masks' maximum width). The order is the module's; see its docstring."""
    x, y = logmel.clone(), labels.clone()
    if cfg.mixup_prob > 0:
        x, y = mixup(x, y, cfg.mixup_prob, cfg.mixup_alpha, generator)
    if cfg.filter_prob > 0:
        x = filter_augment(x, cfg.filter_prob, cfg.filter_db, cfg.filter_bands, generator)
    if cfg.gain_prob > 0:
        x = random_gain(x, cfg.gain_prob, cfg.gain_db, generator)
    if cfg.mixstyle_prob > 0:
        x = freq_mixstyle(x, cfg.mixstyle_prob, cfg.mixstyle_alpha, generator)
    if cfg.time_mask_prob > 0 and cfg.time_masks > 0:
        max_frames = int(math.floor(cfg.time_mask_max_s / hop_s + 1e-6))
        x = time_masks(x, cfg.time_mask_prob, cfg.time_masks, max_frames, generator)
    if cfg.freq_mask_prob > 0 and cfg.freq_masks > 0:
        max_bands = int(math.floor(cfg.freq_mask_max_fraction * x.shape[2] + 1e-6))
        x = freq_masks(x, cfg.freq_mask_prob, cfg.freq_masks, max_bands, generator)
    if cfg.shift_prob > 0:
        x = time_shift(x, cfg.shift_prob, generator)
    return x, y


# -- random draws (CPU, from the generator only) ---------------------------------------------------


def _chosen(prob: float, n: int, gen: torch.Generator) -> torch.Tensor:
    """``(n,)`` bool: the clips an augmentation of probability ``prob`` applies to (one uniform per clip)."""
    return torch.rand(n, generator=gen) < prob


def _uniforms(shape: tuple[int, ...], gen: torch.Generator) -> np.ndarray:
    """float64 uniforms in ``[0, 1)`` of ``shape``, as a numpy array."""
    return torch.rand(shape, generator=gen, dtype=torch.float64).numpy()


def _integers(u: np.ndarray, low: int | np.ndarray, high: int | np.ndarray) -> np.ndarray:
    """Integers uniform in ``[low, high]`` (inclusive) from uniforms ``u`` in ``[0, 1)``."""
    span = np.asarray(high) - np.asarray(low) + 1
    return np.asarray(low) + np.minimum(np.floor(u * span).astype(np.int64), span - 1)


def _partners(n: int, gen: torch.Generator) -> torch.Tensor:
    """``(n,)`` long: each clip's partner from one random permutation ``p`` in cyclic order (clip ``p[k]``
    takes ``p[k + 1]``, ``p[n - 1]`` takes ``p[0]``): never the clip itself when ``n >= 2``."""
    order = torch.randperm(n, generator=gen)
    partner = torch.empty_like(order)
    partner[order] = order.roll(-1)
    return partner


# -- mixup -----------------------------------------------------------------------------------------


def mix_energies(a: torch.Tensor, b: torch.Tensor, lam: torch.Tensor | float) -> torch.Tensor:
    """``log(lam * exp(a) + (1 - lam) * exp(b))`` of log-mel ``a``, ``b`` (same shape), computed stably.

    ``lam`` is a number or a tensor broadcasting against ``a`` (e.g. ``(B, 1, 1)``), in ``[0, 1]``.
    """
    lam = torch.as_tensor(lam, dtype=torch.float64)
    log_a, log_b = torch.log(lam).to(a), torch.log1p(-lam).to(a)  # -inf at 0 and 1: logaddexp takes it
    return torch.logaddexp(log_a + a, log_b + b)


def mixup(
    x: torch.Tensor, y: torch.Tensor, prob: float, alpha: float, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mixup in the energy domain of log-mel ``(B, T, F)`` and labels ``(B, K)``.

    Draws, in order: one uniform per clip (applied if below ``prob``), a random permutation ``p`` whose
    cyclic order gives each clip its partner (clip ``p[k]`` is mixed with ``p[k + 1]``, ``p[B]`` = ``p[0]``:
    never with itself), and ``lam ~ Beta(alpha, alpha)`` per clip (by the inverse CDF of one uniform).
    A mixed clip is ``mix_energies(x[i], x[partner], lam)``, its labels ``max(y[i], y[partner])`` clamped
    to [0, 1]. Partners are taken from the batch before mixing. A batch of one clip is returned as is.
    """
    n = x.shape[0]
    if n < 2:
        return x, y
    chosen = _chosen(prob, n, gen)
    partner = _partners(n, gen)
    lam = torch.from_numpy(betaincinv(alpha, alpha, _uniforms((n,), gen)))
    idx = torch.nonzero(chosen).flatten()
    if idx.numel() == 0:
        return x, y
    out, out_y = x.clone(), y.clone()
    src = partner[idx]
    out[idx.to(x.device)] = mix_energies(x[idx.to(x.device)], x[src.to(x.device)], lam[idx].view(-1, 1, 1))
    out_y[idx.to(y.device)] = torch.maximum(y[idx.to(y.device)], y[src.to(y.device)]).clamp(0, 1)
    return out, out_y


# -- FilterAugment (step type) -----------------------------------------------------------------------


def filter_min_bandwidth(n_mels: int) -> int:
    """FilterAugment's minimum band width, 6 of 128 mel bands, scaled to ``n_mels`` (at least 1)."""
    return max(1, int(math.floor(6 * n_mels / 128 + 0.5)))


def step_curve(n_mels: int, bands: list[int], db: float, u: np.ndarray) -> np.ndarray:
    """One random step EQ ``(n_mels,)`` in dB from ``2 * bands[1] + 1`` uniforms ``u``.

    The number of bands ``n`` is uniform in ``bands = [low, high]`` (inclusive; at most ``n_mels``); the
    ``n - 1`` inner boundaries are random (sorted uniform integers, as FilterAugment draws them) with every
    band at least :func:`filter_min_bandwidth` wide (less where ``n`` such bands do not fit); each band's
    gain is uniform in ``[-db, db]`` dB.
    """
    high = bands[1]
    n = min(int(_integers(u[0], bands[0], high)), n_mels)
    width = min(filter_min_bandwidth(n_mels), n_mels // n)
    slack = n_mels - n * width
    inner = np.sort(_integers(u[1:n], 0, slack)) + np.arange(1, n) * width
    edges = np.concatenate([[0], inner, [n_mels]])
    gains = (2.0 * u[1 + high : 1 + high + n] - 1.0) * db
    return np.repeat(gains, np.diff(edges))


def filter_augment(
    x: torch.Tensor, prob: float, db: float, bands: list[int], gen: torch.Generator
) -> torch.Tensor:
    """FilterAugment's step filter on log-mel ``(B, T, F)``: each chosen clip gets its own
    :func:`step_curve`, added (as ``gain_db * ln(10) / 10``) to every frame. Draws one uniform per clip
    (the choice), then ``2 * bands[1] + 1`` per clip (the curves)."""
    n_clips, _, n_mels = x.shape
    chosen = _chosen(prob, n_clips, gen).numpy()
    u = _uniforms((n_clips, 2 * bands[1] + 1), gen)
    curves = np.zeros((n_clips, n_mels))
    for i in np.flatnonzero(chosen):
        curves[i] = step_curve(n_mels, bands, db, u[i]) * LOG_PER_DB
    return x + torch.from_numpy(curves).to(x)[:, None, :]


# -- gain ------------------------------------------------------------------------------------------------


def random_gain(x: torch.Tensor, prob: float, db: float, gen: torch.Generator) -> torch.Tensor:
    """A gain uniform in ``[-db, db]`` dB on each chosen clip of log-mel ``(B, T, F)`` (one uniform per clip
    for the choice, then one per clip for the gain)."""
    n = x.shape[0]
    chosen = _chosen(prob, n, gen).numpy()
    gains = np.where(chosen, (2.0 * _uniforms((n,), gen) - 1.0) * db, 0.0) * LOG_PER_DB
    return x + torch.from_numpy(gains).to(x)[:, None, None]


# -- Freq-MixStyle ----------------------------------------------------------------------------------


def freq_mixstyle(
    x: torch.Tensor, prob: float, alpha: float, gen: torch.Generator, eps: float = 1e-6
) -> torch.Tensor:
    """Freq-MixStyle on log-mel ``(B, T, F)``: a chosen clip keeps its time course in each band but takes
    a mixture of its own and its partner's band statistics.

    Per clip and band, ``mu`` and ``sigma`` are the mean and standard deviation over time (``sigma`` of the
    variance, biased, plus ``eps``). A chosen clip ``i`` with partner ``j`` and ``lam ~ Beta(alpha, alpha)``
    becomes ``(x_i - mu_i) / sigma_i * (lam sigma_i + (1 - lam) sigma_j) + lam mu_i + (1 - lam) mu_j``: the
    channel (microphone response, level per band) of another recording, with the events' shape left in
    place. Labels do not change. Draws one uniform per clip (the choice), a permutation (the partners, see
    :func:`_partners`), then one uniform per clip (``lam``, by the inverse CDF). A batch of one clip is
    returned as is. Unlike CPJKU's code, which mixes the whole batch with probability ``p`` and may pair a
    clip with itself, each clip is chosen on its own (the same expected share) and never mixed with itself.
    """
    n = x.shape[0]
    if n < 2:
        return x
    chosen = _chosen(prob, n, gen)
    partner = _partners(n, gen)
    lam = torch.from_numpy(betaincinv(alpha, alpha, _uniforms((n,), gen)))
    idx = torch.nonzero(chosen).flatten()
    if idx.numel() == 0:
        return x
    work = x.to(work_dtype(x))
    mu = work.mean(dim=1, keepdim=True)  # (B, 1, F)
    sigma = (work.var(dim=1, unbiased=False, keepdim=True) + eps).sqrt()
    i, j = idx.to(x.device), partner[idx].to(x.device)
    w = lam[idx].to(x.device).view(-1, 1, 1)
    mixed_mu = w * mu[i] + (1 - w) * mu[j]
    mixed_sigma = w * sigma[i] + (1 - w) * sigma[j]
    out = x.clone()
    out[i] = ((work[i] - mu[i]) / sigma[i] * mixed_sigma + mixed_mu).to(x.dtype)
    return out


# -- time and frequency masks -------------------------------------------------------------------------


def active_runs(logmel: torch.Tensor) -> torch.Tensor:
    """The active runs of log-mel clips ``(B, T, F)`` (or one ``(T, F)``): ``(B, T)`` (or ``(T,)``) long
    on the CPU, the run number of each active frame (0, 1, ... in time order), -1 for the others.

    With weak labels the event times are unknown, so the clip's own energy stands in: a frame's energy is
    ``logsumexp`` over the bands (the log of its total mel power); the clip's quiet level is the
    ``ACTIVE_QUANTILE`` (20 %) quantile of these; a frame is active when its energy exceeds the quiet level
    by more than ``ACTIVE_MARGIN_DB`` (6 dB); a run is a maximal stretch of consecutive active frames.
    A stationary clip has no active frames.
    """
    energy = torch.logsumexp(logmel.float(), dim=-1).cpu()  # (..., T)
    quiet = torch.quantile(energy, ACTIVE_QUANTILE, dim=-1, keepdim=True)
    active = energy > quiet + ACTIVE_MARGIN_DB * LOG_PER_DB
    before = torch.zeros_like(active[..., :1])
    starts = active & ~torch.cat([before, active[..., :-1]], dim=-1)
    runs = torch.cumsum(starts.long(), dim=-1) - 1
    return torch.where(active, runs, torch.full_like(runs, -1))


def _keeps_every_run(masked: np.ndarray, runs: np.ndarray, n_runs: int) -> bool:
    """Whether each of the ``n_runs`` active runs of ``runs`` ``(T,)`` keeps a frame outside ``masked``."""
    left = runs[(runs >= 0) & ~masked]
    return n_runs == 0 or np.unique(left).size == n_runs


def time_stripes(runs: torch.Tensor, u: np.ndarray, max_frames: int) -> torch.Tensor:
    """``(T,)`` bool: up to ``count`` stripes of 1 to ``max_frames`` frames, from uniforms ``u``
    ``(count, MASK_TRIES, 2)`` (width, then start, uniform).

    A stripe that, with the stripes before it, would cover every frame of an active run of ``runs``
    ``(T,)`` (:func:`active_runs`) is drawn again (the next pair of ``u``), up to ``MASK_TRIES`` times,
    then skipped: a clip's event is never erased whole.
    """
    runs_np = runs.numpy()
    n_frames, n_runs = runs_np.shape[0], int(runs_np.max()) + 1
    max_frames = max(1, min(max_frames, n_frames))
    masked = np.zeros(n_frames, dtype=bool)
    for tries in u:
        for u_width, u_start in tries:
            width = int(_integers(u_width, 1, max_frames))
            start = int(_integers(u_start, 0, n_frames - width))
            trial = masked.copy()
            trial[start : start + width] = True
            if _keeps_every_run(trial, runs_np, n_runs):
                masked = trial
                break
    return torch.from_numpy(masked)


def time_masks(
    x: torch.Tensor, prob: float, count: int, max_frames: int, gen: torch.Generator
) -> torch.Tensor:
    """Time masks on the chosen clips of log-mel ``(B, T, F)``: :func:`time_stripes` filled with the clip's
    own per-band mean over time (of the clip as it enters this step). Draws one uniform per clip (the
    choice), then ``count * MASK_TRIES * 2`` per clip, used or not."""
    n_clips = x.shape[0]
    chosen = _chosen(prob, n_clips, gen)
    u = _uniforms((n_clips, count, MASK_TRIES, 2), gen)
    idx = torch.nonzero(chosen).flatten()
    if idx.numel() == 0:
        return x
    runs = active_runs(x[idx.to(x.device)])
    masks = torch.zeros(x.shape[:2], dtype=torch.bool)
    for k, i in enumerate(idx.tolist()):
        masks[i] = time_stripes(runs[k], u[i], max_frames)
    masks = masks.to(x.device)[:, :, None]
    return torch.where(masks, x.mean(dim=1, keepdim=True), x)


def freq_masks(
    x: torch.Tensor, prob: float, count: int, max_bands: int, gen: torch.Generator
) -> torch.Tensor:
    """``count`` frequency stripes of 1 to ``max_bands`` bands (at least 1; width, then start, uniform) on
    the chosen clips of log-mel ``(B, T, F)``, filled with the clip's mean over bands of each frame.
    Draws one uniform per clip (the choice), then ``count * 2`` per clip."""
    n_clips, _, n_mels = x.shape
    max_bands = max(1, min(max_bands, n_mels))
    chosen = _chosen(prob, n_clips, gen).numpy()
    u = _uniforms((n_clips, count, 2), gen)
    width = _integers(u[..., 0], 1, max_bands)  # (B, count)
    start = _integers(u[..., 1], 0, n_mels - width)
    band = np.arange(n_mels)
    inside = (band >= start[..., None]) & (band < (start + width)[..., None])  # (B, count, F)
    masks = torch.from_numpy(inside.any(axis=1) & chosen[:, None]).to(x.device)[:, None, :]
    return torch.where(masks, x.mean(dim=2, keepdim=True), x)


# -- shift ---------------------------------------------------------------------------------------------


def time_shift(x: torch.Tensor, prob: float, gen: torch.Generator) -> torch.Tensor:
    """A circular shift in time of each chosen clip of log-mel ``(B, T, F)`` by 1 to ``T - 1`` frames
    (uniform; one uniform per clip for the choice, then one per clip for the shift). Weak labels are
    unchanged."""
    n_clips, n_frames, _ = x.shape
    chosen = _chosen(prob, n_clips, gen).numpy()
    shifts = _integers(_uniforms((n_clips,), gen), 1, max(1, n_frames - 1))
    if n_frames < 2:
        return x
    frames = np.arange(n_frames)
    source = np.where(chosen[:, None], (frames[None, :] - shifts[:, None]) % n_frames, frames[None, :])
    index = torch.from_numpy(source).to(x.device)[:, :, None].expand_as(x)
    return torch.gather(x, 1, index)
