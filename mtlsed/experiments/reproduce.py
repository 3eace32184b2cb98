"""``mtlsed reproduce``: the grid of one table under a profile, over seeds, beside the paper's numbers.

``mtlsed reproduce --table 1 --profile NAME`` trains and evaluates every row of a table (its module in
:mod:`mtlsed.experiments.registry`) for every seed of the profile, in ``runs/NAME/tableN-KEY/ROW/seedS``,
where ``KEY`` is the fingerprint of the profile's config, the data set's content and the code
(:func:`grid_key`). A run whose ``metrics_test.json`` carries the fingerprint of now is finished and is
kept when the grid is run again; a run killed mid-way resumes from its last checkpoint; runs train
``--jobs`` at a time. The tables (``tableN.csv`` and ``tableN.md``) give the mean and standard deviation
over seeds of each metric next to the paper's value.

Without ``--data``, the embedded set of the table's recipe is mixed first
(:mod:`mtlsed.experiments.datasets`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mtlsed.config.profiles import Profile, load_profile
from mtlsed.config.settings import Config
from mtlsed.core.envinfo import environment, hardware_line
from mtlsed.core.errors import UserError
from mtlsed.data.caveats import require_selectable
from mtlsed.data.format import read_classes, read_dataset
from mtlsed.experiments.aggregate import aggregate, compare_with_bce
from mtlsed.experiments.datasets import data_for, ensure_data
from mtlsed.experiments.registry import spec
from mtlsed.experiments.runner import GridContext, GridRuns, default_jobs, finished_runs
from mtlsed.experiments.tables import write_comparisons, write_tables


def grid_key(cfg: Config, data_fp: dict) -> str:
    """The fingerprint shared by every run of a grid: the profile's config, the data and the code."""
    from mtlsed.core.hashing import digest
    from mtlsed.runs.identity import code_fingerprint

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
    weights: dict | None = None  # the weights chosen on validation, with the grid scored (Tables 1, 3)


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
    from mtlsed.data.fingerprint import data_fingerprint

    this = spec(table)
    profile = profile if isinstance(profile, Profile) else load_profile(profile)
    root = Path(root or Path.cwd())
    selected = this.rows()
    if rows:
        unknown = set(rows) - {r.key for r in selected} - this.EXTRA_ROWS
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
    require_selectable(data, cfg.train.best_metric)  # before the first run trains, not after it ends
    out = Path(out or grid_dir(profile.name, table, root, grid_key(cfg, data_fp)))
    if out.exists() and not out.is_dir():
        raise UserError(f"--out: {out} is a file, not a grid folder; give a folder")
    seeds, other_seeds = this.seeds(profile)
    log(
        f"table {table}, profile {profile.name}: seeds {seeds} for the paired rows, {other_seeds} for the "
        "others" + this.plan_note(profile, rows)
    )
    log(f"table {table}, profile {profile.name}: {len(selected)} rows on {data} -> {out}")
    known = finished_runs(root / "runs", out)  # runs other grids made on the same data (any profile)
    ctx = GridContext(profile, cfg, data, data_fp, out, jobs or default_jobs(), log, known, rows)
    runs = this.train(ctx, selected)
    return _write(this, ctx, runs, data_dir, classes, skip_note)


def _write(this, ctx: GridContext, runs: GridRuns, data_dir, classes, skip_note: str) -> TableResult:
    """Aggregate a table's runs and write its tables (CSV, Markdown, the paired comparisons, its extras)."""
    table, profile, data, out = this.NUMBER, ctx.profile, ctx.data, ctx.out
    seeds, other_seeds = this.seeds(profile)
    results: dict[str, list[dict]] = {}
    by_seed: dict[str, dict[int, dict]] = {}
    for (row, seed, *_), m in zip(runs.tasks, runs.metrics, strict=True):
        results.setdefault(row.key, []).append(m)
        by_seed.setdefault(row.key, {})[seed] = m
    entries = aggregate(runs.rows, results)
    comparisons = compare_with_bce(runs.rows, by_seed)
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
        write_comparisons(comparisons, out, table, header, {r.key: r.label for r in runs.rows})
    this.write_extras(ctx, runs)
    ctx.log(f"tables written: {csv_path}, {md_path}")
    return TableResult(entries, out, data, profile, comparisons, runs.choice)
