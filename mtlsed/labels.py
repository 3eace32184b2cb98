"""Time <-> frame conversion and label encoding: the one place the dataset, evaluation and metrics share.

A feature frame ``t`` is centred at ``(t * hop + offset) / sr`` seconds, ``offset`` being 0 with
``center=True`` and ``n_fft / 2`` without. A frame is active for a class when its centre lies in
``[onset, offset)`` of one of the class's events. Frame edges (for turning detected frames back into
event times) lie half a hop either side of the centres, clipped to start at 0.
"""

from __future__ import annotations

import numpy as np

from mtlsed.config import FeatureConfig
from mtlsed.data.format import Event


def frame_times(cfg: FeatureConfig, n_frames: int) -> np.ndarray:
    """Centre time in seconds of each feature frame ``(T,)``."""
    offset = 0 if cfg.center else cfg.n_fft / 2
    return (np.arange(n_frames) * cfg.hop_length + offset) / cfg.sample_rate


def frame_boundaries(cfg: FeatureConfig, n_frames: int) -> np.ndarray:
    """Edges ``(T + 1,)`` in seconds: frame ``t`` spans ``[edges[t], edges[t + 1])``."""
    centres = frame_times(cfg, n_frames)
    half = cfg.hop_length / cfg.sample_rate / 2
    return np.append(centres - half, centres[-1] + half).clip(min=0.0)


def frame_labels(events: list[Event], classes: list[str], times: np.ndarray) -> np.ndarray:
    """``(K, T)`` 0/1: a frame is active for a class when its centre lies in ``[onset, offset)``."""
    out = np.zeros((len(classes), len(times)), dtype=np.float32)
    k_of = {c: k for k, c in enumerate(classes)}
    for ev in events:
        out[k_of[ev.label], (times >= ev.onset) & (times < ev.offset)] = 1.0
    return out


def clip_labels(weak: dict[str, list[str]], filenames: list[str], classes: list[str]) -> np.ndarray:
    """``(N, K)`` 0/1 clip labels of ``filenames`` from their weak labels."""
    k_of = {c: k for k, c in enumerate(classes)}
    out = np.zeros((len(filenames), len(classes)), dtype=np.float32)
    for i, name in enumerate(filenames):
        out[i, [k_of[c] for c in weak[name]]] = 1.0
    return out
