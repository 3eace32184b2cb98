"""The book's results page, written by the build from the grids that chapter 5 ran.

:func:`results_page` reads what ``reproduce`` wrote for Table 1 and Table 2 under a profile
(``tableN.csv``, ``tableN.md``, ``tableN_paired.json``, ``weights_val.json``) and the runs' own
``metrics_test.json`` (hardware, training time), and returns the page as Markdown. Nothing on it is
typed by hand: the verdicts come from :mod:`mtlsed.experiments.comparison`, the regime sentence from the
numbers.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from mtlsed.config.profiles import Profile
from mtlsed.core.envinfo import hardware_line
from mtlsed.core.vocabulary import BEYOND_METRICS, HEADLINE, METRIC_NAMES
from mtlsed.experiments.comparison import markdown_comparison
from mtlsed.experiments.datasets import default_data_dir
from mtlsed.experiments.reproduce import grid_dir, grid_key
from mtlsed.experiments.rows import BASELINE
from mtlsed.experiments.table1 import TUNED
from mtlsed.experiments.tables import markdown_table, markdown_weights, read_entries
from mtlsed.experiments.verdict import markdown_beside_the_paper
from mtlsed.runs.runfolder import RunFolder


def table_grid(profile: Profile, table: int, root: Path, data: Path | None = None) -> Path:
    """The grid folder ``reproduce(table, profile)`` uses on ``data`` (default: the embedded set)."""
    from mtlsed.data.fingerprint import data_fingerprint

    data = Path(data) if data else default_data_dir(profile, table, root / "data")
    if not (data / "weak.tsv").is_file():
        raise FileNotFoundError(f"{data}: the data set of table {table} was not made (run chapter 5)")
    return grid_dir(profile.name, table, root, grid_key(profile.config(), data_fingerprint(data)))


def _runs(grid: Path) -> list[dict]:
    """The test metrics of every distinct run of a grid (a row's folder may link to another's run)."""
    distinct: dict[Path, Path] = {}
    for path in sorted(grid.glob("**/seed*/metrics_test.json")):
        distinct.setdefault(path.parent.resolve(), path.parent)
    return [RunFolder(run).require_metrics("test") for run in distinct.values()]


def _paper_sentence(row: dict) -> str:
    """Does the BCE baseline work in the paper's regime? Its D and I beside the paper's."""

    def num(key: str) -> float | None:
        return float(row[key]) if row.get(key) not in ("", None) else None

    d, i, d_paper, i_paper = num("d_mean"), num("i_mean"), num("d_paper"), num("i_paper")
    if None in (d, i, d_paper, i_paper):
        return "The baseline's D and I are not defined for every seed here (see the table's notes)."
    regime = (
        "close to the paper's regime"
        if abs(i - i_paper) <= 0.25 * i_paper and abs(d - d_paper) <= 0.25 * d_paper
        else "not the paper's regime"
    )
    more_less = "fewer" if i < i_paper else "more"
    return (
        f"The BCE baseline here has D {d:.3f} and I {i:.3f}, the paper's D {d_paper:.3f} and "
        f"I {i_paper:.3f}: {regime} (it inserts {more_less} events than the paper's baseline"
        + (", so the silent loss has less to remove)." if i < i_paper else ").")
    )


def _verdicts(rows: list[dict]) -> str:
    """The verdict per headline metric; metrics without an interval are grouped by their reason."""
    parts, void = [], {}
    for r in rows:
        if r["metric"] not in HEADLINE:
            continue
        name = METRIC_NAMES[r["metric"]]
        if r["mean"] is None or r["low"] is None:
            void.setdefault(r["verdict"], []).append(name)
        else:
            parts.append(f"{name}: **{r['verdict']}** ({r['mean']:+.3f} [{r['low']:+.3f}, {r['high']:+.3f}])")
    parts += [f"{', '.join(names)}: {verdict}" for verdict, names in void.items()]
    return "; ".join(parts) + "."


def _paper_pair(table: int, key: str) -> tuple[dict, dict] | None:
    """The paper's numbers for BCE alone and for the change a compared row makes (Tables 1 and 2, the rows
    the paper has); None for the other rows."""
    from mtlsed.experiments.paper import paper_row
    from mtlsed.experiments.registry import table_rows
    from mtlsed.experiments.table1 import FIXED

    rows = {r.key: r for r in table_rows(table)} if table in (1, 2) else {}
    mtl_key = {1: FIXED, 2: "mtl_ddc_fap"}.get(table)
    if key not in (FIXED, TUNED, "mtl_ddc_fap") or BASELINE not in rows or mtl_key not in rows:
        return None
    bce, mtl = paper_row(rows[BASELINE]), paper_row(rows[mtl_key])
    return (bce, mtl) if bce and mtl else None


def comparison_markdown(table: int, key: str, comparison: list[dict]) -> str:
    """A row's paired comparison with BCE alone as the book shows it: the paper's metrics, beside the
    paper's direction where the paper has the row; the metrics beyond the paper folded away."""
    pair = _paper_pair(table, key)
    headline = [r for r in comparison if r["metric"] in HEADLINE]
    beyond = [r for r in comparison if r["metric"] not in HEADLINE]
    parts = [
        markdown_beside_the_paper(headline, *pair) if pair else markdown_comparison(headline, "BCE", "MTL")
    ]
    if beyond:
        parts.append(
            _dropdown(
                "The same comparison on the metrics the paper does not report",
                markdown_comparison(beyond, "BCE", "MTL"),
            )
        )
    return "\n\n".join(parts)


def _dropdown(title: str, body: str) -> str:
    """A folded block: HTML's ``<details>``, which the book, GitHub, Jupyter and Colab all render (the
    Markdown inside it too, between blank lines)."""
    return f'<details style="margin-bottom: 1em"><summary>{title}</summary>\n\n{body.strip()}\n\n</details>'


def results_page(profile: Profile, root: Path, data: Path | None = None) -> str:
    """The results page for ``profile``'s grids under ``root`` (``runs/`` and ``data/``), as Markdown.

    ``data``: the data set both tables ran on (default: the profile's embedded sets).
    """
    out = ["# Results of this build", ""]
    sections = []
    envs = []
    for table in profile.params["tables"]:
        grid = table_grid(profile, table, root, data)
        csv_path = grid / f"table{table}.csv"
        if not csv_path.is_file():
            raise FileNotFoundError(f"{csv_path} is missing: chapter 5 did not finish table {table}")
        rows = {r["row"]: r for r in csv.DictReader(csv_path.open())}
        entries = read_entries(csv_path)
        runs = _runs(grid)
        envs += [r["environment"] for r in runs if "environment" in r]
        train_s = [r["train_seconds"] for r in runs if "train_seconds" in r]
        topic = {1: "the losses", 2: "the models", 3: "mask constraints compared (beyond the paper)"}[table]
        where = {1: "the overlapped set", 2: "the DESED-like set", 3: "the overlapped set"}[table]
        title = f"{topic} on {Path(data).name if data else where}"
        part = [
            f"## Table {table}: {title}",
            "",
            markdown_table(entries, HEADLINE),
            "",
            _dropdown(
                f"Metrics the paper does not report: {', '.join(METRIC_NAMES[m] for m in BEYOND_METRICS)}",
                "Event-based F1 (onset collar 200 ms, offset 200 ms or half the event's length, as ER) and "
                "the polyphonic sound detection score in the two DCASE scenarios (PSDS1: tight "
                "localisation; PSDS2: tolerant, penalising cross-triggers), on the same runs and test "
                "clips.\n\n" + markdown_table(entries, BEYOND_METRICS, notes=False),
            ),
            "",
        ]
        part.append(
            f"{len(runs)} distinct runs, {sum(train_s) / 60:.0f} min of training in all "
            f"({min(train_s):.0f}-{max(train_s):.0f} s each). Folder: `{grid.relative_to(root)}`."
            if train_s
            else ""
        )
        if BASELINE in rows:
            part += ["", _paper_sentence(rows[BASELINE])]
        weights = grid / "weights_val.json"
        if table == 3 and (grid / "table3_choices.md").is_file():
            part += [
                "",
                "### The weights, chosen on the validation split, and the cost of a training step",
                "",
                "Each constraint trained with each weight of the profile's `constraint_grid` (first seed); "
                "the highest validation score wins, as for Table 1's weights. The seconds per training step "
                "were measured side by side in one process (`mtlsed.experiments.table3.step_cost`).",
                "",
                (grid / "table3_choices.md").read_text().strip(),
            ]
        elif weights.is_file():
            choice = json.loads(weights.read_text())
            part += [
                "",
                "### The auxiliary weights, chosen on the validation split",
                "",
                f"Label-guided segment + silent DDC-FAP for each pair of the profile's `weight_grid`, first "
                f"seed; the highest validation {METRIC_NAMES[choice['metric']]} wins (ties: the paper's "
                "0.2 / 0.2). The test split plays no part.",
                "",
                markdown_weights(choice),
            ]
        paired = grid / f"table{table}_paired.json"
        if paired.is_file():
            comparisons = json.loads(paired.read_text())
            labels = {"segment_silent-label": "segment + silent, label-guided, λ 0.2 / 0.2 (the paper's)"}
            if table == 2:
                labels = {"mtl_ddc_fap": "MTL-DDC-FAP (segment + silent, label-guided, λ 0.2 / 0.2)"}
            if table == 3:
                labels = {k: f"{rows[k]['loss']}, {rows[k]['setting']}" for k in comparisons if k in rows}
            if TUNED in comparisons and TUNED in rows:
                labels[TUNED] = f"segment + silent, label-guided, {rows[TUNED]['setting']}"
            part += ["", "### Do the auxiliary losses help? Paired over seeds, against DDC-FAP (BCE only)"]
            folded = []
            for key, label in labels.items():
                if key not in comparisons:
                    continue
                if all(r["verdict"].startswith("not comparable") for r in comparisons[key]):
                    folded.append(label)  # one sentence for all of them, below
                    continue
                part += ["", f"**{label}**: {_verdicts(comparisons[key])}", ""]
                part.append(comparison_markdown(table, key, comparisons[key]))
            if folded:
                part += [
                    "",
                    "Not compared here (fewer than two seeds with the metric in both rows): "
                    + "; ".join(folded)
                    + ".",
                ]
        sections.append("\n".join(part))
    env = envs[0] if envs else {}
    seeds, other = profile.params["seeds"], profile.params["seeds_other_rows"]
    out += [
        f"Every number on this page was made by the build that rendered it: profile `{profile.name}` "
        f"({profile.params['description']}), seeds {seeds} for Table 1's rows compared seed by seed "
        f"(DDC-FAP with BCE alone, and with segment + silent at the paper's weights and at the weights "
        f"chosen on validation), {other} for the others; "
        + (
            f"hardware {hardware_line(env)}, torch {env.get('torch')}, mtlsed {env.get('mtlsed')}. "
            if env
            else ""
        )
        + "Cells give our mean ± sample standard deviation over seeds and the paper's value in "
        "brackets. The paper's numbers come from the real DCASE data and the full model on a GPU, "
        "ours from the data set and the profile named here, so compare directions, not values. "
        "Post-processing (clip gate, frame threshold, median filter) "
        + (
            "is chosen per run on the validation split (`eval.tune_on_val`) where the validation clips have "
            "strong labels; the column Post-proc. and the line under each table say, row by row, where it "
            "came from and why."
            if profile.config().eval.tune_on_val
            else "is the profile's fixed setting (`eval.tune_on_val` is off)."
        ),
        "",
        "What the profile is and how it was chosen: [Reproducing it](reproduce.md).",
        "",
    ]
    if data:
        from mtlsed.data.format import read_dataset

        index = read_dataset(data)
        out += [
            f"Both tables ran on the data set `{Path(data).name}` given to the build ({len(index.filenames)} "
            f"clips, {len(index.classes)} classes: {', '.join(index.classes)}), not on the embedded sets.",
            "",
        ]
    return "\n".join(out) + "\n" + wide_tables("\n\n".join(sections)) + "\n"


WIDE = '<div class="full-width">'  # the book theme's class: the block spans the page's margin column too


def wide_tables(markdown: str, columns: int = 6) -> str:
    """``markdown`` with each table of ``columns`` or more columns (a run of lines starting with ``|``)
    inside a :data:`WIDE` block, so the book gives a table of metric columns the width of the text and its
    margin; GitHub and Jupyter show the table as before. The blank lines keep the table Markdown inside
    the HTML block."""
    lines = markdown.split("\n")
    out: list[str] = []
    i, fenced = 0, False
    while i < len(lines):
        if lines[i].lstrip().startswith(("```", "~~~")):
            fenced = not fenced  # a code block's lines are code, never a table
        if fenced or not lines[i].startswith("|"):
            out.append(lines[i])
            i += 1
            continue
        end = i
        while end < len(lines) and lines[end].startswith("|"):
            end += 1
        table = lines[i:end]
        wide = table[0].strip().strip("|").count("|") + 1 >= columns
        out += [WIDE, "", *table, "", "</div>"] if wide else table
        i = end
    return "\n".join(out)


VERDICT_MARKER = "<!-- the build writes the bottom line here -->"


def bottom_line(profile: Profile, root: Path, data: Path | None = None) -> str:
    """The book's bottom line (:mod:`mtlsed.experiments.verdict`) from the Table 1 grid this build ran:
    the paper's row (λ2 = λ3 = 0.2) and the row with the weights chosen on validation, each against BCE
    alone seed by seed, beside the direction the paper reports."""
    from mtlsed.data.format import read_dataset
    from mtlsed.experiments.paper import paper_row
    from mtlsed.experiments.registry import table_rows
    from mtlsed.experiments.table1 import FIXED
    from mtlsed.experiments.verdict import verdict_markdown

    if 1 not in profile.params["tables"]:
        return (
            f"The profile `{profile.name}` runs no Table 1 (its tables: {profile.params['tables']}), so this "
            "build states no bottom line on the paper's claim; its tables are on the results page."
        )
    grid = table_grid(profile, 1, root, data)
    paired = grid / "table1_paired.json"
    rows = {r.key: r for r in table_rows(1)}
    comparisons = json.loads(paired.read_text()) if paired.is_file() else {}
    table = {r["row"]: r for r in csv.DictReader((grid / "table1.csv").open())}
    compared = {}
    if FIXED in comparisons:
        compared[FIXED] = ("segment + silent at the paper's weights, λ2 = λ3 = 0.2", comparisons[FIXED])
    if TUNED in comparisons and TUNED in table:
        compared[TUNED] = (f"segment + silent, {table[TUNED]['setting']}", comparisons[TUNED])
    index = read_dataset(data or default_data_dir(profile, 1, root / "data"))
    where = f"the data set `{Path(data).name}`" if data else "the embedded synthetic set"
    setting = (
        f"**Does adding the segment and silent losses to DDC-FAP help, as the paper reports?** This build "
        f"answers on {where} ({len(index.filenames)} clips, {len(index.classes)} classes) under the profile "
        f"`{profile.name}`; the paper's Table 1 used 8000 clips of DCASE 2018 events in 41 classes, both "
        "onsets at 3 s, at the `paper` profile's scale. Each row is compared with BCE alone seed by seed:"
    )
    return verdict_markdown(compared, paper_row(rows[BASELINE]), paper_row(rows[FIXED]), setting)
