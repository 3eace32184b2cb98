"""Scores and the metrics of detected events (the threshold-free mAPs are :mod:`mtlsed.evaluation.ranking`,
turning probabilities into events :mod:`mtlsed.evaluation.postprocess`).

- Event-based ER, D, I, S and F1 with real ``sed_eval`` and the paper's collars
  (200 ms onset, 200 ms / 50 % offset).
- PSDS1 / PSDS2 with ``sed_scores_eval`` and DESED's settings.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mtlsed.core.errors import UserError
from mtlsed.core.events import Event
from mtlsed.features.labels import FrameGrid

PSDS1 = {"dtc_threshold": 0.7, "gtc_threshold": 0.7, "cttc_threshold": None, "alpha_ct": 0.0, "alpha_st": 1.0}
PSDS2 = {"dtc_threshold": 0.1, "gtc_threshold": 0.1, "cttc_threshold": 0.3, "alpha_ct": 0.5, "alpha_st": 1.0}
PSDS_SETTINGS = {"psds1": PSDS1, "psds2": PSDS2}


@dataclass
class Scores:
    """Raw model outputs for a set of clips, saved so tables can be recomputed without the model.

    clip ``(N, K)``, frame ``(N, K, T)``; ``grid`` (:class:`mtlsed.features.labels.FrameGrid`) places the
    frames in
    time: ``boundaries`` ``(T + 1,)`` are its edges in seconds, ``times`` ``(T,)`` its centres, which decide
    the frame labels. The saved file holds both arrays (for readers without mtlsed) and the grid.
    """

    filenames: list[str]
    classes: list[str]
    clip: np.ndarray
    frame: np.ndarray
    grid: FrameGrid

    @property
    def boundaries(self) -> np.ndarray:
        return self.grid.edges

    @property
    def times(self) -> np.ndarray:
        return self.grid.centres

    def save(self, path: str | Path) -> Path:
        from mtlsed.core.atomic import atomic_path

        with atomic_path(path, suffix=".npz") as tmp:
            np.savez_compressed(
                tmp,
                filenames=np.array(self.filenames),
                classes=np.array(self.classes),
                clip=self.clip,
                frame=self.frame,
                boundaries=self.boundaries,
                times=self.times,
                hop_s=self.grid.hop_s,
            )
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> Scores:
        """Read a scores file; a damaged one raises :class:`ValueError` naming it."""
        try:
            with np.load(path) as z:
                times = z["times"]
                grid = FrameGrid(float(z["hop_s"]), float(times[0]), len(times))
                return cls(list(z["filenames"]), list(z["classes"]), z["clip"], z["frame"], grid)
        except Exception as err:  # zipfile, numpy and OS errors of a truncated or garbled file
            raise UserError(f"{path}: damaged scores file ({err}); evaluate the run again") from None


def merge_overlaps(events: list[Event]) -> list[Event]:
    """Merge events of the same class that overlap or touch into one (as an annotator would).

    Mixed soundscapes can repeat a class over itself; sed_scores_eval refuses such
    references, and no detector could tell the two apart anyway.
    """
    out: list[Event] = []
    for label in dict.fromkeys(e.label for e in events):
        spans = sorted((e.onset, e.offset) for e in events if e.label == label)
        start, end = spans[0]
        for a, b in spans[1:]:
            if a <= end:
                end = max(end, b)
            else:
                out.append(Event(events[0].filename, start, end, label))
                start, end = a, b
        out.append(Event(events[0].filename, start, end, label))
    return sorted(out, key=lambda e: (e.onset, e.label))


# -- event-based metrics (sed_eval) -------------------------------------------------


def event_based(
    reference: dict[str, list[Event]],
    estimated: dict[str, list[tuple[float, float, str]]],
    classes: list[str],
    t_collar: float = 0.2,
    percentage_of_length: float = 0.5,
) -> dict[str, float]:
    """Overall event-based ER, D, I, S and F1 with sed_eval, file by file."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import dcase_util
        import sed_eval

    metric = sed_eval.sound_event.EventBasedMetrics(
        event_label_list=classes, t_collar=t_collar, percentage_of_length=percentage_of_length
    )
    for name, events in reference.items():
        ref = dcase_util.containers.MetaDataContainer(
            [{"filename": name, "onset": e.onset, "offset": e.offset, "event_label": e.label} for e in events]
        )
        est = dcase_util.containers.MetaDataContainer(
            [
                {"filename": name, "onset": a, "offset": b, "event_label": lab}
                for a, b, lab in estimated.get(name, [])
            ]
        )
        metric.evaluate(reference_event_list=ref, estimated_event_list=est)
    overall = metric.results_overall_metrics()
    er = overall["error_rate"]
    return {
        "er": float(er["error_rate"]),
        "d": float(er["deletion_rate"]),
        "i": float(er["insertion_rate"]),
        "s": float(er["substitution_rate"]),
        "f1": float(overall["f_measure"]["f_measure"]),
    }


# -- PSDS (sed_scores_eval) -----------------------------------------------------------


def _psds_inputs(scores: Scores, reference: dict[str, list[Event]]):
    """Score frames and ground truth in sed_scores_eval's format, for the classes that occur."""
    from sed_scores_eval.base_modules.scores import create_score_dataframe

    index = {f: i for i, f in enumerate(scores.filenames)}
    # PSDS is undefined for a class without reference events: such classes are left out (as for mAP).
    present = sorted({e.label for events in reference.values() for e in events}, key=scores.classes.index)
    cols = [scores.classes.index(c) for c in present]
    frames = {
        name: create_score_dataframe(scores.frame[index[name]][cols].T, scores.boundaries, present)
        for name in reference
    }
    truth = {name: [(e.onset, e.offset, e.label) for e in events] for name, events in reference.items()}
    return frames, truth, present


def _psds(inputs, durations: dict[str, float], settings: dict) -> tuple[float, dict[str, float]]:
    """PSDS and each class's ROC area under ``settings`` for inputs from :func:`_psds_inputs`."""
    from sed_scores_eval import intersection_based

    frames, truth, present = inputs
    if not present:
        return float("nan"), {}
    value, per_class, *_ = intersection_based.psds(
        scores=frames, ground_truth=truth, audio_durations=durations, max_efpr=100.0, **settings
    )
    return float(value), {c: float(per_class[c]) for c in present}


def psds_scores(
    scores: Scores, reference: dict[str, list[Event]], durations: dict[str, float]
) -> dict[str, float]:
    """PSDS1 and PSDS2 (DESED's settings, eFPR up to 100 per hour)."""
    inputs = _psds_inputs(scores, reference)
    return {key: _psds(inputs, durations, settings)[0] for key, settings in PSDS_SETTINGS.items()}


def psds_per_class(
    scores: Scores, reference: dict[str, list[Event]], durations: dict[str, float], scenario: str = "psds1"
) -> dict[str, float]:
    """Each class's own PSD-ROC area under ``scenario`` (``psds1`` or ``psds2``).

    PSDS averages the classes' true-positive rates and subtracts ``alpha_st`` (1 in
    DESED's scenarios) times their spread across classes, so a model that finds some
    classes and misses others can score 0 while single classes score high; this shows them.
    """
    if scenario not in PSDS_SETTINGS:
        raise ValueError(f"unknown PSDS scenario {scenario!r}; known: {sorted(PSDS_SETTINGS)}")
    return _psds(_psds_inputs(scores, reference), durations, PSDS_SETTINGS[scenario])[1]
