"""What a run says about itself: the summary before training, progress lines, the line after it, and a
one-line summary of a metrics file. Presentation only: nothing here changes a number
(``mtlsed.runs.identity``).
"""

from __future__ import annotations

import sys
from pathlib import Path

from mtlsed.config.settings import Config
from mtlsed.core.vocabulary import METRIC_NAMES, METRICS


def run_summary(cfg: Config, source: str) -> str:
    """What a run is about to train, said before it starts: loss weights, sample rate, size, augmentation."""
    loss = cfg.loss
    kind = (
        "BCE only"
        if loss.segment_weight == 0 and loss.silent_weight == 0
        else f"MTL, {loss.selection} selection"
    )
    probs = {name.removesuffix("_prob"): v for name, v in vars(cfg.augment).items() if name.endswith("_prob")}
    augment = [name for name, p in probs.items() if p > 0]
    return (
        f"config: {source}\n"
        f"model {cfg.model.name} channels {cfg.model.channels} | loss weights bce {loss.bce_weight:g}, "
        f"segment {loss.segment_weight:g}, silent {loss.silent_weight:g} ({kind}) | "
        f"{cfg.features.sample_rate} Hz, input normalisation {cfg.features.normalise} | "
        f"augmentation {', '.join(augment) or 'none'} | "
        f"{cfg.train.iterations} iterations x {cfg.train.batch_size} clips, lr {cfg.train.lr:g}"
    )


def progress_line(it: int, start: int, iterations: int, losses: dict, elapsed: float) -> None:
    """One line of progress (off a terminal): iteration, loss terms, elapsed time and ETA."""
    done = it - start
    eta = elapsed / done * (iterations - it) if done else float("nan")
    terms = " ".join(f"{k} {v:.4f}" for k, v in losses.items())
    print(
        f"iteration {it}/{iterations} ({100 * it / iterations:.0f}%) {terms} | "
        f"elapsed {elapsed:.0f} s, ETA {eta:.0f} s",
        file=sys.stderr,
        flush=True,
    )


def describe_run(run_dir: str | Path) -> str:
    """One line about a finished run: iterations, time, best validation metric."""
    from mtlsed.runs.runfolder import RunFolder

    run = RunFolder(run_dir)
    rows = run.read_log()
    if not rows:
        return "no evaluation logged"
    last = rows[-1]
    state = run.load_checkpoint("best")
    metric = next(k for k in state if k.startswith("val_"))
    return (
        f"{last['iteration']} iterations in {float(last['seconds']):.0f} s; "
        f"best {metric} {float(state[metric]):.3f} at iteration {state['iteration']} (best.pt)"
    )


def format_metrics(metrics: dict) -> str:
    """One line: the main metrics (``n/a`` where undefined) and the detection count."""
    cells = [
        f"{k} {metrics[k]:.3f}" if metrics[k] is not None else f"{k} n/a" for k in METRICS if k in metrics
    ]
    flag = " (NO DETECTIONS)" if metrics["no_detections"] else ""
    cells.append(f"detected {metrics['n_detected']}{flag}")
    post = metrics.get("post_processing", {}).get("chosen_on")
    if post:
        cells.append(f"post-processing from {post}")
    k = metrics.get("n_classes")
    for metric in ("at_map", "sed_map"):
        key, name = f"{metric}_classes", METRIC_NAMES[metric]
        if k is not None and metrics.get(key) is not None and metrics[key] < k:
            cells.append(f"{name} over {metrics[key]} of {k} classes (the others have no positive here)")
    return "  ".join(cells)
