"""Shared fixtures: small data sets made by the real code, once per session; how the suite is shared
between ``make test``'s two workers (pytest-xdist, one group of tests at a time each: :func:`_group`)."""

import os
import subprocess
from pathlib import Path

if os.environ.get("PYTEST_XDIST_WORKER"):
    # Two workers on two cores: one intra-op thread each (and in every subprocess they start), as training
    # uses; PyTorch's two threads stall as soon as anything else runs (see mtlsed.training.train.cpu_threads).
    os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import pytest
import soundfile as sf

from mtlsed.config.settings import Config
from mtlsed.data.build import BuildSpec, build_dataset


@pytest.fixture(scope="session")
def small_set(tmp_path_factory) -> Path:
    """40 overlapped clips of the embedded set at 16 kHz."""
    out = tmp_path_factory.mktemp("small") / "set"
    return build_dataset(out, BuildSpec("overlapped", 40, seed=3, sr=16000), workers=1)


@pytest.fixture
def cfg16() -> Config:
    cfg = Config()
    cfg.features.sample_rate = 16000
    return cfg


def source_folder(small_set: Path, tmp: Path) -> Path:
    """TMP/src: the small set as a source folder to import (audio/, weak.tsv, strong.tsv, classes.txt)."""
    import shutil

    src = tmp / "src"
    shutil.copytree(small_set / "audio", src / "audio")
    for name in ("weak.tsv", "strong.tsv", "classes.txt"):
        shutil.copyfile(small_set / name, src / name)
    return src


def write_wav(path: Path, y: np.ndarray, sr: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), y, sr)
    return path


def fake_evaluation(run_dir: Path, split: str, metrics: dict) -> Path:
    """A whole evaluation unit (scores, events, metrics) in ``run_dir`` holding ``metrics``, for tests of
    what reads metrics files: written through the run folder, as ``mtlsed evaluate`` writes one."""
    from mtlsed.evaluation.metrics import Scores
    from mtlsed.features.labels import FrameGrid
    from mtlsed.runs.identity import evaluation_fingerprint
    from mtlsed.runs.runfolder import RunFolder

    scores = Scores(["a.wav"], ["dog"], np.zeros((1, 1)), np.zeros((1, 1, 2)), FrameGrid(0.1, 0.05, 2))
    # scored by the evaluation code of now, as `mtlsed evaluate` records, unless the test says otherwise
    metrics = {"evaluation_code": evaluation_fingerprint(), **metrics}
    RunFolder(run_dir).write_evaluation(split, scores, [], metrics)
    return Path(run_dir)


def untrained_run(run_dir: Path, data_dir: Path, overrides: list[str] = (), profile: str = "ci") -> Path:
    """A run folder as ``mtlsed train`` starts it (config, identity, classes, clips) whose ``best.pt`` holds a
    model that was never trained: for tests of what evaluation wires together, with no training. Written
    through the package's own functions (:meth:`RunFolder.start`, :meth:`RunFolder.save_checkpoint`)."""
    import torch

    from mtlsed.config.profiles import load_profile
    from mtlsed.data.fingerprint import data_fingerprint
    from mtlsed.data.format import read_dataset
    from mtlsed.models import build_model
    from mtlsed.runs.identity import run_fingerprint
    from mtlsed.runs.runfolder import RunFolder
    from mtlsed.training.train import learnt_clips

    cfg = load_profile(profile).config().with_overrides(list(overrides))
    index = read_dataset(data_dir)
    run = RunFolder(run_dir)
    with run.writing("train"):
        identity = run_fingerprint(cfg.to_dict(), data_fingerprint(data_dir, index))
        run.start(cfg, identity, index.classes, Path(data_dir).resolve(), learnt_clips(index))
        torch.manual_seed(cfg.train.seed)
        model = build_model(cfg.model, len(index.classes), cfg.features.n_mels)
        run.save_checkpoint("best", {"model": model.state_dict(), "iteration": 0})
    return Path(run_dir)


def mtlsed_here(*args, cwd=None) -> subprocess.CompletedProcess:
    """The real command line in this process (``mtlsed.cli.main.main``), for the cases that argparse, the
    config or the profile refuse before any work: milliseconds each, where a subprocess spends 1-4 s
    importing scipy and torch (``cwd``: the working folder meanwhile). An exception the command does not
    turn into a message fails the test."""
    import contextlib
    import io

    from mtlsed.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    where = contextlib.chdir(cwd) if cwd else contextlib.nullcontext()
    with where, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as stop:  # argparse's refusals
            code = stop.code if isinstance(stop.code, int) else 1
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())


# Modules (groups) by how long they take, longest first: xdist hands a worker the next group when it frees up,
# so the long ones start early and the short ones fill in at the end.
LONGEST_FIRST = [
    "test_experiments",
    "test_book",
    "test_faults",
    "test_own_data",
    "test_runfolder",
    "test_table3",
    "test_cli",
    "test_notebooks",
    "test_train",
    "test_features",
    "test_gpu_check",
    "test_recipe",
    "test_installed",
]


def _group(path: str) -> str:
    """The group of a test file: a module's tests stay on one worker (they share module fixtures and, in
    test_faults, run cases ahead)."""
    return Path(path).stem


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    # stable: within a group the collection order stays (the book build before the notebooks)
    items.sort(key=lambda item: rank.get(_group(str(item.path)), len(rank)))


try:
    from xdist.scheduler import LoadScopeScheduling
except ImportError:  # without pytest-xdist the suite runs in one process, in the same order
    pass
else:

    class _ByGroup(LoadScopeScheduling):
        """One unit of work per group (xdist's ``loadgroup`` marks are lost on pytest 9: it renames
        ``item._nodeid``, which pytest 9 no longer reads)."""

        def _split_scope(self, nodeid: str) -> str:
            return _group(nodeid.split("::", 1)[0])

    def pytest_xdist_make_scheduler(config, log):
        return _ByGroup(config, log)
