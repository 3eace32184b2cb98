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
for detection). Validation clips are ``val_fraction`` of the clips that are not test clips
(:func:`mtlsed.data.splits.split_sizes`, as every command sizes its splits) and keep only their weak
labels, as in the paper (``val_strong`` keeps their strong labels, as DESED's validation set has
them, so post-processing can be chosen there).

With ``groups`` (each clip's sources: recording, device, session, site; :mod:`mtlsed.data.groups`)
whole groups are held out, so the test and validation splits measure clips of sources the model never
heard; ``groups.tsv`` is written beside the labels and ``mtlsed check`` verifies it. Clips with
identical audio are always kept in one split, and a ``--test`` clip with the audio of a training clip
is refused. ``stratify`` keeps each class's share of the clips near the split sizes (with or
without groups), so a class's share of a held-out split does not rest on the draw (a ``test`` folder
is the user's and left as it is).

The boundaries of a data set hold (:mod:`mtlsed.data.policy`): a clip name may not leave the audio
folder; without ``classes.txt``, labels that differ only in case or look like two labels joined by
another separator are refused with their file and line; a clip longer than the clip length is skipped
unless ``crop_long``. A clip whose audio is missing, unreadable, empty or not finite is skipped and
named in the report with the reason; a malformed label line raises :class:`FormatError` with its file
and line (a label file is never half read).

``mtlsed import`` and ``mtlsed import-desed`` call this module; ``mtlsed mix-dcase2018`` prints
the same :func:`dataset_report` of what it wrote.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from mtlsed.core.atomic import atomic_path, write_json
from mtlsed.core.diskspace import ensure_free
from mtlsed.core.events import Event
from mtlsed.data.format import (
    STRONG_HEADER,
    WEAK_HEADER,
    FormatError,
    _rows,
    _split_labels,
    _strong_fields,
    read_classes,
    read_dataset,
    read_strong,
    read_weak,
    write_dataset_index,
)
from mtlsed.data.groups import INTERNAL, GroupedSplit, assign_splits, write_groups
from mtlsed.data.ours import mark, refuse_foreign
from mtlsed.data.policy import audio_problem, confusable_labels
from mtlsed.data.splits import IMPORT_VAL_FRACTION, TEST_FRACTION


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


FEW_CLIPS = 5  # a held-out class with fewer positive clips than this is named in the report


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
    long: int = 0  # clips longer than the clip length, cut to it (crop_long)
    duplicates: int = 0  # clips whose audio another clip has too (kept in one split)
    grouped: GroupedSplit | None = None  # how the split was made, when groups were given or stratified
    by_source: bool = False  # groups were given: whole sources held out

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
        few = [
            f"{c} ({s} {self.per_class[c][s]})"
            for c in self.classes
            for s in splits
            if s != "train" and 0 < self.per_class[c].get(s, 0) < FEW_CLIPS
        ]
        if few:  # an AP over 1-4 positives moves by a large step with each clip: say so beside the counts
            out.append(
                f"  fewer than {FEW_CLIPS} clips of: {', '.join(few)}; "
                "each such AP rests on those few clips: coarse, and free to differ between splits"
            )
        if "test" not in splits:
            out.append("  no test split: `mtlsed evaluate` needs one (import with --test-fraction or --test)")
        elif not self.strong_clips.get("test"):
            out.append(
                "  the test split has no strong labels: only AT-mAP can be scored (no SED-mAP, ER, PSDS)"
            )
        if self.short:
            out.append(f"  {self.short} clip(s) shorter than the clip length: zero-padded when read")
        if self.long:
            out.append(f"  {self.long} clip(s) longer than the clip length: cut to it when read (crop_long)")
        if self.duplicates:
            out.append(f"  {self.duplicates} clip(s) have the audio of another clip: kept in the same split")
        g = self.grouped
        if g is not None and not self.by_source:  # stratified, no groups given
            out.append("  split by clip, stratified by class")
        elif g is not None:
            per = ", ".join(f"{s} {g.groups_per_split.get(s, 0)}" for s in splits)
            out.append(
                f"  held out by source: {g.n_groups} groups ({per}); no group in two splits ({g.method})"
            )
            if g.dropped:
                out.append(
                    f"  dropped {len(g.dropped)} clip(s) whose sources fall in two splits "
                    f"(e.g. {', '.join(g.dropped[:3])}): a clip is kept only where all its groups are in "
                    f"one split; the groups in the most clips: {g.largest}"
                )
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
    first_seen: dict[str, str] = {}
    for s in sources:
        _labels_of(s, None)  # malformed lines raise here with their file and line
        for path, column in ((s.weak, "weak"), (s.strong, "strong")):
            if path is None:
                continue
            for number, fields in _rows(path, WEAK_HEADER if column == "weak" else STRONG_HEADER):
                labels = _split_labels(fields[1]) if column == "weak" else [_strong_fields(fields)[3]]
                for label in labels:
                    if label:
                        first_seen.setdefault(label, f"{path}:{number}")
    if not first_seen:
        raise FormatError(f"{sources[0].weak or sources[0].strong}: no labels found, cannot infer classes")
    problems = confusable_labels(first_seen)
    if problems:
        raise FormatError("; ".join(problems))
    return sorted(first_seen), "inferred from the labels, sorted"


# -- writing ---------------------------------------------------------------------


def _claim(out: Path, made_by: str) -> None:
    """Refuse a non-empty folder that an import did not make (never write into a user's folder)."""
    if out.exists() and not out.is_dir():
        raise FormatError(f"{out}: a file, not a folder; give a new folder for the data set")
    refuse_foreign(out, made_by)
    (out / "audio").mkdir(parents=True, exist_ok=True)
    mark(out, made_by)


def _place(src: Path, dst: Path, copy: bool) -> None:
    """Link (or copy) ``src`` to ``dst``; the same file again is fine, another one is a clash."""
    if dst.is_symlink() or dst.exists():
        if dst.resolve() != src.resolve() and not (copy and dst.read_bytes() == src.read_bytes()):
            raise FormatError(f"{src}: name clash with {dst.resolve()} in {dst.parent}")
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    if copy:
        with atomic_path(dst) as tmp:  # a copy cut short by a full disk leaves nothing to clash with
            shutil.copy2(src, tmp)
    else:
        os.symlink(src.resolve(), dst)


def import_sets(
    train: SourceSet,
    out: str | Path,
    test: SourceSet | None = None,
    val_fraction: float = IMPORT_VAL_FRACTION,
    test_fraction: float = TEST_FRACTION,
    seed: int = 0,
    copy: bool = False,
    classes: list[str] | None = None,
    made_by: str = "import",
    clip_seconds: float = 10.0,
    groups: dict[str, list[str]] | None = None,
    group_rule: str = "all",
    val_strong: bool = False,
    crop_long: bool = False,
    stratify: bool = False,
) -> ImportReport:
    """Write the dataset folder ``out`` from ``train`` (and ``test``); see the module docstring.

    ``classes`` fixes the class list (DESED's ten); otherwise a ``classes.txt`` of a source, else the
    labels found, sorted. ``groups``: each clip's sources (``mtlsed.data.groups.read_groups``); whole
    groups are held out with ``group_rule``. ``val_strong`` keeps the validation clips' strong labels;
    ``crop_long`` keeps clips longer than ``clip_seconds`` (cut to it when read). Importing again into
    the same folder with the same arguments gives the same split; the links already there are kept.
    ``stratify`` also spreads every class over the splits in proportion (by its weak labels).
    """
    from mtlsed.core.hashing import file_sha256

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
    if groups is not None:
        missing = [n for n in parts[0][1] if n not in groups]
        if missing:
            raise FormatError(
                f"the groups file names no groups for {len(missing)} training clip(s), e.g. {missing[0]}: "
                "every clip needs its sources"
            )
    _claim(out, made_by)

    skipped: list[tuple[str, str]] = []
    weak: dict[str, list[str]] = {}
    strong: dict[str, list[Event]] = {}
    kept: list[list[str]] = []
    sha: dict[str, str] = {}
    short = long = 0
    for source, w, s in parts:
        usable = []
        for name, labels in w.items():
            problem, is_short, is_long = audio_problem(source.audio / name, clip_seconds, crop_long)
            if problem:
                skipped.append((str(source.audio / name), problem))
                continue
            sha[name] = file_sha256(source.audio / name)
            short += is_short
            long += is_long
            weak[name] = [c for c in classes if c in labels]  # in class order
            if s is not None and name in s:
                strong[name] = s[name]
            usable.append(name)
        kept.append(usable)
    if test:  # the test folder must not hold the training audio under other names
        train_audio = {sha[n]: n for n in kept[0]}
        leaked = [(n, train_audio[sha[n]]) for n in kept[1] if sha[n] in train_audio]
        if leaked:
            raise FormatError(
                f"{test.weak or test.strong}: {len(leaked)} test clip(s) have the audio of training clips, "
                f"e.g. {leaked[0][0]} = {leaked[0][1]}; the test split must hold clips the model never heard"
            )

    # identical audio is one source: such clips always share a split
    same: dict[str, list[str]] = {}
    for n in kept[0]:
        same.setdefault(sha[n], []).append(n)
    duplicates = sum(len(v) for v in same.values() if len(v) > 1)
    clip_groups = {
        n: list((groups or {}).get(n) or [f"{INTERNAL}clip:{n}"])
        + ([f"{INTERNAL}audio:{sha[n]}"] if len(same[sha[n]]) > 1 else [])
        for n in kept[0]
    }
    pool = kept[0]
    test_ok = set(pool) if test else {n for n in pool if n in strong} or set(pool)
    grouped = assign_splits(
        pool, clip_groups, 0.0 if test else test_fraction, val_fraction, seed, group_rule, test_ok,
        labels={n: weak[n] for n in pool} if stratify else None,
    )  # fmt: skip
    split = dict(grouped.split)
    for name in kept[1] if test else []:
        split[name] = "test"
    for name in pool:
        if split.get(name) == "val" and not val_strong:
            strong.pop(name, None)  # validation sees weak labels only, as in the paper
    ordered = [n for usable in kept for n in usable if n in split]
    placed = [(s.audio / n, out / "audio" / n) for s, w, _ in parts for n in w if n in split]
    if copy:
        todo = [src for src, dst in placed if not (dst.exists() or dst.is_symlink())]
        ensure_free(
            out / "audio", sum(src.stat().st_size for src in todo), f"copying {len(todo)} audio file(s)"
        )
    for src, dst in placed:
        _place(src, dst, copy)
    write_dataset_index(
        out,
        classes,
        {n: weak[n] for n in ordered},
        {n: strong[n] for n in ordered if n in strong} if strong else None,
        {n: split[n] for n in ordered},
    )
    if not strong and (out / "strong.tsv").is_file():
        (out / "strong.tsv").unlink()  # left by an earlier import of the same folder
    if groups is not None:
        write_groups(out / "groups.tsv", {n: list(groups.get(n) or [n]) for n in ordered})
    else:
        (out / "groups.tsv").unlink(missing_ok=True)
    info = {k: True for k, v in (("variable_length", short), ("crop_long", long and crop_long)) if v}
    if info:
        write_json(out / "dataset.json", info)
    else:
        (out / "dataset.json").unlink(missing_ok=True)
    report = dataset_report(out, skipped)
    report.classes_from, report.short, report.long, report.duplicates = classes_from, short, long, duplicates
    report.grouped = grouped if groups is not None or stratify else None
    report.by_source = groups is not None
    return report
