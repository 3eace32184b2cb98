"""DCASE 2018 as sound sources for the paper's overlapped set (Table 1).

- Events: DCASE 2018 task 2, FSDKaggle2018 (41 classes, 44.1 kHz mono), in
  either layout it is distributed in:

  - Kaggle: ``ROOT/train.csv`` + ``ROOT/audio_train/``
  - Zenodo: ``ROOT/FSDKaggle2018.meta/train_post_competition.csv`` +
    ``ROOT/FSDKaggle2018.audio_train/``

  with columns ``fname,label,manually_verified`` (Zenodo adds more, ignored).
  ``verified_only`` keeps the manually verified clips.
- Backgrounds: DCASE 2018 task 1, TUT Urban Acoustic Scenes 2018 development
  set: ``ROOT/meta.csv`` (tab-separated: ``filename scene_label identifier
  source_label``) + ``ROOT/audio/``; when ``evaluation_setup/fold1_train.txt``
  and ``fold1_evaluate.txt`` exist, fold 1 decides train vs test.

Files listed but absent are skipped and counted in the report (partial copies
are common); a malformed metadata line (or a byte that is not UTF-8) raises an
error naming file and line, and too few files or classes for the split an
error saying how many are needed.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from mtlsed.data.format import FormatError, read_text
from mtlsed.data.mix import OVERLAPPED_EVENTS
from mtlsed.data.pools import FileBackgrounds, FileEvents, min_group_size, split_files
from mtlsed.data.splits import MIXED_VAL_FRACTION, TEST_FRACTION


@dataclass
class SourceReport:
    """What an adapter found: counts per split and the files it skipped."""

    counts: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        parts = [f"{k}: {v}" for k, v in self.counts.items()]
        text = ", ".join(parts)
        if self.skipped:
            text += f"; skipped {len(self.skipped)} listed file(s) not found, e.g. {self.skipped[0]}"
        return text


def _fsd_layout(root: Path) -> tuple[Path, Path]:
    kaggle = (root / "train.csv", root / "audio_train")
    zenodo = (root / "FSDKaggle2018.meta" / "train_post_competition.csv", root / "FSDKaggle2018.audio_train")
    for csv_path, audio in (kaggle, zenodo):
        if csv_path.is_file():
            if not audio.is_dir():
                raise FormatError(f"{audio}: audio folder missing next to {csv_path}")
            return csv_path, audio
    raise FormatError(f"{root}: no FSDKaggle2018 metadata found (looked for {kaggle[0]} and {zenodo[0]})")


def read_fsd2018(root: str | Path, verified_only: bool = True, report: SourceReport | None = None):
    """``[(path, label)]`` of the FSDKaggle2018 training clips under ``root``."""
    root = Path(root)
    csv_path, audio = _fsd_layout(root)
    items = []
    with io.StringIO(read_text(csv_path), newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        need = ["fname", "label", "manually_verified"]
        if header is None or any(c not in header for c in need):
            raise FormatError(f"{csv_path}:1: header {header} lacks one of {need}")
        col = {c: header.index(c) for c in need}
        for number, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) < len(header):
                raise FormatError(f"{csv_path}:{number}: expected {len(header)} columns, got {len(row)}")
            verified = row[col["manually_verified"]].strip()
            if verified not in ("0", "1"):
                raise FormatError(f"{csv_path}:{number}: manually_verified must be 0 or 1, got {verified!r}")
            if verified_only and verified != "1":
                continue
            path = audio / row[col["fname"]].strip()
            if not path.is_file():
                if report is not None:
                    report.skipped.append(str(path))
                continue
            items.append((path, row[col["label"]].strip()))
    if not items:
        raise FormatError(f"{csv_path}: no usable clips (verified_only={verified_only})")
    return items


def read_tut2018(root: str | Path, report: SourceReport | None = None) -> dict[str, list[Path]]:
    """Background files of TUT Urban Acoustic Scenes 2018: ``{"fold1_train": [...], ...}``."""
    root = Path(root)
    meta = root / "meta.csv"
    if not meta.is_file():
        raise FormatError(f"{meta}: file not found (TUT Urban Acoustic Scenes 2018 metadata)")
    files: list[Path] = []
    lines = read_text(meta).splitlines()
    if not lines or lines[0].split("\t")[:2] != ["filename", "scene_label"]:
        raise FormatError(f"{meta}:1: expected a tab-separated header 'filename<TAB>scene_label<TAB>...'")
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 2:
            raise FormatError(f"{meta}:{number}: expected tab-separated filename and scene_label")
        path = root / fields[0].strip()
        if not path.is_file():
            if report is not None:
                report.skipped.append(str(path))
            continue
        files.append(path)
    folds = {}
    for name in ("fold1_train", "fold1_evaluate"):
        f = root / "evaluation_setup" / f"{name}.txt"
        if f.is_file():
            listed = {ln.split("\t")[0].strip() for ln in read_text(f).splitlines() if ln.strip()}
            folds[name] = [p for p in files if str(p.relative_to(root)) in listed]
    folds["all"] = files
    if not files:
        raise FormatError(f"{meta}: no background files found")
    return folds


def dcase2018_sources(
    fsd_root: str | Path,
    tut_root: str | Path,
    sr: int,
    seed: int = 0,
    val_fraction: float = MIXED_VAL_FRACTION,
    test_fraction: float = TEST_FRACTION,
    verified_only: bool = True,
):
    """Per-split event and background pools: ``(sources, classes, report)``.

    Event files are split per class (every class in every split); backgrounds
    follow TUT's fold 1 when it is there (its test part for our test split). ``val_fraction`` is a share
    of the files that are not test files (:func:`mtlsed.data.splits.split_sizes`).
    """
    report = SourceReport()
    items = read_fsd2018(fsd_root, verified_only, report)
    classes = sorted({label for _, label in items})
    _enough_events(_fsd_layout(Path(fsd_root))[0], items, classes, val_fraction, test_fraction, verified_only)
    ev_split = split_files(items, seed, val_fraction, test_fraction, key=lambda it: it[1])
    folds = read_tut2018(tut_root, report)
    meta = Path(tut_root) / "meta.csv"
    if "fold1_train" in folds and "fold1_evaluate" in folds:
        _enough(meta, "fold 1 training background", len(folds["fold1_train"]), val_fraction, 0.0)
        _enough(meta, "fold 1 evaluation background", len(folds["fold1_evaluate"]), 0.0, 0.0)
        bg = split_files(folds["fold1_train"], seed, val_fraction, 0.0)
        bg["test"] = folds["fold1_evaluate"]
    else:
        _enough(meta, "background", len(folds["all"]), val_fraction, test_fraction)
        bg = split_files(folds["all"], seed, val_fraction, test_fraction)
    sources = {}
    for split in ("train", "val", "test"):
        sources[split] = (FileEvents(ev_split[split], sr, classes), FileBackgrounds(bg[split], sr))
        report.counts[f"{split} events"] = len(ev_split[split])
        report.counts[f"{split} backgrounds"] = len(bg[split])
    return sources, classes, report


def _needs(val_fraction: float, test_fraction: float) -> str:
    return f"(--val-fraction {val_fraction:g}, --test-fraction {test_fraction:g})"


def _enough(where: Path, what: str, found: int, val_fraction: float, test_fraction: float) -> None:
    """Refuse ``found`` files of ``what`` (listed in ``where``) too few to give every split one."""
    need = min_group_size(val_fraction, test_fraction)
    if found < need:
        raise FormatError(
            f"{where}: {found} {what} file(s) found, the train/val/test split "
            f"{_needs(val_fraction, test_fraction)} needs at least {need}; add files to the copy"
        )


def _enough_events(csv_path, items, classes, val_fraction, test_fraction, verified_only) -> None:
    """Refuse event files too few for the split: every class needs a file in every split, and the
    overlapped recipe mixes :data:`~mtlsed.data.mix.OVERLAPPED_EVENTS` different classes per clip."""
    more = " (or pass --all-labels to use the clips not manually verified too)" if verified_only else ""
    if len(classes) < OVERLAPPED_EVENTS:
        raise FormatError(
            f"{csv_path}: {len(classes)} class(es) among the usable event files ({', '.join(classes)}); the "
            f"overlapped set mixes {OVERLAPPED_EVENTS} different classes per clip, so it needs at least "
            f"{OVERLAPPED_EVENTS}{more}"
        )
    need = min_group_size(val_fraction, test_fraction)
    counts = {c: sum(1 for _, label in items if label == c) for c in classes}
    short = {c: n for c, n in counts.items() if n < need}
    if short:
        listed = ", ".join(f"{c!r}: {n}" for c, n in sorted(short.items()))
        raise FormatError(
            f"{csv_path}: {len(short)} class(es) with too few usable event files ({listed}); the "
            f"train/val/test split {_needs(val_fraction, test_fraction)} needs at least {need} per class"
            f"{more}"
        )
