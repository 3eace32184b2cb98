"""The two cells every notebook opens with: the Colab setup and the papermill parameters.

Every chapter starts with the same two code cells: the Colab setup (:func:`mtlsed.book.publish.setup_cell`,
tagged ``colab-setup``) and the papermill parameters (:func:`parameters_cell`, tagged ``parameters``).
This module is their one owner: ``make setup-cells`` and ``make notebooks`` write them into every notebook
and its ``.py`` twin (the twins stay true jupytext pairs), and
:func:`mtlsed.book.build.twin_differences` names a notebook whose header cells are not these.
"""

from __future__ import annotations

from mtlsed.config.profiles import DEFAULT_PROFILE
from mtlsed.core.errors import UserError

SETUP_TAG = "colab-setup"
PARAMETERS_TAG = "parameters"  # papermill's tag: its values are replaced by ``-p name value``
HEADER_TAGS = (SETUP_TAG, PARAMETERS_TAG)

# The papermill parameters of every chapter and their defaults, as Python source (mtlsed.book.notebook.setup
# takes them in this order).
PARAMETERS = (
    ("profile", f'"{DEFAULT_PROFILE}"'),
    ("data", "None"),
    ("seeds", "None"),
    ("n_clips", "None"),
    ("overrides", "{}"),
)


def parameters_cell() -> str:
    """The source of every notebook's ``parameters`` cell: what each parameter means, then the defaults."""
    lines = [
        "# Papermill parameters (`-p profile ci`): a shipped profile (ci, cpu, paper) or a profile file;",
        "# `data`: a dataset folder (`mtlsed import` makes one) used instead of the embedded set; what to",
        "# change in the profile: None keeps its value, overrides adds config keys on top of its own.",
        '# On a GPU (Colab): profile = "paper" runs at the paper\'s scale, and data = "data/overlapped"'
        " on the",
        "# paper's DCASE 2018 set once README's \"On a Colab GPU\" has mixed it.",
    ]
    return "\n".join(lines + [f"{name} = {value}" for name, value in PARAMETERS])


def header_source(tag: str) -> str:
    """The source of the header cell tagged ``tag`` (one of :data:`HEADER_TAGS`)."""
    from mtlsed.book.publish import setup_cell

    return setup_cell() if tag == SETUP_TAG else parameters_cell()


def header_tag(metadata: dict) -> str | None:
    """Which header cell a cell with this metadata is (a tag of :data:`HEADER_TAGS`), None for the others."""
    tags = metadata.get("tags", [])
    return next((tag for tag in HEADER_TAGS if tag in tags), None)


def fill_header(notebook: dict, name: str) -> bool:
    """Write the header cells' sources into ``notebook`` (nbformat JSON, changed in place; outputs kept).
    Returns whether anything changed; a notebook without both header cells is refused, naming ``name``."""
    changed, seen = False, set()
    for cell in notebook["cells"]:
        tag = header_tag(cell.get("metadata", {}))
        if tag is None or cell["cell_type"] != "code":
            continue
        seen.add(tag)
        text = header_source(tag)
        if "".join(cell["source"]) != text:
            cell["source"] = text.splitlines(keepends=True)
            changed = True
    missing = [tag for tag in HEADER_TAGS if tag not in seen]
    if missing:
        raise UserError(f"{name}: no code cell tagged {' or '.join(missing)}; every notebook opens with both")
    return changed
