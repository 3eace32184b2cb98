"""Evaluate a run on a split: raw scores to disk, post-processing, metrics.json.

``mtlsed evaluate RUN_DIR DATA_DIR`` writes into the run directory:

    scores_<split>.npz     clip and frame probabilities of every clip (raw, before post-processing)
    events_<split>.tsv     the detected events, in the strong.tsv format
    metrics_<split>.json   at_map, sed_map, er, d, i, s, f1, psds1, psds2 and what produced them

Evaluating one split never touches another split's files. ``metrics_<split>.json`` is strict
JSON: a metric that is undefined (F1 of a run that detects nothing) is ``null`` and
``undefined`` says why. It also counts the detected events (``n_detected``) and sets
``no_detections``: ER = 1 and I = 0 of a run that detects nothing are not good scores.
``run`` and ``data`` hold the fingerprints of the run and of the evaluated data set
(:mod:`mtlsed.identity`), so a grid reuses the file only for the same run on the same data.

Metrics can be recomputed from the scores file alone (:func:`metrics_from_scores`),
e.g. with other post-processing settings, without the model.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from mtlsed import labels
from mtlsed.config import Config, EvalConfig
from mtlsed.data.dataset import SedDataset
from mtlsed.data.format import Event, read_dataset, require_valid, write_tsv
from mtlsed.errors import UserError
from mtlsed.inference import load_run, pick_device, predict
from mtlsed.labels import frame_boundaries, frame_times
from mtlsed.metrics import (
    Scores,
    at_map,
    detect_events,
    event_based,
    merge_overlaps,
    psds_scores,
    sed_map,
)


def score_split(run_dir: Path, data_dir: Path, split: str = "test", which: str = "best") -> Scores:
    """Run the model of ``run_dir`` over a split and return its raw scores."""
    device = pick_device("auto")
    cfg, classes, model = load_run(run_dir, which, device)
    dataset = SedDataset(data_dir, cfg, split)
    if not len(dataset):
        raise UserError(f"{data_dir}: no clips in the {split!r} split ({data_dir / 'split.tsv'})")
    if dataset.classes != classes:
        raise UserError(f"{data_dir} has classes {dataset.classes}, the run was trained on {classes}")
    clip, frame = predict(model, dataset, device)
    n = frame.shape[-1]
    return Scores(
        dataset.filenames,
        classes,
        clip,
        frame,
        frame_boundaries(cfg.features, n),
        frame_times(cfg.features, n),
    )


def metrics_from_scores(scores: Scores, data_dir: str | Path, cfg: EvalConfig, clip_seconds: float = 10.0):
    """All metrics of ``scores`` against the labels of ``data_dir``; returns (metrics, detected events)."""
    index = read_dataset(data_dir)
    clip_labels = labels.clip_labels(index.weak, scores.filenames, scores.classes)
    metrics: dict = {"n_clips": len(scores.filenames), "at_map": at_map(clip_labels, scores.clip)}
    strong = [i for i, n in enumerate(scores.filenames) if index.has_strong(n)]
    events = {
        scores.filenames[i]: detect_events(
            scores.frame[i], scores.clip[i], scores.boundaries, scores.classes, cfg
        )
        for i in range(len(scores.filenames))
    }
    if strong:
        frame_labels = np.stack(
            [
                labels.frame_labels(index.strong[scores.filenames[i]], scores.classes, scores.times)
                for i in strong
            ]
        )
        metrics["sed_map"] = sed_map(frame_labels, scores.frame[strong])
        reference = {scores.filenames[i]: merge_overlaps(index.strong[scores.filenames[i]]) for i in strong}
        metrics.update(event_based(reference, events, scores.classes, cfg.t_collar, cfg.percentage_of_length))
        durations = dict.fromkeys(reference, clip_seconds)
        metrics.update(psds_scores(scores, reference, durations))
    metrics["n_strong_clips"] = len(strong)
    return metrics, events


def metrics_path(run_dir: str | Path, split: str = "test") -> Path:
    return Path(run_dir) / f"metrics_{split}.json"


def strict_json_metrics(metrics: dict) -> dict:
    """NaN and infinite values become ``None``, with the reason under ``undefined``."""
    out, undefined = {}, {}
    for key, value in metrics.items():
        if isinstance(value, float) and not np.isfinite(value):
            out[key] = None
            if key == "f1" and metrics.get("n_detected") == 0:
                undefined[key] = "no detections: precision is 0/0"
            elif key == "sed_map" or key.startswith("psds"):
                undefined[key] = "no strong labels in this split, or no class with a positive"
            else:
                undefined[key] = "not defined for these scores"
        else:
            out[key] = value
    if undefined:
        out["undefined"] = undefined
    return out


def evaluate_run(
    run_dir: str | Path,
    data_dir: str | Path,
    split: str = "test",
    which: str = "best",
    extra: dict | None = None,
) -> dict:
    """Score ``split`` with the run's ``which`` checkpoint, write scores, events and metrics_<split>.json.

    ``extra`` entries (e.g. the training time) go into the metrics file in the same atomic write.
    """
    from mtlsed.identity import data_fingerprint
    from mtlsed.train import read_identity, write_json

    run_dir, data_dir = Path(run_dir), Path(data_dir)
    cfg = Config.load(run_dir / "config.yaml")
    require_valid(data_dir, cfg.data.clip_seconds, cfg.features.win_ms / 1000)
    post = cfg.eval
    chosen_on = "config"
    if cfg.eval.tune_on_val and split != "val":
        from mtlsed.postprocess import choose_on_validation

        val_scores = score_split(run_dir, data_dir, "val", which)
        post, table = choose_on_validation(val_scores, data_dir, cfg.eval)
        if table:
            chosen_on = "val"
            grid = [strict_json_metrics(row) for row in table]  # F1 of a setting that detects nothing: null
            write_json(
                run_dir / "post_processing_val.json", {"chosen": dataclasses.asdict(post), "grid": grid}
            )
    scores = score_split(run_dir, data_dir, split, which)
    scores.save(run_dir / f"scores_{split}.npz")
    metrics, events = metrics_from_scores(scores, data_dir, post, cfg.data.clip_seconds)
    rows = [[n, f"{a:.3f}", f"{b:.3f}", lab] for n, evs in events.items() for a, b, lab in evs]
    write_tsv(run_dir / f"events_{split}.tsv", ["filename", "onset", "offset", "event_label"], rows)
    identity = read_identity(run_dir) or {}
    metrics.update(
        {
            "n_detected": len(rows),
            "no_detections": not rows,
            "max_clip_probability": float(scores.clip.max()) if scores.clip.size else None,
            "split": split,
            "checkpoint": which,
            "data": str(data_dir.resolve()),
            "run_fingerprint": identity.get("digest"),
            "data_fingerprint": data_fingerprint(data_dir)["digest"],
            "post_processing": {
                "clip_threshold": post.clip_threshold,
                "frame_threshold": post.frame_threshold,
                "median_filter_s": post.median_filter_s,
                "chosen_on": chosen_on,
            },
            **(extra or {}),
        }
    )
    metrics = strict_json_metrics(metrics)
    write_json(metrics_path(run_dir, split), metrics)
    return metrics


def format_metrics(metrics: dict) -> str:
    """One line: the main metrics (``n/a`` where undefined) and the detection count."""
    keys = ["at_map", "sed_map", "er", "d", "i", "f1", "psds1", "psds2"]
    cells = [f"{k} {metrics[k]:.3f}" if metrics[k] is not None else f"{k} n/a" for k in keys if k in metrics]
    flag = " (NO DETECTIONS)" if metrics["no_detections"] else ""
    cells.append(f"detected {metrics['n_detected']}{flag}")
    return "  ".join(cells)



__all__ = ["Event", "evaluate_run", "metrics_from_scores", "score_split"]
