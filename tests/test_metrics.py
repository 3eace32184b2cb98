"""Metrics on small hand-built cases whose values are worked out here."""

import numpy as np
import pytest

from mtlsed.config.settings import EvalConfig, FeatureConfig
from mtlsed.core.events import Event
from mtlsed.evaluation.metrics import Scores, event_based, merge_overlaps, psds_per_class, psds_scores
from mtlsed.evaluation.postprocess import detect_events
from mtlsed.evaluation.ranking import at_map, mean_average_precision, sed_map, sed_map_and_classes
from mtlsed.features.labels import FrameGrid


def test_at_map_by_hand():
    labels = np.array([[1, 0, 0], [0, 1, 0], [1, 0, 0], [0, 0, 0]])
    scores = np.array([[0.9, 0.2, 0.5], [0.8, 0.3, 0.5], [0.7, 0.9, 0.5], [0.1, 0.1, 0.5]])
    # class 0: ranked 1, 0, 1, 0 -> precisions at the hits 1 and 2/3 -> AP 5/6
    # class 1: ranked 0 (0.9), 1 (0.3) -> precision 1/2 at the hit -> AP 1/2
    # class 2: no positive -> left out
    assert at_map(labels, scores) == pytest.approx((5 / 6 + 1 / 2) / 2)
    # and counted: two of the three classes make the mean
    assert mean_average_precision(labels, scores) == (pytest.approx((5 / 6 + 1 / 2) / 2), 2)
    assert sed_map_and_classes(labels[:, :, None], scores[:, :, None])[1] == 2


def test_a_class_left_out_of_the_mean_is_said_on_screen():
    from mtlsed.runs.runinfo import format_metrics

    said = {"at_map": 0.5, "sed_map": 0.3, "n_detected": 1, "no_detections": False, "n_classes": 10}
    assert "classes" not in format_metrics({**said, "at_map_classes": 10, "sed_map_classes": 10})
    line = format_metrics({**said, "at_map_classes": 8, "sed_map_classes": 10})
    assert "AT-mAP over 8 of 10 classes (the others have no positive here)" in line
    assert "SED-mAP over" not in line


def test_sed_map_pools_frames_of_all_clips():
    labels = np.zeros((2, 1, 3))
    labels[0, 0, 0] = 1
    labels[1, 0, 2] = 1
    scores = np.array([[[0.9, 0.8, 0.1]], [[0.2, 0.3, 0.7]]])
    # frames ranked by score: 0.9 (hit), 0.8, 0.7 (hit) -> precisions 1 and 2/3 -> AP 5/6
    assert sed_map(labels, scores) == pytest.approx(5 / 6)


def test_frame_boundaries_follow_the_front_end():
    b = FrameGrid.of(FeatureConfig(sample_rate=32000), 311).edges
    assert len(b) == 312
    assert b[0] == pytest.approx((1024 - 512) / 32000) and b[1] - b[0] == pytest.approx(0.032)


def test_post_processing_by_hand():
    grid = FrameGrid(0.1, 0.05, 20)  # edges 0, 0.1, ..., 2.0
    frame = np.zeros((2, 20))
    frame[0, 5:10] = 0.8  # an event over frames 5-9
    frame[0, 15] = 0.9  # a one-frame spike, removed by a 3-frame median filter
    frame[1, 2:6] = 0.9  # class 1: frames high, but its clip probability is below the gate
    cfg = EvalConfig(clip_threshold=0.5, frame_threshold=0.5, median_filter_s=0.3)
    assert grid.median_width(cfg.median_filter_s) == 3
    events = detect_events(frame, np.array([0.7, 0.3]), grid, ["dog", "cat"], cfg)
    assert events == [(pytest.approx(0.5), pytest.approx(1.0), "dog")]
    no_filter = EvalConfig(clip_threshold=0.0, frame_threshold=0.5, median_filter_s=0.0)
    events = detect_events(frame, np.array([0.7, 0.3]), grid, ["dog", "cat"], no_filter)
    rounded = sorted((round(a, 6), round(b, 6), lab) for a, b, lab in events)
    assert rounded == [(0.2, 0.6, "cat"), (0.5, 1.0, "dog"), (1.5, 1.6, "dog")]


def test_event_based_metrics_by_hand():
    reference = {"a.wav": [Event("a.wav", 1.0, 3.0, "dog"), Event("a.wav", 5.0, 6.0, "cat")]}
    estimated = {
        "a.wav": [
            (1.1, 3.2, "dog"),  # onset within 200 ms, offset within max(200 ms, 50 % of 2 s): correct
            (5.5, 6.0, "cat"),  # onset 500 ms late: not correct -> the reference cat is a deletion
            (8.0, 9.0, "siren"),  # nothing there: insertion
        ]
    }
    m = event_based(reference, estimated, ["dog", "cat", "siren"], t_collar=0.2, percentage_of_length=0.5)
    # N = 2 reference events, 1 correct, S = 0, D = 1, I = 2 -> ER = 3 / 2
    assert m["er"] == pytest.approx(1.5)
    assert m["d"] == pytest.approx(0.5) and m["i"] == pytest.approx(1.0) and m["s"] == 0
    # precision 1/3, recall 1/2 -> F1 = 2 * (1/6) / (5/6) = 0.4
    assert m["f1"] == pytest.approx(0.4)
    # same boundaries, wrong label: a substitution
    m = event_based(reference, {"a.wav": [(1.0, 3.0, "cat"), (5.0, 6.0, "cat")]}, ["dog", "cat"])
    assert m["s"] == pytest.approx(0.5) and m["er"] == pytest.approx(0.5)


def _scores_for(events_by_file, detected, classes, n_frames=100, hop=0.1):
    grid = FrameGrid(hop, hop / 2, n_frames)
    centres = grid.centres
    frame = np.zeros((len(events_by_file), len(classes), n_frames))
    for i, name in enumerate(events_by_file):
        for ev in events_by_file[name]:
            if (name, ev.label, ev.onset) in detected:
                frame[i, classes.index(ev.label), (centres >= ev.onset) & (centres < ev.offset)] = 1.0
    return Scores(list(events_by_file), classes, frame.max(-1), frame, grid)


def test_psds_perfect_half_and_nothing():
    classes = ["dog", "cat"]
    # 0.5 s events in 10 s clips: at the lowest threshold every class is "on" for the
    # whole clip, which overlaps an event by 5 %, below even PSDS2's 10 % criteria,
    # so that detection is a false alarm and not a hit.
    ref = {
        "a.wav": [Event("a.wav", 1.0, 1.5, "dog"), Event("a.wav", 4.0, 4.5, "cat")],
        "b.wav": [Event("b.wav", 2.0, 2.5, "dog"), Event("b.wav", 6.0, 6.5, "cat")],
    }
    durations = dict.fromkeys(ref, 10.0)
    everything = {(n, e.label, e.onset) for n, evs in ref.items() for e in evs}
    perfect = psds_scores(_scores_for(ref, everything, classes), ref, durations)
    assert perfect["psds1"] == pytest.approx(1.0) and perfect["psds2"] == pytest.approx(1.0)
    # one of the two events of each class found, no false alarm below 100 per hour
    # (one false alarm in 20 s of audio is 180 per hour): TPR 0.5 for both classes, no spread
    half = psds_scores(
        _scores_for(ref, {("a.wav", "dog", 1.0), ("b.wav", "cat", 6.0)}, classes), ref, durations
    )
    assert half["psds1"] == pytest.approx(0.5) and half["psds2"] == pytest.approx(0.5)
    # dog found twice, cat never: mean TPR 0.5 minus alpha_st = 1 times its std 0.5 -> 0
    lopsided = {("a.wav", "dog", 1.0), ("b.wav", "dog", 2.0)}
    assert psds_scores(_scores_for(ref, lopsided, classes), ref, durations)["psds1"] == pytest.approx(0.0)
    # ... while each class on its own scores its TPR: dog 1, cat 0
    per_class = psds_per_class(_scores_for(ref, lopsided, classes), ref, durations)
    assert per_class == pytest.approx({"dog": 1.0, "cat": 0.0})
    with pytest.raises(ValueError, match="unknown PSDS scenario 'psds3'"):
        psds_per_class(_scores_for(ref, lopsided, classes), ref, durations, "psds3")


def test_overlapping_same_class_references_are_merged():
    evs = [
        Event("a", 1.0, 4.0, "dog"),
        Event("a", 3.0, 6.0, "dog"),
        Event("a", 6.0, 7.0, "dog"),
        Event("a", 8.0, 9.0, "dog"),
        Event("a", 2.0, 3.0, "cat"),
    ]
    merged = merge_overlaps(evs)
    assert [(e.onset, e.offset, e.label) for e in merged] == [
        (1.0, 7.0, "dog"),
        (2.0, 3.0, "cat"),
        (8.0, 9.0, "dog"),
    ]
