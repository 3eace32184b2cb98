"""Warnings about a data set that passes ``mtlsed check`` but holds labels the model cannot learn or a
metric cannot be computed from: counted, the first clips named, printed by ``import`` and ``check`` (exit
code unchanged) and, for the validation split, refused by ``train`` before any work.

- **Events beyond the audio**: a strongly labelled event that starts at or after the end of its clip's
  audio lies entirely in the zero padding a short clip gets when read (``dataset.json``
  ``variable_length``); one that ends past it is partly there. The frame labels say the class sounds
  where there is only silence.
- **Silent clips with labels**: a clip whose samples are all zero, with weak labels: nothing in it can be
  heard, yet it is a positive of its classes.
- **Validation without a positive** (:func:`selection_problem`): ``train`` keeps the checkpoint with the
  best validation metric ``train.best_metric`` (``auto``: SED-mAP when the validation split has strong
  labels, else AT-mAP). An AP needs a positive clip (or frame) of its class; with none in the whole
  split the metric is undefined (NaN) at every evaluation, no checkpoint is ever "best", and the run
  would end without ``best.pt``. ``train`` refuses such a split before it starts; ``--set
  train.best_metric=loss`` (the validation loss, always defined) is the way on.
"""

from __future__ import annotations

from pathlib import Path

from mtlsed.data.format import DatasetIndex, read_dataset
from mtlsed.data.policy import TOLERANCE_S

SHOWN = 3  # clips named in a warning; the rest are counted


def _named(items: list[str]) -> str:
    more = f", ... and {len(items) - SHOWN} more" if len(items) > SHOWN else ""
    return ", ".join(items[:SHOWN]) + more


def _silent(path: Path) -> bool:
    """Every sample of the file is 0 (read in blocks; stops at the first block with a sound)."""
    import numpy as np
    import soundfile as sf

    for block in sf.blocks(str(path), blocksize=65536, dtype="float32", always_2d=True):
        if np.any(block):
            return False
    return True


def audio_caveats(index: DatasetIndex) -> list[str]:
    """Warnings about labels the audio cannot hold: events beyond a clip's audio, silent labelled clips."""
    import soundfile as sf

    beyond, padding, silent = [], [], []
    for name in index.filenames:
        path = index.audio_path(name)
        try:
            info = sf.info(str(path))
        except (RuntimeError, ValueError, sf.LibsndfileError):
            continue  # `check` reports the file itself
        seconds = info.frames / info.samplerate if info.samplerate else 0.0
        events = [e for e in (index.strong or {}).get(name, []) if e.label]
        inside_padding = [e for e in events if e.onset >= seconds]
        past_end = [e for e in events if e.offset > seconds + TOLERANCE_S]  # more than a frame past it
        if inside_padding:
            e = inside_padding[0]
            padding.append(f"{name} ({seconds:.3f} s of audio; {e.label} {e.onset:g}-{e.offset:g} s)")
        elif past_end:
            e = past_end[0]
            beyond.append(f"{name} ({seconds:.3f} s of audio; {e.label} ends at {e.offset:g} s)")
        if index.weak[name] and info.frames and _silent(path):
            silent.append(f"{name} ({','.join(index.weak[name])})")
    out = []
    if padding:
        out.append(
            f"{len(padding)} clip(s) have labelled events entirely beyond their audio, in the zero padding "
            f"a short clip gets: {_named(padding)}; the frame labels mark silence as the class: fix "
            "strong.tsv or the audio"
        )
    if beyond:
        out.append(
            f"{len(beyond)} clip(s) have labelled events that end past their audio (the rest is zero "
            f"padding): {_named(beyond)}; fix strong.tsv or the audio"
        )
    if silent:
        out.append(
            f"{len(silent)} clip(s) with labels are silent (every sample 0): {_named(silent)}; nothing in "
            "them can be heard: fix the audio, or drop the clips or their labels"
        )
    return out


def _best_metric(index: DatasetIndex, best_metric: str) -> str:
    val = index.files_in("val")
    if best_metric == "auto":
        return "sed_map" if any(index.has_strong(n) for n in val) else "at_map"
    return best_metric


def selection_problem(index: DatasetIndex, best_metric: str = "auto") -> str | None:
    """Why the metric that picks ``best.pt`` (``train.best_metric``) is undefined on the validation split,
    or None when it is defined (or the split is empty: ``check`` reports that)."""
    val = index.files_in("val") if index.split else []
    if not val:
        return None
    metric = _best_metric(index, best_metric)
    if metric == "at_map" and not any(index.weak[n] for n in val):
        why = f"none of its {len(val)} clip(s) has a label, so AT-mAP (an AP needs a positive) is undefined"
    elif metric == "sed_map":
        strong = [n for n in val if index.has_strong(n)]
        if any(e.label for n in strong for e in index.strong[n]):
            return None
        why = (
            f"none of its {len(strong)} strongly labelled clip(s) has an event, so SED-mAP (an AP needs an "
            "active frame) is undefined"
        )
    else:
        return None
    chosen = "auto" if best_metric == "auto" else best_metric
    return (
        f"the validation split holds no positive: {why} there, and train.best_metric={chosen} picks "
        f"best.pt by val_{metric}: no checkpoint would ever be the best. Put labelled clips in the "
        "validation split (import again with another --seed or --val-fraction), or select on the "
        "validation loss: --set train.best_metric=loss"
    )


def require_selectable(root: str | Path, best_metric: str = "auto") -> None:
    """Refuse (:class:`UserError`) a data set whose validation split leaves ``train.best_metric`` undefined
    (:func:`selection_problem`): a run would train to its end and leave no best checkpoint. A set that
    cannot be read is left to training's own check, which names every problem."""
    from mtlsed.core.errors import UserError

    try:
        index = read_dataset(root)
    except UserError:
        return
    problem = selection_problem(index, best_metric)
    if problem:
        raise UserError(f"{root}: {problem}")


def caveats(root: str | Path, check_audio: bool = True) -> list[str]:
    """Every warning about the data set ``root`` (see the module docstring); [] for a set ``check`` would
    refuse for other reasons it cannot read."""
    from mtlsed.core.errors import UserError

    try:
        index = read_dataset(root)
    except UserError:
        return []
    out = audio_caveats(index) if check_audio else []
    problem = selection_problem(index)
    if problem:
        out.append(problem)
    return out
