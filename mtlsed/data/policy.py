"""What a data set accepts: clip names that stay in the audio folder, audio that can be read, clip lengths,
labels that cannot be confused. ``mtlsed import`` and ``mtlsed check`` apply the same rules.

Clip length: a clip shorter than the clip length is an error unless the set declares variable lengths
(``dataset.json``: ``{"variable_length": true}``, then it is zero-padded); a clip *longer* is an error
unless the set declares ``{"crop_long": true}`` (then its first ``clip_seconds`` are used, and ``check``
and the import report count such clips): a weak label may describe a part that a silent crop would cut.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

import numpy as np

TOLERANCE_S = 0.064  # about a frame: a clip this much off the clip length is the clip length
SEPARATORS = re.compile(r"[;|]")


def unsafe_name(name: str) -> str | None:
    """Why a clip name could leave the audio folder (an absolute path, ``..``), or None when it is safe."""
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or name.startswith("~") or re.match(r"^[A-Za-z]:", name):
        return f"{name}: an absolute path; a clip name is a path inside the audio folder"
    if ".." in path.parts:
        return f"{name}: '..' would leave the audio folder; a clip name is a path inside it"
    return None


def audio_problem(path: Path, clip_seconds: float, crop_long: bool = False) -> tuple[str | None, bool, bool]:
    """``(why the clip cannot be used or None, shorter than the clip length, longer than it)``.

    Unreadable, empty and non-finite audio is refused; a clip longer than ``clip_seconds`` (more than a
    frame) is refused unless ``crop_long``.
    """
    import soundfile as sf

    if not path.is_file():
        return "audio file not found", False, False
    try:
        info = sf.info(str(path))
    except (RuntimeError, ValueError, sf.LibsndfileError) as err:
        return f"cannot read audio ({str(err).strip()})", False, False
    if info.frames == 0 or info.channels == 0:
        return "empty audio file", False, False
    if info.subtype in ("FLOAT", "DOUBLE"):  # integer PCM cannot hold NaN; floats can
        samples, _ = sf.read(str(path), dtype="float32", always_2d=True)
        if not np.all(np.isfinite(samples)):
            return "non-finite samples (NaN or inf)", False, False
    seconds = info.frames / info.samplerate
    long = seconds > clip_seconds + TOLERANCE_S
    if long and not crop_long:
        return (
            f"{seconds:.3f} s long, longer than the clip length ({clip_seconds:g} s): its weak labels may "
            "describe a part a crop would cut (import with --crop-long to use its first "
            f"{clip_seconds:g} s)",
            False,
            True,
        )
    return None, seconds < clip_seconds - TOLERANCE_S, long


def confusable_labels(first_seen: dict[str, str]) -> list[str]:
    """Problems among inferred labels (``{label: "file:line"}``): labels that differ only in case, and labels
    that look like two labels joined by another separator than the comma (``car;dog``, ``bird car``)."""
    problems = []
    by_fold: dict[str, list[str]] = {}
    for label in first_seen:
        by_fold.setdefault(label.casefold(), []).append(label)
    for same in by_fold.values():
        if len(same) > 1:
            where = ", ".join(f"{lab!r} ({first_seen[lab]})" for lab in same)
            problems.append(
                f"labels that differ only in case: {where}; make them one, or list each in classes.txt "
                "if they are different classes"
            )
    known = {label.casefold() for label in first_seen}
    for label in first_seen:
        parts = [p for p in re.split(r"[;|/\s]+", label) if p]
        joined = SEPARATORS.search(label) or (len(parts) > 1 and all(p.casefold() in known for p in parts))
        if joined:
            seps = list(
                dict.fromkeys(
                    "spaces" if c.isspace() else repr(c) for c in label if c.isspace() or c in ";|/"
                )
            )
            problems.append(
                f"{first_seen[label]}: label {label!r} looks like {len(parts)} labels joined by "
                f"{' and '.join(seps)} (labels are separated by commas in weak.tsv); fix the line, or list "
                "it in classes.txt if it is one class"
            )
    return problems
