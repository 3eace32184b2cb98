"""Post-processing chosen on the validation split: a hand-built case and the real evaluate path."""

import json

import numpy as np
import pytest
from conftest import untrained_run

from mtlsed.cli.main import main
from mtlsed.config.settings import EvalConfig
from mtlsed.core.events import Event
from mtlsed.data.format import write_dataset_index
from mtlsed.evaluation.metrics import Scores
from mtlsed.evaluation.postprocess import GRID, choose_on_validation, settings_grid
from mtlsed.features.labels import FrameGrid


def test_the_lowest_validation_error_wins(tmp_path):
    """Frame probabilities of 0.4 on the events and 0.1 elsewhere, clip probabilities 0.6: only a frame
    threshold of 0.3 detects anything, and it detects exactly the events (ER 0); clip gates 0.3 and 0.5
    let them through, 0.7 does not. The first zero-ER setting in grid order is clip 0.3, frame 0.3, no
    median filter."""
    classes = ["dog", "cat"]
    strong = {
        "a.wav": [Event("a.wav", 1.0, 3.0, "dog")],
        "b.wav": [Event("b.wav", 2.0, 5.0, "cat")],
        "c.wav": [Event("c.wav", 6.0, 8.0, "dog"), Event("c.wav", 1.0, 2.5, "cat")],
    }
    weak = {n: sorted({e.label for e in evs}, key=classes.index) for n, evs in strong.items()}
    write_dataset_index(tmp_path, classes, weak, strong, dict.fromkeys(strong, "val"))
    grid = FrameGrid(0.1, 0.05, 100)
    centres = grid.centres
    frame = np.full((3, 2, 100), 0.1)
    for i, evs in enumerate(strong.values()):
        for ev in evs:
            frame[i, classes.index(ev.label), (centres >= ev.onset) & (centres < ev.offset)] = 0.4
    scores = Scores(list(strong), classes, np.full((3, 2), 0.6), frame, grid)
    chosen, table = choose_on_validation(scores, tmp_path, EvalConfig())
    assert len(table) == len(settings_grid()) == 27
    assert (chosen.clip_threshold, chosen.frame_threshold, chosen.median_filter_s) == (0.3, 0.3, 0.0)
    assert all(
        r["n_detected"] == 0 for r in table if r["frame_threshold"] > 0.3 or r["clip_threshold"] == 0.7
    )
    best = next(
        r
        for r in table
        if (r["clip_threshold"], r["frame_threshold"], r["median_filter_s"]) == (0.3, 0.3, 0.0)
    )
    assert best["er"] == pytest.approx(0.0) and best["n_detected"] == 4
    # no strongly labelled validation clip: nothing to choose on
    write_dataset_index(tmp_path, classes, weak, None, dict.fromkeys(strong, "val"))
    (tmp_path / "strong.tsv").unlink()
    same, empty = choose_on_validation(scores, tmp_path, EvalConfig())
    assert same == EvalConfig() and empty == []
    assert set(GRID) == {"clip_threshold", "frame_threshold", "median_filter_s"}


def test_evaluate_tunes_on_val_and_writes_only_test_metrics(small_set, tmp_path):
    # the wiring, not the weights: a run whose model was never trained chooses on val all the same
    run = untrained_run(tmp_path / "run", small_set, ["eval.tune_on_val=true"])
    assert main(["evaluate", str(run), str(small_set)]) == 0
    metrics = json.loads((run / "metrics_test.json").read_text())
    chosen = json.loads((run / "post_processing_val.json").read_text())
    assert metrics["post_processing"]["chosen_on"] == "val" and len(chosen["grid"]) == 27
    for key in GRID:
        assert metrics["post_processing"][key] == chosen["chosen"][key]
    assert not (run / "metrics_val.json").exists()  # choosing on val writes no val metrics
