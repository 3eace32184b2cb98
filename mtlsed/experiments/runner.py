"""The machinery every table's grid shares: train and evaluate one (row, seed), many at a time in worker
processes, each distinct run once (a task whose run another task or grid already made gets a link to it),
and the validation score a weight is chosen by.

A task is ``(row, seed, cfg, data_dir, run_dir, data_fp)``. A run whose ``metrics_test.json`` carries the
fingerprint of now is finished and is kept; a run killed mid-way resumes from its last checkpoint.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from mtlsed.config.profiles import Profile
from mtlsed.config.settings import Config
from mtlsed.core.envinfo import environment
from mtlsed.core.errors import UserError
from mtlsed.core.procs import die_with_parent, stop_workers
from mtlsed.experiments.rows import Row
from mtlsed.runs.runfolder import RunFolder, is_finished
from mtlsed.runs.runinfo import format_metrics


@dataclass
class GridContext:
    """What every run of one table's grid shares: the profile and its config, the data, where the grid lives,
    how many runs train at once, the finished runs of other grids (``known``), the ``--rows`` asked for."""

    profile: Profile
    cfg: Config
    data: Path
    data_fp: dict
    out: Path
    jobs: int
    log: object
    known: dict
    rows: list[str] | None = None

    def task(self, row: Row, seed: int, folder: Path) -> tuple:
        """The task of ``row`` with ``seed``, trained in ``folder/seedS``."""
        return (row, seed, self.cfg, self.data, folder / f"seed{seed}", self.data_fp)


@dataclass
class GridRuns:
    """What a table's ``train`` made: its rows, their tasks and test metrics (in task order), and the weights
    chosen on validation (None when none were)."""

    rows: list[Row]
    tasks: list[tuple]
    metrics: list[dict]
    choice: dict | None = field(default=None)


def validation_score(run_dir: Path, data_dir: Path) -> tuple[str, float]:
    """The metric the weight grid is chosen by, on the validation split: SED-mAP where the validation
    clips have strong labels, else AT-mAP (the paper's validation clips are weakly labelled).

    ``metrics_val.json`` is written once per run and read back while its fingerprints are the run's and
    the evaluation code's of now."""
    from mtlsed.evaluation.evaluate import evaluate_run
    from mtlsed.runs.identity import evaluation_fingerprint

    run = RunFolder(run_dir)
    identity = run.identity() or {}
    metrics = run.metrics("val") or {}
    stale = metrics.get("evaluation_code") != evaluation_fingerprint()
    if metrics.get("run_fingerprint") != identity.get("digest") or stale:
        metrics = evaluate_run(run_dir, data_dir, split="val")
    if metrics.get("sed_map") is not None:
        return "sed_map", float(metrics["sed_map"])
    return "at_map", float(metrics["at_map"])


def train_and_evaluate(cfg: Config, data_dir: Path, run_dir: Path) -> dict:
    """Train ``cfg`` into ``run_dir`` (resuming a started run), then evaluate it on the test split.

    ``metrics_test.json`` also holds the training time of this call (seconds) and the environment;
    it is written last and atomically, so its presence (with the run's fingerprint) marks a
    finished run.
    """
    from mtlsed.evaluation.evaluate import evaluate_run
    from mtlsed.training.train import train

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
    from mtlsed.runs.identity import differences, run_fingerprint

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
    if trained(run_dir, expected["digest"]):  # the evaluation code (or its data) changed: score it again
        from mtlsed.evaluation.evaluate import evaluate_run

        metrics = evaluate_run(run_dir, data_dir, extra=_scored_again(run_dir))
        return metrics, f"  {row.key} seed {seed}: trained earlier, scored again: {format_metrics(metrics)}"
    metrics = train_and_evaluate(cfg, data_dir, run_dir)
    line = f"  {row.key} seed {seed}: {format_metrics(metrics)}  ({metrics['train_seconds']:.0f} s)"
    return metrics, line


def trained(run_dir: Path, digest: str) -> bool:
    """Whether ``run_dir`` holds the training run ``digest`` with its training done (last checkpoint at
    ``train.iterations``), whatever its metrics say."""
    run = RunFolder(run_dir)
    identity = run.identity()
    if identity is None or identity["digest"] != digest or not run.has_checkpoint("last"):
        return False
    iterations = identity.get("config", {}).get("train", {}).get("iterations")
    return run.checkpoint_info("last")["iteration"] == iterations


def _scored_again(run_dir: Path) -> dict:
    """What the first scoring recorded that the new one keeps: the training time and its environment."""
    old = RunFolder(run_dir).metrics("test") or {}
    return {k: old[k] for k in ("train_seconds", "environment") if k in old}


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


def run_digest(task: tuple) -> str:
    from mtlsed.runs.identity import run_fingerprint

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
    digests = [run_digest(t) for t in tasks]
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


def link_run(link: Path, target: Path) -> None:
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
    run counts only when it is finished (:func:`mtlsed.runs.runfolder.is_finished`).
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
