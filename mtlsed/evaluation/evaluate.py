"""Evaluate a run on a split: raw scores to disk, post-processing, metrics.json.

``mtlsed evaluate RUN_DIR DATA_DIR`` writes into the run directory, as one unit
(:meth:`mtlsed.runs.runfolder.RunFolder.write_evaluation`):

    scores_<split>.npz     clip and frame probabilities of every clip (raw, before post-processing)
    events_<split>.tsv     the detected events, in the strong.tsv format
    metrics_<split>.json   at_map, sed_map, er, d, i, s, f1, psds1, psds2 and what produced them

Evaluating one split never touches another split's files. ``metrics_<split>.json`` is strict
JSON: a metric that is undefined (F1 of a run that detects nothing) is ``null`` and
``undefined`` says why. It also counts the detected events (``n_detected``) and sets
``no_detections``: ER = 1 and I = 0 of a run that detects nothing are not good scores.
``run`` and ``data`` hold the fingerprints of the run and of the evaluated data set
(:mod:`mtlsed.runs.identity`), ``checkpoint_sha256`` the checkpoint scored, and ``post_processing`` the
settings used and where they were chosen (``val`` or ``config``, with the reason), so a grid reuses the
file only for the same run on the same data.

A split that shares audio with the clips the run learnt from or chose on (``clips.tsv``: a data set
re-imported with another split under the run) is refused with what changed (:func:`check_no_leak`).

Metrics can be recomputed from the scores file alone (:func:`metrics_from_scores`),
e.g. with other post-processing settings, without the model.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from mtlsed.config.settings import Config, EvalConfig
from mtlsed.core.atomic import write_json
from mtlsed.core.devices import pick_device
from mtlsed.core.errors import UserError
from mtlsed.core.events import Event
from mtlsed.data.format import read_dataset, require_valid
from mtlsed.evaluation.inference import load_run, predict
from mtlsed.evaluation.metrics import Scores, event_based, merge_overlaps, psds_scores
from mtlsed.evaluation.postprocess import detect_events
from mtlsed.evaluation.ranking import mean_average_precision, sed_map_and_classes
from mtlsed.features import labels
from mtlsed.features.dataset import SedDataset
from mtlsed.features.labels import FrameGrid
from mtlsed.runs.identity import evaluation_fingerprint
from mtlsed.runs.runfolder import RunFolder


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
    return Scores(dataset.filenames, classes, clip, frame, FrameGrid.of(cfg.features, frame.shape[-1]))


def metrics_from_scores(scores: Scores, data_dir: str | Path, cfg: EvalConfig, clip_seconds: float = 10.0):
    """All metrics of ``scores`` against the labels of ``data_dir``; returns (metrics, detected events)."""
    index = read_dataset(data_dir)
    clip_labels = labels.clip_labels(index.weak, scores.filenames, scores.classes)
    at, at_classes = mean_average_precision(clip_labels, scores.clip)
    # a class without a positive clip (or frame) in this split drops out of the mean: say how many stayed
    metrics: dict = {
        "n_clips": len(scores.filenames),
        "n_classes": len(scores.classes),
        "at_map": at,
        "at_map_classes": at_classes,
    }
    strong = [i for i, n in enumerate(scores.filenames) if index.has_strong(n)]
    events = {
        scores.filenames[i]: detect_events(scores.frame[i], scores.clip[i], scores.grid, scores.classes, cfg)
        for i in range(len(scores.filenames))
    }
    if strong:
        frame_labels = np.stack(
            [scores.grid.frame_labels(index.strong[scores.filenames[i]], scores.classes) for i in strong]
        )
        sed, sed_classes = sed_map_and_classes(frame_labels, scores.frame[strong])
        metrics["sed_map"], metrics["sed_map_classes"] = sed, sed_classes
        reference = {scores.filenames[i]: merge_overlaps(index.strong[scores.filenames[i]]) for i in strong}
        metrics.update(event_based(reference, events, scores.classes, cfg.t_collar, cfg.percentage_of_length))
        durations = dict.fromkeys(reference, clip_seconds)
        metrics.update(psds_scores(scores, reference, durations))
    metrics["n_strong_clips"] = len(strong)
    return metrics, events


def metrics_path(run_dir: str | Path, split: str = "test") -> Path:
    from mtlsed.runs.runfolder import RunFolder

    return RunFolder(run_dir).metrics_path(split)


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


# the splits a run learnt from or chose on that another split must not share audio with
LEARNT_FROM = {"val": ("train",), "test": ("train", "val")}


def check_no_leak(run: RunFolder, data_dir: Path, split: str) -> None:
    """Refuse to score ``split`` of ``data_dir`` when it shares audio with the clips the run learnt from
    (train) or chose its checkpoint and post-processing on (val), naming the clips and what changed."""
    from mtlsed.data.fingerprint import data_fingerprint
    from mtlsed.data.hashes import audio_hashes
    from mtlsed.runs.identity import differences

    if split not in LEARNT_FROM:
        return  # the train split itself may be scored
    learnt = run.clips()
    index = read_dataset(data_dir)
    hashes = audio_hashes(index.root, index.files_in(split), index.root / "audio")
    seen = {sha: (name, part) for part in LEARNT_FROM[split] for name, sha in learnt.get(part, {}).items()}
    shared = [(name, *seen[sha]) for name, sha in hashes.items() if sha in seen]
    if not shared:
        return
    parts = " and ".join(LEARNT_FROM[split])
    examples = ", ".join(
        f"{name} (= {part} clip {other})" if name != other else f"{name} ({part})"
        for name, other, part in shared[:3]
    )
    changed = differences(
        {"data": (run.identity() or {}).get("data", {})}, {"data": data_fingerprint(data_dir)}
    )
    why = (
        f"the data set changed since the run was trained ({'; '.join(changed)})"
        if changed
        else "these clips were in the run's own splits"
    )
    raise UserError(
        f"{data_dir}: the {split} split shares the audio of {len(shared)} clip(s) with the clips the run "
        f"{run.path} learnt from or chose on ({parts}): {examples}. Scores on them would not measure "
        f"what the run has not heard; {why}. Evaluate a split without them, or train again on this data set."
    )


def evaluate_run(
    run_dir: str | Path,
    data_dir: str | Path,
    split: str = "test",
    which: str = "best",
    extra: dict | None = None,
    tag: str = "",
) -> dict:
    """Score ``split`` with the run's ``which`` checkpoint; write scores, events and metrics_<split>.json.

    ``extra`` entries (e.g. the training time) go into the metrics file in the same atomic write. The run
    folder is locked meanwhile; a split that shares audio with the run's train (or val) clips is refused.
    ``tag`` names the files ``metrics_<split>-<tag>.json`` (a shifted copy of the data, say) so the clean
    evaluation's files stay as they are.
    """
    from mtlsed.runs.runfolder import RunFolder

    run, data_dir = RunFolder(run_dir), Path(data_dir)
    cfg = run.config()
    require_valid(data_dir, cfg.data.clip_seconds, cfg.features.win_ms / 1000)
    with run.writing("evaluate"):
        check_no_leak(run, data_dir, split)
        if cfg.eval.tune_on_val and split != "val":
            check_no_leak(run, data_dir, "val")
        return _evaluate_locked(run, data_dir, cfg, split, which, extra, tag)


def _evaluate_locked(
    run, data_dir: Path, cfg: Config, split: str, which: str, extra: dict | None, tag: str = ""
) -> dict:
    from mtlsed.data.fingerprint import data_fingerprint

    post, chosen_on, why = cfg.eval, "config", "eval.tune_on_val is off"
    if cfg.eval.tune_on_val and split != "val":
        from mtlsed.evaluation.postprocess import choose_on_validation

        val_scores = score_split(run.path, data_dir, "val", which)
        post, table = choose_on_validation(val_scores, data_dir, cfg.eval)
        if table:
            chosen_on, why = "val", f"lowest validation ER of {len(table)} settings"
            grid = [strict_json_metrics(row) for row in table]  # F1 of a setting that detects nothing: null
            chosen = {"chosen": dataclasses.asdict(post), "grid": grid}
            if not tag:
                write_json(run.file("post_processing_val.json"), chosen)
        else:
            why = "the validation split has no strong labels to choose on (import with --val-strong)"
    info = run.checkpoint_info(which)
    last = run.checkpoint_info("last")["iteration"] if run.has_checkpoint("last") else None
    scores = score_split(run.path, data_dir, split, which)
    metrics, events = metrics_from_scores(scores, data_dir, post, cfg.data.clip_seconds)
    rows = [[n, f"{a:.3f}", f"{b:.3f}", lab] for n, evs in events.items() for a, b, lab in evs]
    identity = run.identity() or {}
    metrics.update(
        {
            "n_detected": len(rows),
            "no_detections": not rows,
            "max_clip_probability": float(scores.clip.max()) if scores.clip.size else None,
            "split": split,
            **({"shift": tag} if tag else {}),
            "checkpoint": which,
            "checkpoint_sha256": info["sha256"],
            "checkpoint_iteration": info["iteration"],
            "trained_iterations": last,
            "data": str(data_dir.resolve()),
            "run_fingerprint": identity.get("digest"),
            "evaluation_code": evaluation_fingerprint(),  # scored by this code: a change re-scores the run
            "data_fingerprint": data_fingerprint(data_dir)["digest"],
            "post_processing": {
                "clip_threshold": post.clip_threshold,
                "frame_threshold": post.frame_threshold,
                "median_filter_s": post.median_filter_s,
                "chosen_on": chosen_on,
                "why": why,
            },
            **(extra or {}),
        }
    )
    name = f"{split}-{tag}" if tag else split
    return run.write_evaluation(name, scores, rows, strict_json_metrics(metrics))


__all__ = ["Event", "check_no_leak", "evaluate_run", "metrics_from_scores", "score_split"]


def evaluate_shifted(
    run_dir: str | Path,
    data_dir: str | Path,
    shifts: list[str],
    seed: int = 0,
    split: str = "test",
    which="best",
) -> dict[str, dict]:
    """The run on ``split`` as it is and through each channel of ``shifts`` (:mod:`mtlsed.data.shift`): the
    shifted copies of the split are made once beside the data (``DATA/shifted/NAME-seedS``) and each
    evaluation is written as ``metrics_<split>-NAME-seedS.json``. Returns ``{"clean": ..., NAME: ...}``;
    each shifted entry also says how many of its clips were scaled to avoid clipping (``scaled_clips``)."""
    from mtlsed.data.shift import scaled_clips, shifted_sets
    from mtlsed.runs.runfolder import RunFolder

    run = RunFolder(run_dir)
    out = {"clean": run.metrics(split) or evaluate_run(run_dir, data_dir, split, which)}
    for name, shifted in shifted_sets(Path(data_dir), shifts, seed, split).items():
        tag = f"{name}-seed{seed}"
        done = run.metrics(f"{split}-{tag}")
        if done is None or done.get("run_fingerprint") != (run.identity() or {}).get("digest"):
            done = evaluate_run(run_dir, shifted, split, which, tag=tag)
        out[name] = {**done, "scaled_clips": scaled_clips(shifted)}
    return out
