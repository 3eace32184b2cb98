"""The one dataset format, DESED's, with an explicit class list.

A data set is a folder::

    DIR/audio/*.wav     the clips
    DIR/classes.txt     the ordered class list, one label per line
    DIR/weak.tsv        filename<TAB>event_labels      (labels comma-separated; every clip)
    DIR/strong.tsv      filename<TAB>onset<TAB>offset<TAB>event_label
                        (strongly annotated clips only; an empty label marks a clip
                        without events)
    DIR/split.tsv       filename<TAB>split             (train, val or test; optional)

Both TSV files have a header line. Readers raise :class:`FormatError` with the
file and line of the first problem; :func:`validate` collects every problem.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

WEAK_HEADER = ["filename", "event_labels"]
STRONG_HEADER = ["filename", "onset", "offset", "event_label"]
SPLIT_HEADER = ["filename", "split"]
SPLITS = ("train", "val", "test")


class FormatError(ValueError):
    """A dataset file is malformed; the message names the file and line."""


@dataclass(frozen=True)
class Event:
    """One strongly labelled event of a clip, times in seconds."""

    filename: str
    onset: float
    offset: float
    label: str


@dataclass(frozen=True)
class Problem:
    """One validation finding, located by file and line (0: the file as a whole)."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}" if self.line else f"{self.path}: {self.message}"


@dataclass
class DatasetIndex:
    """What a dataset folder says about its clips (the audio itself is not read)."""

    root: Path
    classes: list[str]
    weak: dict[str, list[str]]  # filename -> labels, in file order
    strong: dict[str, list[Event]] | None  # filename -> events; None when there is no strong.tsv
    split: dict[str, str] = field(default_factory=dict)

    @property
    def filenames(self) -> list[str]:
        return list(self.weak)

    def has_strong(self, filename: str) -> bool:
        return self.strong is not None and filename in self.strong

    def files_in(self, split: str | None) -> list[str]:
        """Clips of a split (all clips when ``split`` is None)."""
        if split is None:
            return self.filenames
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
        if not self.split:
            raise FormatError(f"{self.root / 'split.tsv'}: no split file, cannot select {split!r}")
        return [f for f in self.weak if self.split.get(f) == split]

    def audio_path(self, filename: str) -> Path:
        return self.root / "audio" / filename


# -- reading ------------------------------------------------------------------


def _rows(path: Path, header: list[str]) -> Iterable[tuple[int, list[str]]]:
    """Yield (line number, fields) of a TSV file after checking its header."""
    if not path.is_file():
        raise FormatError(f"{path}: file not found")
    with path.open(newline="", encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    if not lines:
        raise FormatError(f"{path}:1: empty file, expected the header {'<TAB>'.join(header)}")
    got = lines[0].split("\t")
    if got[: len(header)] != header:
        raise FormatError(f"{path}:1: header {got} is not {header}")
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        yield number, line.split("\t")


def read_classes(path: str | Path) -> list[str]:
    path = Path(path)
    if not path.is_file():
        raise FormatError(f"{path}: file not found (the ordered class list, one label per line)")
    classes = [c.strip() for c in path.read_text(encoding="utf-8").splitlines() if c.strip()]
    seen = set()
    for i, c in enumerate(classes, start=1):
        if c in seen:
            raise FormatError(f"{path}:{i}: duplicate class {c!r}")
        if "," in c or "\t" in c:
            raise FormatError(f"{path}:{i}: class {c!r} contains a comma or tab")
        seen.add(c)
    if not classes:
        raise FormatError(f"{path}: no classes")
    return classes


def read_weak(path: str | Path, classes: list[str] | None = None) -> dict[str, list[str]]:
    """``filename -> labels``; raises :class:`FormatError` at the first bad line."""
    path = Path(path)
    out: dict[str, list[str]] = {}
    for number, fields in _rows(path, WEAK_HEADER):
        problem = _check_weak_row(fields, classes, out)
        if problem:
            raise FormatError(f"{path}:{number}: {problem}")
        out[fields[0]] = _split_labels(fields[1] if len(fields) > 1 else "")
    return out


def read_strong(path: str | Path, classes: list[str] | None = None) -> dict[str, list[Event]]:
    """``filename -> events`` (an empty list for a clip without events)."""
    path = Path(path)
    out: dict[str, list[Event]] = {}
    for number, fields in _rows(path, STRONG_HEADER):
        problem = _check_strong_row(fields, classes)
        if problem:
            raise FormatError(f"{path}:{number}: {problem}")
        name, onset, offset, label = _strong_fields(fields)
        events = out.setdefault(name, [])
        if label:
            events.append(Event(name, float(onset), float(offset), label))
    return out


def read_split(path: str | Path) -> dict[str, str]:
    path = Path(path)
    out: dict[str, str] = {}
    for number, fields in _rows(path, SPLIT_HEADER):
        if len(fields) != 2 or fields[1] not in SPLITS:
            raise FormatError(f"{path}:{number}: expected filename<TAB>one of {list(SPLITS)}, got {fields}")
        out[fields[0]] = fields[1]
    return out


def read_dataset(root: str | Path) -> DatasetIndex:
    """Read a dataset folder strictly (first problem raises; see :func:`validate` for all)."""
    root = Path(root)
    if not root.is_dir():
        raise FormatError(f"{root}: dataset folder not found")
    classes = read_classes(root / "classes.txt")
    weak = read_weak(root / "weak.tsv", classes)
    strong = read_strong(root / "strong.tsv", classes) if (root / "strong.tsv").is_file() else None
    split = read_split(root / "split.tsv") if (root / "split.tsv").is_file() else {}
    return DatasetIndex(root, classes, weak, strong, split)


# -- row checks shared by the readers and the validator -------------------------


def _split_labels(text: str) -> list[str]:
    return [label.strip() for label in text.split(",") if label.strip()]


def _check_weak_row(fields: list[str], classes: list[str] | None, seen: dict) -> str | None:
    if len(fields) != 2:
        return f"expected 2 tab-separated columns (filename, event_labels), got {len(fields)}"
    name, labels = fields[0].strip(), _split_labels(fields[1])
    if not name:
        return "empty filename"
    if name in seen:
        return f"{name}: listed twice"
    if classes is not None:
        unknown = [lab for lab in labels if lab not in classes]
        if unknown:
            return f"{name}: unknown label(s) {unknown} (not in classes.txt)"
    if len(set(labels)) != len(labels):
        return f"{name}: a label is repeated in {labels}"
    return None


def _strong_fields(fields: list[str]) -> tuple[str, str, str, str]:
    padded = list(fields) + [""] * (4 - len(fields))
    return padded[0].strip(), padded[1].strip(), padded[2].strip(), padded[3].strip()


def _check_strong_row(fields: list[str], classes: list[str] | None) -> str | None:
    if len(fields) not in (3, 4):
        return f"expected 4 tab-separated columns (filename, onset, offset, event_label), got {len(fields)}"
    name, onset, offset, label = _strong_fields(fields)
    if not name:
        return "empty filename"
    if not label:
        if onset or offset:
            return f"{name}: times given without an event label"
        return None
    try:
        t0, t1 = float(onset), float(offset)
    except ValueError:
        return f"{name}: onset {onset!r} / offset {offset!r} are not numbers"
    if t0 < 0 or t1 < 0:
        return f"{name}: negative time (onset {t0}, offset {t1})"
    if t0 >= t1:
        return f"{name}: onset {t0} is not before offset {t1}"
    if classes is not None and label not in classes:
        return f"{name}: unknown label {label!r} (not in classes.txt)"
    return None


# -- validation ---------------------------------------------------------------


def validate(root: str | Path, check_audio: bool = True) -> list[Problem]:
    """Every problem of a dataset folder, each with its file and line."""
    root = Path(root)
    problems: list[Problem] = []
    if not root.is_dir():
        return [Problem(str(root), 0, "dataset folder not found")]
    try:
        classes: list[str] | None = read_classes(root / "classes.txt")
    except FormatError as err:
        problems.append(_problem_from(err, root / "classes.txt"))
        classes = None

    weak: dict[str, list[str]] = {}
    weak_path = root / "weak.tsv"
    try:
        for number, fields in _rows(weak_path, WEAK_HEADER):
            message = _check_weak_row(fields, classes, weak)
            if message:
                problems.append(Problem(str(weak_path), number, message))
            if len(fields) == 2 and fields[0].strip() and fields[0] not in weak:
                weak[fields[0]] = _split_labels(fields[1])
    except FormatError as err:
        problems.append(_problem_from(err, weak_path))

    strong_path = root / "strong.tsv"
    if strong_path.is_file():
        try:
            for number, fields in _rows(strong_path, STRONG_HEADER):
                message = _check_strong_row(fields, classes)
                if message:
                    problems.append(Problem(str(strong_path), number, message))
                    continue
                name, _, _, label = _strong_fields(fields)
                if name not in weak:
                    problems.append(Problem(str(strong_path), number, f"{name}: not listed in weak.tsv"))
                elif label and label not in weak[name]:
                    problems.append(
                        Problem(
                            str(strong_path),
                            number,
                            f"{name}: strong label {label!r} missing from its weak labels {weak[name]}",
                        )
                    )
        except FormatError as err:
            problems.append(_problem_from(err, strong_path))

    split_path = root / "split.tsv"
    if split_path.is_file():
        try:
            for number, fields in _rows(split_path, SPLIT_HEADER):
                if len(fields) != 2 or fields[1] not in SPLITS:
                    problems.append(
                        Problem(str(split_path), number, f"expected filename<TAB>one of {list(SPLITS)}")
                    )
                elif fields[0] not in weak:
                    problems.append(Problem(str(split_path), number, f"{fields[0]}: not listed in weak.tsv"))
        except FormatError as err:
            problems.append(_problem_from(err, split_path))

    if check_audio:
        audio = root / "audio"
        for number, name in enumerate(weak, start=2):
            if not (audio / name).is_file():
                problems.append(
                    Problem(
                        str(weak_path),
                        _line_of(weak_path, name, number),
                        f"{name}: audio file missing in {audio}",
                    )
                )
    return problems


def _line_of(path: Path, name: str, default: int) -> int:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.split("\t", 1)[0] == name:
            return number
    return default


def _problem_from(err: FormatError, path: Path) -> Problem:
    text = str(err)
    prefix = f"{path}:"
    rest = text[len(prefix) :] if text.startswith(prefix) else text
    line_part, sep, message = rest.partition(": ")
    if sep and line_part.strip().isdigit():
        return Problem(str(path), int(line_part), message)
    return Problem(str(path), 0, rest.lstrip(": ").strip() or text)


# -- writing ------------------------------------------------------------------


def write_tsv(path: Path, header: list[str], rows: Iterable[list[str]]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_NONE, escapechar="\\")
        writer.writerow(header)
        writer.writerows(rows)
    tmp.replace(path)


def _fmt_time(t: float) -> str:
    return f"{t:.3f}"


def write_dataset_index(
    root: str | Path,
    classes: list[str],
    weak: dict[str, list[str]],
    strong: dict[str, list[Event]] | None = None,
    split: dict[str, str] | None = None,
) -> None:
    """Write classes.txt, weak.tsv and (when given) strong.tsv and split.tsv into ``root``."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    (root / "classes.txt").write_text("".join(c + "\n" for c in classes), encoding="utf-8")
    write_tsv(root / "weak.tsv", WEAK_HEADER, ([f, ",".join(labels)] for f, labels in weak.items()))
    if strong is not None:
        rows = []
        for f, events in strong.items():
            if not events:
                rows.append([f, "", "", ""])
            for ev in sorted(events, key=lambda e: (e.onset, e.label)):
                rows.append([f, _fmt_time(ev.onset), _fmt_time(ev.offset), ev.label])
        write_tsv(root / "strong.tsv", STRONG_HEADER, rows)
    if split:
        write_tsv(root / "split.tsv", SPLIT_HEADER, ([f, s] for f, s in split.items()))
