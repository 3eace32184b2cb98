"""The experiment grids of the paper's Table 1 and Table 2, over seeds, beside the paper's numbers.

``mtlsed reproduce --table 1 --profile NAME`` trains and evaluates every row of
a table for every seed of the profile, in ``runs/NAME/tableN-KEY/ROW/seedS``,
where ``KEY`` is the fingerprint of the profile's config, the data set's content
and the code (:func:`grid_key`). A run whose ``metrics_test.json`` carries the
fingerprint of now is finished and is kept when the grid is run again; a run
killed mid-way resumes from its last checkpoint; runs train ``--jobs`` at a time. The tables
(``tableN.csv`` and ``tableN.md``) give the mean and standard deviation over
seeds of each metric next to the paper's value.

Without ``--data``, the embedded synthetic set of the profile's size is mixed
first (the ``overlapped`` recipe for Table 1, ``desed-like`` for Table 2).
"""

from __future__ import annotations

import csv
import multiprocessing
import os
import time
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

import numpy as np

from mtlsed.atomic import write_json, write_text
from mtlsed.comparison import EVENT_METRICS, LOWER_IS_BETTER  # noqa: F401 - part of this module's API
from mtlsed.config import Config
from mtlsed.data.format import read_classes, read_dataset
from mtlsed.envinfo import environment, hardware_line
from mtlsed.errors import UserError
from mtlsed.procs import die_with_parent, stop_workers
from mtlsed.profiles import Profile, load_profile
from mtlsed.runfolder import RunFolder, is_finished
from mtlsed.runinfo import format_metrics
from mtlsed.tables import (  # noqa: F401 - part of this module's API
    METRICS,
    markdown_table,
    markdown_weights,
    write_comparisons,
    write_tables,
)

PAPER_METRICS = ["at_map", "sed_map", "er", "d", "i"]


@dataclass
class Row:
    """One row of a table: a model and a loss setting."""

    table: int
    key: str  # folder name
    method: str  # as in the paper's table
    loss: str  # bce, segment, segment+silent
    selection: str = ""  # label-guided, self-supervised
    topk: int | None = None
    overrides: dict = field(default_factory=dict)
    # trained with the profile's ``seeds`` (the others with its ``seeds_other_rows``): Table 1's BCE row
    # and its MTL row with the weights chosen on validation (the paper's 0.2 / 0.2 without a weight grid)
    paired: bool = False
    note: str = ""  # said after the row's name (e.g. the weights chosen on validation)

    @property
    def label(self) -> str:
        parts = [self.method, self.loss]
        if self.selection:
            parts.append(self.selection + (f" top{self.topk}" if self.topk else ""))
        return " / ".join(parts) + (f" ({self.note})" if self.note else "")


def _mtl(loss: str, selection: str, topk: int | None = None) -> dict:
    return {
        "loss.segment_weight": 0.2,
        "loss.silent_weight": 0.2 if loss == "segment+silent" else 0.0,
        "loss.selection": "label" if selection == "label-guided" else "topk",
        **({"loss.topk": topk} if topk else {}),
    }


BCE_ONLY = {"loss.segment_weight": 0.0, "loss.silent_weight": 0.0}


def table_rows(table: int) -> list[Row]:
    if table == 1:
        rows = [
            Row(1, "ddc_fap", "DDC-FAP", "bce", overrides={"model.name": "ddc_fap", **BCE_ONLY}, paired=True)
        ]
        for loss in ("segment", "segment+silent"):
            tag = loss.replace("+", "_")
            rows.append(
                Row(
                    1,
                    f"{tag}-label",
                    "DDC-FAP",
                    loss,
                    "label-guided",
                    overrides={"model.name": "ddc_fap", **_mtl(loss, "label-guided")},
                    paired=False,  # compared with every seed only without a weight grid (reproduce)
                )
            )
            for k in (2, 3, 5):
                rows.append(
                    Row(
                        1,
                        f"{tag}-top{k}",
                        "DDC-FAP",
                        loss,
                        "self-supervised",
                        k,
                        overrides={"model.name": "ddc_fap", **_mtl(loss, "self-supervised", k)},
                    )
                )
        return rows
    if table == 2:
        rows = [
            Row(2, name, method, "bce", overrides={"model.name": name, **BCE_ONLY})
            for name, method in (
                ("attention", "Attention"),
                ("talnet", "TALNet"),
                ("vgg_gwrp", "VGG-GWRP"),
                ("ddc_fap", "DDC-FAP"),
            )
        ]
        rows.append(
            Row(
                2,
                "mtl_ddc_fap",
                "MTL-DDC-FAP",
                "segment+silent",
                "label-guided",
                overrides={"model.name": "ddc_fap", **_mtl("segment+silent", "label-guided")},
            )
        )
        return rows
    if table == 3:  # beyond the paper: the chosen-weight rows (mtlsed.table3)
        from mtlsed.table3 import CONSTRAINTS, bce_row, constraint_row

        return [bce_row()] + [constraint_row(k, 0.0, chosen=True) for k in CONSTRAINTS]
    raise UserError(
        f"tables 1 and 2 are the paper's and 3 compares mask constraints; there is no table {table}"
    )


TUNED = "segment_silent-label-val"  # Table 1's MTL row with the weights chosen on validation
FIXED = "segment_silent-label"  # ... and with the paper's fixed 0.2 / 0.2
PAPER_WEIGHTS = [0.2, 0.2]


def weight_row(weights: list[float], key: str | None = None, note: str = "") -> Row:
    """Label-guided segment + silent DDC-FAP with the auxiliary weights ``[lambda2, lambda3]``."""
    seg, sil = weights
    return Row(
        1,
        key or f"weights/segment{seg:g}-silent{sil:g}",
        "DDC-FAP",
        "segment+silent",
        "label-guided",
        overrides={
            "model.name": "ddc_fap",
            **_mtl("segment+silent", "label-guided"),
            "loss.segment_weight": float(seg),
            "loss.silent_weight": float(sil),
        },
        paired=key == TUNED,
        note=note,
    )


def tuned_row(weights: list[float]) -> Row:
    return weight_row(weights, TUNED, f"λ2 {weights[0]:g}, λ3 {weights[1]:g} chosen on val")


def validation_score(run_dir: Path, data_dir: Path) -> tuple[str, float]:
    """The metric the weight grid is chosen by, on the validation split: SED-mAP where the validation
    clips have strong labels, else AT-mAP (the paper's validation clips are weakly labelled).

    ``metrics_val.json`` is written once per run and read back while its fingerprint is the run's."""
    from mtlsed.evaluate import evaluate_run

    run = RunFolder(run_dir)
    identity = run.identity() or {}
    metrics = run.metrics("val") or {}
    if metrics.get("run_fingerprint") != identity.get("digest"):
        metrics = evaluate_run(run_dir, data_dir, split="val")
    if metrics.get("sed_map") is not None:
        return "sed_map", float(metrics["sed_map"])
    return "at_map", float(metrics["at_map"])


def choose_weights(grid: list[list[float]], run_dirs: list[Path], data_dir: Path) -> dict:
    """The rule for the auxiliary weights (issue #12): train each pair of the profile's ``weight_grid``
    with the first seed, score the validation split (:func:`validation_score`), keep the highest; a
    tie goes to the paper's 0.2 / 0.2, then to the first pair in the grid. The test split plays no part.
    """
    scored = []
    for weights, run_dir in zip(grid, run_dirs, strict=True):
        metric, value = validation_score(run_dir, data_dir)
        scored.append(
            {"segment_weight": weights[0], "silent_weight": weights[1], "metric": metric, "val": value}
        )
    order = sorted(
        range(len(scored)),
        key=lambda i: (-scored[i]["val"], grid[i] != PAPER_WEIGHTS, i),
    )
    best = scored[order[0]]
    chosen = [best["segment_weight"], best["silent_weight"]]
    return {"chosen": chosen, "metric": best["metric"], "grid": scored}


def paper_numbers() -> list[dict]:
    """The paper's Table 1 and 2 (``tables.csv``)."""
    text = files("mtlsed").joinpath("paper_tables.csv").read_text()
    return list(csv.DictReader(text.splitlines()))


def paper_row(row: Row) -> dict | None:
    for p in paper_numbers():
        if (
            int(p["table"]) == row.table
            and p["method"] == row.method
            and p["loss"] == row.loss
            and p["selection"] == row.selection
            and (p["topk"] or None) == (str(row.topk) if row.topk else None)
        ):
            return {m: float(p[m]) for m in PAPER_METRICS}
    return None


def default_data_dir(profile: Profile, table: int, root: Path) -> Path:
    recipe = "desed-like" if table == 2 else "overlapped"
    sr = profile.config().features.sample_rate
    return root / f"{recipe}-{profile.params['n_clips']}clips-{sr}hz-seed{profile.params.get('data_seed', 0)}"


def ensure_data(profile: Profile, table: int, root: Path) -> Path:
    """Mix (or finish mixing) the embedded set a profile asks for."""
    from mtlsed.data.build import BuildSpec, build_dataset

    out = default_data_dir(profile, table, root)
    if not (out / "weak.tsv").is_file():
        recipe = "desed-like" if table == 2 else "overlapped"
        spec = BuildSpec(
            recipe,
            profile.params["n_clips"],
            profile.params.get("data_seed", 0),
            profile.config().features.sample_rate,
        )
        build_dataset(out, spec)
    return out


def data_for(
    profile: Profile | None, table: int = 1, data: str | Path | None = None, root: Path | None = None
) -> Path:
    """The data step of every command and notebook: the user's data set, else the profile's embedded one.

    ``data`` (a dataset folder, e.g. made by ``mtlsed import``) is checked to exist and returned
    resolved; without it, the embedded set the profile asks for is mixed into ``root/data`` on first
    use (Table 1: the overlapped recipe, Table 2: the DESED-like one) and reused after.
    """
    if data is not None:
        data = Path(data).expanduser()
        if not data.is_dir():
            raise UserError(f"{data}: dataset folder not found")
        if not (data / "weak.tsv").is_file():
            raise UserError(
                f"{data}: not a dataset folder (no weak.tsv); make one with `mtlsed import SRC {data}`"
            )
        return data.resolve()
    if profile is None:
        raise UserError("give the data set (--data DIR): there is no profile to take an embedded set from")
    return ensure_data(profile, table, Path(root or Path.cwd()) / "data")


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


def train_and_evaluate(cfg: Config, data_dir: Path, run_dir: Path) -> dict:
    """Train ``cfg`` into ``run_dir`` (resuming a started run), then evaluate it on the test split.

    ``metrics_test.json`` also holds the training time of this call (seconds) and the environment;
    it is written last and atomically, so its presence (with the run's fingerprint) marks a
    finished run.
    """
    from mtlsed.evaluate import evaluate_run
    from mtlsed.train import train

    start = time.perf_counter()
    train(data_dir, cfg, run_dir, resume=True, progress=False)
    train_s = time.perf_counter() - start
    return evaluate_run(
        run_dir, data_dir, extra={"train_seconds": round(train_s, 1), "environment": environment()}
    )


def run_one(
    row: Row, seed: int, cfg: Config, data_dir: Path, run_dir: Path, data_fp: dict
) -> tuple[dict, str]:
    """Train and evaluate one (row, seed); a finished run is read back, a started one resumed.

    A finished run is reused only when its fingerprint (config, data content, code) is the one of
    now; a run folder that holds another run is refused with what differs. Returns the test metrics
    and a line saying what happened.
    """
    from mtlsed.identity import differences, run_fingerprint

    cfg = cfg.with_overrides({**row.overrides, "train.seed": seed})
    expected = run_fingerprint(cfg.to_dict(), data_fp)
    saved = RunFolder(run_dir).identity()
    if saved is not None and saved["digest"] != expected["digest"]:
        raise UserError(
            f"{run_dir} holds a run of other settings ({'; '.join(differences(saved, expected))}); "
            "choose another --out, or leave --out out to keep each setting's runs apart"
        )
    done = is_finished(run_dir, data_fp, expected["digest"])
    if done is not None:
        return done, f"  {row.key} seed {seed}: done earlier, kept"
    metrics = train_and_evaluate(cfg, data_dir, run_dir)
    line = f"  {row.key} seed {seed}: {format_metrics(metrics)}  ({metrics['train_seconds']:.0f} s)"
    return metrics, line


def default_jobs() -> int:
    """Runs trained at once by a grid: one per CPU core (each on one thread); one on a GPU."""
    import torch

    if torch.cuda.is_available():
        return 1
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def run_all(tasks: list[tuple], jobs: int, log=print) -> list[dict]:
    """``run_one(*task)`` for every task, ``jobs`` at a time in worker processes; metrics in task order.

    Each run is deterministic on its own (one thread, its own seed), so the results do not depend on
    ``jobs``; a run that finished is on disk before the next starts, so an interrupted grid loses nothing.
    """
    if jobs <= 1 or len(tasks) <= 1:
        out = []
        for task in tasks:
            metrics, line = run_one(*task)
            log(line)
            out.append(metrics)
        return out
    from concurrent.futures import ProcessPoolExecutor, as_completed

    results: dict[int, dict] = {}
    ctx = multiprocessing.get_context("spawn")  # no fork of a process that holds torch threads
    pool = ProcessPoolExecutor(min(jobs, len(tasks)), mp_context=ctx, initializer=die_with_parent)
    try:
        futures = {pool.submit(run_one, *task): i for i, task in enumerate(tasks)}
        for future in as_completed(futures):
            metrics, line = future.result()
            log(line)
            results[futures[future]] = metrics
    except BaseException:  # Ctrl-C or a failed run: stop the others now, never wait for their runs
        stop_workers(pool)  # a run stopped mid-way resumes from its last checkpoint next time
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return [results[i] for i in range(len(tasks))]


def _run_digest(task: tuple) -> str:
    from mtlsed.identity import run_fingerprint

    row, seed, cfg, data, _, data_fp = task
    full = cfg.with_overrides({**row.overrides, "train.seed": seed})
    return run_fingerprint(full.to_dict(), data_fp)["digest"]


def run_grid(tasks: list[tuple], jobs: int, log=print, known: dict | None = None) -> list[dict]:
    """:func:`run_all` with each distinct run trained once.

    A task whose run (config, seed, data) is another task's, or is in ``known`` (run digest ->
    ``(run_dir, metrics)``, filled in here), gets a link to that run's folder and its metrics: the
    weight grid's 0.2 / 0.2 pair is the fixed MTL row's first seed, and the tuned row is the fixed
    row when validation chooses 0.2 / 0.2.
    """
    known = {} if known is None else known
    digests = [_run_digest(t) for t in tasks]
    todo: dict[str, int] = {}
    for i, d in enumerate(digests):
        own = tasks[i][4]
        # a folder that already holds a run goes through run_one: kept when it is this run, refused if not
        occupied = RunFolder(own).file("identity.json").is_file() and not own.is_symlink()
        if d not in known or (occupied and known[d][0] != own):
            todo.setdefault(d, i)
    for d, metrics in zip(todo, run_all([tasks[i] for i in todo.values()], jobs, log), strict=True):
        known[d] = (tasks[todo[d]][4], metrics)
    out = []
    for task, d in zip(tasks, digests, strict=True):
        target, metrics = known[d]
        link = task[4]
        if link != target and not link.exists() and not link.is_symlink():
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(os.path.relpath(target, link.parent), target_is_directory=True)
            log(f"  {task[0].key} seed {task[1]}: the same run as {target.relative_to(target.parents[2])}")
        out.append(metrics)
    return out


def _point(link: Path, target: Path) -> None:
    """Make ``link`` a relative symbolic link to the run folder ``target`` (replacing a link elsewhere)."""
    relative = os.path.relpath(target, link.parent)
    if link.is_symlink():
        if os.readlink(link) == relative:
            return
        link.unlink()
    elif link.exists():
        raise UserError(f"{link} is a folder where mtlsed keeps a link to a run; move it away and run again")
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(relative, target_is_directory=True)


def finished_runs(runs_root: Path, skip: Path) -> dict[str, tuple[Path, dict]]:
    """The finished runs of every grid under ``runs_root`` (``PROFILE/tableN-KEY``) but ``skip``, by digest.

    A run is identified by its config, seed, data and code, not by the table or profile that made it: Table
    2's DDC-FAP and MTL-DDC-FAP rows are Table 1's BCE and label-guided MTL rows on the same data, Table 3's
    BCE row is Table 1's, and two profiles with the same settings share their runs; each is trained once. A
    run counts only when it is finished (:func:`mtlsed.runfolder.is_finished`).
    """
    found: dict[str, tuple[Path, dict]] = {}
    for path in sorted(runs_root.glob("*/table*-*/**/seed*/metrics_test.json")):
        run = path.parent
        if skip in run.parents or any(p.is_symlink() for p in (run, *run.parents) if runs_root in p.parents):
            continue
        metrics = is_finished(run)
        if metrics is not None:
            found.setdefault(metrics["run_fingerprint"], (run, metrics))
    return found


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


BASELINE = "ddc_fap"  # the BCE-only DDC-FAP row of both tables


def compare_with_bce(rows: list[Row], by_seed: dict[str, dict[int, dict]]) -> dict[str, list[dict]]:
    """Paired differences (:mod:`mtlsed.comparison`) of every DDC-FAP MTL row against the BCE row."""
    from mtlsed.comparison import paired_difference

    if BASELINE not in by_seed:
        return {}
    return {
        row.key: [paired_difference(by_seed[BASELINE], by_seed[row.key], m) for m in METRICS]
        for row in rows
        if row.key != BASELINE and row.method.endswith("DDC-FAP") and row.key in by_seed
    }


def grid_key(cfg: Config, data_fp: dict) -> str:
    """The fingerprint shared by every run of a grid: the profile's config, the data and the code."""
    from mtlsed.identity import code_fingerprint, digest

    config = cfg.to_dict()
    return digest({"config": config, "data": data_fp["digest"], "code": code_fingerprint()})[:8]


def grid_dir(profile_name: str, table: int, root: Path | None = None, key: str = "") -> Path:
    """Where ``reproduce`` keeps the runs and tables of a table under a profile: ``runs/PROFILE/tableN-KEY``.

    ``KEY`` is :func:`grid_key`: another data set, another override or another version of the code
    trains into a folder of its own, and the runs of the old setting stay where they were.
    """
    return (
        Path(root or Path.cwd()) / "runs" / profile_name / (f"table{table}-{key}" if key else f"table{table}")
    )


@dataclass
class TableResult:
    """What :func:`reproduce` made: one aggregated entry per row, where the runs are, on which data."""

    entries: list[dict]
    grid: Path
    data: Path
    profile: Profile
    comparisons: dict[str, list[dict]] = field(default_factory=dict)  # row key -> paired differences
    weights: dict | None = None  # the weight grid scored on validation and the pair chosen (Table 1)


def reproduce(
    table: int,
    profile: str | Path | Profile,
    data_dir: Path | None = None,
    out: Path | None = None,
    embedded_dir: Path | None = None,
    rows: list[str] | None = None,
    log=print,
    root: Path | None = None,
    jobs: int | None = None,
) -> TableResult:
    """Run (or finish) the grid of a table under a profile and write its tables.

    ``profile`` is a profile name, a profile file, or a :class:`Profile` (the notebooks pass the one
    their papermill parameters make). ``root`` (default: the working folder) holds ``runs/`` and
    ``data/``; ``jobs`` runs train at once (default :func:`default_jobs`).
    """
    from mtlsed.identity import data_fingerprint

    profile = profile if isinstance(profile, Profile) else load_profile(profile)
    root = Path(root or Path.cwd())
    selected = table_rows(table)
    if rows:
        unknown = set(rows) - {r.key for r in selected} - ({TUNED} if table == 1 else set())
        if unknown:
            raise UserError(
                f"unknown row(s) {sorted(unknown)}; table {table} has {[r.key for r in selected]}"
            )
        selected = [r for r in selected if r.key in rows]
    if data_dir:
        data = data_for(profile, table, data_dir)
    else:
        data = ensure_data(profile, table, Path(embedded_dir or root / "data"))
    classes = read_classes(data / "classes.txt")
    # a top-k row needs at least k classes: on a smaller set it is skipped, said in the log and the table
    skipped = [r for r in selected if (r.topk or 0) > len(classes)]
    selected = [r for r in selected if r not in skipped]
    skip_note = (
        f"Skipped: {', '.join(r.key for r in skipped)} (top-k selection needs at least k classes; "
        f"this data set has {len(classes)}). "
        if skipped
        else ""
    )
    if skipped:
        log(f"table {table}: {skip_note.strip()}")
    data_fp = data_fingerprint(data)
    cfg = profile.config()
    out = Path(out or grid_dir(profile.name, table, root, grid_key(cfg, data_fp)))
    seeds, other_seeds = profile.params["seeds"], profile.params["seeds_other_rows"]
    weight_grid = profile.params["weight_grid"] if table == 1 and (not rows or TUNED in rows) else []
    if table == 3:
        weight_grid = []
        other_seeds = profile.params.get("seeds_table3") or seeds
    log(
        f"table {table}, profile {profile.name}: seeds {seeds} for the paired rows, {other_seeds} for the "
        "others" + (f"; weights {weight_grid} tried on val with seed {seeds[0]}" if weight_grid else "")
    )
    log(f"table {table}, profile {profile.name}: {len(selected)} rows on {data} -> {out}")
    known = finished_runs(root / "runs", out)  # runs other grids made on the same data (any profile)
    if table == 3:
        from mtlsed import table3

        selected, tasks, metrics, choice = table3.runs(
            profile, cfg, data, data_fp, out, jobs or default_jobs(), log, known, rows
        )
        return _tables(
            table, profile, data, data_dir, classes, out, selected, tasks, metrics, choice, "", log
        )

    def paired(row: Row) -> bool:
        return row.paired or (row.key == FIXED and not weight_grid)

    def tasks_of(row_list: list[Row], only: list[int] | None = None) -> list[tuple]:
        return [
            (row, seed, cfg, data, out / row.key / f"seed{seed}", data_fp)
            for row in row_list
            for seed in (only if only is not None else (seeds if paired(row) else other_seeds))
        ]

    grid_rows = [weight_row(w) for w in weight_grid]
    grid_tasks = tasks_of(grid_rows, seeds[:1])
    tasks = tasks_of([r for r in selected if r.key != TUNED])
    metrics = run_grid(tasks + grid_tasks, jobs or default_jobs(), log, known)[: len(tasks)]
    choice = None
    if weight_grid:
        choice = choose_weights(weight_grid, [t[4] for t in grid_tasks], data)
        write_json(out / "weights_val.json", choice)
        log(f"weights chosen on val ({choice['metric']}): {choice['chosen']}")
        tuned = tuned_row(choice["chosen"])
        selected = [r for r in selected if r.key != TUNED] + [tuned]
        # the tuned row's runs live with their weights' grid runs; its folder links to them, so another
        # choice (a longer weight grid, say) links elsewhere and never meets a run of other weights
        home = out / weight_row(choice["chosen"]).key
        tuned_tasks = [(t[0], t[1], *t[2:4], home / f"seed{t[1]}", t[5]) for t in tasks_of([tuned])]
        fixed = [r for r in selected if r.key == FIXED]
        if choice["chosen"] == PAPER_WEIGHTS and fixed:
            # the tuned row is the paper's row: its seeds are the fixed row's too, at no cost
            have = {t[1] for t in tasks if t[0].key == FIXED}
            tuned_tasks += tasks_of(fixed, [s for s in seeds if s not in have])
        tasks = tasks + tuned_tasks
        metrics += run_grid(tuned_tasks, jobs or default_jobs(), log, known)
        for _, seed, *_rest in tasks_of([tuned]):
            _point(out / TUNED / f"seed{seed}", home / f"seed{seed}")
    else:
        selected = [r for r in selected if r.key != TUNED]
    return _tables(
        table, profile, data, data_dir, classes, out, selected, tasks, metrics, choice, skip_note, log
    )


def _tables(table, profile, data, data_dir, classes, out, selected, tasks, metrics, choice, skip_note, log):
    """Aggregate a table's runs and write its tables (CSV, Markdown, the paired comparisons, the choices)."""
    seeds, other_seeds = profile.params["seeds"], profile.params["seeds_other_rows"]
    if table == 3:
        other_seeds = profile.params.get("seeds_table3") or seeds
    results: dict[str, list[dict]] = {}
    by_seed: dict[str, dict[int, dict]] = {}
    for (row, seed, *_), m in zip(tasks, metrics, strict=True):
        results.setdefault(row.key, []).append(m)
        by_seed.setdefault(row.key, {})[seed] = m
    entries = aggregate(selected, results)
    comparisons = compare_with_bce(selected, by_seed)
    env = next(iter(results.values()))[0].get("environment", environment())
    n_clips = len(read_dataset(data).filenames)
    what = f"the user's data set {data.name}" if data_dir else f"the embedded synthetic set {data.name}"
    header = (
        f"Table {table} reproduced with profile `{profile.name}` ({profile.params['description']}) "
        f"on {what} ({n_clips} clips, {len(classes)} classes: {', '.join(classes)}); "
        f"seeds {seeds} (paired rows), {other_seeds} (other rows); "
        f"hardware: {hardware_line(env)}; torch {env['torch']}. "
        "Cells: our mean ± std over seeds (the paper's value). " + skip_note
    ).strip()
    csv_path, md_path = write_tables(entries, out, table, header)
    if comparisons:
        write_comparisons(comparisons, out, table, header, {r.key: r.label for r in selected})
    if choice and table == 1:
        write_text(out / "weights_val.md", markdown_weights(choice) + "\n")
    if table == 3:
        from mtlsed.table3 import markdown_choices, markdown_cost, step_cost

        write_json(out / "weights_val.json", choice)
        labels = {r.key: (r.note and f"{r.loss} ({r.note})") or "BCE only" for r in selected}
        cost = step_cost(profile.config(), selected, data)
        write_json(out / "table3_cost.json", cost)
        extra = markdown_choices(choice) + "\n\n" + markdown_cost(cost, labels)
        write_text(out / "table3_choices.md", extra + "\n")
    log(f"tables written: {csv_path}, {md_path}")
    return TableResult(entries, out, data, profile, comparisons, choice)
