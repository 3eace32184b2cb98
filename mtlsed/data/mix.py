"""Mixing sound events over backgrounds into labelled clips.

Two recipes, both fed by any event source and background source with a
``draw`` method (the embedded synthetic set or pools of real files):

``overlapped`` (the paper, Sec. 4.2, exactly)
    two events of *different* classes, each zero-padded (if shorter) or
    truncated (if longer) to a 4 s window; both windows start at 3 s of a 10 s
    clip; each event is scaled to 20 dB above the background.
``desed-like``
    0-4 events (10 % of the clips are empty), classes drawn with replacement
    (same-class repeats happen), natural durations, random onsets, SNR drawn
    uniformly from 6-30 dB, as in DESED's synthetic soundscapes.

**SNR** is ``20 log10(rms(event over its active part) / rms(background over the clip))``.

**Strong labels** come from the *active part* of each placed event, not from
its padded window: the frames (20 ms, 10 ms hop) whose energy is within
``ACTIVE_THRESHOLD_DB`` = 30 dB of the event's loudest frame; the event spans the
first to the last such frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from mtlsed.core.errors import UserError
from mtlsed.data.audio import fix_length

ACTIVE_THRESHOLD_DB = 30.0
ACTIVE_FRAME_S = 0.02
ACTIVE_HOP_S = 0.01
BACKGROUND_RMS = 0.01  # about -40 dBFS; events sit above it at their SNR
PEAK_LIMIT = 0.95  # mixtures louder than this are scaled down as a whole (SNRs unchanged)
OVERLAPPED_EVENTS = 2  # the paper's overlapped clips: two events of different classes

RECIPES = ("overlapped", "desed-like")


class EventSource(Protocol):
    classes: list[str]

    def draw(self, rng: np.random.Generator, label: str) -> np.ndarray: ...


class BackgroundSource(Protocol):
    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray: ...


@dataclass
class PlacedEvent:
    """An event as placed in a clip; ``onset``/``offset`` bound its active part (seconds)."""

    label: str
    onset: float
    offset: float
    snr_db: float
    audio: np.ndarray  # (S,) the scaled event alone, at clip length


@dataclass
class Mixture:
    """A mixed clip with its parts: ``audio = background + sum(event.audio)``."""

    audio: np.ndarray  # (S,)
    background: np.ndarray  # (S,)
    sr: int
    events: list[PlacedEvent] = field(default_factory=list)

    @property
    def labels(self) -> list[str]:
        return sorted({e.label for e in self.events})


def rms(y: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(y, dtype=np.float64)))) if len(y) else 0.0


def active_segment(y: np.ndarray, sr: int, threshold_db: float = ACTIVE_THRESHOLD_DB):
    """(start, end) in seconds of the part of ``y`` within ``threshold_db`` of its loudest frame.

    Returns None for a silent signal.
    """
    win, hop = int(ACTIVE_FRAME_S * sr), int(ACTIVE_HOP_S * sr)
    if len(y) < win:
        y = np.pad(y, (0, win - len(y)))
    n_frames = 1 + (len(y) - win) // hop
    idx = np.arange(win)[None, :] + hop * np.arange(n_frames)[:, None]
    energy = np.mean(np.square(y[idx], dtype=np.float64), axis=1)
    peak = energy.max()
    if peak <= 1e-20:
        return None
    active = np.flatnonzero(energy >= peak * 10 ** (-threshold_db / 10))
    start = active[0] * hop / sr
    end = min((active[-1] * hop + win) / sr, len(y) / sr)
    return start, end


def _place_event(
    wave: np.ndarray, start_s: float, n: int, sr: int, label: str, snr_db: float, bg_rms: float
) -> PlacedEvent | None:
    """Put ``wave`` at ``start_s`` in a clip of ``n`` samples, scaled to ``snr_db`` over ``bg_rms``."""
    start = int(round(start_s * sr))
    wave = wave[: max(0, n - start)]
    seg = active_segment(wave, sr)
    if seg is None:
        return None
    a, b = int(seg[0] * sr), max(int(seg[1] * sr), int(seg[0] * sr) + 1)
    gain = bg_rms * 10 ** (snr_db / 20) / (rms(wave[a:b]) + 1e-12)
    out = np.zeros(n, dtype=np.float32)
    out[start : start + len(wave)] = wave * gain
    return PlacedEvent(label, start / sr + seg[0], start / sr + seg[1], snr_db, out)


def _finish(background: np.ndarray, events: list[PlacedEvent], sr: int) -> Mixture:
    audio = background + sum((e.audio for e in events), np.zeros_like(background))
    peak = float(np.max(np.abs(audio)))
    if peak > PEAK_LIMIT:  # one common gain keeps every SNR as drawn
        g = PEAK_LIMIT / peak
        audio, background = audio * g, background * g
        for e in events:
            e.audio = e.audio * g
    return Mixture(audio.astype(np.float32), background.astype(np.float32), sr, events)


def mix_overlapped(
    rng: np.random.Generator,
    events: EventSource,
    backgrounds: BackgroundSource,
    sr: int,
    clip_seconds: float = 10.0,
    n_events: int = OVERLAPPED_EVENTS,
    window_s: float = 4.0,
    onset_s: float = 3.0,
    snr_db: float = 20.0,
) -> Mixture:
    """The paper's overlapped protocol: ``n_events`` different classes, windows at ``onset_s``."""
    if n_events > len(events.classes):
        raise UserError(f"{n_events} different classes asked for, the source has {len(events.classes)}")
    n = int(round(clip_seconds * sr))
    background = backgrounds.draw(rng, n) * BACKGROUND_RMS
    bg_rms = rms(background)
    labels = rng.choice(events.classes, size=n_events, replace=False)
    placed = []
    for label in labels:
        wave = fix_length(events.draw(rng, str(label)), int(round(window_s * sr)))
        ev = _place_event(wave, onset_s, n, sr, str(label), snr_db, bg_rms)
        if ev is not None:
            placed.append(ev)
    return _finish(background, placed, sr)


def mix_desed_like(
    rng: np.random.Generator,
    events: EventSource,
    backgrounds: BackgroundSource,
    sr: int,
    clip_seconds: float = 10.0,
    max_events: int = 4,
    p_empty: float = 0.1,
    snr_range: tuple[float, float] = (6.0, 30.0),
) -> Mixture:
    """DESED-like soundscapes: 0..max_events events, random onsets, durations and SNRs."""
    n = int(round(clip_seconds * sr))
    background = backgrounds.draw(rng, n) * BACKGROUND_RMS
    bg_rms = rms(background)
    k = 0 if rng.random() < p_empty else int(rng.integers(1, max_events + 1))
    placed = []
    for _ in range(k):
        label = str(rng.choice(events.classes))
        wave = events.draw(rng, label)[:n]
        onset = rng.uniform(0, clip_seconds - len(wave) / sr) if len(wave) < n else 0.0
        ev = _place_event(wave, onset, n, sr, label, float(rng.uniform(*snr_range)), bg_rms)
        if ev is not None:
            placed.append(ev)
    return _finish(background, placed, sr)


def mix(recipe: str, rng, events, backgrounds, sr: int, clip_seconds: float = 10.0) -> Mixture:
    """Dispatch to a recipe by name (``overlapped`` or ``desed-like``)."""
    if recipe == "overlapped":
        return mix_overlapped(rng, events, backgrounds, sr, clip_seconds)
    if recipe == "desed-like":
        return mix_desed_like(rng, events, backgrounds, sr, clip_seconds)
    raise ValueError(f"unknown recipe {recipe!r}; expected one of {RECIPES}")
