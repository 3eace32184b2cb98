"""Shared fixtures: small data sets made by the real code, once per session."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mtlsed.config import Config
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
    from mtlsed.labels import FrameGrid
    from mtlsed.metrics import Scores
    from mtlsed.runfolder import RunFolder

    scores = Scores(["a.wav"], ["dog"], np.zeros((1, 1)), np.zeros((1, 1, 2)), FrameGrid(0.1, 0.05, 2))
    RunFolder(run_dir).write_evaluation(split, scores, [], metrics)
    return Path(run_dir)
