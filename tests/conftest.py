"""Shared fixtures: small data sets made by the real code, once per session; how the suite is shared
between ``make test``'s two workers (pytest-xdist, one group of tests at a time each: :func:`_group`)."""

import os
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
