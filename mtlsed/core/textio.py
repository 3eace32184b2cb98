"""Reading and writing the package's text files: UTF-8 (a byte-order mark allowed) and tab-separated.

One owner for what every reader of a label file, a groups file or a YAML file does with its bytes, so an
encoding problem reads the same wherever it is met: the file and line of the first byte that is not UTF-8.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

from mtlsed.core.atomic import atomic_path
from mtlsed.core.errors import UserError


def read_utf8(path: Path, error: type[UserError] = UserError) -> str:
    """A text file as UTF-8 (a leading byte-order mark dropped); a byte that is not UTF-8 raises ``error``
    naming its line."""
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise error(
            f"{path}:{line}: byte {data[err.start]:#04x} is not UTF-8 (save the file as UTF-8)"
        ) from None


def write_tsv(path: Path, header: list[str], rows: Iterable[list[str]]) -> None:
    """A TSV file (UTF-8, ``\\n`` line ends, no quoting) with its header, written atomically."""
    with atomic_path(path) as tmp, tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_NONE, escapechar="\\")
        writer.writerow(header)
        writer.writerows(rows)
