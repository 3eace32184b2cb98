"""Tables of a grid, formatted: Markdown and CSV beside the paper's numbers, the paired comparisons, the
weight choice. Presentation only: a change here never changes a run (``mtlsed.runs.identity``); every file is
written atomically.
"""

from __future__ import annotations

import csv
from pathlib import Path

from mtlsed.core.atomic import atomic_path, write_json, write_text
from mtlsed.core.vocabulary import EVENT_METRICS, METRIC_NAMES, METRICS
from mtlsed.experiments.rows import row_name


def mean_std(mean: float, std: float | None) -> str:
    """``mean ± std`` to three decimals, the mean alone where ``std`` is None or NaN. No-break spaces hold
    the pair on one line in a narrow table column; a bracket after it may wrap under it."""
    spread = "" if std is None or std != std else f"\u00a0±\u00a0{std:.3f}"
    return f"{mean:.3f}{spread}"


def markdown_weights(choice: dict) -> str:
    metric = METRIC_NAMES[choice["metric"]]
    lines = [f"| λ2 (segment) | λ3 (silent) | validation {metric} | |", "|---|---|---|---|"]
    for r in choice["grid"]:
        chosen = [r["segment_weight"], r["silent_weight"]] == choice["chosen"]
        mark = "chosen" if chosen else ""
        lines.append(f"| {r['segment_weight']:g} | {r['silent_weight']:g} | {r['val']:.3f} | {mark} |")
    return "\n".join(lines)


def markdown_table(entries: list[dict], metrics=METRICS, notes: bool = True) -> str:
    """Rows as markdown: ``mean ± std (paper)`` per metric.

    The first column names the row (method, loss, selection). When every row has the
    same number of seeds, a line under the table says how many; otherwise a ``Seeds``
    column does. A metric defined for only some of the seeds (event F1 of a run that
    detects nothing) is followed by ``[n/N seeds]``; ``n/a`` where it is defined for none. An
    event metric (ER, D, I, F1) of a row where some seeds detect no event at all is followed by
    ``[n/N detect nothing]``: ER 1 and I 0 of such a seed are not good scores. ``notes``: the lines under
    the table (seeds per row, post-processing); off for a second table of the same rows.
    """
    seeds = {e["n_seeds"] for e in entries}
    head = ["Row"] + (["Seeds"] if len(seeds) > 1 else []) + [METRIC_NAMES.get(m, m) for m in metrics]
    head.append("Post-proc.")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for e in entries:
        name = row_name(e["method"], e["loss"], e["selection"], e["topk"], e.get("setting", ""))
        cells = [name] + ([str(e["n_seeds"])] if len(seeds) > 1 else [])
        for m in metrics:
            mean, std, paper = e[f"{m}_mean"], e[f"{m}_std"], e[f"{m}_paper"]
            ours = "n/a" if mean != mean else mean_std(mean, std)
            n = e.get(f"{m}_n", e["n_seeds"])
            if 0 < n < e["n_seeds"]:
                ours += f" [{n}/{e['n_seeds']} seeds]"
            silent = e.get("no_detection_seeds", 0)
            if silent and m in EVENT_METRICS:
                ours += f" [{silent}/{e['n_seeds']} detect nothing]"
            cells.append(ours + (f" ({paper:.3f})" if paper == paper else ""))
        cells.append(e.get("post_processing", "config"))
        lines.append("| " + " | ".join(cells) + " |")
    if not notes:
        return "\n".join(lines)
    if len(seeds) == 1:
        n = seeds.pop()
        lines.append(
            f"\n{n} seed{'s' if n != 1 else ''} per row; the bce rows train with the cross-entropy alone."
        )
    lines.append("\n" + post_processing_note(entries))
    return "\n".join(lines)


def post_processing_note(entries: list[dict]) -> str:
    """Where each row's post-processing (clip gate, frame threshold, median filter) came from, and why."""
    head = "Post-processing (clip gate, frame threshold, median filter): "
    by_source: dict[str, list[str]] = {}
    reasons = sorted(
        {e.get("post_processing_why", "") for e in entries if e.get("post_processing") != "val"} - {""}
    )
    for e in entries:
        by_source.setdefault(e.get("post_processing", "config"), []).append(e["row"])
    if set(by_source) == {"val"}:
        return head + "chosen on the validation split for every run."
    parts = []
    for source, rows in by_source.items():
        which = "every row" if len(rows) == len(entries) else ", ".join(rows)
        if source == "val":
            parts.append(f"chosen on the validation split for {which}")
        elif source == "config":
            parts.append(f"the configuration's fixed settings for {which}")
        else:
            parts.append(f"chosen on validation for {source.split()[1]} of the seeds of {which}")
    why = f" (why not on validation: {'; '.join(reasons)})" if reasons else ""
    return head + "; ".join(parts) + why + "."


def write_comparisons(
    comparisons: dict[str, list[dict]], out: Path, table: int, header: str, labels: dict[str, str]
) -> Path:
    """``tableN_paired.md`` (one table per MTL row) and ``tableN_paired.json`` (the same, every number)."""
    from mtlsed.experiments.comparison import markdown_comparison

    parts = [header.replace("Cells: our mean ± std over seeds (the paper's value).", "")]
    for key, rows in comparisons.items():
        parts.append(
            f"### {labels[key]} against DDC-FAP (BCE only)\n\n" + markdown_comparison(rows, "BCE", "MTL")
        )
    md = write_text(out / f"table{table}_paired.md", "\n\n".join(parts) + "\n")
    write_json(out / f"table{table}_paired.json", comparisons)
    return md


def read_entries(csv_path: Path) -> list[dict]:
    """The entries of a ``tableN.csv`` (:func:`write_tables`) as :func:`markdown_table` takes them: numbers
    as numbers, an empty cell as NaN (a mean) or 0 (a count)."""
    entries = []
    with Path(csv_path).open(newline="") as fh:
        for row in csv.DictReader(fh):
            entry: dict = dict(row)
            for key, value in row.items():
                if key.endswith(("_mean", "_std", "_paper")):
                    entry[key] = float(value) if value != "" else float("nan")
                elif key.endswith("_n") or key in ("n_seeds", "no_detection_seeds", "table"):
                    entry[key] = int(float(value)) if value != "" else 0
            entry["topk"] = int(row["topk"]) if row.get("topk") else ""
            entries.append(entry)
    return entries


def csv_row(entry: dict) -> dict:
    """An entry for the CSV table: undefined numbers empty (never ``nan``), and a note saying why."""
    row, notes = {}, []
    for key, value in entry.items():
        row[key] = "" if isinstance(value, float) and value != value else value
    for m in METRICS:
        n = entry.get(f"{m}_n", entry["n_seeds"])
        if n < entry["n_seeds"]:
            notes.append(f"{m} defined for {n}/{entry['n_seeds']} seeds")
    if entry.get("no_detection_seeds"):
        notes.append(
            f"{entry['no_detection_seeds']}/{entry['n_seeds']} seeds detect no event (ER, D, I, F1 void)"
        )
    row["note"] = "; ".join(notes)
    return row


def write_tables(entries: list[dict], out: Path, table: int, header: str) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    csv_path, md_path = out / f"table{table}.csv", out / f"table{table}.md"
    with atomic_path(csv_path) as tmp, tmp.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, [*entries[0], "note"])
        writer.writeheader()
        writer.writerows(csv_row(e) for e in entries)
    write_text(md_path, header + "\n\n" + markdown_table(entries) + "\n")
    return csv_path, md_path


SHIFT_METRICS = ["at_map", "sed_map", "er"]


def markdown_shifted(results: dict[str, dict[str, dict]], metrics=SHIFT_METRICS) -> str:
    """Clean and shifted evaluations side by side: ``results`` maps a row label to ``{"clean": metrics,
    CHANNEL: metrics, ...}`` (one run) or to a list of such dicts (seeds: mean ± std)."""
    channels = list(dict.fromkeys(c for r in results.values() for c in (r[0] if isinstance(r, list) else r)))
    head = ["Row", "Metric", *channels]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label, runs in results.items():
        runs = runs if isinstance(runs, list) else [runs]
        for m in metrics:
            cells = [label, METRIC_NAMES[m]]
            for c in channels:
                values = [r[c][m] for r in runs if c in r and r[c].get(m) is not None]
                if not values:
                    cells.append("n/a")
                    continue
                mean = sum(values) / len(values)
                std = (
                    (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5
                    if len(values) > 1
                    else None
                )
                cell = mean_std(mean, std)
                if c != "clean" and "clean" in channels:
                    clean = [r["clean"][m] for r in runs if r["clean"].get(m) is not None]
                    if clean:
                        cell += f" ({mean - sum(clean) / len(clean):+.3f})"
                cells.append(cell)
            lines.append("| " + " | ".join(cells) + " |")
    lines.append("\nIn brackets: the change from the clean clips (for ER lower is better).")
    scaled = {}
    for runs in results.values():
        for r in runs if isinstance(runs, list) else [runs]:
            for c in channels:
                scaled[c] = max(scaled.get(c, 0), (r.get(c) or {}).get("scaled_clips") or 0)
    if any(scaled.values()):
        said = ", ".join(f"{c} {n}" for c, n in scaled.items() if n)
        lines.append(
            f"Clips that would have clipped through the channel were scaled to a peak of 0.99 ({said}; "
            "listed in each shifted copy's shift.json)."
        )
    return "\n".join(lines)
