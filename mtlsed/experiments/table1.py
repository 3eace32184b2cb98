"""Table 1 of the paper: DDC-FAP with the segment and the segment + silent losses, label-guided and
self-supervised (top-k), beside BCE alone; and the label-guided segment + silent row with the weights
chosen on validation.

The auxiliary weights are chosen by :func:`choose_weights`: each pair of the profile's ``weight_grid``
trains with the first seed and the highest validation score wins (:func:`validation_score`). The tuned
row's runs live with their weights' grid runs; its folder links to them.
"""

from __future__ import annotations

from pathlib import Path

from mtlsed.core.atomic import write_json, write_text
from mtlsed.experiments.rows import BCE_ONLY, DDC_FAP, Row, mtl_overrides
from mtlsed.experiments.runner import GridRuns, link_run, run_grid, validation_score
from mtlsed.experiments.tables import markdown_weights

NUMBER = 1
RECIPE = "overlapped"  # the embedded set it is reproduced on without --data
TUNED = "segment_silent-label-val"  # the MTL row with the weights chosen on validation
FIXED = "segment_silent-label"  # ... and with the paper's fixed 0.2 / 0.2
PAPER_WEIGHTS = [0.2, 0.2]
EXTRA_ROWS = {TUNED}  # a row --rows can name that rows() does not list (it exists once weights are chosen)


def rows() -> list[Row]:
    out = [Row(1, "ddc_fap", DDC_FAP, "bce", overrides={"model.name": "ddc_fap", **BCE_ONLY}, paired=True)]
    for loss in ("segment", "segment+silent"):
        tag = loss.replace("+", "_")
        out.append(
            Row(
                1,
                f"{tag}-label",
                DDC_FAP,
                loss,
                "label-guided",
                overrides={"model.name": "ddc_fap", **mtl_overrides(loss, "label-guided")},
                paired=loss == "segment+silent",  # the paper's own row: every seed, paired with BCE
            )
        )
        for k in (2, 3, 5):
            out.append(
                Row(
                    1,
                    f"{tag}-top{k}",
                    DDC_FAP,
                    loss,
                    "self-supervised",
                    k,
                    overrides={"model.name": "ddc_fap", **mtl_overrides(loss, "self-supervised", k)},
                )
            )
    return out


def weight_row(weights: list[float], key: str | None = None, note: str = "") -> Row:
    """Label-guided segment + silent DDC-FAP with the auxiliary weights ``[lambda2, lambda3]``."""
    seg, sil = weights
    return Row(
        1,
        key or f"weights/segment{seg:g}-silent{sil:g}",
        DDC_FAP,
        "segment+silent",
        "label-guided",
        overrides={
            "model.name": "ddc_fap",
            **mtl_overrides("segment+silent", "label-guided"),
            "loss.segment_weight": float(seg),
            "loss.silent_weight": float(sil),
        },
        paired=key == TUNED,
        note=note,
    )


def tuned_row(weights: list[float]) -> Row:
    return weight_row(weights, TUNED, f"λ2 {weights[0]:g}, λ3 {weights[1]:g} chosen on val")


def choose_weights(grid: list[list[float]], run_dirs: list[Path], data_dir: Path) -> dict:
    """The rule for the auxiliary weights: train each pair of the profile's ``weight_grid`` with the first
    seed, score the validation split (:func:`validation_score`), keep the highest; a tie goes to the
    paper's 0.2 / 0.2, then to the first pair in the grid. The test split plays no part.
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


def weight_grid(profile, rows: list[str] | None) -> list[list[float]]:
    """The weight pairs tried on validation: the profile's, unless ``--rows`` leaves the tuned row out."""
    return profile.params["weight_grid"] if not rows or TUNED in rows else []


def seeds(profile) -> tuple[list[int], list[int]]:
    """(seeds of the paired rows, seeds of the others)."""
    return profile.params["seeds"], profile.params["seeds_other_rows"]


def plan_note(profile, rows: list[str] | None) -> str:
    grid = weight_grid(profile, rows)
    return f"; weights {grid} tried on val with seed {profile.params['seeds'][0]}" if grid else ""


def train(ctx, selected: list[Row]):
    """Train (or find) the runs of the selected rows and, with a weight grid, the tuned row."""
    return train_rows(ctx, selected, weight_grid(ctx.profile, ctx.rows))


def train_rows(ctx, selected: list[Row], grid: list[list[float]]):
    """The rows of the paper's tables over their seeds, and the tuned row when ``grid`` is not empty:
    ``GridRuns(rows, tasks, metrics, choice)``."""
    paired_seeds, other_seeds = seeds(ctx.profile)

    def paired(row: Row) -> bool:  # BCE, the paper's 0.2 / 0.2 and the tuned row: every seed
        return row.paired or row.key == FIXED

    def tasks_of(row_list: list[Row], only: list[int] | None = None) -> list[tuple]:
        return [
            ctx.task(row, seed, ctx.out / row.key)
            for row in row_list
            for seed in (only if only is not None else (paired_seeds if paired(row) else other_seeds))
        ]

    grid_rows = [weight_row(w) for w in grid]
    grid_tasks = tasks_of(grid_rows, paired_seeds[:1])
    tasks = tasks_of([r for r in selected if r.key != TUNED])
    metrics = run_grid(tasks + grid_tasks, ctx.jobs, ctx.log, ctx.known)[: len(tasks)]
    choice = None
    if grid:
        choice = choose_weights(grid, [t[4] for t in grid_tasks], ctx.data)
        write_json(ctx.out / "weights_val.json", choice)
        ctx.log(f"weights chosen on val ({choice['metric']}): {choice['chosen']}")
        tuned = tuned_row(choice["chosen"])
        selected = [r for r in selected if r.key != TUNED] + [tuned]
        # the tuned row's runs live with their weights' grid runs; its folder links to them, so another
        # choice (a longer weight grid, say) links elsewhere and never meets a run of other weights
        home = ctx.out / weight_row(choice["chosen"]).key
        tuned_tasks = [(t[0], t[1], *t[2:4], home / f"seed{t[1]}", t[5]) for t in tasks_of([tuned])]
        fixed = [r for r in selected if r.key == FIXED]
        if choice["chosen"] == PAPER_WEIGHTS and fixed:
            # the tuned row is the paper's row: its seeds are the fixed row's too, at no cost
            have = {t[1] for t in tasks if t[0].key == FIXED}
            tuned_tasks += tasks_of(fixed, [s for s in paired_seeds if s not in have])
        tasks = tasks + tuned_tasks
        metrics += run_grid(tuned_tasks, ctx.jobs, ctx.log, ctx.known)
        for _, seed, *_rest in tasks_of([tuned]):
            link_run(ctx.out / TUNED / f"seed{seed}", home / f"seed{seed}")
    else:
        selected = [r for r in selected if r.key != TUNED]
    return GridRuns(selected, tasks, metrics, choice)


def write_extras(ctx, runs) -> None:
    """The weight grid scored on validation, beside the table."""
    if runs.choice:
        write_text(ctx.out / "weights_val.md", markdown_weights(runs.choice) + "\n")
