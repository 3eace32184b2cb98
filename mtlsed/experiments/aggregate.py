"""From the runs of a grid to the rows of a table: mean and spread over seeds beside the paper's value, where
the post-processing came from, and each row's paired differences from BCE alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mtlsed.core.vocabulary import METRICS
from mtlsed.experiments.paper import paper_row
from mtlsed.experiments.rows import BASELINE, DDC_FAP, Row
from mtlsed.runs.runfolder import RunFolder


def aggregate(rows: list[Row], results: dict[str, list[dict]]) -> list[dict]:
    """Mean and std over seeds per row and metric, with the paper's value."""
    out = []
    for row in rows:
        runs = results.get(row.key, [])
        entry = {
            "table": row.table,
            "row": row.key,
            "method": row.method,
            "loss": row.loss,
            "selection": row.selection,
            "topk": row.topk or "",
            "setting": row.note,
            "n_seeds": len(runs),
        }
        entry.update(post_processing_source(runs))
        paper = paper_row(row) or {}
        # a run that detects nothing has ER 1, D 1, I 0: numbers that must not read as good ones
        entry["no_detection_seeds"] = sum(bool(r.get("no_detections")) for r in runs)
        detected = [r["n_detected"] for r in runs if r.get("n_detected") is not None]
        entry["n_detected_mean"] = float(np.mean(detected)) if detected else float("nan")
        for m in METRICS:
            values = np.array([r[m] for r in runs if r.get(m) is not None and r[m] == r[m]], dtype=float)
            entry[f"{m}_mean"] = float(values.mean()) if len(values) else float("nan")
            entry[f"{m}_std"] = float(values.std(ddof=1)) if len(values) > 1 else float("nan")
            entry[f"{m}_n"] = len(values)  # seeds where the metric is defined (F1 needs a detection)
            entry[f"{m}_paper"] = paper.get(m, float("nan"))
        out.append(entry)
    return out


def post_processing_source(runs: list[dict]) -> dict[str, str]:
    """Where a row's post-processing came from over its seeds: ``post_processing`` is ``val``, ``config`` or
    ``val n/N``; ``post_processing_why`` the reasons the runs give for using the config's settings."""
    settings = [r.get("post_processing", {}) for r in runs]
    n_val = sum(s.get("chosen_on") == "val" for s in settings)
    source = "config" if not n_val else ("val" if n_val == len(settings) else f"val {n_val}/{len(settings)}")
    why = sorted({s.get("why", "") for s in settings if s.get("chosen_on") != "val"} - {""})
    return {"post_processing": source, "post_processing_why": "; ".join(why)}


def compare_with_bce(rows: list[Row], by_seed: dict[str, dict[int, dict]]) -> dict[str, list[dict]]:
    """Paired differences (:mod:`mtlsed.experiments.comparison`) of every DDC-FAP MTL row against the BCE
    row."""
    from mtlsed.experiments.comparison import paired_difference

    if BASELINE not in by_seed:
        return {}
    return {
        row.key: [paired_difference(by_seed[BASELINE], by_seed[row.key], m) for m in METRICS]
        for row in rows
        if row.key != BASELINE and row.method.endswith(DDC_FAP) and row.key in by_seed
    }


def per_seed_metrics(grid: Path, rows: list[str], metrics=("i", "d", "er")):
    """One line per (row, seed) of a finished grid with the chosen metrics from its metrics_test.json.

    Every seed a row has is read (the paired rows have more seeds than the others).
    """
    import pandas as pd

    lines = []
    for key in rows:
        for run in sorted((grid / key).glob("seed*"), key=lambda p: int(p.name[4:])):
            m = RunFolder(run).require_metrics("test")
            values = {name.upper(): m[name] for name in metrics}
            lines.append({"row": key, "seed": int(run.name[4:]), **values})
    return pd.DataFrame(lines)
