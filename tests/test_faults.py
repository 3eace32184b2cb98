"""Fault injection (#10, #19): every bad input meets the real command line and gets a message, never a
traceback nor a silent success.

Each case copies a small synthesised set (or a trained run), breaks one thing in it (or in the command), runs
``mtlsed`` in a subprocess, and checks the exit code and the message, with the file and line where there is
one. The kinds: bad data and settings (``DATA_CASES``), arguments and config files out of range
(``ARGUMENT_CASES``), what ``import`` lets into a data set (``IMPORT_CASES``), damaged run folders
(``RUN_CASES``), data that changed under a run (``CHANGED_CASES``), and whole scenarios (``SCENARIOS``: a
second writer, Ctrl-C, a failed or killed command and its corrected rerun).

Each subprocess keeps one core busy for 1-4 s (most of it importing scipy and torch), so the cases of a table
run two at a time, ahead of their tests (:func:`_ahead`): a table takes about half as long on two cores, and
every case is finished by the time its own test checks it. A case that shows a product bug is written as the
command should behave and marked ``xfail(strict=True)`` (:func:`_bug`): it starts to fail the day the bug is
fixed, and the mark goes. The cases that the fault hunt of #32 found and fixed are listed with the others it
tried in ``docs/fault_hunt.md``.
"""

import importlib.metadata
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import mtlsed_here, source_folder

FAST = ["train.iterations=2", "train.eval_every=2", "train.batch_size=4"]
WORKERS = 2  # cases run at once: one per core of the 2-core machines this suite is sized for
TIMEOUT_S = 300  # a command that hangs fails its case instead of the whole suite
CPU_ONLY_TORCH = "+cpu" in importlib.metadata.version("torch")


def _bug(reason: str):
    return pytest.mark.xfail(strict=True, reason=f"product bug: {reason}")


class Absent(str):
    """An expected piece that must NOT be in the message (what a wrong message says)."""


class InFile(tuple):
    """An expected piece of a file the command wrote: ``InFile(path, text)`` (``{name}`` fields filled in)."""

    def __new__(cls, path: str, text: str):
        return super().__new__(cls, (path, text))


def _mtlsed(*args, cwd=None):
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    return subprocess.run(
        [sys.executable, "-m", "mtlsed", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=TIMEOUT_S,
    )


def _said(done) -> str:
    return done.stdout + done.stderr


def _assert_outcome(done, code: int, expected, **names) -> None:
    """Exit ``code``, no traceback, and every expected piece (``{name}`` fields filled in from ``names``)."""
    said = _said(done)
    assert done.returncode == code, said[-3000:]
    assert "Traceback" not in said, said[-3000:]
    for piece in expected:
        if isinstance(piece, InFile):
            path, text = (p.format(**names) for p in piece)
            assert Path(path).is_file() and text in Path(path).read_text(), f"{path} lacks {text!r}"
        elif isinstance(piece, Absent):
            assert piece.format(**names) not in said, said[-3000:]
        else:
            assert piece.format(**names) in said, said[-3000:]


def _ahead(request, tmp_path_factory, test: str, cases: list, run) -> dict:
    """``{case id: future of run(case, tmp)}`` for the selected cases of ``test``, started ``WORKERS`` at a
    time in the order the tests run; each case gets its own empty folder ``tmp``."""
    items = [
        item
        for item in request.session.items
        if getattr(item, "module", None) is request.module and getattr(item, "originalname", "") == test
    ]
    by_id = {case[0]: case for case in cases}
    pool = ThreadPoolExecutor(WORKERS, thread_name_prefix=test)
    request.addfinalizer(lambda: pool.shutdown(wait=True, cancel_futures=True))
    futures = {}
    for item in items:
        case_id = item.callspec.id
        futures[case_id] = pool.submit(run, by_id[case_id], tmp_path_factory.mktemp(case_id[:40]))
    return futures


def _params(cases: list, width: int) -> list:
    """``pytest.param``s of a table: ``(id, *fields, *marks)`` with ``width`` fields."""
    return [pytest.param(*case[1 : 1 + width], id=case[0], marks=case[1 + width :]) for case in cases]


# -- files ---------------------------------------------------------------------------------------------------


def _copy(small_set, tmp_path) -> Path:
    root = tmp_path / "set"
    shutil.copytree(small_set, root, ignore=shutil.ignore_patterns("features", ".mtlsed"))
    return root


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def _write(path: Path, lines: list[str]) -> None:
    path.write_text("\n".join(lines) + "\n")


def _yaml(tmp: Path, name: str, text: str | bytes) -> Path:
    path = tmp / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def _edit_line(name: str, number: int, change):
    """A mutation: line ``number`` (1-based, header = 1) of ``name`` replaced by ``change(fields)``."""

    def mutate(root: Path) -> None:
        lines = _lines(root / name)
        lines[number - 1] = "\t".join(change(lines[number - 1].split("\t")))
        _write(root / name, lines)

    return mutate


def _rename_line(name: str, number: int, clip: str):
    """A mutation: the clip name on line ``number`` of ``name`` becomes ``clip``."""
    return _edit_line(name, number, lambda f: [clip, *f[1:]])


def _then(*mutations):
    def mutate(*args) -> None:
        for m in mutations:
            m(*args)

    return mutate


def _first_clip(root: Path) -> str:
    return _lines(root / "weak.tsv")[1].split("\t")[0]


def _audio(root: Path, name: str | None = None) -> Path:
    return root / "audio" / (name or _first_clip(root))


def _split_of(root: Path) -> dict[str, str]:
    return dict(line.split("\t") for line in _lines(root / "split.tsv")[1:])


def _set_split(clip_split: dict):
    def mutate(root: Path) -> None:
        lines = _lines(root / "split.tsv")
        out = [lines[0]]
        for line in lines[1:]:
            name, split = line.split("\t")
            out.append(f"{name}\t{clip_split.get(split, split)}")
        _write(root / "split.tsv", out)

    return mutate


def _move_clips(source: str, target: str, n: int):
    """A mutation: the first ``n`` clips of split ``source`` move to split ``target`` (the audio stays)."""

    def mutate(root: Path) -> None:
        lines, moved = _lines(root / "split.tsv"), 0
        for i, line in enumerate(lines[1:], start=1):
            name, split = line.split("\t")
            if split == source and moved < n:
                lines[i], moved = f"{name}\t{target}", moved + 1
        _write(root / "split.tsv", lines)

    return mutate


def _rename_clips(root: Path) -> None:
    """Every clip under another name (``clip_`` becomes ``renamed_``), in the audio folder and every label
    file."""
    for path in (root / "audio").iterdir():
        path.rename(path.with_name(path.name.replace("clip_", "renamed_")))
    for name in ("weak.tsv", "strong.tsv", "split.tsv"):
        _write(root / name, [re.sub(r"^clip_", "renamed_", line) for line in _lines(root / name)])


def _drop_split_line(root: Path) -> None:
    lines = _lines(root / "split.tsv")
    _write(root / "split.tsv", lines[:1] + lines[2:])


def _duplicate_split_line(root: Path) -> None:
    lines = _lines(root / "split.tsv")
    name, split = lines[1].split("\t")
    other = "test" if split != "test" else "train"
    _write(root / "split.tsv", [*lines, f"{name}\t{other}"])


def _empty_strong_row(root: Path) -> None:
    """The first strongly labelled clip loses its events: one empty row against its weak labels."""
    lines = _lines(root / "strong.tsv")
    name = lines[1].split("\t")[0]
    kept = [line for line in lines[1:] if line.split("\t")[0] != name]
    _write(root / "strong.tsv", [lines[0], f"{name}\t\t\t", *kept])


def _duplicate_strong_row(root: Path) -> None:
    lines = _lines(root / "strong.tsv")
    _write(root / "strong.tsv", [*lines, lines[1]])


def _truncate(n_bytes: int):
    def mutate(root: Path) -> None:
        path = _audio(root)
        path.write_bytes(path.read_bytes()[:n_bytes])

    return mutate


def _short_clip(root: Path) -> None:
    path = _audio(root)
    y, sr = sf.read(str(path))
    sf.write(str(path), y[: 2 * sr], sr)


def _long_clip(root: Path, name: str | None = None) -> None:
    """The first clip (or ``name``) six times as long: 60 s in a set of 10-s clips."""
    path = _audio(root, name)
    y, sr = sf.read(str(path))
    sf.write(str(path), np.tile(y, 6), sr)


def _crop_long(root: Path) -> None:
    _long_clip(root)
    (root / "dataset.json").write_text('{"crop_long": true}\n')


def _random_bytes(root: Path) -> None:
    _audio(root).write_bytes(np.random.default_rng(0).bytes(5000))


def _nan_samples(root: Path) -> None:
    path = _audio(root)
    y, sr = sf.read(str(path), dtype="float32")
    y[100] = np.nan
    sf.write(str(path), y, sr, subtype="FLOAT")


def _latin1(root: Path) -> None:
    lines = _lines(root / "weak.tsv")
    data = ("\n".join(lines[:3]) + "\n").encode() + "caf\xe9.wav\tdog\n".encode("latin-1")
    (root / "weak.tsv").write_bytes(data + ("\n".join(lines[3:]) + "\n").encode())


def _bom(root: Path) -> None:
    (root / "classes.txt").write_bytes(b"\xef\xbb\xbf" + (root / "classes.txt").read_bytes())


def _all_val_to_train(root: Path) -> None:
    _set_split({"val": "train"})(root)


def _duplicate_class(root: Path) -> None:
    classes = _lines(root / "classes.txt")
    _write(root / "classes.txt", [*classes, classes[0]])


def _remove(*names: str):
    def mutate(root: Path, *_) -> None:
        for name in names:
            (root / name).unlink()

    return mutate


def _strong_label_not_weak(root: Path) -> None:
    lines = _lines(root / "strong.tsv")
    name, onset, offset, label = lines[1].split("\t")
    weak = dict(line.split("\t") for line in _lines(root / "weak.tsv")[1:])
    classes = _lines(root / "classes.txt")
    other = next(c for c in classes if c not in weak[name].split(","))
    _write(root / "strong.tsv", [*lines, f"{name}\t{onset}\t{offset}\t{other}"])


def _same_audio(source: str, target: str):
    """A mutation: clip ``target`` gets the audio of clip ``source`` (the same recording under two names)."""

    def mutate(root: Path) -> None:
        shutil.copyfile(root / "audio" / source, root / "audio" / target)

    return mutate


def _empty_set(root: Path) -> None:
    """weak.tsv, strong.tsv and split.tsv hold their headers and nothing else."""
    for name in ("weak.tsv", "strong.tsv", "split.tsv"):
        _write(root / name, _lines(root / name)[:1])


def _nothing(root: Path) -> None:
    pass


def _events_in_padding(root: Path) -> None:
    """The first clip cut to 2 s in a set of variable lengths: its events (3.0 s on) lie in the padding."""
    _short_clip(root)
    (root / "dataset.json").write_text('{"variable_length": true}\n')


def _events_past_audio_end(root: Path) -> None:
    """The first clip cut to 4 s in a set of variable lengths: its bell event (3.0-5.19 s) ends past it."""
    path = _audio(root)
    y, sr = sf.read(str(path))
    sf.write(str(path), y[: 4 * sr], sr)
    (root / "dataset.json").write_text('{"variable_length": true}\n')


def _silent_clip(name: str = "clip_00001.wav"):
    """A mutation: clip ``name`` (labelled) becomes 10 s of zeros."""

    def mutate(root: Path) -> None:
        sf.write(str(root / "audio" / name), np.zeros(10 * 16000, dtype=np.float32), 16000)

    return mutate


def _val_without_labels(root: Path) -> None:
    """Every validation clip loses its labels: weak labels emptied, strong rows removed."""
    val = {name for name, split in _split_of(root).items() if split == "val"}
    weak = _lines(root / "weak.tsv")
    _write(root / "weak.tsv", [weak[0], *(f"{w.split(chr(9))[0]}\t" if w.split("\t")[0] in val else w
                                         for w in weak[1:])])  # fmt: skip
    strong = _lines(root / "strong.tsv")
    _write(root / "strong.tsv", [strong[0], *(s for s in strong[1:] if s.split("\t")[0] not in val)])


def _val_weak_only(root: Path) -> None:
    """The validation clips keep their weak labels and lose their strong ones."""
    val = {name for name, split in _split_of(root).items() if split == "val"}
    strong = _lines(root / "strong.tsv")
    _write(root / "strong.tsv", [strong[0], *(s for s in strong[1:] if s.split("\t")[0] not in val)])


# -- bad data and settings: check, features and train on a broken copy of the small set ----------------------


def _check(root, tmp):
    return ["check", root]


def _settings(*extra: str) -> list[str]:
    """FAST with ``extra`` on top (a key given in ``extra`` replaces FAST's: --set refuses a key twice)."""
    keys = {e.split("=", 1)[0] for e in extra}
    return [f for f in FAST if f.split("=", 1)[0] not in keys] + list(extra)


def _train(*extra):
    out = ["--profile", "ci", "--set", *_settings(*extra)]
    return lambda root, tmp: ["train", root, "--out", tmp / "run", *out]


def _features(*options):
    return lambda root, tmp: ["features", root, "--profile", "ci", *options]


LONG = "60.000 s long, longer than the clip length (at most 10.064 s)"
NO_CUDA = "no CUDA device available (torch "
DEVICES = "auto, cpu, cuda, cuda:N or mps"
cpu_only = pytest.mark.skipif(not CPU_ONLY_TORCH, reason="the device cases are written for a CPU-only torch")

# id, mutation, command, exit code, what the message must hold ({root}: the data set folder), marks
DATA_CASES = [
    (
        "nan-onset",
        _edit_line("strong.tsv", 2, lambda f: [f[0], "nan", *f[2:]]),
        _check,
        1,
        ["strong.tsv:2:", "must be finite"],
    ),
    (
        "inf-offset",
        _edit_line("strong.tsv", 3, lambda f: [f[0], f[1], "inf", f[3]]),
        _check,
        1,
        ["strong.tsv:3:", "must be finite"],
    ),
    (
        "event-past-end",
        _edit_line("strong.tsv", 2, lambda f: [f[0], f[1], "11.5", f[3]]),
        _check,
        1,
        ["strong.tsv:2:", "past the clip's end"],
    ),
    (
        "onset-after-offset",
        _edit_line("strong.tsv", 2, lambda f: [f[0], "9.9", "9.0", f[3]]),
        _check,
        1,
        ["strong.tsv:2:", "is not before offset"],
    ),
    (
        "time-not-a-number",
        _edit_line("strong.tsv", 2, lambda f: [f[0], "1,5", f[2], f[3]]),
        _check,
        1,
        ["strong.tsv:2:", "not numbers"],
    ),
    (
        "unknown-weak-label",
        _edit_line("weak.tsv", 2, lambda f: [f[0], "unicorn"]),
        _check,
        1,
        ["weak.tsv:2:", "unknown label(s) ['unicorn']"],
    ),
    (
        "weak-three-columns",
        _edit_line("weak.tsv", 3, lambda f: [*f, "extra"]),
        _check,
        1,
        ["weak.tsv:3:", "expected 2 tab-separated columns"],
    ),
    (
        "weak-bad-header",
        _edit_line("weak.tsv", 1, lambda f: ["file", "labels"]),
        _check,
        1,
        ["weak.tsv:1:", "header"],
    ),
    ("strong-label-not-weak", _strong_label_not_weak, _check, 1, ["missing from its weak labels"]),
    ("clip-missing-from-split", _drop_split_line, _check, 1, ["weak.tsv:2:", "in no split"]),
    ("clip-twice-in-split", _duplicate_split_line, _check, 1, ["split.tsv:", "listed again (line 2)"]),
    (
        "unknown-split-name",
        _edit_line("split.tsv", 2, lambda f: [f[0], "dev"]),
        _check,
        1,
        ["split.tsv:2:", "one of ['train', 'val', 'test']"],
    ),
    ("no-split-file", _remove("split.tsv"), _check, 1, ["split.tsv: file not found"]),
    ("no-val-clips", _all_val_to_train, _check, 1, ["no clip in the 'val' split"]),
    ("empty-strong-row-vs-weak", _empty_strong_row, _check, 1, ["have no strong event"]),
    ("duplicate-strong-row", _duplicate_strong_row, _check, 1, ["same event as line 2"]),
    (
        "truncated-wav",
        _truncate(100),
        _check,
        1,
        ["0.002 s long, shorter than the clip length", "weak.tsv:2"],
    ),
    ("empty-wav", _truncate(0), _check, 1, ["cannot read audio", "weak.tsv:2"]),
    ("short-clip", _short_clip, _check, 1, ["2.000 s long, shorter than the clip length", "weak.tsv:2"]),
    ("random-bytes-wav", _random_bytes, _check, 1, ["cannot read audio"]),
    ("nan-samples", _nan_samples, _check, 1, ["non-finite samples", "weak.tsv:2"]),
    ("missing-audio", lambda root: _audio(root).unlink(), _check, 1, ["weak.tsv:2:", "audio file missing"]),
    ("latin1-byte", _latin1, _check, 1, ["weak.tsv:4:", "is not UTF-8"]),
    (
        "duplicate-class",
        _duplicate_class,
        _check,
        1,
        ["classes.txt:", "duplicate class"],
    ),
    ("no-classes-file", _remove("classes.txt"), _check, 1, ["classes.txt: file not found"]),
    (
        "bad-dataset-json",
        lambda root: (root / "dataset.json").write_text('{"variable": 1}'),
        _check,
        1,
        ["dataset.json", "unknown key 'variable'"],
    ),
    ("bom-in-classes-is-fine", _bom, _check, 0, ["no problems found"]),
    # a clip name never leaves the audio folder, and one recording is never in two splits
    (
        "check-dotdot-clip-name",
        _rename_line("weak.tsv", 3, "../c001.wav"),
        _check,
        1,
        [
            "{root}/weak.tsv:3: ../c001.wav: '..' would leave the audio folder; a clip name is a path "
            "inside it"
        ],
    ),
    (
        "check-absolute-clip-name",
        _rename_line("weak.tsv", 3, "/abs/path.wav"),
        _check,
        1,
        ["{root}/weak.tsv:3: /abs/path.wav: an absolute path; a clip name is a path inside the audio folder"],
    ),
    (
        "check-drive-letter-clip-name",
        _rename_line("weak.tsv", 2, "C:\\x.wav"),
        _check,
        1,
        ["{root}/weak.tsv:2: C:\\x.wav: an absolute path"],
    ),
    (
        "check-strong-clip-name-leaves-folder",
        _rename_line("strong.tsv", 2, "sub/../../x.wav"),
        _check,
        1,
        ["{root}/strong.tsv:2: sub/../../x.wav: '..' would leave the audio folder"],
    ),
    (
        "check-same-audio-in-two-splits",
        _same_audio("clip_00002.wav", "clip_00000.wav"),  # a train clip's audio under a test clip's name
        _check,
        1,
        [
            "{root}/weak.tsv:4: clip_00002.wav (train) has the same audio as clip_00000.wav (test, line 2): "
            "the same clip in two splits",
            "1 problem(s) in {root}",
        ],
    ),
    (
        "check-same-audio-in-one-split-is-fine",
        _same_audio("clip_00002.wav", "clip_00004.wav"),  # both train clips
        _check,
        0,
        ["{root}: no problems found"],
    ),
    # clip length: a clip longer than the set's clip length is cut only where the set says so
    (
        "check-long-clip",
        _long_clip,
        _check,
        1,
        [
            f"{{root}}/audio/clip_00000.wav: {LONG}",
            "listed in weak.tsv:2",
            'dataset.json {{"crop_long": true}} allows cutting it',
        ],
    ),
    (
        "check-long-clip-with-crop-long",
        _crop_long,
        _check,
        0,
        ["crop_long set: 1 clip(s) longer than 10 s are cut to 10 s when read", "{root}: no problems found"],
    ),
    ("train-long-clip", _long_clip, _train(), 2, [f"clip_00000.wav: {LONG}", "mtlsed check"]),
    ("features-long-clip", _long_clip, _features(), 2, [f"clip_00000.wav: {LONG}", "mtlsed check"]),
    # a set with no clips
    (
        "check-empty-set",
        _empty_set,
        _check,
        1,
        ["{root}/weak.tsv: lists no clips: the data set is empty", "1 problem(s) in {root}"],
    ),
    (
        "train-empty-set",
        _then(_empty_set, _remove("strong.tsv")),
        _train(),
        2,
        ["weak.tsv: lists no clips: the data set is empty", "mtlsed check"],
    ),
    # feature settings that cannot work, refused before any feature work
    (
        "features-window-longer-than-clip",
        _nothing,
        _features("--set", "features.win_ms=20000"),
        2,
        ["features.win_ms: the window (20000 ms) must fit in a clip (data.clip_seconds 10 s)"],
    ),
    (
        "features-hop-longer-than-window",
        _nothing,
        _features("--set", "features.hop_ms=100"),
        2,
        ["features.hop_ms: must be at most win_ms (64), got 100"],
    ),
    (
        "features-fmax-above-nyquist",
        _nothing,
        _features("--set", "features.fmax=9000"),
        2,
        ["features.fmax: must be in (0, sample_rate / 2 = 8000] Hz or null, got 9000"],
    ),
    (
        "features-device-cuda",
        _nothing,
        _features("--device", "cuda"),
        2,
        [NO_CUDA, "devices here: cpu"],
        cpu_only,
    ),
    # devices, named before any feature work
    (
        "train-device-cuda",
        _nothing,
        _train("train.device=cuda"),
        2,
        ["train.device='cuda': " + NO_CUDA, "is a CPU-only build); devices here: cpu"],
        cpu_only,
    ),
    (
        "train-device-cuda-3",
        _nothing,
        _train("train.device=cuda:3"),
        2,
        ["train.device='cuda:3': " + NO_CUDA, "devices here: cpu"],
        cpu_only,
    ),
    (
        "train-device-gpu",
        _nothing,
        _train("train.device=gpu"),
        2,
        [f"train.device: must be {DEVICES}, got 'gpu'"],
    ),
    # train meets every problem check finds, in seconds, before any feature work
    (
        "train-nan-onset",
        _edit_line("strong.tsv", 2, lambda f: [f[0], "nan", *f[2:]]),
        _train(),
        2,
        ["strong.tsv:2:", "must be finite", "mtlsed check"],
    ),
    ("train-no-val", _all_val_to_train, _train(), 2, ["no clip in the 'val' split"]),
    ("train-short-clip", _short_clip, _train(), 2, ["shorter than the clip length"]),
    ("train-lr-negative", _nothing, _train("train.lr=-0.1"), 2, ["train.lr: must be greater than 0"]),
    ("train-batch-zero", _nothing, _train("train.batch_size=0"), 2, ["train.batch_size: must be at least 1"]),
    (
        "train-eval-every-zero",
        _nothing,
        _train("train.eval_every=0"),
        2,
        ["train.eval_every: must be at least 1"],
    ),
    (
        "train-iterations-zero",
        _nothing,
        _train("train.iterations=0"),
        2,
        ["train.iterations: must be at least 1"],
    ),
    (
        "train-topk-too-large",
        _nothing,
        _train("loss.selection=topk", "loss.topk=50"),
        2,
        ["loss.topk: must be at most the number of classes"],
    ),
    ("train-lr-text", _nothing, _train("train.lr=fast"), 2, ["train.lr: expected a number, got str 'fast'"]),
    (
        "train-unknown-key",
        _nothing,
        _train("train.learning_rate=0.1"),
        2,
        ["train.learning_rate: unknown config key"],
    ),
    ("train-not-key-value", _nothing, _train("train.lr"), 2, ["expected key=value"]),
    (
        "train-threshold-out-of-range",
        _nothing,
        _train("eval.frame_threshold=2"),
        2,
        ["eval.frame_threshold: must be in [0, 1]"],
    ),
    (
        "train-batch-larger-than-split",
        _nothing,
        _train("train.batch_size=500"),
        2,
        ["is larger than the training split"],
    ),
    ("train-missing-folder", lambda root: shutil.rmtree(root), _train(), 2, ["dataset folder not found"]),
    (
        "features-no-split",
        _remove("split.tsv"),
        lambda root, tmp: ["features", root, "--profile", "ci"],
        2,
        ["split.tsv: file not found"],
    ),
    # labels the audio cannot hold (#32): counted warnings naming the clips, the exit code as it was
    (
        "check-events-in-the-padding",
        _events_in_padding,
        _check,
        0,
        [
            "warning: 1 clip(s) have labelled events entirely beyond their audio, in the zero padding a "
            "short clip gets: clip_00000.wav (2.000 s of audio; bell 3-5.19 s)",
            "1 warning(s) in {root}",
            "{root}: no problems found",
        ],
    ),
    (
        "check-events-past-the-audio-end",
        _events_past_audio_end,
        _check,
        0,
        [
            "warning: 1 clip(s) have labelled events that end past their audio (the rest is zero padding): "
            "clip_00000.wav (4.000 s of audio; bell ends at 5.19 s)",
            Absent("entirely beyond"),
        ],
    ),
    (
        "check-silent-clip-with-labels",
        _silent_clip(),
        _check,
        0,
        [
            "warning: 1 clip(s) with labels are silent (every sample 0): clip_00001.wav (siren,bell)",
            "{root}: no problems found",
        ],
    ),
    (
        "check-no-audio-skips-the-audio-warnings",
        _silent_clip(),
        lambda root, tmp: ["check", "--no-audio", root],
        0,
        [Absent("warning: "), "{root}: no problems found"],
    ),  # fmt: skip
    # a validation split on which the metric that picks best.pt is undefined (#32): said before training
    (
        "check-val-without-a-positive",
        _val_without_labels,
        _check,
        0,
        [
            "warning: the validation split holds no positive: none of its 4 clip(s) has a label, so AT-mAP",
            "train.best_metric=auto picks best.pt by val_at_map",
            "--set train.best_metric=loss",
        ],
    ),
    (
        "train-val-without-a-positive",
        _val_without_labels,
        _train(),
        2,
        [
            "mtlsed train: error: {root}: the validation split holds no positive: none of its 4 clip(s) has "
            "a label",
            "no checkpoint would ever be the best",
            "--set train.best_metric=loss",
            Absent("best.pt: no checkpoint"),
        ],
    ),
    (
        "train-val-without-a-positive-selects-on-loss",
        _val_without_labels,
        _train("train.best_metric=loss"),
        0,
        ["best val_loss", "(best.pt)"],
    ),
    (
        "train-sed-map-on-weak-only-val",
        _val_weak_only,
        _train("train.best_metric=sed_map"),
        2,
        ["none of its 0 strongly labelled clip(s) has an event, so SED-mAP", "train.best_metric=sed_map"],
    ),
]


@pytest.fixture(scope="module")
def data_cases(request, small_set, tmp_path_factory):
    def run(case, tmp):
        root = _copy(small_set, tmp)
        case[1](root)
        return root, tmp, _mtlsed(*case[2](root, tmp))

    return _ahead(request, tmp_path_factory, "test_bad_data_and_settings", DATA_CASES, run)


@pytest.mark.parametrize(("mutate", "command", "code", "expected"), _params(DATA_CASES, 4))
def test_bad_data_and_settings(data_cases, request, mutate, command, code, expected):
    root, tmp, done = data_cases[request.node.callspec.id].result()
    _assert_outcome(done, code, expected, root=root)
    if command is not _check and code:
        assert not (root / "features").exists(), "the problem must stop the run before any feature work"
        assert not (tmp / "run" / "last.pt").exists()


# -- arguments and config files, checked before any work ---------------------------------------------------


def _config_file(text: str | bytes, *extra: str):
    """``mtlsed config --config FILE`` with ``text`` in FILE."""
    return lambda src, tmp: ["config", "--config", _yaml(tmp, "c.yaml", text), *extra]


def _profile_file(text: str | bytes):
    """``mtlsed config --profile FILE``: the shipped ci profile with ``text`` appended."""
    ci = (Path(__file__).parents[1] / "mtlsed" / "config" / "params" / "ci.yaml").read_bytes()
    tail = text if isinstance(text, bytes) else text.encode()
    return lambda src, tmp: ["config", "--profile", _yaml(tmp, "p.yaml", ci + tail)]


CI_PROFILE = (Path(__file__).parents[1] / "mtlsed" / "config" / "params" / "ci.yaml").read_text().splitlines()
CI_PROFILE_LINES = len(CI_PROFILE)  # what _profile_file appends starts on the next line
CI_SEEDS_LINE = next(i for i, line in enumerate(CI_PROFILE, start=1) if line.startswith("seeds:"))
CI_OVERRIDES_LINE = next(i for i, line in enumerate(CI_PROFILE, start=1) if line.startswith("overrides:"))
OUT_OF_RANGE = "must be at least 0 and less than 1"

# id, command (from the small set as a source and an empty folder), exit code, message pieces ({tmp}), marks
ARGUMENT_CASES = [
    (
        "import-val-fraction-1.5",
        lambda src, tmp: ["import", src, tmp / "out", "--val-fraction", "1.5"],
        2,
        [f"mtlsed import: error: argument --val-fraction: {OUT_OF_RANGE}, got 1.5"],
    ),
    (
        "import-test-fraction-negative",
        lambda src, tmp: ["import", src, tmp / "out", "--test-fraction", "-0.1"],
        2,
        [f"argument --test-fraction: {OUT_OF_RANGE}, got -0.1"],
    ),
    (
        "import-seed-negative",
        lambda src, tmp: ["import", src, tmp / "out", "--seed", "-1"],
        2,
        ["argument --seed: must be at least 0, got -1"],
    ),
    (
        "synth-clip-seconds-zero",
        lambda src, tmp: ["synth", tmp / "out", "--clips", "10", "--clip-seconds", "0"],
        2,
        ["argument --clip-seconds: must be at least 1 and at most 600, got 0"],
    ),
    (
        "synth-sr-zero",
        lambda src, tmp: ["synth", tmp / "out", "--clips", "10", "--sr", "0"],
        2,
        ["argument --sr: must be at least 1000 and at most 384000, got 0"],
    ),
    (
        "synth-clips-zero",
        lambda src, tmp: ["synth", tmp / "out", "--clips", "0"],
        2,
        ["argument --clips: must be at least 1, got 0"],
    ),
    (
        "synth-val-fraction-2",
        lambda src, tmp: ["synth", tmp / "out", "--clips", "10", "--val-fraction", "2"],
        2,
        [f"argument --val-fraction: {OUT_OF_RANGE}, got 2"],
    ),
    (
        "synth-val-fraction-nan",
        lambda src, tmp: ["synth", tmp / "out", "--clips", "10", "--val-fraction", "nan"],
        2,
        [f"argument --val-fraction: {OUT_OF_RANGE}, got nan"],
    ),
    (
        "synth-workers-zero",
        lambda src, tmp: ["synth", tmp / "out", "--clips", "10", "--workers", "0"],
        2,
        ["argument --workers: must be at least 1, got 0"],
    ),
    (
        "synth-too-few-clips",
        lambda src, tmp: ["synth", tmp / "out", "--clips", "3"],
        2,
        [
            "--clips 3 with --val-fraction 0.125 and --test-fraction 0.2 leaves 2 training and 0 validation "
            "clip(s); training needs both"
        ],
    ),
    (
        "reproduce-jobs-zero",
        lambda src, tmp: [
            "reproduce",
            "--table",
            "1",
            "--profile",
            "ci",
            "--out",
            tmp / "out",
            "--jobs",
            "0",
        ],
        2,
        ["mtlsed reproduce: error: argument --jobs: must be at least 1, got 0"],
    ),
    (
        "evaluate-shift-seed-negative",
        lambda src, tmp: ["evaluate", tmp / "out", "--shift-seed", "-1"],
        2,
        ["mtlsed evaluate: error: argument --shift-seed: must be at least 0, got -1"],
    ),
    (
        "config-fmin-above-fmax",
        lambda src, tmp: ["config", "--profile", "ci", "--set", "features.fmin=9000"],
        2,
        ["features.fmin: must be in [0, fmax = 8000) Hz, got 9000"],
    ),
    # config and profile files: strict YAML, with file and line
    (
        "config-key-twice",
        _config_file("train:\n  lr: 0.1\n  batch_size: 4\n  lr: 0.2\n"),
        2,
        ["{tmp}/c.yaml:4: not valid YAML: key 'lr' given twice (first on line 2); keep one"],
    ),
    (
        "config-section-twice",
        _config_file("train:\n  lr: 0.1\nmodel:\n  name: ddc_fap\ntrain:\n  batch_size: 4\n"),
        2,
        ["{tmp}/c.yaml:5: not valid YAML: key 'train' given twice (first on line 1); keep one"],
    ),
    (
        "config-malformed-yaml",
        _config_file("train:\n  lr: [0.1\n  batch_size: 4\n"),
        2,
        ["{tmp}/c.yaml:3: not valid YAML: expected ',' or ']'"],
    ),
    (
        "config-not-utf8",
        _config_file(b"train:\n  lr: 0.1\n# caf\xe9\n"),
        2,
        ["{tmp}/c.yaml:3: byte 0xe9 is not UTF-8 (save the file as UTF-8)"],
    ),
    (
        "config-unknown-key-suggests",
        _config_file("train:\n  lrr: 0.1\n"),
        2,
        ["{tmp}/c.yaml: train.lrr: unknown config key (did you mean 'lr'?)"],
    ),
    (
        "config-removed-key",
        _config_file("data:\n  root: /data/mine\n"),
        2,
        ["{tmp}/c.yaml: data.root: no longer a config key; give the data set as `--data DIR`"],
    ),
    (
        "set-key-twice",
        lambda src, tmp: ["config", "--set", "train.lr=0.1", "train.lr=0.2"],
        2,
        ["mtlsed config: error: train.lr: given twice", "give it once"],
    ),
    (
        "set-unknown-key-suggests",
        lambda src, tmp: ["config", "--set", "train.lrr=0.1"],
        2,
        ["train.lrr: unknown config key (did you mean 'lr'?)"],
    ),
    (
        "set-removed-key",
        lambda src, tmp: ["config", "--set", "data.root=/data/mine"],
        2,
        ["data.root: no longer a config key; give the data set as `--data DIR`"],
    ),
    (
        "profile-key-twice",
        _profile_file("seeds: [1]\n"),
        2,
        [
            f"{{tmp}}/p.yaml:{CI_PROFILE_LINES + 1}: not valid YAML: key 'seeds' given twice (first on line "
            f"{CI_SEEDS_LINE})"
        ],
    ),
    (
        "profile-section-twice",
        _profile_file("overrides:\n  train.lr: 0.1\n"),
        2,
        [
            f"{{tmp}}/p.yaml:{CI_PROFILE_LINES + 1}: not valid YAML: key 'overrides' given twice (first on "
            f"line {CI_OVERRIDES_LINE})"
        ],
    ),
    (
        "profile-override-twice",
        lambda src, tmp: [
            "config",
            "--profile",
            _yaml(
                tmp,
                "p.yaml",
                "profile: x\ndescription: d\nn_clips: 48\nseeds: [0]\noverrides:\n"
                "  train.lr: 0.1\n  train.batch_size: 4\n  train.lr: 0.2\n",
            ),
        ],
        2,
        ["{tmp}/p.yaml:8: not valid YAML: key 'train.lr' given twice (first on line 6)"],
    ),
    (
        "profile-not-utf8",
        _profile_file(b"# r\xe9sum\xe9\n"),
        2,
        [f"{{tmp}}/p.yaml:{CI_PROFILE_LINES + 1}: byte 0xe9 is not UTF-8"],
    ),
    # values that `mtlsed config` accepted and `train` broke on later, and messages that pointed elsewhere
    (
        "train-resume-missing-folder",  # a mistyped --out retrained from zero, quietly
        lambda src, tmp: [
            "train",
            src,
            "--profile",
            "ci",
            "--out",
            tmp / "nowhere",
            "--resume",
            "--set",
            *FAST,
        ],
        2,
        ["mtlsed train: error: --resume: {tmp}/nowhere does not exist, so there is no run to continue"],
    ),
    (
        "config-infinite-float",
        lambda src, tmp: ["config", "--profile", "ci", "--set", "train.lr=.inf"],
        2,
        ["mtlsed config: error: train.lr: expected a finite number, got inf"],
    ),
    (
        "train-infinite-float",  # refused by the same code, before any work
        lambda src, tmp: [
            "train",
            src,
            "--profile",
            "ci",
            "--out",
            tmp / "run",
            "--set",
            "loss.silent_weight=-.inf",
        ],
        2,
        [
            "mtlsed train: error: loss.silent_weight: expected a finite number, got -inf",
            Absent("identity.json"),
        ],
    ),
    (
        "config-negative-seed",
        lambda src, tmp: ["config", "--profile", "ci", "--set", "train.seed=-1"],
        2,
        ["mtlsed config: error: train.seed: must be 0 or more (below 2**32), got -1"],
    ),
    (
        "train-negative-seed",
        lambda src, tmp: ["train", src, "--profile", "ci", "--out", tmp / "run", "--set", "train.seed=-1"],
        2,
        ["mtlsed train: error: train.seed: must be 0 or more (below 2**32), got -1"],
    ),
    (
        "set-a-whole-section",
        lambda src, tmp: ["config", "--profile", "ci", "--set", "train={lr: 0.1}"],
        2,
        ["train: a config section, not a key; set its keys one by one, e.g. train.", Absent("did you mean")],
    ),
    # found by the fault hunt of #32 (docs/fault_hunt.md)
    (
        "config-float-too-large-is-infinite",  # 1e400 (no dot) passed as text and became inf
        lambda src, tmp: ["config", "--profile", "ci", "--set", "train.lr=1e400"],
        2,
        ["mtlsed config: error: train.lr: expected a finite number, got inf"],
    ),
    (
        "train-float-too-large-is-infinite",
        lambda src, tmp: [
            "train",
            src,
            "--profile",
            "ci",
            "--out",
            tmp / "run",
            "--set",
            "loss.silent_weight=1e999",
        ],
        2,
        ["mtlsed train: error: loss.silent_weight: expected a finite number, got inf"],
    ),
    (
        "config-more-mel-bands-than-fft-bins",  # built a 5 GB cache of empty bands before
        lambda src, tmp: ["config", "--profile", "ci", "--set", "features.n_mels=100000"],
        2,
        [
            "features.n_mels: at most the 513 frequency bins of the FFT (n_fft 1024: win_ms 64 at 16000 Hz), "
            "got 100000"
        ],
    ),
    (
        "profile-no-clips",  # mixed an empty set, then blamed the data set
        lambda src, tmp: [
            "config",
            "--profile",
            _yaml(tmp, "p.yaml", "profile: x\ndescription: d\nn_clips: 0\nseeds: [0]\noverrides: {}\n"),
        ],
        2,
        ["{tmp}/p.yaml: 'n_clips' (clips of the embedded set) must be at least 1, got 0"],
    ),
    (
        "import-out-is-a-file",  # NotADirectoryError before
        lambda src, tmp: ["import", source_folder(src, tmp), _yaml(tmp, "f", "a file")],
        2,
        ["mtlsed import: error: {tmp}/f: a file, not a folder; give a new folder for the data set"],
    ),
    (
        "train-out-is-a-file",  # "[Errno 17] File exists" before
        lambda src, tmp: [
            "train",
            src,
            "--profile",
            "ci",
            "--out",
            _yaml(tmp, "f", "a file"),
            "--set",
            *FAST,
        ],
        2,
        ["mtlsed train: error: --out: {tmp}/f is a file, not a run folder; give a folder"],
    ),
    (
        "train-out-is-the-data-folder",  # the run's classes.txt, config.yaml, ... went into the data set
        lambda src, tmp: ["train", _copy(src, tmp), "--profile", "ci", "--out", tmp / "set", "--set", *FAST],
        2,
        ["mtlsed train: error: --out: {tmp}/set is the data set's own folder; give a folder for the run"],
    ),
    (
        "reproduce-out-is-a-file",  # NotADirectoryError before
        lambda src, tmp: [
            "reproduce",
            "--table",
            "1",
            "--profile",
            "ci",
            "--data",
            src,
            "--out",
            _yaml(tmp, "f", "a file"),
            "--rows",
            "ddc_fap",
        ],  # fmt: skip
        2,
        ["mtlsed reproduce: error: --out: {tmp}/f is a file, not a grid folder; give a folder"],
    ),
]


class _Here:
    """A case run when its test asks for it, in this process (same interface as :func:`_ahead`'s futures)."""

    def __init__(self, run, case, tmp_path_factory):
        self.run, self.case, self.factory = run, case, tmp_path_factory

    def result(self):
        return self.run(self.case, self.factory.mktemp(self.case[0][:40]))


@pytest.fixture(scope="module")
def argument_cases(small_set, tmp_path_factory):
    def run(case, tmp):
        return tmp, mtlsed_here(*case[1](small_set, tmp))

    return {case[0]: _Here(run, case, tmp_path_factory) for case in ARGUMENT_CASES}


@pytest.mark.parametrize(("command", "code", "expected"), _params(ARGUMENT_CASES, 3))
def test_bad_arguments(argument_cases, request, command, code, expected):
    tmp, done = argument_cases[request.node.callspec.id].result()
    _assert_outcome(done, code, expected, tmp=tmp)
    assert not (tmp / "out").exists(), "a refused command writes nothing"


# -- import: what a data set lets in -----------------------------------------------------------------------


NOISE = np.random.default_rng(1).normal(0, 0.1, 10 * 16000).astype(np.float32)  # 10 s no clip of the set has


def _test_folder(clips: dict[str, str | None]):
    """A mutation: a ``--test`` folder beside SRC (TMP/test) with ``{name: the training clip whose audio it
    holds, or None for audio of its own}``, each labelled dog_bark."""

    def mutate(src: Path) -> None:
        test = src.parent / "test"
        (test / "audio").mkdir(parents=True)
        for name, source in clips.items():
            if source:
                shutil.copyfile(src / "audio" / source, test / "audio" / name)
            else:
                sf.write(str(test / "audio" / name), NOISE, 16000)
        _write(test / "weak.tsv", ["filename\tevent_labels", *(f"{name}\tdog_bark" for name in clips)])

    return mutate


def _labels(number: int, text: str):
    """A mutation: the labels of line ``number`` of weak.tsv become ``text``."""
    return _edit_line("weak.tsv", number, lambda f: [f[0], text])


def _add_class(name: str):
    def mutate(src: Path) -> None:
        _write(src / "classes.txt", [*_lines(src / "classes.txt"), name])

    return mutate


def _header_only(name: str):
    def mutate(src: Path) -> None:
        _write(src / name, _lines(src / name)[:1])

    return mutate


def _same_audio_under_another_name(src: Path) -> None:
    """dup.wav: clip_00002.wav's audio and labels under a second name."""
    shutil.copyfile(src / "audio" / "clip_00002.wav", src / "audio" / "dup.wav")
    weak = _lines(src / "weak.tsv")
    strong = _lines(src / "strong.tsv")
    labels = next(line.split("\t")[1] for line in weak if line.startswith("clip_00002.wav\t"))
    events = [
        line.replace("clip_00002.wav", "dup.wav") for line in strong if line.startswith("clip_00002.wav")
    ]
    _write(src / "weak.tsv", [*weak, f"dup.wav\t{labels}"])
    _write(src / "strong.tsv", [*strong, *events])


def _no_audio(src: Path) -> None:
    for path in (src / "audio").iterdir():
        path.unlink()


def _groups_file(name: str, text):
    """A mutation: a groups file TMP/``name`` (beside SRC) holding ``text(clips)`` (str, or an object
    written as JSON), ``clips`` the clip names of SRC's weak.tsv."""

    def mutate(src: Path) -> None:
        clips = [line.split("\t")[0] for line in _lines(src / "weak.tsv")[1:]]
        made = text(clips)
        (src.parent / name).write_text(made if isinstance(made, str) else json.dumps(made, indent=1))

    return mutate


def _tsv_groups(rows):
    return lambda clips: "filename\tgroups\n" + "".join(f"{a}\t{b}\n" for a, b in rows(clips))


def _labels_kept_by(keep: int):
    """A mutation: weak labels only for the first ``keep`` clips (no strong.tsv), the rest unlabelled."""

    def mutate(src: Path) -> None:
        (src / "strong.tsv").unlink()
        weak = _lines(src / "weak.tsv")
        _write(
            src / "weak.tsv",
            [weak[0], *weak[1 : 1 + keep], *(f"{w.split(chr(9))[0]}\t" for w in weak[1 + keep :])],
        )

    return mutate


def _short_source_clip(src: Path) -> None:
    _short_clip(src)


NO_LABEL_FILES = _remove("strong.tsv", "classes.txt")  # labels inferred from weak.tsv alone
LEAVES = "'..' would leave the audio folder; a clip name is a path inside it"
ABSOLUTE = "an absolute path; a clip name is a path inside the audio folder"
JOINED = (
    "(labels are separated by commas in weak.tsv); fix the line, or list it in classes.txt if it is one class"
)
CHECKED = "{out}: checked as `mtlsed check` does, no problems found"

# id, mutation of SRC, extra arguments ({tmp}), exit code, message pieces ({src}, {out}, {tmp}), marks
IMPORT_CASES = [
    # a data set's boundaries: clip names inside the audio folder, test audio the model never heard
    (
        "import-test-holds-training-audio",
        _test_folder({"other_a.wav": "clip_00002.wav", "other_b.wav": "clip_00004.wav", "new.wav": None}),
        ["--test", "{tmp}/test"],
        2,
        [
            "{tmp}/test/weak.tsv: 2 test clip(s) have the audio of training clips, e.g. other_a.wav = "
            "clip_00002.wav; the test split must hold clips the model never heard"
        ],
    ),
    (
        "import-test-clip-named-like-a-training-clip",
        _test_folder({"clip_00002.wav": None}),
        ["--test", "{tmp}/test"],
        2,
        ["{tmp}/test/weak.tsv: clip_00002.wav is also a training clip (1 name(s) in both folders)"],
    ),
    (
        "import-dotdot-clip-name",
        _rename_line("weak.tsv", 3, "../c001.wav"),
        [],
        2,
        [f"mtlsed import: error: {{src}}/weak.tsv:3: ../c001.wav: {LEAVES}"],
    ),
    (
        "import-absolute-clip-name",
        _rename_line("weak.tsv", 4, "/abs/path.wav"),
        [],
        2,
        [f"{{src}}/weak.tsv:4: /abs/path.wav: {ABSOLUTE}"],
    ),
    (
        "import-clip-name-climbs-out-of-a-subfolder",
        _rename_line("weak.tsv", 5, "sub/../../x.wav"),
        [],
        2,
        [f"{{src}}/weak.tsv:5: sub/../../x.wav: {LEAVES}"],
    ),
    (
        "import-dotdot-clip-name-in-strong",
        _rename_line("strong.tsv", 2, "../c001.wav"),
        [],
        2,
        [f"{{src}}/strong.tsv:2: ../c001.wav: {LEAVES}"],
    ),
    (
        "import-same-audio-kept-in-one-split",
        _same_audio_under_another_name,
        [],
        0,
        ["41 clips", "2 clip(s) have the audio of another clip: kept in the same split", CHECKED],
    ),
    # labels that look alike, without a classes.txt that says what they are
    (
        "import-labels-differ-in-case",
        _then(NO_LABEL_FILES, _labels(3, "siren,Bell")),
        [],
        2,
        [
            "labels that differ only in case: 'bell' ({src}/weak.tsv:2), 'Bell' ({src}/weak.tsv:3); make "
            "them "
            "one, or list each in classes.txt if they are different classes"
        ],
    ),
    (
        "import-labels-joined-by-semicolon",
        _then(NO_LABEL_FILES, _labels(3, "siren;bell")),
        [],
        2,
        [f"{{src}}/weak.tsv:3: label 'siren;bell' looks like 2 labels joined by ';' {JOINED}"],
    ),
    (
        "import-labels-joined-by-bar",
        _then(NO_LABEL_FILES, _labels(3, "siren|bell")),
        [],
        2,
        [f"{{src}}/weak.tsv:3: label 'siren|bell' looks like 2 labels joined by '|' {JOINED}"],
    ),
    (
        "import-labels-joined-by-space",
        _then(NO_LABEL_FILES, _labels(3, "siren bell")),
        [],
        2,
        [f"{{src}}/weak.tsv:3: label 'siren bell' looks like 2 labels joined by spaces {JOINED}"],
    ),
    (
        "import-labels-joined-by-slash",
        _then(NO_LABEL_FILES, _labels(3, "siren/bell")),
        [],
        2,
        ["{src}/weak.tsv:3: label 'siren/bell' looks like 2 labels joined by", Absent("joined by spaces")],
    ),
    (
        "import-labels-differ-in-case-in-strong",
        _then(_remove("weak.tsv", "classes.txt"), _edit_line("strong.tsv", 3, lambda f: [*f[:3], "Speech"])),
        [],
        2,
        ["labels that differ only in case: 'Speech' ({src}/strong.tsv:3), 'speech' ({src}/strong.tsv:7)"],
    ),
    (
        "import-joined-label-listed-in-classes",
        _then(_remove("strong.tsv"), _labels(3, "siren;bell"), _add_class("siren;bell")),
        [],
        0,
        ["11 classes ({src}/classes.txt)", CHECKED],
    ),
    (
        "import-case-variant-listed-in-classes",
        _then(_remove("strong.tsv"), _labels(3, "siren,Bell"), _add_class("Bell")),
        [],
        0,
        ["11 classes ({src}/classes.txt)", CHECKED],
    ),
    # clip length: a longer clip is skipped with the reason, or cut with --crop-long
    (
        "import-long-clip-skipped",
        _long_clip,
        [],
        0,
        [
            "39 clips, 10 classes",
            "skipped 1 clip(s):",
            "{src}/audio/clip_00000.wav: 60.000 s long, longer than the clip length (10 s): its weak labels "
            "may "
            "describe a part a crop would cut (import with --crop-long to use its first 10 s)",
            CHECKED,
        ],
    ),
    (
        "import-long-clip-cropped",
        _long_clip,
        ["--crop-long"],
        0,
        [
            "40 clips, 10 classes",
            "1 clip(s) longer than the clip length: cut to it when read (crop_long)",
            CHECKED,
            InFile("{out}/dataset.json", '"crop_long": true'),
            InFile("{out}/weak.tsv", "clip_00000.wav\t"),
        ],
    ),
    # nothing to import
    (
        "import-empty-source",
        _then(_remove("strong.tsv"), _header_only("weak.tsv")),
        [],
        1,
        ["{out}/weak.tsv: lists no clips: the data set is empty", "fix them or the sources before training"],
    ),
    (
        "import-no-usable-clip",
        _no_audio,
        [],
        1,
        [
            "skipped 40 clip(s):",
            "clip_00000.wav: audio file not found",
            "lists no clips: the data set is empty",
        ],
    ),
    # groups that make a split impossible (#32): the cause named, nothing written
    (
        "import-groups-one-source-in-every-clip",
        _groups_file("g.tsv", _tsv_groups(lambda clips: [(c, "s1") for c in clips])),
        ["--groups", "{tmp}/g.tsv"],
        2,
        [
            "mtlsed import: error: the groups leave the val and test splits empty: holding out whole sources "
            "cannot split these 40 clips (wanted train 29, val 3, test 8; kept train 40, val 0, test 0)",
            "The groups in the most clips: 's1' (40 of 40 clips)",
            "Give finer groups",
            Absent("the test split has no strong labels"),
        ],
    ),
    (
        "import-groups-a-source-shared-by-every-clip",
        _groups_file(
            "g.tsv", _tsv_groups(lambda clips: [(c, f"shared,own{i}") for i, c in enumerate(clips)])
        ),
        ["--groups", "{tmp}/g.tsv"],
        2,
        [
            "the groups leave the train and test splits empty",
            "clip(s) dropped because their sources fell in two splits (e.g. clip_000",
            "The groups in the most clips: 'shared' (40 of 40 clips), 'own0' (1 of 40 clips)",
        ],
    ),
    (
        "import-groups-three-sources-no-test",
        _groups_file("g.tsv", _tsv_groups(lambda clips: [(c, f"s{i % 3}") for i, c in enumerate(clips)])),
        ["--groups", "{tmp}/g.tsv"],
        2,
        ["the groups leave the test split empty", "'s0' (14 of 40 clips), 's1' (13 of 40 clips)"],
    ),
    (
        "import-groups-without-test-fraction-says-no-test-split",
        _groups_file("g.tsv", _tsv_groups(lambda clips: [(c, f"s{i % 8}") for i, c in enumerate(clips)])),
        ["--groups", "{tmp}/g.tsv", "--test-fraction", "0"],
        0,
        [
            "no test split: `mtlsed evaluate` needs one (import with --test-fraction or --test)",
            Absent("the test split has no strong labels"),
        ],
    ),
    # JSON and TSV groups files obey the same rules (#32)
    (
        "import-groups-tsv-clip-twice",
        _groups_file("g.tsv", _tsv_groups(lambda clips: [*((c, "s1") for c in clips), (clips[3], "s2")])),
        ["--groups", "{tmp}/g.tsv"],
        2,
        ["{tmp}/g.tsv:42: clip_00003.wav: listed twice (first on line 5)"],
    ),
    (
        "import-groups-json-records-clip-twice",
        _groups_file(
            "g.json",
            lambda clips: [*({"filename": c, "s": "a"} for c in clips), {"filename": clips[3], "s": "b"}],
        ),
        ["--groups", "{tmp}/g.json", "--group-keys", "s"],
        2,
        ["{tmp}/g.json: record 40: clip_00003.wav: listed twice (first as record 3)"],
    ),
    (
        "import-groups-json-object-clip-twice",
        _groups_file(
            "g.json",
            lambda clips: (
                "{\n"
                + "".join(f'"{c}": {{"s": "a"}},\n' for c in clips)
                + f'"{clips[3]}": {{"s": "b"}}\n}}\n'
            ),
        ),
        ["--groups", "{tmp}/g.json", "--group-keys", "s"],
        2,
        ["{tmp}/g.json:42: clip_00003.wav: given twice in one object (JSON would keep the last)"],
    ),
    (
        "import-groups-json-filename-not-text",
        _groups_file("g.json", lambda clips: [{"filename": 5, "s": "a"}]),
        ["--groups", "{tmp}/g.json", "--group-keys", "s"],
        2,
        ["{tmp}/g.json: record 0: 'filename' must be a clip name (text), got 5", Absent("names no groups")],
    ),
    (
        "import-groups-tsv-empty-clip-name",
        _groups_file("g.tsv", _tsv_groups(lambda clips: [*((c, "s1") for c in clips), ("", "s2")])),
        ["--groups", "{tmp}/g.tsv"],
        2,
        ["{tmp}/g.tsv:42: no clip name before the tab"],
    ),
    # labels the audio cannot hold, a validation split without a positive (#32): warned, imported
    (
        "import-silent-clip-with-labels",
        _silent_clip(),
        [],
        0,
        ["warning: 1 clip(s) with labels are silent (every sample 0): clip_00001.wav (siren,bell)", CHECKED],
    ),
    (
        "import-events-in-the-padding",
        _short_source_clip,
        [],
        0,
        [
            "1 clip(s) shorter than the clip length: zero-padded when read",
            "warning: 1 clip(s) have labelled events entirely beyond their audio",
            "clip_00000.wav (2.000 s of audio;",
            CHECKED,
        ],
    ),
    (
        "import-val-without-a-positive",
        _labels_kept_by(3),
        [],
        0,
        ["warning: the validation split holds no positive", "--set train.best_metric=loss", CHECKED],
    ),
]


@pytest.fixture(scope="module")
def import_cases(request, small_set, tmp_path_factory):
    def run(case, tmp):
        src = source_folder(small_set, tmp)
        case[1](src)
        extra = [a.format(tmp=tmp) for a in case[2]]
        return src, tmp, _mtlsed("import", src, tmp / "out", *extra)

    return _ahead(request, tmp_path_factory, "test_import_faults", IMPORT_CASES, run)


@pytest.mark.parametrize(("mutate", "extra", "code", "expected"), _params(IMPORT_CASES, 4))
def test_import_faults(import_cases, request, mutate, extra, code, expected):
    src, tmp, done = import_cases[request.node.callspec.id].result()
    _assert_outcome(done, code, expected, src=src, out=tmp / "out", tmp=tmp)
    if code == 2:
        assert not (tmp / "out" / "weak.tsv").exists(), "a refused import writes no data set"


# -- a damaged run folder: every file is named with what to do ---------------------------------------------


@pytest.fixture(scope="module")
def trained(small_set, tmp_path_factory):
    """A finished ci run on the small set, for the evaluate and resume cases (each works on a copy)."""
    run = tmp_path_factory.mktemp("faults") / "run"
    done = _mtlsed("train", small_set, "--profile", "ci", "--out", run, "--set", *FAST)
    assert done.returncode == 0, done.stderr
    return run


def _copy_run(run: Path, to: Path) -> Path:
    shutil.copytree(run, to, ignore=shutil.ignore_patterns("metrics_*", "scores_*", "events_*", ".lock"))
    return to


def _cut(name: str):
    def mutate(run: Path) -> None:
        data = (run / name).read_bytes()
        (run / name).write_bytes(data[: len(data) // 2])

    return mutate


def _flip(name: str, at: int = 5000):
    def mutate(run: Path) -> None:
        data = bytearray((run / name).read_bytes())
        data[at] ^= 0xFF
        (run / name).write_bytes(bytes(data))

    return mutate


def _text(name: str, text: str):
    return lambda run: (run / name).write_text(text)


def _never_a_best(run: Path) -> None:
    """A run whose validation mAPs were undefined (NaN) at every evaluation: no best.pt was ever written."""
    (run / "best.pt").unlink()
    lines = _lines(run / "log.csv")
    header = lines[0].split(",")
    rows = [line.split(",") for line in lines[1:]]
    for row in rows:
        for column in ("val_at_map", "val_sed_map"):
            row[header.index(column)] = "nan"
    _write(run / "log.csv", [lines[0], *(",".join(row) for row in rows)])


def _emptied(run: Path) -> None:
    shutil.rmtree(run)
    run.mkdir()


def _evaluate(*extra):
    return lambda run, data, tmp: ["evaluate", run, *extra]


def _resume(run, data, tmp):
    return ["train", data, "--profile", "ci", "--out", run, "--resume", "--set", *FAST]


BEST_DAMAGED = "{run}/best.pt is damaged (its checksum does not match the one recorded); evaluate the last "
BEST_DAMAGED += "checkpoint instead (--checkpoint last) or train the run again"
LAST_DAMAGED = (
    "{run}/last.pt is damaged (its checksum does not match the one recorded); it cannot be resumed "
)
LAST_DAMAGED += "from: train again into a new folder, or delete the folder to start over"
NOT_A_RUN = "{run}: not a run folder (no config.yaml; `mtlsed train --out` makes one)"

# id, damage to a copy of the trained run, command, exit code, message pieces ({run}), marks
RUN_CASES = [
    (
        "eval-unknown-shift",  # a plain ValueError before: a traceback
        lambda run: None,
        _evaluate("--shifts", "hall"),
        2,
        ["mtlsed evaluate: error: unknown transform 'hall'; known: mic, eq, room, codec, noise"],
    ),
    ("eval-best-truncated", _cut("best.pt"), _evaluate(), 2, [BEST_DAMAGED]),
    ("eval-best-byte-flipped", _flip("best.pt"), _evaluate(), 2, [BEST_DAMAGED]),
    (
        "eval-best-unrecorded",  # no checksum to compare it with: damaged too
        _then(_remove("checkpoints.json"), _cut("best.pt")),
        _evaluate(),
        2,
        ["{run}/best.pt is damaged (", "evaluate the last checkpoint instead (--checkpoint last)"],
    ),
    ("eval-last-truncated", _cut("last.pt"), _evaluate("--checkpoint", "last"), 2, [LAST_DAMAGED]),
    ("resume-last-byte-flipped", _flip("last.pt"), _resume, 2, ["mtlsed train: error: " + LAST_DAMAGED]),
    (
        "eval-identity-garbage",
        _text("identity.json", "{garbage"),
        _evaluate(),
        2,
        ["{run}/identity.json is damaged (", "the run cannot be trusted: train it again into a new folder"],
    ),
    (
        "eval-config-bad-yaml",
        _text("config.yaml", "features:\n  win_ms: [1,\n"),
        _evaluate(),
        2,
        [
            "{run}/config.yaml:3: not valid YAML",
            "{run}/config.yaml is damaged: train the run again into a new",
        ],
    ),
    (
        "eval-classes-missing",
        _remove("classes.txt"),
        _evaluate(),
        2,
        ["{run}/classes.txt: missing; the run is incomplete: train it again"],
    ),
    (
        "eval-checkpoint-index-damaged",
        _text("checkpoints.json", "{nope"),
        _evaluate(),
        2,
        ["{run}/checkpoints.json is damaged (", "train it again into a new folder"],
    ),
    (
        "eval-clips-file-damaged",
        _text("clips.tsv", "filename\tsplit\tsha256\nclip_00002.wav\ttrain\n"),
        _evaluate(),
        2,
        ["{run}/clips.tsv:2: damaged line", "train the run again"],
    ),
    (
        "eval-last-missing",
        _remove("last.pt"),
        _evaluate("--checkpoint", "last"),
        2,
        ["{run}/last.pt: no checkpoint"],
    ),
    ("eval-config-missing", _remove("config.yaml"), _evaluate(), 2, [NOT_A_RUN]),
    (
        "eval-best-never-written-metric-undefined",  # "has the run finished its first evaluation?" before
        _never_a_best,
        _evaluate(),
        2,
        [
            "{run}/best.pt: no checkpoint (val_at_map was undefined (NaN) at all 1 evaluations in log.csv, "
            "so no checkpoint was ever the best: the validation split has no positive",
            "--set train.best_metric=loss",
        ],
    ),
    (
        "eval-classes-emptied",  # "best.pt does not fit the run's config.yaml" before
        _text("classes.txt", ""),
        _evaluate(),
        2,
        ["{run}/classes.txt: empty, no classes; the run is damaged: train it again", Absent("does not fit")],
    ),
    (
        "eval-folder-that-is-not-a-run",
        _emptied,
        _evaluate(),
        2,
        [NOT_A_RUN],
    ),
]


@pytest.fixture(scope="module")
def run_cases(request, small_set, trained, tmp_path_factory):
    def run(case, tmp):
        copy = _copy_run(trained, tmp / "run")
        case[1](copy)
        return copy, _mtlsed(*case[2](copy, small_set, tmp))

    return _ahead(request, tmp_path_factory, "test_damaged_run", RUN_CASES, run)


@pytest.mark.parametrize(("damage", "command", "code", "expected"), _params(RUN_CASES, 4))
def test_damaged_run(run_cases, request, damage, command, code, expected):
    run, done = run_cases[request.node.callspec.id].result()
    _assert_outcome(done, code, expected, run=run)
    assert not list(run.glob("metrics_*.json")), "a refused evaluation writes no metrics"


# -- evaluation on data that changed under the run ---------------------------------------------------------


@pytest.fixture(scope="module")
def reimported(small_set, tmp_path_factory):
    """``(run, data)``: a run trained on ``mtlsed import SRC DATA --seed 1``, then DATA imported again from
    the same SRC with ``--seed 2`` (another split: some clips the run learnt from are test clips now)."""
    tmp = tmp_path_factory.mktemp("reimported")
    src, data, run = source_folder(small_set, tmp), tmp / "data", tmp / "run"
    for args in (
        ["import", src, data, "--seed", "1"],
        ["train", data, "--profile", "ci", "--out", run, "--set", *FAST],
        ["import", src, data, "--seed", "2"],
    ):
        done = _mtlsed(*args)
        assert done.returncode == 0, _said(done)[-2000:]
    return run, data


def _changed_copy(*mutations, extra=()):
    """``evaluate`` of (a copy of) the trained run on a copy of the small set changed by ``mutations``."""

    def command(tmp, trained, reimported, small_set):
        data = _copy(small_set, tmp)
        _then(*mutations)(data)
        return trained, data, ["evaluate", trained, "--data", data, *extra]

    return command


def _reimported(*extra):
    def command(tmp, trained, reimported, small_set):
        run, data = reimported
        return run, data, ["evaluate", run, *extra]

    return command


SHARES = "{data}: the {split} split shares the audio of "
LEARNT = "clip(s) with the clips the run {run} learnt from or chose on ({parts})"
AGAIN = "Evaluate a split without them, or train again on this data set"

# id, command, exit code, message pieces ({run}, {data}), marks
CHANGED_CASES = [
    (
        "reimported-with-another-seed",
        _reimported(),
        2,
        [
            SHARES.replace("{split}", "test"),
            LEARNT.replace("{parts}", "train and val"),
            "split.tsv changed",
            AGAIN,
        ],
    ),
    (
        "reimported-with-another-seed-val",
        _reimported("--split", "val"),
        2,
        [SHARES.replace("{split}", "val"), LEARNT.replace("{parts}", "train"), "split.tsv changed", AGAIN],
    ),
    (
        "reimported-names-only-what-changed",
        _reimported(),
        2,
        [
            "the data set changed since the run was trained (data: strong.tsv changed; data: split.tsv "
            "changed)",
            Absent("then, '<absent>' now"),
            Absent("code: the numeric code changed"),
        ],
    ),
    (
        "renamed-copy-with-training-clips-as-test",
        _changed_copy(_rename_clips, _move_clips("train", "test", 3)),
        2,
        [
            SHARES.replace("{split}", "test") + "3 clip(s)",
            "(= train clip clip_000",
            "the audio files changed",
        ],
    ),
    (
        "copy-with-training-clips-as-test",
        _changed_copy(_move_clips("train", "test", 3)),
        2,
        [SHARES.replace("{split}", "test") + "3 clip(s)", ".wav (train)", "split.tsv changed"],
    ),
]


@pytest.fixture(scope="module")
def changed_cases(request, small_set, trained, reimported, tmp_path_factory):
    def run(case, tmp):
        own_trained = _copy_run(
            trained, tmp / "trained"
        )  # evaluations of one run folder would wait on its lock
        own_reimported = (_copy_run(reimported[0], tmp / "reimported"), reimported[1])
        run_dir, data, args = case[1](tmp, own_trained, own_reimported, small_set)
        return run_dir, data, _mtlsed(*args)

    return _ahead(request, tmp_path_factory, "test_evaluate_on_changed_data", CHANGED_CASES, run)


@pytest.mark.parametrize(("command", "code", "expected"), _params(CHANGED_CASES, 3))
def test_evaluate_on_changed_data(changed_cases, request, command, code, expected):
    run, data, done = changed_cases[request.node.callspec.id].result()
    _assert_outcome(done, code, expected, run=run, data=data)
    assert not list(run.glob("metrics_*.json")), "a refused evaluation writes no metrics"


# -- scenarios: a second writer, Ctrl-C, a failed or killed command and its corrected rerun ----------------


def _file_text(path: Path) -> str:
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError):
        return ""


# ``python -m mtlsed`` with Ctrl-C turned back on: a suite started in the background (``make test &``, nohup)
# hands its children SIGINT ignored, and Python keeps an ignored SIGINT ignored.
AS_AT_A_TERMINAL = (
    "import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "runpy.run_module('mtlsed', run_name='__main__', alter_sys=True)"
)


def _popen(args, **kwargs) -> subprocess.Popen:
    """``mtlsed args`` started in a session of its own (so that its workers can be stopped with it), answering
    Ctrl-C as it does at a terminal."""
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    return subprocess.Popen(
        [sys.executable, "-c", AS_AT_A_TERMINAL, *map(str, args)], env=env, start_new_session=True, **kwargs
    )


def _stop_all(proc: subprocess.Popen) -> None:
    """Kill ``proc`` and every process of its session (workers included) and reap it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def _wait_for(what: str, proc: subprocess.Popen, ready, timeout_s: float = 180) -> None:
    deadline = time.time() + timeout_s
    while not ready():
        assert proc.poll() is None, f"mtlsed ended (exit {proc.returncode}) before {what}"
        assert time.time() < deadline, f"no sign of {what} after {timeout_s:.0f} s"
        time.sleep(0.02)


def _interrupt(tmp: Path, args: list, started, after_s: float = 60) -> subprocess.CompletedProcess:
    """Run ``mtlsed args``, press Ctrl-C (SIGINT to it alone) once ``started()`` holds, and return how it
    ended."""
    out, err = tmp / "interrupted.out", tmp / "interrupted.err"
    with out.open("w") as stdout, err.open("w") as stderr:
        proc = _popen(args, stdout=stdout, stderr=stderr, text=True)
        try:
            _wait_for("a visible start", proc, started)
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=after_s)
            except subprocess.TimeoutExpired:
                raise AssertionError(
                    f"still running {after_s:.0f} s after Ctrl-C: {err.read_text()[-2000:]}"
                ) from None
        finally:
            _stop_all(proc)
    return subprocess.CompletedProcess(args, proc.returncode, out.read_text(), err.read_text())


def _assert_interrupted(done, line: str) -> re.Match:
    """Exit 130, no traceback (of the command or of a worker) and one line matching ``line`` at the end."""
    said = _said(done)
    assert done.returncode == 130, said[-3000:]
    assert "Traceback" not in said and "KeyboardInterrupt" not in said, said[-3000:]
    said_so = [text for text in done.stderr.splitlines() if "interrupted" in text]
    assert len(said_so) == 1, done.stderr[-3000:]
    assert done.stderr.strip().splitlines()[-1] == said_so[0], done.stderr[-3000:]
    match = re.fullmatch(line, said_so[0])
    assert match, f"{said_so[0]!r} does not match {line!r}"
    return match


def _log_iterations(run: Path) -> list[int]:
    return [int(line.split(",")[0]) for line in _lines(run / "log.csv")[1:]]


def _has_last(run: Path) -> bool:
    """A last checkpoint on disk (checkpoints.json names it a moment before the file is renamed into
    place)."""
    return (run / "last.pt").is_file()


INTERRUPTIBLE = ["train.iterations=30", "train.eval_every=2", "train.batch_size=4"]  # a checkpoint every 2


def ctrl_c_during_train_keeps_its_checkpoint_and_resume_finishes(tmp, small_set, trained):
    run = tmp / "run"
    args = ["train", small_set, "--profile", "ci", "--out", run, "--set", *INTERRUPTIBLE]
    done = _interrupt(tmp, args, lambda: _has_last(run))
    kept = _assert_interrupted(
        done,
        rf"mtlsed train: interrupted; the checkpoint of iteration (\d+) is kept in {re.escape(str(run))}; "
        "continue with the same command and --resume",
    )
    assert 2 <= int(kept[1]) < 30 and not (run / ".lock").exists()
    first_row = _lines(run / "log.csv")[1]
    resumed = _mtlsed(*args, "--resume")
    _assert_outcome(resumed, 0, ["run saved in {run}: 30 iterations"], run=run)
    assert _log_iterations(run) == list(range(2, 31, 2))
    assert _lines(run / "log.csv")[1] == first_row, "resumed from the checkpoint, not trained again"


def ctrl_c_during_features_keeps_the_clips_done_and_the_rerun_finishes(tmp, small_set, trained):
    root = _copy(small_set, tmp)
    for name in ("weak.tsv", "strong.tsv", "split.tsv"):  # four times the clips: 160, under other names
        lines = _lines(root / name)
        copies = [re.sub(r"^clip_", f"c{k}_", line) for k in range(4) for line in lines[1:]]
        _write(root / name, lines[:1] + copies)
    for path in list((root / "audio").iterdir()):
        for k in range(4):
            os.link(path, path.with_name(path.name.replace("clip_", f"c{k}_")))
        path.unlink()
    args = ["features", root, "--profile", "ci"]
    done = _interrupt(tmp, args, lambda: bool(list(root.glob("features/*.partial/progress.json"))))
    _assert_interrupted(
        done,
        re.escape(
            "mtlsed features: interrupted; the clips done are kept in the cache's .partial folder; "
            "run the same command again to continue"
        ),
    )
    (progress,) = root.glob("features/*.partial/progress.json")
    assert 0 < int(re.search(r'"done": (\d+)', progress.read_text())[1]) < 160
    rerun = _mtlsed(*args)
    _assert_outcome(rerun, 0, ["feature cache", "shape (160, 311, 64)"])
    assert not list(root.glob("features/*.partial"))


REPRODUCE_PROFILE = """profile: faults
description: Ctrl-C during a grid
n_clips: 48
seeds: [0]
overrides:
  features.sample_rate: 16000
  model.channels: [8, 8]
  model.dilations: [1, 2]
  train.batch_size: 4
  train.iterations: 30
  train.eval_every: 2
"""
REPRODUCE_INTERRUPTED = re.escape(
    "mtlsed reproduce: interrupted; finished runs are kept, started ones resume from their last checkpoint; "
    "run the same command again to continue"
)


def _reproduce(tmp: Path, small_set: Path, rows: list[str], jobs: int) -> list:
    profile = _yaml(tmp, "faults.yaml", REPRODUCE_PROFILE)
    return ["reproduce", "--table", "1", "--profile", profile, "--data", small_set, "--out", tmp / "grid",
            "--rows", *rows, "--jobs", str(jobs)]  # fmt: skip


def ctrl_c_during_reproduce_with_one_job(tmp, small_set, trained):
    """One job: the run trains in the command's own process."""
    run = tmp / "grid" / "ddc_fap" / "seed0"
    done = _interrupt(tmp, _reproduce(tmp, small_set, ["ddc_fap"], 1), lambda: _has_last(run))
    _assert_interrupted(done, REPRODUCE_INTERRUPTED)
    assert _has_last(run) and not (run / "metrics_test.json").exists()


def ctrl_c_during_reproduce_with_two_workers_and_the_rerun_resumes(tmp, small_set, trained):
    grid = tmp / "grid"
    args = _reproduce(tmp, small_set, ["ddc_fap", "segment-label"], 2)
    done = _interrupt(tmp, args, lambda: any(_has_last(run) for run in grid.glob("*/seed0")), after_s=20)
    _assert_interrupted(done, REPRODUCE_INTERRUPTED)
    first_rows = {run: _lines(run / "log.csv")[1] for run in grid.glob("*/seed0") if _has_last(run)}
    rerun = _mtlsed(*args)
    _assert_outcome(rerun, 0, ["| DDC-FAP |", "| DDC-FAP: segment, label-guided |"])
    for run, row in first_rows.items():  # a restarted run would have logged its first row again
        assert _lines(run / "log.csv")[1] == row and _log_iterations(run) == list(range(2, 31, 2))


def ctrl_c_during_synth_keeps_the_clips_written(tmp, small_set, trained):
    out = tmp / "set"
    done = _interrupt(
        tmp,
        ["synth", out, "--clips", "96", "--workers", "2"],
        lambda: len(_file_text(out / ".progress.jsonl").splitlines()) >= 8,
    )
    _assert_interrupted(
        done,
        re.escape(
            "mtlsed synth: interrupted; the clips written are kept; run the same command again to continue"
        ),
    )
    assert 8 <= len(list((out / "audio").glob("*.wav"))) < 96


def _writer(small_set: Path, run: Path) -> subprocess.Popen:
    """A real ``mtlsed train`` that holds ``run``'s lock: stopped (SIGSTOP) once the run folder is written."""
    proc = _popen(
        ["train", small_set, "--profile", "ci", "--out", run, "--set", "train.iterations=1000000",
         "train.eval_every=1000000", "train.batch_size=4"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_for(
            "the run folder",
            proc,
            lambda: (run / "clips.tsv").is_file() and str(proc.pid) in _file_text(run / ".lock"),
        )
    except BaseException:
        _stop_all(proc)
        raise
    proc.send_signal(signal.SIGSTOP)
    return proc


BUSY = [
    "{run} is being written by PID {pid} (mtlsed train, since ",
    "wait for it to finish or stop it. If no such process is running any more, delete {run}/.lock and run "
    "the "
    "command again.",
]


def a_run_being_written_refuses_a_second_writer(tmp, small_set, trained):
    run = tmp / "run"
    writer = _writer(small_set, run)
    try:
        for args in (
            ["train", small_set, "--profile", "ci", "--out", run, "--set", *FAST],
            ["train", small_set, "--profile", "ci", "--out", run, "--resume", "--set", *FAST],
            ["evaluate", run],
        ):
            done = _mtlsed(*args)
            _assert_outcome(
                done, 2, [f"mtlsed {args[0]}: error: " + BUSY[0], BUSY[1]], run=run, pid=writer.pid
            )
    finally:
        _stop_all(writer)
    assert not (run / "last.pt").exists()


def a_lock_left_by_a_killed_writer_blocks_nothing(tmp, small_set, trained):
    run = tmp / "run"
    writer = _writer(small_set, run)
    _stop_all(writer)  # kill -9: the lock file stays, the kernel releases its flock
    assert str(writer.pid) in _file_text(run / ".lock")
    done = _mtlsed("train", small_set, "--profile", "ci", "--out", run, "--set", *FAST)
    _assert_outcome(done, 0, ["run saved in {run}: 2 iterations"], run=run)
    assert not (run / ".lock").exists()


def a_failed_import_does_not_block_the_corrected_rerun(tmp, small_set, trained):
    src, out = source_folder(small_set, tmp), tmp / "out"
    _test_folder({"other_a.wav": "clip_00002.wav"})(src)
    bad = _mtlsed("import", src, out, "--test", tmp / "test")
    _assert_outcome(bad, 2, ["1 test clip(s) have the audio of training clips"])
    good = _mtlsed("import", src, out)
    _assert_outcome(good, 0, ["40 clips, 10 classes", CHECKED], out=out)


def a_killed_synth_of_other_settings_does_not_block_the_corrected_synth(tmp, small_set, trained):
    out = tmp / "set"
    args = ["synth", out, "--clips", "200", "--workers", "1", "--seed", "5"]
    proc = _popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for("clips", proc, lambda: len(_file_text(out / ".progress.jsonl").splitlines()) >= 3)
    finally:
        _stop_all(proc)
    done = _mtlsed("synth", out, "--clips", "10", "--workers", "1")
    _assert_outcome(done, 0, ["10 clips ({{'train': 7, 'val': 1, 'test': 2}}) written to {out}"], out=out)
    assert len(list((out / "audio").glob("*.wav"))) == 10
    assert '"n_clips": 10' in (out / "recipe.json").read_text()


def a_failed_train_does_not_block_the_corrected_rerun(tmp, small_set, trained):
    root = _copy(small_set, tmp)
    bad = _mtlsed(
        "train",
        root,
        "--profile",
        "ci",
        "--out",
        tmp / "run",
        "--set",
        *_settings("loss.topk=50", "loss.selection=topk"),
    )
    assert bad.returncode == 2 and "loss.topk" in bad.stderr
    good = _mtlsed("train", root, "--profile", "ci", "--out", tmp / "run", "--set", *FAST)
    assert good.returncode == 0, good.stderr[-2000:]


def train_into_a_finished_run_and_resume_with_other_settings(tmp, small_set, trained):
    run = _copy_run(trained, tmp / "run")
    again = _mtlsed("train", small_set, "--profile", "ci", "--out", run, "--set", *FAST)
    assert again.returncode == 2 and "already holds a run; use --resume" in again.stderr
    lr = _settings("train.lr=0.5")
    other = _mtlsed("train", small_set, "--profile", "ci", "--out", run, "--resume", "--set", *lr)
    assert other.returncode == 2 and "config train.lr: 0.001 then, 0.5 now" in other.stderr


def evaluate_faults(tmp, small_set, trained):
    run = _copy_run(trained, tmp / "run")
    root = _copy(small_set, tmp)
    _set_split({"test": "train"})(root)
    empty = _mtlsed("evaluate", run, root, "--split", "test")
    assert empty.returncode == 2 and "no clips in the 'test' split" in empty.stderr
    no_ckpt = tmp / "nothing"
    no_ckpt.mkdir()
    for name in ("config.yaml", "identity.json", "classes.txt", "clips.tsv"):  # a run started, never saved
        (no_ckpt / name).write_text((run / name).read_text())
    missing = _mtlsed("evaluate", no_ckpt, small_set)
    assert missing.returncode == 2 and "best.pt: no checkpoint" in missing.stderr
    classes = _copy(small_set, tmp / "k")
    _write(classes / "classes.txt", [f"z{c}" for c in _lines(classes / "classes.txt")])
    for name in ("weak.tsv", "strong.tsv"):
        text = (classes / name).read_text()
        for c in _lines(small_set / "classes.txt"):
            text = (
                text.replace(f"\t{c}\n", f"\tz{c}\n")
                .replace(f"\t{c},", f"\tz{c},")
                .replace(f",{c}\n", f",z{c}\n")
            )
            text = text.replace(f",{c},", f",z{c},")
        (classes / name).write_text(text)
    other = _mtlsed("evaluate", run, classes)
    assert other.returncode == 2 and "the run was trained on" in other.stderr, other.stderr[-2000:]
    for done in (empty, missing, other):
        assert "Traceback" not in done.stderr


def synth_refuses_a_folder_it_did_not_make(tmp, small_set, trained):
    out = tmp / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("my notes")
    (out / "audio").mkdir()
    (out / "audio" / "stale.wav").write_bytes(b"x")
    done = _mtlsed("synth", out, "--clips", "10", "--workers", "1")
    assert done.returncode == 2 and "not made by mtlsed" in done.stderr and "--force" in done.stderr
    assert (out / "audio" / "stale.wav").is_file()
    forced = _mtlsed("synth", out, "--clips", "10", "--workers", "1", "--force")
    assert forced.returncode == 0, forced.stderr
    assert not (out / "audio" / "stale.wav").exists() and len(list((out / "audio").iterdir())) == 10
    assert (out / "notes.txt").is_file()


def an_output_folder_that_cannot_be_written(tmp, small_set, trained):
    blocked = tmp / "a-file"
    blocked.write_text("a file where a folder would go")  # fails for root too, unlike a read-only mode
    done = _mtlsed("synth", blocked / "set", "--clips", "10", "--workers", "1")
    assert done.returncode == 2 and "cannot write there" in done.stderr and "Traceback" not in done.stderr


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def a_killed_synth_leaves_no_worker_writing(tmp, small_set, trained):
    out = tmp / "set"
    proc = subprocess.Popen(
        [sys.executable, "-m", "mtlsed", "synth", str(out), "--clips", "160", "--workers", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 120
    workers: list[int] = []
    while time.time() < deadline:
        progress = out / ".progress.jsonl"
        workers = _children(proc.pid)
        if len(workers) >= 2 and progress.is_file() and len(progress.read_text().splitlines()) >= 8:
            break
        time.sleep(0.05)
    assert len(workers) >= 2, "the synth workers never started"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 10
    while time.time() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.05)
    assert not any(_alive(w) for w in workers), "workers outlived the killed synth"
    count = len(list((out / "audio").glob("*.wav")))
    time.sleep(1.0)
    assert len(list((out / "audio").glob("*.wav"))) == count  # nothing writes any more
    resumed = _mtlsed("synth", out, "--clips", "160", "--workers", "2")
    assert resumed.returncode == 0, resumed.stderr[-2000:]


linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads /proc; the guard is Linux's"
)

# id, scenario(tmp, small_set, trained), marks
SCENARIOS = [
    (
        "ctrl-c-train-then-resume",
        ctrl_c_during_train_keeps_its_checkpoint_and_resume_finishes,
    ),
    (
        "ctrl-c-features-then-rerun",
        ctrl_c_during_features_keeps_the_clips_done_and_the_rerun_finishes,
    ),
    ("ctrl-c-reproduce-one-job", ctrl_c_during_reproduce_with_one_job),
    (
        "ctrl-c-reproduce-two-workers-then-rerun",
        ctrl_c_during_reproduce_with_two_workers_and_the_rerun_resumes,
    ),
    ("ctrl-c-synth", ctrl_c_during_synth_keeps_the_clips_written),
    ("run-being-written-refuses-a-second-writer", a_run_being_written_refuses_a_second_writer),
    ("killed-writer-lock-blocks-nothing", a_lock_left_by_a_killed_writer_blocks_nothing),
    ("failed-import-then-corrected", a_failed_import_does_not_block_the_corrected_rerun),
    ("killed-synth-then-other-settings", a_killed_synth_of_other_settings_does_not_block_the_corrected_synth),
    ("failed-train-then-corrected", a_failed_train_does_not_block_the_corrected_rerun),
    ("train-into-a-finished-run", train_into_a_finished_run_and_resume_with_other_settings),
    ("evaluate-faults", evaluate_faults),
    ("synth-refuses-a-folder-it-did-not-make", synth_refuses_a_folder_it_did_not_make),
    ("output-folder-cannot-be-written", an_output_folder_that_cannot_be_written),
    ("killed-synth-leaves-no-worker-writing", a_killed_synth_leaves_no_worker_writing, linux_only),
]


@pytest.fixture(scope="module")
def scenarios(request, small_set, trained, tmp_path_factory):
    return _ahead(
        request,
        tmp_path_factory,
        "test_scenario",
        SCENARIOS,
        lambda case, tmp: case[1](tmp, small_set, trained),
    )


@pytest.mark.parametrize("scenario", _params(SCENARIOS, 1))
def test_scenario(scenarios, request, scenario):
    scenarios[request.node.callspec.id].result()
