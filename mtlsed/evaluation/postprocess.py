"""Post-processing: from frame and clip probabilities to events (the paper does not give it), and its
settings chosen on the validation split, never on test.

:func:`detect_events` applies a clip-level gate (a class counts in a clip only if its clip probability
reaches ``eval.clip_threshold``; Kong et al. 2019), a frame threshold (``eval.frame_threshold``, 0.5 as in
the DCASE 2020 baseline) and a median filter (``eval.median_filter_s``, 0.45 s as in the DCASE 2020
baseline). :func:`choose_on_validation` scores every setting of a small grid on the validation split's
strongly labelled clips and keeps, by a fixed rule, the one with the lowest event-based error rate among
the settings that detect at least one event (ties: the higher F1, then the first in grid order). The test
split is then post-processed once, with that setting.
"""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import numpy as np
from scipy.ndimage import median_filter

from mtlsed.config.settings import EvalConfig
from mtlsed.data.format import read_dataset
from mtlsed.evaluation.metrics import Scores, event_based, merge_overlaps
from mtlsed.features.labels import FrameGrid


def detect_events(
    frame: np.ndarray, clip: np.ndarray, grid: FrameGrid, classes: list[str], cfg: EvalConfig
) -> list[tuple[float, float, str]]:
    """Events ``(onset, offset, label)`` of one clip from frame ``(K, T)`` and clip ``(K,)`` probabilities.

    The median filter is ``grid.median_width(cfg.median_filter_s)`` frames long; event times are the
    grid's edges.
    """
    active = frame >= cfg.frame_threshold
    active &= (clip >= cfg.clip_threshold)[:, None]
    boundaries = grid.edges
    w = grid.median_width(cfg.median_filter_s)
    if w > 1:
        active = median_filter(active.astype(np.uint8), size=(1, w), mode="nearest").astype(bool)
    events = []
    for k, label in enumerate(classes):
        padded = np.concatenate([[False], active[k], [False]])
        edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
        for start, stop in zip(edges[::2], edges[1::2], strict=True):
            events.append((float(boundaries[start]), float(boundaries[stop]), label))
    return events


GRID = {
    "clip_threshold": [0.3, 0.5, 0.7],
    "frame_threshold": [0.3, 0.5, 0.7],
    "median_filter_s": [0.0, 0.45, 1.0],
}


def settings_grid(grid: dict[str, list[float]] = GRID) -> list[dict[str, float]]:
    return [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]


def choose_on_validation(
    scores: Scores, data_dir: str | Path, base: EvalConfig, grid: dict[str, list[float]] = GRID
) -> tuple[EvalConfig, list[dict]]:
    """The setting of ``grid`` with the lowest validation ER (see the module doc), and every row scored.

    ``scores`` are the run's scores on the validation split. Without strongly labelled validation clips
    there is nothing to choose on: ``base`` comes back with an empty table.
    """
    index = read_dataset(data_dir)
    strong = [i for i, n in enumerate(scores.filenames) if index.has_strong(n)]
    if not strong:
        return base, []
    reference = {scores.filenames[i]: merge_overlaps(index.strong[scores.filenames[i]]) for i in strong}
    table = []
    for setting in settings_grid(grid):
        cfg = dataclasses.replace(base, **setting)
        events = {
            scores.filenames[i]: detect_events(
                scores.frame[i], scores.clip[i], scores.grid, scores.classes, cfg
            )
            for i in strong
        }
        n_detected = sum(len(e) for e in events.values())
        row = {**setting, "n_detected": n_detected}
        row.update(event_based(reference, events, scores.classes, cfg.t_collar, cfg.percentage_of_length))
        table.append(row)
    candidates = [r for r in table if r["n_detected"] > 0] or table
    f1 = lambda r: r["f1"] if r["f1"] == r["f1"] else -1.0  # noqa: E731 - NaN F1 ranks last
    best = min(candidates, key=lambda r: (r["er"], -f1(r)))
    return dataclasses.replace(base, **{k: best[k] for k in grid}), table
