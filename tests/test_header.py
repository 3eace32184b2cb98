"""The notebooks' two header cells: one owner, written into every notebook and its twin."""

import ast
import inspect
import json
import os
import re
import shutil
from pathlib import Path

import pytest

from mtlsed.book import header
from mtlsed.book.build import present_parameters, twin_differences, twin_text, write_header_cells
from mtlsed.book.notebook import setup
from mtlsed.book.publish import setup_cell
from mtlsed.config.profiles import DEFAULT_PROFILE
from mtlsed.core.errors import UserError

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))


def _cell(nb: Path, tag: str) -> dict:
    return next(c for c in json.loads(nb.read_text())["cells"] if tag in c["metadata"].get("tags", []))


def test_the_parameters_cell_defines_what_setup_takes_in_its_order():
    tree = ast.parse(header.parameters_cell())
    names = [node.targets[0].id for node in tree.body]
    assert names == list(inspect.signature(setup).parameters)[:5]
    values = {node.targets[0].id: ast.literal_eval(node.value) for node in tree.body}
    assert values["profile"] == DEFAULT_PROFILE and values["overrides"] == {}


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_and_its_twin_hold_the_owners_cells(nb):
    assert "".join(_cell(nb, "parameters")["source"]) == header.parameters_cell()
    assert "".join(_cell(nb, "colab-setup")["source"]) == setup_cell()
    twin = nb.with_suffix(".py").read_text()
    assert header.parameters_cell() in twin and setup_cell() in twin


def test_a_notebook_without_a_header_cell_is_refused_by_name():
    notebook = {"cells": [{"cell_type": "code", "metadata": {"tags": ["colab-setup"]}, "source": []}]}
    with pytest.raises(UserError, match=r"07_mine.ipynb: no code cell tagged parameters"):
        header.fill_header(notebook, "07_mine.ipynb")
    assert "".join(notebook["cells"][0]["source"]) == setup_cell()  # what was there is filled


@pytest.fixture
def pair(tmp_path):
    """A copy of chapter 1 with the checkout's jupytext settings (so the twin is written the same way)."""
    (tmp_path / "notebooks").mkdir()
    shutil.copy(ROOT / "jupytext.toml", tmp_path / "jupytext.toml")
    for suffix in (".ipynb", ".py"):
        shutil.copy(NOTEBOOKS[0].with_suffix(suffix), tmp_path / "notebooks" / f"01_data{suffix}")
    return tmp_path / "notebooks" / "01_data.ipynb"


def test_twin_check_holds_the_header_to_its_owner_and_setup_cells_repair_it(pair):
    assert twin_differences(pair) == []
    twin = pair.with_suffix(".py")
    committed = twin.read_text()
    data = json.loads(pair.read_text())
    cell = next(c for c in data["cells"] if "parameters" in c["metadata"].get("tags", []))
    cell["source"] = header.parameters_cell().replace('"cpu"', '"ci"')
    pair.write_text(json.dumps(data))
    twin.write_text(twin_text(pair))  # a true pair, but not the owner's cell
    assert twin_differences(pair) == [
        "cell 3: 01_data.ipynb's parameters cell is not mtlsed.book.header's (make setup-cells)"
    ]
    # make setup-cells writes the owner's cells back into both, keeping the outputs
    os.utime(twin, (1, 1))
    assert write_header_cells(pair.parent.parent) == [pair, twin]
    assert twin_differences(pair) == [] and twin.read_text() == committed
    assert twin.stat().st_mtime >= pair.stat().st_mtime  # jupytext's pairing: the twin is not older
    outputs = [[c.get("outputs") for c in json.loads(nb.read_text())["cells"]] for nb in (pair, NOTEBOOKS[0])]
    assert outputs[0] == outputs[1]
    assert write_header_cells(pair.parent.parent) == []


def test_setup_cells_refuse_to_drop_an_edit(pair):
    twin = pair.with_suffix(".py")
    twin.write_text(twin.read_text() + '\n# %%\nprint("my edit")\n')
    with pytest.raises(
        UserError, match=r"01_data.ipynb and 01_data.py differ outside the header cells .*jupytext --sync"
    ):
        write_header_cells(pair.parent.parent)
    assert twin.read_text().endswith('print("my edit")\n')  # the edit is kept


def test_twin_text_of_every_notebook_is_its_committed_twin():
    def text(twin: str) -> str:  # the version of the jupytext that wrote it aside
        return re.sub(r"jupytext_version: \S+", "", twin)

    for nb in NOTEBOOKS:
        assert text(twin_text(nb)) == text(nb.with_suffix(".py").read_text()), (
            f"make setup-cells: {nb.stem}.py"
        )


def _executed(tmp_path: Path) -> Path:
    """A notebook as papermill leaves it: the parameters cell, then the cell it injected."""
    cells = [
        {"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": header.parameters_cell()},
        {
            "cell_type": "code",
            "metadata": {"tags": ["injected-parameters"]},
            "source": '# Parameters\nprofile = "x"\n',
        },
    ]
    path = tmp_path / "run.ipynb"
    path.write_text(json.dumps({"cells": cells}))
    return path


@pytest.mark.parametrize(
    "profile, said",
    [
        ("ci", "the profile ci replaces the\n# notebook's default (`cpu`);"),
        ("cpu", "the profile cpu, the notebook's default;"),
    ],
)
def test_the_page_shows_one_parameters_cell_that_says_where_its_values_come_from(tmp_path, profile, said):
    path = _executed(tmp_path)
    present_parameters(path, profile)
    default, injected = json.loads(path.read_text())["cells"]
    assert "remove-cell" in default["metadata"]["tags"]
    assert injected["source"].startswith(f"# Parameters injected by papermill: {said}")
    assert injected["source"].endswith('profile = "x"\n') and "# Parameters\n" not in injected["source"]
    assert "`data`" not in injected["source"]  # no data set given: the embedded set, and no line on it
    path = _executed(tmp_path)
    present_parameters(path, profile, data=tmp_path / "mine")
    assert (
        "# `data` replaces the embedded synthetic set" in json.loads(path.read_text())["cells"][1]["source"]
    )
