"""Log-mel front end (torch, batched, CPU or GPU) and its librosa reference.

The torch module and :func:`logmel_librosa` compute the same thing: the power
STFT with a periodic Hann window, librosa's Slaney mel filter bank, and
``log(mel + eps)``; they agree to about 1e-5 on the log scale.

The feature cache of a data set, built with this front end, is :mod:`mtlsed.features.cache`.
"""

from __future__ import annotations

import librosa
import numpy as np
import torch

from mtlsed.config.settings import FeatureConfig


def mel_filterbank(cfg: FeatureConfig) -> np.ndarray:
    """``(F, n_fft // 2 + 1)`` Slaney-normalised mel filters, as librosa uses them."""
    return librosa.filters.mel(
        sr=cfg.sample_rate, n_fft=cfg.n_fft, n_mels=cfg.n_mels, fmin=cfg.fmin, fmax=cfg.f_max
    )


class LogMel(torch.nn.Module):
    """Waveforms ``(B, S)`` -> log-mel spectrograms ``(B, T, F)``."""

    def __init__(self, cfg: FeatureConfig):
        super().__init__()
        self.cfg = cfg
        self.register_buffer("window", torch.hann_window(cfg.win_length, periodic=True), persistent=False)
        fb = torch.from_numpy(mel_filterbank(cfg).T.copy())  # (n_freq, F)
        self.register_buffer("mel_fb", fb, persistent=False)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        if wave.dim() == 1:
            wave = wave.unsqueeze(0)
        spec = torch.stft(
            wave.float(),
            n_fft=self.cfg.n_fft,
            hop_length=self.cfg.hop_length,
            win_length=self.cfg.win_length,
            window=self.window,
            center=self.cfg.center,
            pad_mode="constant",  # librosa's default since 0.10
            return_complex=True,
        )  # (B, n_freq, T)
        power = spec.real.square() + spec.imag.square()
        mel = torch.matmul(power.transpose(1, 2), self.mel_fb)  # (B, T, F)
        return torch.log(mel + self.cfg.log_eps)


def logmel(y: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """Log-mel ``(T, F)`` of one waveform ``(S,)`` with the torch front end (no gradient)."""
    with torch.no_grad():
        return LogMel(cfg)(torch.from_numpy(np.asarray(y, dtype=np.float32)))[0].numpy()


def logmel_librosa(y: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """Reference log-mel of one waveform ``(S,)`` with librosa: ``(T, F)``."""
    mel = librosa.feature.melspectrogram(
        y=np.asarray(y, dtype=np.float32),
        sr=cfg.sample_rate,
        n_fft=cfg.n_fft,
        hop_length=cfg.hop_length,
        win_length=cfg.win_length,
        window="hann",
        center=cfg.center,
        pad_mode="constant",
        power=2.0,
        n_mels=cfg.n_mels,
        fmin=cfg.fmin,
        fmax=cfg.f_max,
    )
    return np.log(mel + cfg.log_eps).T.astype(np.float32)


# -- cache ------------------------------------------------------------------------
