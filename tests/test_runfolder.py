"""One owner for a run folder (#19): the writer's lock, evaluations written as one unit, damaged files named,
and evaluation that refuses clips the run learnt from."""

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from mtlsed.runs.runfolder import RunFolder, RunLocked, is_finished

FAST = ["train.iterations=4", "train.eval_every=2", "train.batch_size=4"]
LONG = ["train.iterations=100000", "train.eval_every=2", "train.batch_size=4"]


def _mtlsed(*args, cwd=None):
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    return subprocess.run(
        [sys.executable, "-m", "mtlsed", *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env
    )


def _start(*args) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "mtlsed", *map(str, args)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(path: Path, proc: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.time() + seconds
    while not path.exists():
        assert proc.poll() is None, proc.stderr.read()[-2000:]
        assert time.time() < deadline, f"{path} never appeared"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def run(small_set, tmp_path_factory):
    """A finished ci run on the small set, evaluated on test."""
    out = tmp_path_factory.mktemp("rf") / "run"
    done = _mtlsed("train", "--data", small_set, "--profile", "ci", "--out", out, "--set", *FAST)
    assert done.returncode == 0, done.stderr
    done = _mtlsed("evaluate", out)
    assert done.returncode == 0, done.stderr
    return out


def _copy_run(run: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(run, target)
    return target


# -- the lock ----------------------------------------------------------------------------


def test_a_second_writer_is_refused_with_the_holders_pid(small_set, tmp_path):
    out = tmp_path / "run"
    first = _start("train", "--data", small_set, "--profile", "ci", "--out", out, "--set", *LONG)
    try:
        _wait_for(out / "last.pt", first)
        holder = json.loads((out / ".lock").read_text())
        assert holder["pid"] == first.pid and holder["command"] == "train"
        second = _mtlsed(
            "train", "--data", small_set, "--profile", "ci", "--out", out, "--set", *FAST, "train.lr=0.5"
        )
        assert second.returncode == 2 and "Traceback" not in second.stderr
        assert f"is being written by PID {first.pid} (mtlsed train" in second.stderr
        assert "delete" in second.stderr and ".lock" in second.stderr  # how to clear a stale lock
        evaluate = _mtlsed("evaluate", out)
        assert evaluate.returncode == 2 and f"PID {first.pid}" in evaluate.stderr
        assert first.poll() is None  # the first run goes on undisturbed
        config = (out / "config.yaml").read_text()
        assert "lr: 0.5" not in config  # the folder holds one run's files only
    finally:
        first.kill()
        first.wait()


def test_a_lock_left_by_a_killed_writer_does_not_block(small_set, tmp_path):
    out = tmp_path / "run"
    settings = ["train.iterations=60", *FAST[1:]]
    first = _start("train", "--data", small_set, "--profile", "ci", "--out", out, "--set", *settings)
    _wait_for(out / "last.pt", first)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    assert json.loads((out / ".lock").read_text())["pid"] == first.pid  # left behind by kill -9
    resumed = _mtlsed(
        "train", "--data", small_set, "--profile", "ci", "--out", out, "--resume", "--set", *settings
    )
    assert resumed.returncode == 0 and "PID" not in resumed.stderr, resumed.stderr[-2000:]
    assert not (out / ".lock").exists()
    assert RunFolder(out).checkpoint_info("last")["iteration"] == 60


def test_without_flock_the_lock_file_is_the_lock_and_a_dead_holder_is_taken_over(tmp_path, monkeypatch):
    """On file systems without flock (some network mounts) the file's existence locks; a lock whose
    process is gone from this host is taken over, one whose process lives is refused."""
    import errno
    import fcntl

    def no_flock(*_):
        raise OSError(errno.ENOLCK, "no locks available")

    monkeypatch.setattr(fcntl, "flock", no_flock)
    folder = RunFolder(tmp_path / "run")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / "run").mkdir()
        stamp = {"pid": sleeper.pid, "host": os.uname().nodename, "command": "train"}
        (tmp_path / "run" / ".lock").write_text(json.dumps(stamp))
        with pytest.raises(RunLocked, match=f"PID {sleeper.pid} \\(mtlsed train"):
            with folder.writing("evaluate"):
                pass
    finally:
        sleeper.kill()
        sleeper.wait()
    with folder.writing("evaluate"):  # its process is gone: taken over
        assert json.loads((tmp_path / "run" / ".lock").read_text())["pid"] == os.getpid()
        with folder.writing("evaluate"):  # re-entrant in one process
            pass
    assert not (tmp_path / "run" / ".lock").exists()


# -- evaluations as one unit ---------------------------------------------------------------

KILL_AFTER_SCORES = """
import os, sys
import mtlsed.runs.runfolder as rf
original = rf.RunFolder.write_evaluation
def write_tsv_then_die(*a, **k):
    os._exit(9)  # killed after the scores file, before the events and the metrics
import mtlsed.core.textio as textio
textio.write_tsv = write_tsv_then_die
from mtlsed.evaluation.evaluate import evaluate_run
evaluate_run(sys.argv[1], sys.argv[2], checkpoint)
"""


def test_a_kill_between_scores_and_metrics_leaves_no_metrics_that_could_be_believed(run, small_set, tmp_path):
    target = _copy_run(run, tmp_path)
    whole = RunFolder(target).metrics("test")
    assert whole is not None and whole["checkpoint"] == "best"
    code = textwrap.dedent(KILL_AFTER_SCORES).replace("checkpoint)", "which='last')")
    killed = subprocess.run([sys.executable, "-c", code, str(target), str(small_set)], capture_output=True)
    assert killed.returncode == 9
    # new scores (of `last`) are on disk; the old metrics (of `best`) are gone with them, never beside them
    assert not (target / "metrics_test.json").exists()
    assert RunFolder(target).metrics("test") is None and is_finished(target) is None
    assert not list(target.glob(".*.tmp*")), "no temporary file is left behind"
    redo = _mtlsed("evaluate", target)
    assert redo.returncode == 0 and RunFolder(target).metrics("test") is not None


def test_a_changed_scores_file_or_checkpoint_unmakes_the_unit(run, tmp_path):
    target = _copy_run(run, tmp_path)
    assert is_finished(target) is not None
    scores = target / "scores_test.npz"
    scores.write_bytes(scores.read_bytes() + b"x")
    assert RunFolder(target).metrics("test") is None and is_finished(target) is None
    with pytest.raises(Exception, match="not whole"):
        RunFolder(target).require_metrics("test")
    target = _copy_run(run, tmp_path / "b")
    state = RunFolder(target).load_checkpoint("best")
    RunFolder(target).save_checkpoint(
        "best", {**state, "iteration": state["iteration"]}
    )  # same weights, rewritten
    assert is_finished(target) is not None  # identical bytes: the same checkpoint
    state["model"] = {k: v * 0 for k, v in state["model"].items()}
    RunFolder(target).save_checkpoint("best", state)
    assert is_finished(target) is None  # the metrics were of another checkpoint


# -- damaged files ---------------------------------------------------------------------------


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


DAMAGE = [
    (
        "truncated-best",
        "best.pt",
        lambda p: p.write_bytes(p.read_bytes()[:100]),
        "evaluate",
        "best.pt is damaged",
    ),
    ("flipped-byte-best", "best.pt", _flip, "evaluate", "best.pt is damaged (its checksum does not match"),
    ("flipped-byte-last", "last.pt", _flip, "resume", "last.pt is damaged"),
    (
        "garbage-identity",
        "identity.json",
        lambda p: p.write_bytes(b"\x00\xff{garbage"),
        "evaluate",
        "identity.json is damaged",
    ),
    ("garbage-config", "config.yaml", lambda p: p.write_text("train: [lr\n"), "evaluate", "config.yaml"),
    ("missing-classes", "classes.txt", lambda p: p.unlink(), "evaluate", "classes.txt: missing"),
    (
        "garbage-checkpoint-index",
        "checkpoints.json",
        lambda p: p.write_text("{"),
        "evaluate",
        "checkpoints.json is damaged",
    ),
]


@pytest.mark.parametrize(
    ("name", "damage", "command", "message"), [c[1:] for c in DAMAGE], ids=[c[0] for c in DAMAGE]
)
def test_a_damaged_file_is_named_with_what_to_do(run, small_set, tmp_path, name, damage, command, message):
    target = _copy_run(run, tmp_path)
    damage(target / name)
    if command == "evaluate":
        done = _mtlsed("evaluate", target, "--data", small_set)
    else:
        done = _mtlsed(
            "train", "--data", small_set, "--profile", "ci", "--out", target, "--resume", "--set", *FAST
        )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and message in done.stderr, done.stderr
    assert str(target) in done.stderr


# -- evaluation knows what the run learnt from ---------------------------------------------------


def test_evaluate_refuses_a_split_that_shares_audio_with_the_training_clips(small_set, tmp_path):
    """Re-importing the set with another seed puts training clips in test: evaluate says so and why."""
    src = tmp_path / "src"
    shutil.copytree(
        small_set, src, ignore=shutil.ignore_patterns("features", ".mtlsed", "split.tsv", "recipe.json")
    )
    data = tmp_path / "data"
    assert _mtlsed("import", src, data, "--seed", "1").returncode == 0
    out = tmp_path / "run"
    assert _mtlsed("train", "--data", data, "--profile", "ci", "--out", out, "--set", *FAST).returncode == 0
    assert _mtlsed("evaluate", out).returncode == 0
    again = _mtlsed("import", src, data, "--seed", "2")
    assert again.returncode == 0, again.stderr
    refused = _mtlsed("evaluate", out)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    said = refused.stderr
    assert "the test split shares the audio of" in said and "clips the run" in said
    assert "split.tsv changed" in said and "train again" in said
    # the same audio under other names is found too: a copy of the set with renamed clips
    renamed = tmp_path / "renamed"
    shutil.copytree(data, renamed, symlinks=False, ignore=shutil.ignore_patterns("features", ".mtlsed"))
    for f in ("weak.tsv", "strong.tsv", "split.tsv"):
        (renamed / f).write_text((renamed / f).read_text().replace("clip_", "other_"))
    for wav in (renamed / "audio").iterdir():
        wav.rename(wav.with_name(wav.name.replace("clip_", "other_")))
    refused = _mtlsed("evaluate", out, "--data", renamed)
    assert refused.returncode == 2 and "= train clip clip_" in refused.stderr
