"""The paper's own numbers (its Tables 1 and 2, ``paper_tables.csv``) and the row each belongs to."""

from __future__ import annotations

import csv
from importlib.resources import files

from mtlsed.core.vocabulary import HEADLINE
from mtlsed.experiments.rows import Row


def paper_numbers() -> list[dict]:
    """The paper's Table 1 and 2 (``tables.csv``)."""
    text = files("mtlsed").joinpath("experiments", "paper_tables.csv").read_text()
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
            return {m: float(p[m]) for m in HEADLINE}
    return None
