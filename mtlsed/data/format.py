"""The one dataset format, DESED's, with an explicit class list.

A data set is a folder::

    DIR/audio/*.wav     the clips
    DIR/classes.txt     the ordered class list, one label per line
    DIR/weak.tsv        filename<TAB>event_labels      (labels comma-separated; every clip)
    DIR/strong.tsv      filename<TAB>onset<TAB>offset<TAB>event_label
                        (strongly annotated clips only; an empty label marks a clip
                        without events)
    DIR/split.tsv       filename<TAB>split             (train, val or test; every clip once)
    DIR/dataset.json    optional: {"variable_length": true} for a set whose clips may be
                        shorter than the clip length (DESED): they are zero-padded, and
                        `mtlsed check` counts them instead of calling them errors;
                        {"crop_long": true}: clips longer than the clip length are cut to it
                        (counted by `check`; without it they are errors, mtlsed.data.policy)
    DIR/groups.tsv      optional: filename<TAB>groups (comma-separated sources of each clip);
                        no group may be in two splits (`mtlsed import --groups` writes it)

Both TSV files have a header line. Readers raise :class:`FormatError` with the
file and line of the first problem; :func:`validate` collects every problem.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from mtlsed.core.errors import FormatError
from mtlsed.core.events import Event
from mtlsed.core.textio import read_utf8, write_tsv
from mtlsed.data.policy import TOLERANCE_S, unsafe_name

WEAK_HEADER = ["filename", "event_labels"]
STRONG_HEADER = ["filename", "onset", "offset", "event_label"]
SPLIT_HEADER = ["filename", "split"]
SPLITS = ("train", "val", "test")


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


def read_text(path: Path) -> str:
    """A label file's text (:func:`mtlsed.core.textio.read_utf8`); a byte that is not UTF-8 names its line."""
    return read_utf8(path, FormatError)


def _rows(path: Path, header: list[str]) -> Iterable[tuple[int, list[str]]]:
    """Yield (line number, fields) of a TSV file after checking its header."""
    if not path.is_file():
        raise FormatError(f"{path}: file not found")
    lines = read_text(path).splitlines()
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
    # numbered as the file is, blank lines included, so a message points at the line a user sees
    numbered = [(i, line.strip()) for i, line in enumerate(read_text(path).splitlines(), start=1)]
    classes, seen = [], set()
    for i, c in numbered:
        if not c:
            continue
        if c in seen:
            raise FormatError(f"{path}:{i}: duplicate class {c!r}")
        if "," in c or "\t" in c:
            raise FormatError(f"{path}:{i}: class {c!r} contains a comma or tab")
        seen.add(c)
        classes.append(c)
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
    if unsafe_name(name):
        return unsafe_name(name)
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
    if unsafe_name(name):
        return unsafe_name(name)
    if not label:
        if onset or offset:
            return f"{name}: times given without an event label"
        return None
    try:
        t0, t1 = float(onset), float(offset)
    except ValueError:
        return f"{name}: onset {onset!r} / offset {offset!r} are not numbers"
    if not (math.isfinite(t0) and math.isfinite(t1)):
        return f"{name}: onset {onset!r} / offset {offset!r} must be finite numbers"
    if t0 < 0 or t1 < 0:
        return f"{name}: negative time (onset {t0}, offset {t1})"
    if t0 >= t1:
        return f"{name}: onset {t0} is not before offset {t1}"
    if classes is not None and label not in classes:
        return f"{name}: unknown label {label!r} (not in classes.txt)"
    return None


# -- validation ---------------------------------------------------------------

DATASET_INFO = {"variable_length": bool, "crop_long": bool}


def read_info(root: str | Path) -> dict:
    """``dataset.json`` of a data set (defaults when absent): ``variable_length`` and ``crop_long``."""
    import json

    path = Path(root) / "dataset.json"
    info = {"variable_length": False, "crop_long": False}
    if not path.is_file():
        return info
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as err:
        raise FormatError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(data, dict):
        raise FormatError(f'{path}: expected an object such as {{"variable_length": true}}')
    for key, value in data.items():
        if key not in DATASET_INFO:
            raise FormatError(f"{path}: unknown key {key!r}; known: {sorted(DATASET_INFO)}")
        if not isinstance(value, DATASET_INFO[key]):
            raise FormatError(f"{path}: {key} must be true or false, got {value!r}")
    return {**info, **data}


def clip_lengths(root: str | Path, clip_seconds: float = 10.0) -> dict[str, list[str]]:
    """``{"short": [...], "long": [...]}``: clips shorter than the clip length (zero-padded when read) and
    longer (cut to it when the set allows it, ``crop_long``)."""
    import soundfile as sf

    index = read_dataset(root)
    out: dict[str, list[str]] = {"short": [], "long": []}
    for name in index.filenames:
        path = index.audio_path(name)
        if path.is_file():
            info = sf.info(str(path))
            seconds = info.frames / info.samplerate
            if seconds < clip_seconds - TOLERANCE_S:
                out["short"].append(name)
            elif seconds > clip_seconds + TOLERANCE_S:
                out["long"].append(name)
    return out


def validate(
    root: str | Path, check_audio: bool = True, clip_seconds: float = 10.0, tolerance_s: float = 0.064
) -> list[Problem]:
    """Every problem of a dataset folder, each with its file and line.

    Labels: every weak label known, strong times finite and inside ``[0, clip_seconds + tolerance_s]``,
    each weak label of a strongly labelled clip covered by a strong event and no strong row twice.
    Split: ``split.tsv`` present, every clip in it exactly once, train and val not empty. Audio (with
    ``check_audio``): every clip's header readable, at least one channel, not shorter than
    ``clip_seconds - tolerance_s`` (about a frame); the samples themselves are read by the feature
    cache, which names a file with non-finite samples. A set that declares variable lengths
    (``dataset.json``) may have shorter clips: see :func:`short_clips`.
    """
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
    weak_line: dict[str, int] = {}
    weak_path = root / "weak.tsv"
    try:
        for number, fields in _rows(weak_path, WEAK_HEADER):
            message = _check_weak_row(fields, classes, weak)
            if message:
                problems.append(Problem(str(weak_path), number, message))
            usable = len(fields) == 2 and fields[0].strip() and not unsafe_name(fields[0])
            if usable and fields[0] not in weak:
                weak[fields[0]] = _split_labels(fields[1])
                weak_line[fields[0]] = number
        if not weak and weak_path.is_file():
            problems.append(Problem(str(weak_path), 0, "lists no clips: the data set is empty"))
    except FormatError as err:
        problems.append(_problem_from(err, weak_path))

    strong_path = root / "strong.tsv"
    if strong_path.is_file():
        problems += _validate_strong(strong_path, classes, weak, clip_seconds + tolerance_s)

    split_path = root / "split.tsv"
    where: dict[str, str] = {}
    if split_path.is_file():
        split_problems, where = _validate_split(split_path, weak, weak_line, weak_path)
        problems += split_problems
    else:
        problems.append(
            Problem(
                str(split_path),
                0,
                "file not found: train, evaluate and reproduce need every clip in a split "
                "(filename<TAB>train|val|test); `mtlsed import` writes one",
            )
        )

    try:
        info = read_info(root)
    except FormatError as err:
        problems.append(_problem_from(err, root / "dataset.json"))
        info = {"variable_length": False, "crop_long": False}
    if (root / "groups.tsv").is_file():
        problems += _validate_groups(root / "groups.tsv", where)
    if check_audio:
        min_s = 0.0 if info["variable_length"] else clip_seconds - tolerance_s
        max_s = float("inf") if info["crop_long"] else clip_seconds + tolerance_s
        problems += _validate_audio(root / "audio", weak, weak_line, weak_path, min_s, max_s)
        problems += _validate_duplicates(root, weak, weak_line, weak_path, where)
    return problems


def require_valid(root: str | Path, clip_seconds: float = 10.0, tolerance_s: float = 0.064) -> None:
    """:func:`validate`, raising :class:`FormatError` with every problem (the first 20 shown)."""
    problems = validate(root, True, clip_seconds, tolerance_s)
    if problems:
        shown = "\n  ".join(str(p) for p in problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        head = f"{root}: {len(problems)} problem(s) in the data set (`mtlsed check {root}` lists them)"
        raise FormatError(f"{head}:\n  {shown}{more}")


def _validate_strong(path: Path, classes, weak: dict, max_time: float) -> list[Problem]:
    problems = []
    seen: dict[tuple, int] = {}
    labelled: dict[str, set[str]] = {}
    first_line: dict[str, int] = {}
    try:
        for number, fields in _rows(path, STRONG_HEADER):
            message = _check_strong_row(fields, classes)
            name, onset, offset, label = _strong_fields(fields)
            first_line.setdefault(name, number)
            if message:  # its label still counts as covered: one problem is reported once
                problems.append(Problem(str(path), number, message))
                labelled.setdefault(name, set()).add(label)
                continue
            labelled.setdefault(name, set())
            if name not in weak:
                problems.append(Problem(str(path), number, f"{name}: not listed in weak.tsv"))
                continue
            if not label:
                continue
            key = (name, float(onset), float(offset), label)
            if key in seen:
                problems.append(Problem(str(path), number, f"{name}: same event as line {seen[key]}"))
            seen.setdefault(key, number)
            labelled[name].add(label)
            if label not in weak[name]:
                problems.append(
                    Problem(
                        str(path),
                        number,
                        f"{name}: strong label {label!r} missing from its weak labels {weak[name]}",
                    )
                )
            if float(offset) > max_time:
                problems.append(
                    Problem(
                        str(path),
                        number,
                        f"{name}: offset {float(offset)} s is past the clip's end ({max_time:.3f} s)",
                    )
                )
    except FormatError as err:
        problems.append(_problem_from(err, path))
    for name, labels in labelled.items():
        missing = [lab for lab in weak.get(name, []) if lab not in labels]
        if name in weak and missing:
            problems.append(
                Problem(str(path), first_line[name], f"{name}: weak label(s) {missing} have no strong event")
            )
    return problems


def _validate_split(path: Path, weak: dict, weak_line: dict, weak_path: Path) -> list[Problem]:
    problems = []
    where: dict[str, tuple[str, int]] = {}
    try:
        for number, fields in _rows(path, SPLIT_HEADER):
            if len(fields) != 2 or fields[1] not in SPLITS:
                problems.append(Problem(str(path), number, f"expected filename<TAB>one of {list(SPLITS)}"))
            elif fields[0] not in weak:
                problems.append(Problem(str(path), number, f"{fields[0]}: not listed in weak.tsv"))
            elif fields[0] in where:
                problems.append(
                    Problem(str(path), number, f"{fields[0]}: listed again (line {where[fields[0]][1]})")
                )
            else:
                where[fields[0]] = (fields[1], number)
    except FormatError as err:
        return [_problem_from(err, path)], {}
    for name in weak:
        if name not in where:
            problems.append(Problem(str(weak_path), weak_line[name], f"{name}: in no split ({path.name})"))
    counts = {sp: sum(1 for s, _ in where.values() if s == sp) for sp in SPLITS}
    for sp in ("train", "val"):
        if weak and not counts[sp]:
            problems.append(
                Problem(str(path), 0, f"no clip in the {sp!r} split (training needs train and val)")
            )
    return problems, {name: sp for name, (sp, _) in where.items()}


def _validate_groups(path: Path, where: dict[str, str]) -> list[Problem]:
    """No group (source) in two splits."""
    problems: list[Problem] = []
    first: dict[str, tuple[str, str, int]] = {}
    try:
        for number, fields in _rows(path, ["filename", "groups"]):
            if len(fields) != 2:
                problems.append(Problem(str(path), number, "expected filename<TAB>groups"))
                continue
            split = where.get(fields[0])
            if split is None:
                continue
            for group in (g.strip() for g in fields[1].split(",") if g.strip()):
                seen = first.setdefault(group, (split, fields[0], number))
                if seen[0] != split:
                    problems.append(
                        Problem(
                            str(path),
                            number,
                            f"{fields[0]} ({split}) shares the source {group!r} with {seen[1]} ({seen[0]}, "
                            f"line {seen[2]}): a source in two splits",
                        )
                    )
    except FormatError as err:
        problems.append(_problem_from(err, path))
    return problems


def _validate_duplicates(
    root: Path, weak: dict, weak_line: dict, weak_path: Path, where: dict
) -> list[Problem]:
    """Clips of two splits with identical audio (hashes remembered in ``.mtlsed/``, see
    mtlsed.runs.identity)."""
    from mtlsed.data.hashes import audio_hashes

    present = [n for n in weak if (root / "audio" / n).is_file()]
    first: dict[str, str] = {}
    problems = []
    for name, sha in audio_hashes(root, present, root / "audio").items():
        other = first.setdefault(sha, name)
        if other != name and where.get(other) != where.get(name):
            problems.append(
                Problem(
                    str(weak_path),
                    weak_line[name],
                    f"{name} ({where.get(name)}) has the same audio as {other} ({where.get(other)}, "
                    f"line {weak_line[other]}): the same clip in two splits",
                )
            )
    return problems


def _validate_audio(
    audio: Path, weak: dict, weak_line: dict, weak_path: Path, min_s: float, max_s: float = float("inf")
) -> list[Problem]:
    import numpy as np
    import soundfile as sf

    problems = []
    for name in weak:
        path = audio / name
        line = weak_line[name]
        if not path.is_file():
            problems.append(Problem(str(weak_path), line, f"{name}: audio file missing in {audio}"))
            continue
        try:
            info = sf.info(str(path))
        except (RuntimeError, ValueError, sf.LibsndfileError) as err:
            problems.append(
                Problem(str(path), 0, f"cannot read audio ({err}); listed in {weak_path.name}:{line}")
            )
            continue
        if info.subtype in ("FLOAT", "DOUBLE"):  # integer PCM cannot hold NaN; floats can
            samples, _ = sf.read(str(path), dtype="float32", always_2d=True)
            if not np.all(np.isfinite(samples)):
                problems.append(
                    Problem(
                        str(path), 0, f"non-finite samples (NaN or inf); listed in {weak_path.name}:{line}"
                    )
                )
                continue
        if info.frames == 0 or info.channels == 0:
            problems.append(Problem(str(path), 0, f"empty audio file; listed in {weak_path.name}:{line}"))
        elif info.frames / info.samplerate < min_s:
            problems.append(
                Problem(
                    str(path),
                    0,
                    f"{info.frames / info.samplerate:.3f} s long, shorter than the clip length "
                    f"(at least {min_s:.3f} s); listed in {weak_path.name}:{line}",
                )
            )
        elif info.frames / info.samplerate > max_s:
            problems.append(
                Problem(
                    str(path),
                    0,
                    f"{info.frames / info.samplerate:.3f} s long, longer than the clip length (at most "
                    f"{max_s:.3f} s): a crop could cut what its weak label describes; listed in "
                    f'{weak_path.name}:{line} (dataset.json {{"crop_long": true}} allows cutting it)',
                )
            )
    return problems


def _problem_from(err: FormatError, path: Path) -> Problem:
    text = str(err)
    prefix = f"{path}:"
    rest = text[len(prefix) :] if text.startswith(prefix) else text
    line_part, sep, message = rest.partition(": ")
    if sep and line_part.strip().isdigit():
        return Problem(str(path), int(line_part), message)
    return Problem(str(path), 0, rest.lstrip(": ").strip() or text)


# -- writing ------------------------------------------------------------------


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
    from mtlsed.core.atomic import write_text

    write_text(root / "classes.txt", "".join(c + "\n" for c in classes))
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
