"""Listening to the masks: apply a class's mel-band mask to the mixture's STFT and resynthesise."""

from __future__ import annotations

import numpy as np
import torch

from mtlsed.config.settings import FeatureConfig
from mtlsed.features.labels import FrameGrid
from mtlsed.features.logmel import mel_filterbank


def mel_mask_to_linear(mask: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """A mask on mel bands ``(T, F)`` spread onto STFT bins ``(T, n_fft // 2 + 1)``.

    Each STFT bin takes the average of the mel masks weighted by how much that
    bin feeds each mel band (the normalised transpose of the filter bank); bins
    outside every band get 0.
    """
    fb = mel_filterbank(cfg)  # (F, n_freq)
    weight = fb / np.maximum(fb.sum(axis=0, keepdims=True), 1e-12)  # each bin's weights sum to 1
    return np.clip(mask @ weight, 0.0, 1.0)


def separate(wave: np.ndarray, mask: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """The part of ``wave`` ``(S,)`` that a mel mask ``(T, F)`` keeps, with the mixture's phase.

    The resynthesis uses a centred STFT; feature frame t (centred at
    ``t * hop + n_fft / 2`` when ``center=False``) gives the mask of the centred
    frame with the same centre, and the edge frames reuse the nearest mask.
    """
    window = torch.hann_window(cfg.win_length, periodic=True)
    x = torch.from_numpy(np.asarray(wave, dtype=np.float32))
    spec = torch.stft(
        x, cfg.n_fft, cfg.hop_length, cfg.win_length, window, center=True, return_complex=True
    )  # (n_freq, Tc)
    grid = FrameGrid.of(cfg, mask.shape[0])
    shift = int(round(grid.offset_s / grid.hop_s))  # centred STFT frames ahead of feature frame 0
    frames = np.clip(np.arange(spec.shape[1]) - shift, 0, mask.shape[0] - 1)
    lin = mel_mask_to_linear(mask, cfg)[frames].T.astype(np.float32)  # (n_freq, Tc)
    out = torch.istft(
        spec * torch.from_numpy(lin),
        cfg.n_fft,
        cfg.hop_length,
        cfg.win_length,
        window,
        center=True,
        length=len(wave),
    )
    return out.numpy()
