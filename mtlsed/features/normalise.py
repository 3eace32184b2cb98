"""Input normalisations of the raw log-mel ``(B, T, F)``, chosen by ``FeatureConfig.normalise``.

- ``dataset``: ``(x - mean) / std`` with the training split's per-band statistics (Kong et al.); bit for
  bit what :class:`mtlsed.features.dataset.SedDataset` computes in numpy.
- ``clip_band_mean``: :func:`clip_band_mean` (each clip's own per-band mean over time removed), then
  ``/ std``. A fixed per-band response (a microphone, a room, or a FilterAugment EQ, which is constant over
  time) is a constant per band in the log domain, so it is removed exactly: under this normalisation the
  FilterAugment step filter (:func:`mtlsed.features.augment.filter_augment`) and a clip gain are no-ops, and
  Freq-MixStyle (:func:`mtlsed.features.augment.freq_mixstyle`) keeps only its mixing of the spreads.
- ``pcen``: :func:`pcen` (per-channel energy normalisation of the mel energies, Wang et al. 2017, as
  ``librosa.pcen``), then ``(p - mean) / std`` with statistics of the PCEN features.

The statistics of the last two come from :func:`band_stats` on the training split, computed once by the
feature cache (:meth:`mtlsed.features.cache.FeatureCache.norm_stats`).
"""

from __future__ import annotations

import numpy as np
import torch

from mtlsed.config.settings import FeatureConfig
from mtlsed.core.errors import ConfigError


def work_dtype(x: torch.Tensor) -> torch.dtype:
    """float64 where the device has it (not MPS)."""
    return torch.float32 if x.device.type == "mps" else torch.float64


def pcen_smoothing(cfg: FeatureConfig) -> float:
    """The smoothing coefficient ``b`` of PCEN's low-pass filter, as ``librosa.pcen`` infers it from the
    time constant: the root of ``b**2 + (1 - b) / t - 2 = 0`` with ``t`` the time constant in frames."""
    t_frames = cfg.pcen_time_constant * cfg.sample_rate / float(cfg.hop_length)
    return float((np.sqrt(1 + 4 * t_frames**2) - 1) / (2 * t_frames**2))


def mel_energy(logmel: torch.Tensor, cfg: FeatureConfig) -> torch.Tensor:
    """The mel energies behind a log-mel ``(B, T, F)``: ``exp(x) - log_eps``, at least 0, times
    ``pcen_scale`` (librosa's PCEN defaults assume int32-scaled magnitudes), in float64 where possible."""
    e = torch.exp(logmel.to(work_dtype(logmel))) - cfg.log_eps
    return e.clamp(min=0.0) * cfg.pcen_scale


def pcen(logmel: torch.Tensor, cfg: FeatureConfig) -> torch.Tensor:
    """Per-channel energy normalisation of log-mel ``(B, T, F)`` -> ``(B, T, F)`` float32.

    On ``S = mel_energy(x)`` with librosa.pcen's definition and defaults: the smoother
    ``M[t] = (1 - b) M[t - 1] + b S[t]`` started from librosa's steady state for a unit input
    (``zi = lfilter_zi([b], [1, b - 1])``, i.e. ``M[-1] = 1``), ``b`` from :func:`pcen_smoothing`, then
    ``(S / (eps + M)**gain + bias)**power - bias**power`` (``(S / (eps + M)**gain)**power`` when bias is 0),
    computed in librosa's log1p/expm1 form. The frames are processed in order, each over the whole batch.
    """
    s = mel_energy(logmel, cfg)
    b = pcen_smoothing(cfg)
    smooth = torch.empty_like(s)
    state = torch.ones_like(s[:, 0])  # (B, F): librosa's zi, the steady state of a unit input
    for t in range(s.shape[1]):
        state = (1.0 - b) * state + b * s[:, t]
        smooth[:, t] = state
    eps, gain, bias, power = cfg.pcen_eps, cfg.pcen_gain, cfg.pcen_bias, cfg.pcen_power
    agc = torch.exp(-gain * (np.log(eps) + torch.log1p(smooth / eps)))
    if bias == 0:
        out = torch.exp(power * (torch.log(s) + torch.log(agc)))
    else:
        out = (bias**power) * torch.expm1(power * torch.log1p(s * agc / bias))
    return out.to(torch.float32)


def clip_band_mean(logmel: torch.Tensor) -> torch.Tensor:
    """Each clip's own per-band mean over time removed: ``x - mean_t x`` of log-mel ``(B, T, F)`` (or
    ``(T, F)``). A constant added to a band of every frame of a clip (a microphone response, a fixed EQ,
    a gain) disappears up to float error."""
    return logmel - logmel.mean(dim=-2, keepdim=True)


def normalise(
    logmel: torch.Tensor,
    cfg: FeatureConfig,
    mean: torch.Tensor | np.ndarray,
    std: torch.Tensor | np.ndarray,
) -> torch.Tensor:
    """Raw log-mel ``(B, T, F)`` -> the model's input ``(B, T, F)`` float32, by ``cfg.normalise``.

    ``mean`` and ``std`` ``(F,)`` are the training statistics in that mode's domain (cast to float32):
    ``dataset``: of the log-mel (``(x - mean) / std``, bit-identical to the float32 numpy formula);
    ``clip_band_mean``: ``std`` of the mean-removed log-mel (``clip_band_mean(x) / std``; ``mean`` is not
    used, the clip's own mean replaces it); ``pcen``: of the PCEN features (``(pcen(x) - mean) / std``).
    """
    x = logmel.to(torch.float32)
    mean = torch.as_tensor(mean, dtype=torch.float32, device=x.device)
    std = torch.as_tensor(std, dtype=torch.float32, device=x.device)
    if cfg.normalise == "dataset":
        return (x - mean) / std
    if cfg.normalise == "clip_band_mean":
        return clip_band_mean(x) / std
    if cfg.normalise == "pcen":
        return (pcen(x, cfg) - mean) / std
    raise ConfigError(f"features.normalise: unknown normalisation {cfg.normalise!r}")


def band_stats(features: np.ndarray | torch.Tensor, chunk: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Per-band ``(mean (F,), std (F,))`` float32 of ``features`` ``(N, T, F)`` over clips and frames.

    Accumulated in float64 a block of ``chunk`` clips at a time, with the std floored at 1e-6 (the
    variance at 1e-12), as the feature cache's own statistics.
    """
    if isinstance(features, torch.Tensor):
        features = features.detach().cpu().numpy()
    if features.ndim != 3 or features.shape[0] == 0 or features.shape[1] == 0:
        raise ValueError(f"band_stats: expected a non-empty (N, T, F) array, got shape {features.shape}")
    total = np.zeros(features.shape[2])
    total_sq = np.zeros(features.shape[2])
    for i in range(0, features.shape[0], chunk):
        block = np.asarray(features[i : i + chunk], dtype=np.float64)
        total += block.sum(axis=(0, 1))
        total_sq += np.square(block).sum(axis=(0, 1))
    count = features.shape[0] * features.shape[1]
    mean = total / count
    std = np.sqrt(np.maximum(total_sq / count - mean**2, 1e-12))
    return mean.astype(np.float32), std.astype(np.float32)
