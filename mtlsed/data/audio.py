"""Audio loading: mono mixdown, resampling, padding/truncation, clear errors.

A file that cannot be read, is empty, or holds non-finite samples raises
:class:`AudioError` naming it: never a silent array of zeros. The commands that go on past a bad file
(importing a set, mixing one) count and name what they skip.
"""

from __future__ import annotations

from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf

from mtlsed.core.errors import AudioError


def resample(y: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Polyphase resampling along the last axis (exact rational ratio)."""
    if sr_in == sr_out:
        return y
    from scipy.signal import resample_poly  # here: scipy.signal costs every command a second to import

    g = gcd(int(sr_in), int(sr_out))
    return resample_poly(y, sr_out // g, sr_in // g, axis=-1).astype(np.float32, copy=False)


def fix_length(y: np.ndarray, n: int) -> np.ndarray:
    """Zero-pad at the end or truncate to ``n`` samples."""
    if len(y) >= n:
        return y[:n]
    return np.pad(y, (0, n - len(y)))


def load_audio(path: str | Path, sr: int, duration: float | None = None) -> np.ndarray:
    """Load ``path`` as mono float32 at ``sr``; pad/truncate to ``duration`` seconds if given.

    Returns ``(S,)`` with ``S = round(duration * sr)`` when ``duration`` is set.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: audio file not found")
    try:
        data, sr_in = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, ValueError) as err:
        raise AudioError(f"{path}: cannot read audio ({err})") from err
    if data.shape[0] == 0:
        raise AudioError(f"{path}: empty audio file (0 samples)")
    if not np.all(np.isfinite(data)):
        raise AudioError(f"{path}: corrupt audio (non-finite samples)")
    y = data.mean(axis=1)  # (S, C) -> (S,)
    y = resample(y, sr_in, sr)
    if duration is not None:
        y = fix_length(y, int(round(duration * sr)))
    return np.ascontiguousarray(y, dtype=np.float32)


def write_audio(path: str | Path, y: np.ndarray, sr: int) -> None:
    """Write mono float audio as 16-bit PCM WAV, atomically."""
    path = Path(path)
    tmp = path.with_name(path.stem + ".tmp.wav")
    sf.write(str(tmp), np.clip(y, -1.0, 1.0), sr, subtype="PCM_16")
    tmp.replace(path)
