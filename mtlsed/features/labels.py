"""The frame grid and label encoding: the one place features, labels, detection, separation and the cache
share their time axis.

A :class:`FrameGrid` says where each feature frame lies in time. Frame ``t`` is centred at
``offset + t * hop`` seconds, ``offset`` being 0 with ``features.center=True`` and ``n_fft / 2`` samples
without. A frame is active for a class when its centre lies in ``[onset, offset)`` of one of the
class's events. The edges (for turning detected frames back into event times) lie half a hop either side
of the centres, clipped to start at 0. The hop is the grid's own, never read off the edges (the first
edge is clipped, so ``edges[1] - edges[0]`` is half a hop with ``center=True``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mtlsed.config.settings import FeatureConfig
from mtlsed.core.events import Event


@dataclass(frozen=True)
class FrameGrid:
    """``n_frames`` frames every ``hop_s`` seconds, the first centred at ``offset_s``."""

    hop_s: float
    offset_s: float
    n_frames: int

    @classmethod
    def of(cls, cfg: FeatureConfig, n_frames: int) -> FrameGrid:
        """The grid of the front end ``cfg`` for ``n_frames`` frames."""
        offset = 0 if cfg.center else cfg.n_fft / 2
        return cls(cfg.hop_length / cfg.sample_rate, offset / cfg.sample_rate, int(n_frames))

    @classmethod
    def for_clip(cls, cfg: FeatureConfig, clip_seconds: float) -> FrameGrid:
        """The grid of a clip of ``clip_seconds`` (what the feature cache stores)."""
        return cls.of(cfg, cfg.n_frames(int(round(clip_seconds * cfg.sample_rate))))

    @property
    def centres(self) -> np.ndarray:
        """Centre time in seconds of each frame ``(T,)``."""
        return self.offset_s + np.arange(self.n_frames) * self.hop_s

    @property
    def edges(self) -> np.ndarray:
        """Edges ``(T + 1,)`` in seconds: frame ``t`` spans ``[edges[t], edges[t + 1])``, the first >= 0."""
        c = self.centres
        return np.append(c - self.hop_s / 2, c[-1] + self.hop_s / 2).clip(min=0.0)

    def median_width(self, seconds: float) -> int:
        """A median filter of ``seconds`` in frames: rounded, made odd, at least 1."""
        w = int(round(seconds / self.hop_s))
        return max(1, w + (w % 2 == 0))

    def frame_labels(self, events: list[Event], classes: list[str]) -> np.ndarray:
        """``(K, T)`` 0/1 reference activity of ``events``."""
        return frame_labels(events, classes, self.centres)


def frame_labels(events: list[Event], classes: list[str], times: np.ndarray) -> np.ndarray:
    """``(K, T)`` 0/1: a frame is active for a class when its centre (``times``) is in ``[onset, offset)``."""
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
