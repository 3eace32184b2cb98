"""A strongly labelled event: the one type of the labels, the frame grid, the detections and the metrics."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Event:
    """One strongly labelled event of a clip, times in seconds."""

    filename: str
    onset: float
    offset: float
    label: str
