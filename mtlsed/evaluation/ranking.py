"""The threshold-free metrics, which rank the probabilities and decide nothing: AT-mAP (clip probabilities)
and SED-mAP (frame probabilities against frame-level reference activity, strongly labelled clips only).

Average precision is undefined for a class without positives; such classes are left out of the mean,
and :func:`mean_average_precision` says how many were kept (``metrics_<split>.json`` records it).
Validation uses them to pick a run's best checkpoint, so they belong to what a run's training depends on.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score


def mean_average_precision(y_true: np.ndarray, y_score: np.ndarray) -> tuple[float, int]:
    """Mean AP over the columns of ``(M, K)`` arrays that have a positive; returns (mAP, classes used)."""
    aps = [
        average_precision_score(y_true[:, k], y_score[:, k])
        for k in range(y_true.shape[1])
        if y_true[:, k].any()
    ]
    return (float(np.mean(aps)) if aps else float("nan")), len(aps)


def at_map(clip_labels: np.ndarray, clip_scores: np.ndarray) -> float:
    return mean_average_precision(clip_labels, clip_scores)[0]


def sed_map(frame_labels: np.ndarray, frame_scores: np.ndarray) -> float:
    """Frame-level mAP of ``(N, K, T)`` arrays: each class's frames of all clips pooled."""
    return sed_map_and_classes(frame_labels, frame_scores)[0]


def sed_map_and_classes(frame_labels: np.ndarray, frame_scores: np.ndarray) -> tuple[float, int]:
    """:func:`sed_map` and the number of classes it averages (those active in some frame)."""
    k = frame_labels.shape[1]
    return mean_average_precision(
        frame_labels.transpose(0, 2, 1).reshape(-1, k), frame_scores.transpose(0, 2, 1).reshape(-1, k)
    )
