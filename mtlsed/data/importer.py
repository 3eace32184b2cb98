"""Any weakly labelled set in DESED's TSV format, imported into the one dataset format.

A source folder holds the clips and their labels::

    SRC/audio/*.wav      (or another folder given as ``audio``)
    SRC/weak.tsv         filename<TAB>event_labels        (or only strong.tsv: weak labels follow)
    SRC/strong.tsv       optional: filename<TAB>onset<TAB>offset<TAB>event_label
    SRC/classes.txt      optional: the class order (else the labels found, sorted)

:func:`import_sets` writes a dataset folder (``classes.txt``, ``weak.tsv``, ``strong.tsv``,
``split.tsv``, ``audio/`` of links to the originals, or copies). A second source becomes the
test split with its strong labels; without one a seeded fraction of the clips is held out (drawn
from the strongly labelled clips when some have strong labels, so the test split can be scored
for detection). Validation clips are carved from the training clips and keep only their weak
labels, as in the paper. A clip whose audio is missing, unreadable, empty or not finite is skipped
and named in the report with the reason; a malformed label line raises :class:`FormatError` with
its file and line (a label file is never half read).

``mtlsed import`` and ``mtlsed import-desed`` call this module; ``mtlsed mix-dcase2018`` prints
the same :func:`dataset_report` of what it wrote.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mtlsed.data.format import (
    Event,
    FormatError,
    read_classes,
    read_dataset,
    read_strong,
    read_weak,
    write_dataset_index,
)

MARKER = Path(".mtlsed") / "made-by"


@dataclass
class SourceSet:
    """One labelled folder to import: its label files and where its audio lies."""

    audio: Path
    weak: Path | None = None  # weak.tsv; None: weak labels from the strong ones
    strong: Path | None = None  # strong.tsv; None: no strong labels
    classes: Path | None = None  # classes.txt; None: inferred

    @classmethod
    def folder(cls, root: str | Path, audio: str | Path | None = None) -> SourceSet:
        """``root`` in the layout above (``audio`` replaces ``root/audio``)."""
        root = Path(root)
        if not root.is_dir():
            raise FormatError(f"{root}: folder not found")
        found = {n: root / n for n in ("weak.tsv", "strong.tsv", "classes.txt") if (root / n).is_file()}
        if "weak.tsv" not in found and "strong.tsv" not in found:
            raise FormatError(f"{root}: neither weak.tsv nor strong.tsv found (DESED's TSV format)")
        audio_dir = Path(audio) if audio else root / "audio"
        if not audio_dir.is_dir():
            raise FormatError(f"{audio_dir}: audio folder not found (give it with --audio)")
        return cls(audio_dir, found.get("weak.tsv"), found.get("strong.tsv"), found.get("classes.txt"))


@dataclass
class ImportReport:
    """What an import wrote: clips per split and per class, and every skipped clip with the reason."""

    out: Path
    classes: list[str]
    classes_from: str
    counts: dict[str, int] = field(default_factory=dict)
    per_class: dict[str, dict[str, int]] = field(default_factory=dict)  # class -> split -> clips
    strong_clips: dict[str, int] = field(default_factory=dict)  # split -> clips with strong labels
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    short: int = 0  # clips shorter than the clip length (zero-padded when read)

    def lines(self) -> list[str]:
        splits = list(self.counts)
        width = max([len(c) for c in self.classes] + [5])
        out = [
            f"{sum(self.counts.values())} clips, {len(self.classes)} classes ({self.classes_from}) "
            f"in {self.out}",
            "  " + "split".ljust(width) + "".join(f"{s:>8}" for s in splits),
            "  " + "clips".ljust(width) + "".join(f"{self.counts[s]:>8}" for s in splits),
            "  " + "strong".ljust(width) + "".join(f"{self.strong_clips.get(s, 0):>8}" for s in splits),
        ]
        for c in self.classes:
            out.append("  " + c.ljust(width) + "".join(f"{self.per_class[c].get(s, 0):>8}" for s in splits))
        empty = [f"{c} ({s})" for c in self.classes for s in splits if not self.per_class[c].get(s)]
        if empty:
            out.append(f"  no clip of: {', '.join(empty)}")
        if not self.strong_clips.get("test"):
            out.append(
                "  the test split has no strong labels: only AT-mAP can be scored (no SED-mAP, ER, PSDS)"
            )
        if self.short:
            out.append(f"  {self.short} clip(s) shorter than the clip length: zero-padded when read")
        if self.skipped:
            out.append(f"  skipped {len(self.skipped)} clip(s):")
            out += [f"    {name}: {reason}" for name, reason in self.skipped]
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())


def dataset_report(root: str | Path, skipped: list[tuple[str, str]] | None = None) -> ImportReport:
    """The report of a written dataset folder: clips per split, per class, with strong labels."""
    index = read_dataset(root)
    splits = [s for s in ("train", "val", "test") if s in set(index.split.values())]
    report = ImportReport(Path(root), index.classes, "classes.txt", skipped=list(skipped or []))
    report.counts = {s: len(index.files_in(s)) for s in splits}
    report.per_class = {c: {} for c in index.classes}
    for name in index.filenames:
        s = index.split.get(name)
        for label in index.weak[name]:
            report.per_class[label][s] = report.per_class[label].get(s, 0) + 1
        if index.has_strong(name):
            report.strong_clips[s] = report.strong_clips.get(s, 0) + 1
    return report


# -- reading a source ---------------------------------------------------------------


def _labels_of(source: SourceSet, classes: list[str] | None) -> tuple[dict, dict | None]:
    """(weak, strong) of a source; weak labels made from the strong ones when there is no weak.tsv."""
    strong = read_strong(source.strong, classes) if source.strong else None
    if source.weak:
        weak = read_weak(source.weak, classes)
    else:
        weak = {name: sorted({e.label for e in events}) for name, events in (strong or {}).items()}
    if strong is not None:
        for name, events in strong.items():
            if name not in weak:
                raise FormatError(f"{source.strong}: {name} is not listed in {source.weak}")
            missing = sorted({e.label for e in events} - set(weak[name]))
            if missing:
                raise FormatError(
                    f"{source.strong}: {name}: strong label(s) {missing} missing from its weak labels "
                    f"{weak[name]} in {source.weak}"
                )
    return weak, strong


def _classes_of(sources: list[SourceSet]) -> tuple[list[str], str]:
    """The class list: the first ``classes.txt`` found, else every label of every source, sorted."""
    for s in sources:
        if s.classes:
            return read_classes(s.classes), str(s.classes)
    labels: set[str] = set()
    for s in sources:
        weak, strong = _labels_of(s, None)
        labels |= {lab for labs in weak.values() for lab in labs}
        labels |= {e.label for evs in (strong or {}).values() for e in evs}
    if not labels:
        raise FormatError(f"{sources[0].weak or sources[0].strong}: no labels found, cannot infer classes")
    return sorted(labels), "inferred from the labels, sorted"


def audio_problem(path: Path, clip_seconds: float) -> tuple[str | None, bool]:
    """(why the clip cannot be used or None, whether it is shorter than ``clip_seconds``)."""
    import soundfile as sf

    if not path.is_file():
        return "audio file not found", False
    try:
        info = sf.info(str(path))
    except (RuntimeError, ValueError, sf.LibsndfileError) as err:
        return f"cannot read audio ({str(err).strip()})", False
    if info.frames == 0 or info.channels == 0:
        return "empty audio file", False
    if info.subtype in ("FLOAT", "DOUBLE"):  # integer PCM cannot hold NaN; floats can
        samples, _ = sf.read(str(path), dtype="float32", always_2d=True)
        if not np.all(np.isfinite(samples)):
            return "non-finite samples (NaN or inf)", False
    return None, info.frames / info.samplerate < clip_seconds - 0.064


# -- writing ---------------------------------------------------------------------


def _claim(out: Path, made_by: str) -> None:
    """Refuse a non-empty folder that an import did not make (never write into a user's folder)."""
    marker = out / MARKER
    if out.is_dir() and any(out.iterdir()) and not marker.is_file():
        raise FileExistsError(
            f"{out} is not empty and was not made by mtlsed {made_by}; choose another folder"
        )
    (out / "audio").mkdir(parents=True, exist_ok=True)
    marker.parent.mkdir(exist_ok=True)
    marker.write_text(made_by + "\n")


def _place(src: Path, dst: Path, copy: bool) -> None:
    """Link (or copy) ``src`` to ``dst``; the same file again is fine, another one is a clash."""
    if dst.is_symlink() or dst.exists():
        if dst.resolve() != src.resolve() and not (copy and dst.read_bytes() == src.read_bytes()):
            raise FormatError(f"{src}: name clash with {dst.resolve()} in {dst.parent}")
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    if copy:
        shutil.copy2(src, dst)
    else:
        os.symlink(src.resolve(), dst)


def import_sets(
    train: SourceSet,
    out: str | Path,
    test: SourceSet | None = None,
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
    seed: int = 0,
    copy: bool = False,
    classes: list[str] | None = None,
    made_by: str = "import",
    clip_seconds: float = 10.0,
) -> ImportReport:
    """Write the dataset folder ``out`` from ``train`` (and ``test``); see the module docstring.

    ``classes`` fixes the class list (DESED's ten); otherwise a ``classes.txt`` of a source, else the
    labels found, sorted. Importing again into the same folder with the same arguments gives the same
    split; the links already there are kept.
    """
    out = Path(out)
    for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0 <= value < 1:
            raise ValueError(f"{name} must be in [0, 1), got {value}")
    sources = [train] + ([test] if test else [])
    if classes is None:
        classes, classes_from = _classes_of(sources)
    else:
        classes_from = "given"
    parts = [(s, *_labels_of(s, classes)) for s in sources]
    names = [n for _, weak, _ in parts for n in weak]
    dupes = sorted({n for n in names if names.count(n) > 1}) if test else []
    if dupes:
        raise FormatError(
            f"{test.weak or test.strong}: {dupes[0]} is also a training clip "
            f"({len(dupes)} name(s) in both folders); rename the test clips"
        )
    _claim(out, made_by)

    skipped: list[tuple[str, str]] = []
    weak: dict[str, list[str]] = {}
    strong: dict[str, list[Event]] = {}
    kept: list[list[str]] = []
    short = 0
    for source, w, s in parts:
        usable = []
        for name, labels in w.items():
            problem, is_short = audio_problem(source.audio / name, clip_seconds)
            if problem:
                skipped.append((str(source.audio / name), problem))
                continue
            _place(source.audio / name, out / "audio" / name, copy)
            short += is_short
            weak[name] = [c for c in classes if c in labels]  # in class order
            if s is not None and name in s:
                strong[name] = s[name]
            usable.append(name)
        kept.append(usable)

    rng = np.random.default_rng(seed)
    split: dict[str, str] = {}
    pool = kept[0]
    if test:
        for name in kept[1]:
            split[name] = "test"
    else:
        strong_pool = [n for n in pool if n in strong]
        candidates = strong_pool or pool
        n_test = int(round(len(pool) * test_fraction))
        chosen = [candidates[i] for i in rng.permutation(len(candidates))[:n_test]]
        split.update(dict.fromkeys(chosen, "test"))
    rest = [n for n in pool if n not in split]
    n_val = int(round(len(rest) * val_fraction))
    val = {rest[i] for i in rng.permutation(len(rest))[:n_val]}
    for name in rest:
        split[name] = "val" if name in val else "train"
        if name in val:
            strong.pop(name, None)  # validation sees weak labels only, as in the paper
    ordered = [n for usable in kept for n in usable]
    write_dataset_index(
        out,
        classes,
        {n: weak[n] for n in ordered},
        {n: strong[n] for n in ordered if n in strong} if strong else None,
        {n: split[n] for n in ordered},
    )
    if not strong and (out / "strong.tsv").is_file():
        (out / "strong.tsv").unlink()  # left by an earlier import of the same folder
    info = out / "dataset.json"
    info.write_text(json.dumps({"variable_length": True}) + "\n") if short else info.unlink(missing_ok=True)
    report = dataset_report(out, skipped)
    report.classes_from, report.short = classes_from, short
    return report
