"""Table 3 (beyond the paper): other ways to shape the masks, side by side with the paper's on one protocol.

Rows, each DDC-FAP trained with the cross-entropy and one constraint (:mod:`mtlsed.objectives.constraints`):

- BCE only (the baseline every row is compared with, seed by seed);
- the paper's segment + silent losses (label-guided, λ2 = λ3 = w);
- the cosine-similarity penalty of Pellegrini & Cances (2019) on the frame probabilities;
- classifier-judged separation (Pishdadian, Wichern & Le Roux 2020): the detector judges each source;
- mixture consistency alone (the separated sources add up to the mixture).

Each constraint's weight w is chosen on the validation split from the profile's ``constraint_grid`` by
the rule Table 1 uses for its weights (:func:`mtlsed.experiments.table1.choose_weights`): trained with the
first
seed, the highest validation SED-mAP (AT-mAP when the validation clips are weakly labelled) wins, a tie
going to the first weight of the grid (for segment + silent: the paper's 0.2 when it is in the grid).
The chosen row then trains with the profile's ``seeds_table3`` (default: its ``seeds``) and is compared
with BCE alone over the seeds both have. The runs live with their weight's grid run
(``weights/ROW/wW/seedS``); a row's folder links to them, as Table 1's tuned row does. The cost of a
training step of each row is in the table too: its runs' training seconds per iteration.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mtlsed.core.atomic import write_json, write_text
from mtlsed.core.vocabulary import METRIC_NAMES
from mtlsed.experiments.rows import BCE_ONLY, DDC_FAP, Row, mtl_overrides
from mtlsed.experiments.runner import GridRuns, link_run, run_grid, validation_score

NUMBER = 3
RECIPE = "overlapped"  # the embedded set it is reproduced on without --data (Table 1's)
EXTRA_ROWS: set[str] = set()
BASE = {"model.name": "ddc_fap"}
CONSTRAINTS: dict[str, tuple[str, callable]] = {
    "segment_silent": (
        "segment + silent (the paper's)",
        lambda w: {
            **mtl_overrides("segment+silent", "label-guided"),
            "loss.segment_weight": w,
            "loss.silent_weight": w,
        },
    ),
    "cosine": ("cosine penalty (Pellegrini & Cances)", lambda w: {**BCE_ONLY, "loss.cosine_weight": w}),
    "judge": (
        "classifier-judged separation (Pishdadian et al.)",
        lambda w: {**BCE_ONLY, "loss.judge_weight": w},
    ),
    "consistency": ("mixture consistency alone", lambda w: {**BCE_ONLY, "loss.consistency_weight": w}),
}
PREFERRED = {"segment_silent": 0.2}  # the paper's weight wins a tie


def bce_row() -> Row:
    return Row(3, "ddc_fap", DDC_FAP, "bce", overrides={**BASE, **BCE_ONLY}, paired=True)


def constraint_row(key: str, weight: float, chosen: bool = False) -> Row:
    label, overrides = CONSTRAINTS[key]
    note = f"w {weight:g} chosen on val" if chosen else f"w {weight:g}"
    folder = key if chosen else f"weights/{key}/w{weight:g}"
    return Row(3, folder, DDC_FAP, label, overrides={**BASE, **overrides(weight)}, paired=chosen, note=note)


def choose(key: str, grid: list[float], run_dirs: list[Path], data: Path) -> dict:
    """The weight of ``key`` with the highest validation score (ties: :data:`PREFERRED`, then grid order)."""
    scored = []
    for w, run in zip(grid, run_dirs, strict=True):
        metric, value = validation_score(run, data)
        scored.append({"weight": w, "metric": metric, "val": value})
    order = sorted(range(len(grid)), key=lambda i: (-scored[i]["val"], grid[i] != PREFERRED.get(key), i))
    return {"chosen": grid[order[0]], "metric": scored[order[0]]["metric"], "grid": scored}


def rows() -> list[Row]:
    """BCE alone and each constraint's row (its weight known once chosen on validation)."""
    return [bce_row()] + [constraint_row(k, 0.0, chosen=True) for k in CONSTRAINTS]


def seeds(profile) -> tuple[list[int], list[int]]:
    """(seeds of the BCE row, seeds of the chosen rows): the profile's ``seeds_table3``, else its seeds."""
    return profile.params["seeds"], profile.params.get("seeds_table3") or profile.params["seeds"]


def plan_note(profile, rows: list[str] | None) -> str:
    return ""


def train(ctx, selected: list[Row]):
    """Train (or find) every run of Table 3: ``GridRuns(rows, tasks, metrics, choices)``."""
    seeds_bce, seeds3 = seeds(ctx.profile)
    grid = ctx.profile.params["constraint_grid"]
    keys = [k for k in CONSTRAINTS if not ctx.rows or k in ctx.rows]
    base = bce_row()
    tasks = (
        [ctx.task(base, s, ctx.out / base.key) for s in seeds_bce]
        if not ctx.rows or base.key in ctx.rows
        else []
    )
    grid_tasks = [
        ctx.task(constraint_row(k, w), seeds_bce[0], ctx.out / "weights" / k / f"w{w:g}")
        for k in keys
        for w in grid
    ]
    metrics = run_grid(tasks + grid_tasks, ctx.jobs, ctx.log, ctx.known)[: len(tasks)]
    chosen_rows, choices, chosen_tasks = ([base] if tasks else []), {}, []
    for k in keys:
        dirs = [t[4] for t in grid_tasks if t[0].key.startswith(f"weights/{k}/")]
        choices[k] = choose(k, grid, dirs, ctx.data)
        w = choices[k]["chosen"]
        ctx.log(f"table 3: {k} weight chosen on val ({choices[k]['metric']}): {w:g}")
        row = constraint_row(k, w, chosen=True)
        chosen_rows.append(row)
        chosen_tasks += [ctx.task(row, s, ctx.out / "weights" / k / f"w{w:g}") for s in seeds3]
    metrics += run_grid(chosen_tasks, ctx.jobs, ctx.log, ctx.known)
    for row, seed, *_rest, folder, _ in chosen_tasks:
        link_run(ctx.out / row.key / f"seed{seed}", folder)
    return GridRuns(chosen_rows, tasks + chosen_tasks, metrics, choices)


def write_extras(ctx, runs) -> None:
    """The weights chosen on validation and the cost of a training step of each row, beside the table."""
    write_json(ctx.out / "weights_val.json", runs.choice)
    labels = {r.key: (r.note and f"{r.loss} ({r.note})") or "BCE only" for r in runs.rows}
    cost = step_cost(ctx.profile.config(), runs.rows, ctx.data)
    write_json(ctx.out / "table3_cost.json", cost)
    extra = markdown_choices(runs.choice) + "\n\n" + markdown_cost(cost, labels)
    write_text(ctx.out / "table3_choices.md", extra + "\n")


def step_cost(cfg, rows: list[Row], data: Path, steps: int = 12, warmup: int = 3) -> dict[str, float]:
    """Seconds per training step of each row, measured side by side in this process: the rows take turns
    step by step on the same batch through the trainer's own step
    (:func:`mtlsed.training.step.training_step`: the
    run's memory layout, precision and optimiser), so a change in the machine's load hits them alike; the
    median over ``steps`` after ``warmup``."""
    import time

    import torch

    from mtlsed.features.dataset import SedDataset
    from mtlsed.features.normalise import normalise
    from mtlsed.models import build_model
    from mtlsed.training.step import make_optimizer, make_scaler, place_model, training_step
    from mtlsed.training.train import _judge, cpu_threads

    cpu = torch.device("cpu")
    configs = {r.key: cfg.with_overrides(r.overrides) for r in rows}
    dataset = SedDataset(data, cfg, "train")
    idx = list(range(min(cfg.train.batch_size, len(dataset))))
    raw, y = dataset.raw_features()[idx], dataset.tensors()[1][idx]
    mean, std = (torch.from_numpy(v) for v in dataset.norm_stats())
    x = normalise(raw, cfg.features, mean, std)
    state = {}
    for key, c in configs.items():
        torch.manual_seed(0)
        # the run's layout and optimiser (mtlsed.training.step): the step the runs of the table take
        model = place_model(build_model(c.model, len(dataset.classes), x.shape[-1]), cpu, c.train.amp)
        state[key] = (
            model,
            make_optimizer(model, c.train),
            make_scaler(cpu, c.train.amp),
            _judge(model, c, mean, std, cpu),
        )
    times: dict[str, list[float]] = {k: [] for k in configs}
    with cpu_threads(cfg.train.threads):
        for step in range(warmup + steps):
            for key, c in configs.items():
                model, opt, scaler, judge = state[key]
                tic = time.perf_counter()
                training_step(
                    model,
                    opt,
                    scaler,
                    x,
                    y,
                    c.loss,
                    amp=c.train.amp,
                    raw=raw if c.loss.uses_input() else None,
                    judge=judge,
                    log_eps=c.features.log_eps,
                )
                if step >= warmup:
                    times[key].append(time.perf_counter() - tic)
    return {k: float(np.median(v)) for k, v in times.items()}


def markdown_choices(choices: dict) -> str:
    """The weight grid of each constraint, scored on the validation split, and the weight chosen."""
    lines = [
        "| constraint | "
        + " | ".join(f"w {r['weight']:g}" for r in next(iter(choices.values()))["grid"])
        + " | chosen |"
    ]
    lines.append("|" + "---|" * (len(next(iter(choices.values()))["grid"]) + 2))
    for key, c in choices.items():
        cells = [f"{r['val']:.3f}" for r in c["grid"]]
        lines.append(f"| {CONSTRAINTS[key][0]} | " + " | ".join(cells) + f" | {c['chosen']:g} |")
    metric = METRIC_NAMES[next(iter(choices.values()))["metric"]]
    return (
        "\n".join(lines)
        + f"\n\nValidation {metric} of each weight (first seed); the test split plays no part."
    )


def markdown_cost(cost: dict[str, float], labels: dict[str, str]) -> str:
    """The seconds per training step of each row, and their ratio to BCE alone (:func:`step_cost`)."""
    base = cost.get("ddc_fap", float("nan"))
    lines = ["| row | seconds per training step (one CPU thread) | × BCE only |", "|---|---|---|"]
    for key, s in cost.items():
        ratio = s / base if base == base and base > 0 else float("nan")
        lines.append(f"| {labels.get(key, key)} | {s:.3f} | {ratio:.2f} |")
    return "\n".join(lines)
