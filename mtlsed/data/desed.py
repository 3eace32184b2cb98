"""DESED (DCASE 2020 task 4) read as it is, into the one dataset format (Table 2).

DESED already uses our TSV format. The adapter takes its weakly labelled
training set and its strongly labelled validation set::

    ROOT/metadata/train/weak.tsv             ROOT/audio/train/weak/*.wav
    ROOT/metadata/validation/validation.tsv  ROOT/audio/validation/*.wav

and writes a dataset folder whose ``audio/`` holds symbolic links to the
originals (nothing is copied). The weak clips are split into train and val
(weak labels only, as in the paper); the validation clips become the test split
with their strong labels. Clips shorter than 10 s are zero-padded when loaded.
Clips listed but missing from the copy (YouTube downloads are often partial)
are skipped and counted.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from mtlsed.data.dcase2018 import SourceReport
from mtlsed.data.format import Event, FormatError, read_strong, read_weak, write_dataset_index

DESED_CLASSES = [
    "Alarm_bell_ringing",
    "Blender",
    "Cat",
    "Dishes",
    "Dog",
    "Electric_shaver_toothbrush",
    "Frying",
    "Running_water",
    "Speech",
    "Vacuum_cleaner",
]


def import_desed(root: str | Path, out: str | Path, val_fraction: float = 0.1, seed: int = 0) -> SourceReport:
    """Write the DESED dataset folder ``out`` from a DESED copy at ``root``."""
    root, out = Path(root), Path(out)
    weak_tsv = root / "metadata" / "train" / "weak.tsv"
    val_tsv = root / "metadata" / "validation" / "validation.tsv"
    weak_audio = root / "audio" / "train" / "weak"
    val_audio = root / "audio" / "validation"
    for p in (weak_tsv, val_tsv):
        if not p.is_file():
            raise FormatError(f"{p}: file not found (is {root} a DESED copy?)")
    weak_in = read_weak(weak_tsv, DESED_CLASSES)
    strong_in = read_strong(val_tsv, DESED_CLASSES)
    report = SourceReport()
    marker = out / ".mtlsed" / "made-by"
    if out.is_dir() and any(out.iterdir()) and not marker.is_file():
        raise FileExistsError(
            f"{out} is not empty and was not made by mtlsed import-desed; choose another folder"
        )
    (out / "audio").mkdir(parents=True, exist_ok=True)
    marker.parent.mkdir(exist_ok=True)
    marker.write_text("import-desed\n")

    def link(src_dir: Path, name: str) -> bool:
        src = src_dir / name
        if not src.is_file():
            report.skipped.append(str(src))
            return False
        dst = out / "audio" / name
        if dst.is_symlink() or dst.exists():
            if dst.resolve() != src.resolve():
                raise FormatError(f"{src}: name clash with {dst.resolve()} in {out / 'audio'}")
            return True
        os.symlink(src.resolve(), dst)
        return True

    weak: dict[str, list[str]] = {}
    strong: dict[str, list[Event]] = {}
    split: dict[str, str] = {}
    kept = [name for name in weak_in if link(weak_audio, name)]
    order = np.random.default_rng(seed).permutation(len(kept))
    n_val = int(round(len(kept) * val_fraction))
    for j, idx in enumerate(order):
        name = kept[idx]
        weak[name] = weak_in[name]
        split[name] = "val" if j < n_val else "train"
    for name, events in strong_in.items():
        if not link(val_audio, name):
            continue
        labels = {e.label for e in events}
        weak[name] = [c for c in DESED_CLASSES if c in labels]
        strong[name] = events
        split[name] = "test"
    write_dataset_index(out, DESED_CLASSES, weak, strong, split)
    (out / "dataset.json").write_text('{"variable_length": true}\n')  # DESED clips may be < 10 s
    report.counts = {s: sum(v == s for v in split.values()) for s in ("train", "val", "test")}
    return report
