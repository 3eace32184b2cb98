"""Fault injection (#10, #19): every bad input meets the real command line and gets a message, never a traceback
nor a silent success.

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
fixed, and the mark goes.
"""

import importlib.metadata
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
        if item.module is request.module and getattr(item, "originalname", "") == test
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
    """Every clip under another name (``clip_`` becomes ``renamed_``), in the audio folder and every label file."""
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
        ["{root}/weak.tsv:3: ../c001.wav: '..' would leave the audio folder; a clip name is a path inside it"],
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
    ("features-empty-set", _empty_set, _features(), 2, ["weak.tsv: lists no clips: the data set is empty"]),
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
        _bug("`mtlsed features DATA --device cuda` on a CPU-only torch ends in a traceback (AssertionError: "
             "Torch not compiled with CUDA enabled) after creating the cache's .partial folder"),
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
    ("train-device-gpu", _nothing, _train("train.device=gpu"), 2, [f"train.device: must be {DEVICES}, got 'gpu'"]),
    (
        "train-device-mps",
        _nothing,
        _train("train.device=mps"),
        2,
        ["train.device='mps': Apple MPS is not available; devices: cpu"],
        cpu_only,
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


# -- arguments and config files, checked before any work --------------------------------------------------------


def _config_file(text: str | bytes, *extra: str):
    """``mtlsed config --config FILE`` with ``text`` in FILE."""
    return lambda src, tmp: ["config", "--config", _yaml(tmp, "c.yaml", text), *extra]


def _profile_file(text: str | bytes):
    """``mtlsed config --profile FILE``: the shipped ci profile with ``text`` appended."""
    ci = (Path(__file__).parents[1] / "mtlsed" / "params" / "ci.yaml").read_bytes()
    tail = text if isinstance(text, bytes) else text.encode()
    return lambda src, tmp: ["config", "--profile", _yaml(tmp, "p.yaml", ci + tail)]


CI_PROFILE = (Path(__file__).parents[1] / "mtlsed" / "params" / "ci.yaml").read_text().splitlines()
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
        "import-fractions-leave-no-training",
        lambda src, tmp: ["import", src, tmp / "out", "--val-fraction", "0.6", "--test-fraction", "0.5"],
        2,
        ["--val-fraction 0.6 + --test-fraction 0.5 leave no training clips (their sum must be below 1)"],
    ),
    (
        "import-group-keys-without-groups",
        lambda src, tmp: ["import", src, tmp / "out", "--group-keys", "source"],
        2,
        ["--group-keys needs --groups FILE"],
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
        "synth-clips-not-a-number",
        lambda src, tmp: ["synth", tmp / "out", "--clips", "ten"],
        2,
        ["argument --clips: expected an integer, got 'ten'"],
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
        "synth-fractions-sum-to-1",
        lambda src, tmp: ["synth", tmp / "out", "--clips", "10", "--val-fraction", "0.5", "--test-fraction", "0.5"],
        2,
        ["--val-fraction 0.5 + --test-fraction 0.5 leave no training clips (their sum must be below 1)"],
    ),
    (
        "synth-too-few-clips",
        lambda src, tmp: ["synth", tmp / "out", "--clips", "3"],
        2,
        [
            "--clips 3 with --val-fraction 0.1 and --test-fraction 0.2 leaves 2 training and 0 validation "
            "clip(s); training needs both"
        ],
    ),
    (
        "reproduce-jobs-zero",
        lambda src, tmp: ["reproduce", "--table", "1", "--profile", "ci", "--out", tmp / "out", "--jobs", "0"],
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
        "config-tab-indent",
        _config_file("train:\n\tlr: 0.1\n"),
        2,
        ["{tmp}/c.yaml:2: not valid YAML: found character '\\t' that cannot start any token"],
    ),
    (
        "config-not-utf8",
        _config_file(b"train:\n  lr: 0.1\n# caf\xe9\n"),
        2,
        ["{tmp}/c.yaml:3: byte 0xe9 is not UTF-8 (save the file as UTF-8)"],
    ),
    (
        "config-not-a-mapping",
        _config_file("- 1\n- 2\n"),
        2,
        ["{tmp}/c.yaml: expected a mapping of sections, got list"],
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
        "config-and-profile-both",
        lambda src, tmp: ["config", "--config", _yaml(tmp, "c.yaml", "train:\n  lr: 0.1\n"), "--profile", "ci"],
        2,
        ["give --profile or --config, not both"],
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
        _bug("`--set data.root=...` says 'data.root: unknown config key' instead of the removed-key message "
             "that a config file with the same key gets (Config.with_overrides checks known keys first)"),
    ),
    (
        "set-value-not-yaml",
        lambda src, tmp: ["config", "--set", "model.channels=[8,"],
        2,
        ["value of model.channels:1: not valid YAML"],
    ),
    (
        "profile-key-twice",
        _profile_file("seeds: [1]\n"),
        2,
        [f"{{tmp}}/p.yaml:{CI_PROFILE_LINES + 1}: not valid YAML: key 'seeds' given twice (first on line {CI_SEEDS_LINE})"],
    ),
    (
        "profile-section-twice",
        _profile_file("overrides:\n  train.lr: 0.1\n"),
        2,
        [f"{{tmp}}/p.yaml:{CI_PROFILE_LINES + 1}: not valid YAML: key 'overrides' given twice (first on line {CI_OVERRIDES_LINE})"],
    ),
    (
        "profile-override-twice",
        lambda src, tmp: [
            "config",
            "--profile",
            _yaml(tmp, "p.yaml", "profile: x\ndescription: d\nn_clips: 48\nseeds: [0]\noverrides:\n"
                  "  train.lr: 0.1\n  train.batch_size: 4\n  train.lr: 0.2\n"),
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
]



@pytest.fixture(scope="module")
def argument_cases(request, small_set, tmp_path_factory):
    def run(case, tmp):
        return tmp, _mtlsed(*case[1](small_set, tmp))

    return _ahead(request, tmp_path_factory, "test_bad_arguments", ARGUMENT_CASES, run)


@pytest.mark.parametrize(("command", "code", "expected"), _params(ARGUMENT_CASES, 3))
def test_bad_arguments(argument_cases, request, command, code, expected):
    tmp, done = argument_cases[request.node.callspec.id].result()
    _assert_outcome(done, code, expected, tmp=tmp)
    assert not (tmp / "out").exists(), "a refused command writes nothing"
