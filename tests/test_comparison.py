"""Paired MTL - BCE differences over seeds, checked against hand computations."""

import pytest

from mtlsed.experiments.comparison import markdown_comparison, paired_difference


def _runs(values, metric="at_map", **extra):
    return {seed: {metric: v, "no_detections": False, **extra} for seed, v in enumerate(values)}


def test_paired_t_interval_by_hand():
    base = _runs([0.50, 0.60, 0.55, 0.40, 0.45])
    other = _runs([0.56, 0.63, 0.61, 0.47, 0.48])
    r = paired_difference(base, other, "at_map")
    # d = .06 .03 .06 .07 .03: mean .05, sd = sqrt(((.01^2)*2 + (.02^2)*3 ... )) computed below by hand
    d = [0.06, 0.03, 0.06, 0.07, 0.03]
    mean = sum(d) / 5
    sd = (sum((x - mean) ** 2 for x in d) / 4) ** 0.5
    half = 2.7764451051977987 * sd / 5**0.5  # t(0.975, 4)
    assert r["mean"] == pytest.approx(mean) and r["low"] == pytest.approx(mean - half)
    assert r["high"] == pytest.approx(mean + half) and r["n"] == 5
    assert r["per_seed"][3] == pytest.approx(0.07)
    assert r["verdict"] == "better"


def test_lower_is_better_and_no_detectable_difference():
    worse_er = paired_difference(_runs([0.8, 0.9, 0.85], "er"), _runs([0.9, 1.0, 0.96], "er"), "er")
    assert worse_er["mean"] > 0 and worse_er["verdict"] == "worse"
    better_i = paired_difference(_runs([0.8, 0.9, 0.85], "i"), _runs([0.5, 0.55, 0.6], "i"), "i")
    assert better_i["verdict"] == "better"
    mixed = paired_difference(_runs([0.5, 0.6, 0.55]), _runs([0.52, 0.57, 0.56]), "at_map")
    assert mixed["low"] < 0 < mixed["high"] and mixed["verdict"] == "no detectable difference"


def test_runs_that_detect_nothing_are_not_scored_on_event_metrics():
    base = _runs([1.0, 1.0], "er")
    other = {0: {"er": 1.0, "no_detections": True}, 1: {"er": 0.9, "no_detections": False}}
    r = paired_difference(base, other, "er")
    assert r["verdict"] == "not comparable (1/2 seeds detect nothing)" and r["mean"] is None
    # AT-mAP needs no detection: still compared
    ok = paired_difference(
        _runs([0.5, 0.6]), {0: {"at_map": 0.7, "no_detections": True}, 1: {"at_map": 0.8}}, "at_map"
    )
    assert ok["mean"] == pytest.approx(0.2) and ok["verdict"] == "better"  # +0.2 on both seeds
    one = paired_difference(_runs([0.5]), _runs([0.6]), "at_map")
    assert one["verdict"].startswith("not comparable (1 seed")
    undefined = paired_difference(_runs([0.5, None], "f1"), _runs([0.6, 0.7], "f1"), "f1")
    assert undefined["n"] == 1 and undefined["verdict"].startswith("not comparable")


def test_markdown_comparison():
    r = paired_difference(_runs([0.50, 0.60, 0.55]), _runs([0.56, 0.63, 0.61]), "at_map")
    md = markdown_comparison([r], "BCE", "MTL")
    assert md.startswith("| Metric | MTL − BCE: mean [95% interval] | per seed | Verdict |")
    assert "| AT-mAP | +0.050 [" in md and "0: +0.060, 1: +0.030, 2: +0.060" in md and "| better |" in md
