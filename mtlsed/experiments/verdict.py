"""The bottom line of a build: does the paper's claim for the auxiliary losses reproduce on its data?

Written from the paired comparisons a build just computed (``table1_paired.json``,
:mod:`mtlsed.experiments.comparison`), never by hand, so a rebuild on other data or under another profile
states its own result. Each headline metric of a compared row is set beside the direction the paper
reports for the same change (its Table 1: DDC-FAP with segment + silent, label-guided, against BCE alone):

- **as in the paper**: our interval lies on the side of 0 the paper's difference is on;
- **against the paper**: it lies on the other side;
- **no detectable difference**: it holds 0 (with these seeds);
- **not comparable**: fewer than two seeds, or a seed that detects nothing.
"""

from __future__ import annotations

from mtlsed.core.vocabulary import HEADLINE, LOWER_IS_BETTER
from mtlsed.core.vocabulary import METRIC_NAMES as NAMES

PAPER_TIE = 0.005  # a difference the paper reports below this is no direction (its D: 0.929 -> 0.931)


def paper_direction(bce: dict, mtl: dict, metric: str) -> str:
    """``better``, ``worse`` or ``none``: what the paper's numbers say the change does to ``metric``."""
    delta = float(mtl[metric]) - float(bce[metric])
    if abs(delta) < PAPER_TIE:
        return "none"
    better = delta < 0 if metric in LOWER_IS_BETTER else delta > 0
    return "better" if better else "worse"


def agreement(ours: dict, paper: str) -> str:
    """One metric of a paired comparison (:func:`~mtlsed.experiments.comparison.paired_difference`) against
    the paper's direction: ``as in the paper``, ``against the paper``, ``no detectable difference`` or
    ``not comparable``."""
    verdict = ours["verdict"]
    if verdict.startswith("not comparable"):
        return "not comparable"
    if verdict == "no detectable difference":
        return "no detectable difference"
    if paper == "none":
        return "against the paper"  # the paper saw no change; we see one
    return "as in the paper" if verdict == paper else "against the paper"


def row_verdict(comparison: list[dict], paper_bce: dict, paper_mtl: dict) -> dict[str, list[str]]:
    """``{agreement: [metric names]}`` over the headline metrics of one compared row."""
    out: dict[str, list[str]] = {}
    for r in comparison:
        if r["metric"] in HEADLINE:
            said = agreement(r, paper_direction(paper_bce, paper_mtl, r["metric"]))
            out.setdefault(said, []).append(NAMES[r["metric"]])
    return out


def markdown_beside_the_paper(comparison: list[dict], paper_bce: dict, paper_mtl: dict) -> str:
    """The paired comparison of one row (headline metrics) with two columns more: the direction the paper
    reports for the same change, and whether ours goes the same way (:func:`agreement`)."""
    lines = [
        "| Metric | MTL − BCE: mean [95% interval] | per seed | Verdict | The paper "
        "| Same direction as the paper? |",
        "|---|---|---|---|---|---|",
    ]
    for r in comparison:
        if r["metric"] not in HEADLINE:
            continue
        paper = paper_direction(paper_bce, paper_mtl, r["metric"])
        cell = "n/a" if r["mean"] is None else _interval(r)
        per_seed = ", ".join(f"{s}: {v:+.3f}" for s, v in r["per_seed"].items()) or "n/a"
        said = agreement(r, paper)
        same = {"as in the paper": "yes", "against the paper": "**no**"}.get(said, "–")  # no direction here
        lines.append(
            f"| {NAMES[r['metric']]} | {cell} | {per_seed} | {r['verdict']} | "
            f"{paper.replace('none', 'unchanged')} | {same} |"
        )
    lines.append(
        "\nPaired over training seeds (same data, same seeds); 95% t interval over seeds; for ER, D and I "
        "lower is better. The paper: the direction of its own MTL − BCE difference (one run each); same "
        "direction: – where our interval holds 0 or the metric is not comparable."
    )
    return "\n".join(lines)


def _interval(r: dict) -> str:
    return f"{r['mean']:+.3f} [{r['low']:+.3f}, {r['high']:+.3f}]"


def verdict_markdown(
    compared: dict[str, tuple[str, list[dict]]], paper_bce: dict, paper_mtl: dict, setting: str
) -> str:
    """The bottom line as Markdown. ``compared``: ``{row key: (what the row is, its paired comparison)}``
    for the rows set against BCE alone; ``setting``: a sentence on the data, profile and seeds."""
    lines = [setting, ""]
    any_row = False
    for label, comparison in compared.values():
        parts = row_verdict(comparison, paper_bce, paper_mtl)
        if set(parts) == {"not comparable"} or not parts:
            n = max((r.get("n", 0) for r in comparison), default=0)
            lines.append(f"- **{label}**: not compared (trained with {n} seed(s) here; two are the least).")
            continue
        any_row = True
        by_metric = {NAMES[r["metric"]]: r for r in comparison if r["metric"] in HEADLINE}
        said = []
        for key in ("as in the paper", "against the paper", "no detectable difference", "not comparable"):
            if key in parts:
                names = parts[key]
                shown = [f"{m} {_interval(by_metric[m])}" for m in names if by_metric[m]["mean"] is not None]
                detail = ", ".join(shown) if key != "not comparable" else ", ".join(names)
                said.append(f"{key}: {detail}" if detail else f"{key}: {', '.join(names)}")
        n = max(r.get("n", 0) for r in comparison)
        lines.append(f"- **{label}** ({n} seeds, MTL − BCE, 95% interval): " + "; ".join(said) + ".")
    paper = ", ".join(
        f"{NAMES[m]} {paper_direction(paper_bce, paper_mtl, m).replace('none', 'unchanged')}"
        for m in HEADLINE
    )
    lines += ["", f"The paper reports, for the same change on its data: {paper}."]
    if not any_row:
        lines += ["", "No row was trained with enough seeds here to say more."]
    return "\n".join(lines)
