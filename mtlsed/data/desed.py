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
are skipped and named in the report. The work is :func:`mtlsed.data.importer.import_sets`'s.
"""

from __future__ import annotations

from pathlib import Path

from mtlsed.data.format import FormatError
from mtlsed.data.importer import ImportReport, SourceSet, import_sets
from mtlsed.data.splits import IMPORT_VAL_FRACTION

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


def import_desed(
    root: str | Path,
    out: str | Path,
    val_fraction: float = IMPORT_VAL_FRACTION,
    seed: int = 0,
    copy: bool = False,
) -> ImportReport:
    """Write the DESED dataset folder ``out`` from a DESED copy at ``root`` (see :mod:`importer`).

    DESED's validation set is the test split, so ``val_fraction`` is a share of all the training clips
    (the clips that are not test clips, as for every command).
    """
    root = Path(root)
    weak_tsv = root / "metadata" / "train" / "weak.tsv"
    val_tsv = root / "metadata" / "validation" / "validation.tsv"
    for p in (weak_tsv, val_tsv):
        if not p.is_file():
            raise FormatError(f"{p}: file not found (is {root} a DESED copy?)")
    train = SourceSet(root / "audio" / "train" / "weak", weak=weak_tsv)
    test = SourceSet(root / "audio" / "validation", strong=val_tsv)
    return import_sets(
        train, out, test, val_fraction, seed=seed, copy=copy, classes=DESED_CLASSES, made_by="import-desed"
    )
