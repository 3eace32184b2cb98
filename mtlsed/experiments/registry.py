"""The tables ``reproduce`` knows, by number: each a module with the same small interface.

- ``NUMBER``, ``RECIPE`` (the embedded set it is reproduced on without ``--data``), ``EXTRA_ROWS`` (row
  keys ``--rows`` may name beyond ``rows()``);
- ``rows()``: its rows; ``seeds(profile)``: (seeds of the paired rows, seeds of the others);
- ``plan_note(profile, rows)``: what the log says of its plan beyond the seeds;
- ``train(ctx, selected)``: train or find its runs (a :class:`~mtlsed.experiments.runner.GridRuns`);
- ``write_extras(ctx, runs)``: the files it writes beside the table.

Tables 1 and 2 are the paper's; Table 3 (mask constraints side by side) goes beyond it.
"""

from __future__ import annotations

from mtlsed.core.errors import UserError
from mtlsed.experiments import table1, table2, table3
from mtlsed.experiments.rows import Row

TABLES = {t.NUMBER: t for t in (table1, table2, table3)}


def spec(table: int):
    """The module of table ``table``; an unknown number is a :class:`UserError`."""
    if table not in TABLES:
        raise UserError(
            f"tables 1 and 2 are the paper's and 3 compares mask constraints; there is no table {table}"
        )
    return TABLES[table]


def table_rows(table: int) -> list[Row]:
    return spec(table).rows()
