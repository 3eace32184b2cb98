"""Paired comparison of two rows of a grid: MTL - BCE per seed, its mean, a 95% interval, a verdict.

Both rows are trained with the same seeds on the same data, so seed ``s`` of one row is paired with seed
``s`` of the other and the difference ``d_s = other_s - base_s`` removes what the seed does to both. The
interval is the paired t interval over seeds, ``mean(d) ± t(0.975, n - 1) · sd(d) / sqrt(n)``: it treats
the seeds as a sample of training runs (it says nothing about the spread over test clips). The verdict is
computed from it, never written by hand:

- ``better`` / ``worse``: the interval lies on one side of 0 (for ER, D and I, lower is better);
- ``no detectable difference``: the interval holds 0;
- ``not comparable``: an event metric (ER, D, I, F1) where a seed of either row detected nothing (its
  ER 1 and I 0 are not scores), or fewer than two seeds where the metric is defined in both rows.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from mtlsed.core.vocabulary import EVENT_METRICS, LOWER_IS_BETTER, METRIC_NAMES


def paired_difference(
    base: dict[int, dict], other: dict[int, dict], metric: str, level: float = 0.95
) -> dict:
    """``other - base`` of ``metric`` over the seeds both rows have: per seed, mean, interval, verdict.

    ``base`` and ``other`` map a seed to that run's metrics (as in ``metrics_test.json``).
    """
    seeds = sorted(set(base) & set(other))
    out = {"metric": metric, "seeds": seeds, "per_seed": {}, "mean": None, "low": None, "high": None}
    silent = [s for s in seeds if base[s].get("no_detections") or other[s].get("no_detections")]
    if metric in EVENT_METRICS and silent:
        return {**out, "n": 0, "verdict": f"not comparable ({len(silent)}/{len(seeds)} seeds detect nothing)"}
    diffs = {}
    for s in seeds:
        a, b = base[s].get(metric), other[s].get(metric)
        if a is not None and b is not None and a == a and b == b:
            diffs[s] = float(b) - float(a)
    out["per_seed"], out["n"] = diffs, len(diffs)
    if len(diffs) < 2:
        return {**out, "verdict": f"not comparable ({len(diffs)} seed(s) with the metric in both rows)"}
    d = np.array(list(diffs.values()))
    mean, sd = float(d.mean()), float(d.std(ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, len(d) - 1)) * sd / math.sqrt(len(d))
    low, high = mean - half, mean + half
    sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
    if low > 0 or high < 0:
        verdict = "better" if sign * mean > 0 else "worse"
    else:
        verdict = "no detectable difference"
    return {**out, "mean": mean, "low": low, "high": high, "verdict": verdict}


def markdown_comparison(rows: list[dict], base_name: str, other_name: str) -> str:
    """A table of :func:`paired_difference` results, one metric per line."""
    lines = [
        f"| Metric | {other_name} − {base_name}: mean [95% interval] | per seed | Verdict |",
        "|---|---|---|---|",
    ]
    for r in rows:
        cell = "n/a" if r["mean"] is None else f"{r['mean']:+.3f} [{r['low']:+.3f}, {r['high']:+.3f}]"
        per_seed = ", ".join(f"{s}: {v:+.3f}" for s, v in r["per_seed"].items()) or "n/a"
        name = METRIC_NAMES.get(r["metric"], r["metric"])
        lines.append(f"| {name} | {cell} | {per_seed} | {r['verdict']} |")
    lines.append(
        "\nPaired over training seeds (same data, same seeds); 95% t interval over seeds; "
        "for ER, D and I lower is better."
    )
    return "\n".join(lines)
