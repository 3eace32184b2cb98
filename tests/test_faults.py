"""Fault injection (#10): every bad input meets the real command line and gets a message, never a traceback
nor a silent success.

Each case copies a small synthesised set, breaks one thing in it (or in the command), runs ``mtlsed``
in a subprocess, and checks the exit code and the message, with the file and line where there is one.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

FAST = ["train.iterations=2", "train.eval_every=2", "train.batch_size=4"]


@pytest.fixture(scope="module")
def trained(small_set, tmp_path_factory):
    """A finished ci run on the small set, for the evaluate and resume cases."""
    run = tmp_path_factory.mktemp("faults") / "run"
    done = _mtlsed("train", small_set, "--profile", "ci", "--out", run, "--set", *FAST)
    assert done.returncode == 0, done.stderr
    return run


def _mtlsed(*args, cwd=None):
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    return subprocess.run(
        [sys.executable, "-m", "mtlsed", *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env
    )


def _copy(small_set, tmp_path) -> Path:
    root = tmp_path / "set"
    shutil.copytree(small_set, root, ignore=shutil.ignore_patterns("features", ".mtlsed"))
    return root


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def _write(path: Path, lines: list[str]) -> None:
    path.write_text("\n".join(lines) + "\n")


def _edit_line(name: str, number: int, change):
    """A mutation: line ``number`` (1-based, header = 1) of ``name`` replaced by ``change(fields)``."""

    def mutate(root: Path) -> None:
        lines = _lines(root / name)
        lines[number - 1] = "\t".join(change(lines[number - 1].split("\t")))
        _write(root / name, lines)

    return mutate


def _first_clip(root: Path) -> str:
    return _lines(root / "weak.tsv")[1].split("\t")[0]


def _strong_clip(root: Path) -> str:
    return _lines(root / "strong.tsv")[1].split("\t")[0]


def _audio(root: Path, name: str | None = None) -> Path:
    return root / "audio" / (name or _first_clip(root))


def _set_split(clip_split: dict):
    def mutate(root: Path) -> None:
        lines = _lines(root / "split.tsv")
        out = [lines[0]]
        for line in lines[1:]:
            name, split = line.split("\t")
            out.append(f"{name}\t{clip_split.get(split, split)}")
        _write(root / "split.tsv", out)

    return mutate


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


def _remove(name: str):
    return lambda root: (root / name).unlink()


def _strong_label_not_weak(root: Path) -> None:
    lines = _lines(root / "strong.tsv")
    name, onset, offset, label = lines[1].split("\t")
    weak = dict(line.split("\t") for line in _lines(root / "weak.tsv")[1:])
    classes = _lines(root / "classes.txt")
    other = next(c for c in classes if c not in weak[name].split(","))
    _write(root / "strong.tsv", [*lines, f"{name}\t{onset}\t{offset}\t{other}"])


def _nothing(root: Path) -> None:
    pass


def _check(root, tmp):
    return ["check", root]


def _settings(*extra: str) -> list[str]:
    """FAST with ``extra`` on top (a key given in ``extra`` replaces FAST's: --set refuses a key twice)."""
    keys = {e.split("=", 1)[0] for e in extra}
    return [f for f in FAST if f.split("=", 1)[0] not in keys] + list(extra)


def _train(*extra):
    out = ["--profile", "ci", "--set", *_settings(*extra)]
    return lambda root, tmp: ["train", root, "--out", tmp / "run", *out]


# id, mutation, command, exit code, what the message must hold ({root}: the data set folder)
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


@pytest.mark.parametrize(
    ("mutate", "command", "code", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in DATA_CASES],
)
def test_bad_data_and_settings(small_set, tmp_path, mutate, command, code, expected):
    root = _copy(small_set, tmp_path)
    mutate(root)
    done = _mtlsed(*command(root, tmp_path))
    said = done.stdout + done.stderr
    assert done.returncode == code, said[-3000:]
    assert "Traceback" not in said, said[-3000:]
    for text in expected:
        assert text.format(root=root) in said, said[-3000:]
    if command is not _check and code:
        assert not (root / "features").exists(), "the problem must stop the run before any feature work"
        assert not (tmp_path / "run" / "last.pt").exists()


def test_a_failed_train_does_not_block_the_corrected_rerun(small_set, tmp_path):
    root = _copy(small_set, tmp_path)
    bad = _mtlsed(
        "train",
        root,
        "--profile",
        "ci",
        "--out",
        tmp_path / "run",
        "--set",
        *_settings("loss.topk=50", "loss.selection=topk"),
    )
    assert bad.returncode == 2 and "loss.topk" in bad.stderr
    good = _mtlsed("train", root, "--profile", "ci", "--out", tmp_path / "run", "--set", *FAST)
    assert good.returncode == 0, good.stderr[-2000:]


def test_train_into_a_finished_run_and_resume_with_other_settings(small_set, trained):
    again = _mtlsed("train", small_set, "--profile", "ci", "--out", trained, "--set", *FAST)
    assert again.returncode == 2 and "already holds a run; use --resume" in again.stderr
    lr = _settings("train.lr=0.5")
    other = _mtlsed("train", small_set, "--profile", "ci", "--out", trained, "--resume", "--set", *lr)
    assert other.returncode == 2 and "config train.lr: 0.001 then, 0.5 now" in other.stderr


def test_evaluate_faults(small_set, trained, tmp_path):
    root = _copy(small_set, tmp_path)
    _set_split({"test": "train"})(root)
    empty = _mtlsed("evaluate", trained, root, "--split", "test")
    assert empty.returncode == 2 and "no clips in the 'test' split" in empty.stderr
    no_ckpt = tmp_path / "nothing"
    no_ckpt.mkdir()
    (no_ckpt / "config.yaml").write_text((trained / "config.yaml").read_text())
    missing = _mtlsed("evaluate", no_ckpt, small_set)
    assert missing.returncode == 2 and "best.pt: no checkpoint" in missing.stderr
    classes = _copy(small_set, tmp_path / "k")
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
    other = _mtlsed("evaluate", trained, classes)
    assert other.returncode == 2 and "the run was trained on" in other.stderr, other.stderr[-2000:]
    for run in (empty, missing, other):
        assert "Traceback" not in run.stderr


def test_synth_refuses_a_folder_it_did_not_make(tmp_path):
    out = tmp_path / "mine"
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


def test_an_output_folder_that_cannot_be_written(tmp_path):
    blocked = tmp_path / "a-file"
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


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc; the guard is Linux's")
def test_a_killed_synth_leaves_no_worker_writing(tmp_path):
    import signal
    import time

    out = tmp_path / "set"
    proc = subprocess.Popen(
        [sys.executable, "-m", "mtlsed", "synth", str(out), "--clips", "400", "--workers", "2"],
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
    resumed = _mtlsed("synth", out, "--clips", "400", "--workers", "2")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
