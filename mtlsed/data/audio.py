"""Audio loading: mono mixdown, resampling, padding/truncation, clear errors.

A file that cannot be read, is empty, or holds non-finite samples raises
:class:`AudioError` naming it. Callers that prefer to go on ask for
``on_error="skip"`` in :func:`load_many` and get a report that counts and names
what was skipped: never a silent array of zeros.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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


@dataclass
class LoadReport:
    """What :func:`load_many` skipped, and why."""

    loaded: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"loaded {self.loaded} file(s), skipped {len(self.skipped)}"]
        lines += [f"  skipped {p}: {why}" for p, why in self.skipped]
        return "\n".join(lines)


def load_many(
    paths: list[str | Path], sr: int, duration: float | None = None, on_error: str = "raise"
) -> tuple[list[np.ndarray | None], LoadReport]:
    """Load several files; with ``on_error="skip"`` a bad file gives None and a report entry."""
    if on_error not in ("raise", "skip"):
        raise ValueError("on_error must be 'raise' or 'skip'")
    report = LoadReport()
    out: list[np.ndarray | None] = []
    for p in paths:
        try:
            out.append(load_audio(p, sr, duration))
            report.loaded += 1
        except AudioError as err:
            if on_error == "raise":
                raise
            out.append(None)
            report.skipped.append((str(p), str(err)))
    return out, report


def write_audio(path: str | Path, y: np.ndarray, sr: int) -> None:
    """Write mono float audio as 16-bit PCM WAV, atomically."""
    path = Path(path)
    tmp = path.with_name(path.stem + ".tmp.wav")
    sf.write(str(tmp), np.clip(y, -1.0, 1.0), sr, subtype="PCM_16")
    tmp.replace(path)
