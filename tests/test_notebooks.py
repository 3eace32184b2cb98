"""Notebook guards: text twins, parameters, papermill end to end, and a clear error for a bad parameter."""

import ast
import json
import re
from pathlib import Path

import papermill
import pytest

from mtlsed.book.build import twin_differences

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))


def test_six_paired_notebooks():
    assert [nb.stem for nb in NOTEBOOKS] == [
        "01_data",
        "02_model",
        "03_losses",
        "04_training",
        "05_evaluation",
        "06_beyond",
    ]


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_text_twin_matches_by_content(nb):
    assert twin_differences(nb) == [], f"run `jupytext --sync {nb}`, then `make setup-cells`"


def _pair(tmp_path: Path) -> tuple[Path, Path]:
    for suffix in (".ipynb", ".py"):
        (tmp_path / f"01_data{suffix}").write_text(NOTEBOOKS[0].with_suffix(suffix).read_text())
    return tmp_path / "01_data.ipynb", tmp_path / "01_data.py"


def test_twin_check_ignores_the_jupytext_version(tmp_path):
    nb, twin = _pair(tmp_path)
    text = twin.read_text()
    assert "jupytext_version: " in text
    # the version of the jupytext that wrote either file: another release writes another string
    twin.write_text(re.sub(r"jupytext_version: \S+", "jupytext_version: 0.0.1", text))
    data = json.loads(nb.read_text())
    data["metadata"].setdefault("jupytext", {})["text_representation"] = {"jupytext_version": "99.0"}
    nb.write_text(json.dumps(data))
    assert twin_differences(nb) == []


def test_twin_check_finds_a_changed_cell(tmp_path):
    nb, twin = _pair(tmp_path)
    text = twin.read_text()
    twin.write_text(text.replace("# # 1. The data", "# # 1. Data", 1))
    found = twin_differences(nb)
    assert len(found) == 1 and found[0].startswith("cell 1: source differs"), found
    twin.write_text(text.replace('# %% tags=["parameters"]', "# %%", 1))
    assert any("metadata differs" in d for d in twin_differences(nb))
    twin.write_text(text + "\n# %%\nprint('one more')\n")
    assert twin_differences(nb)[-1].endswith(
        f"cells, 01_data.py {len(json.loads(nb.read_text())['cells']) + 1}"
    )


def _parameters(nb: Path) -> dict:
    cells = json.loads(nb.read_text())["cells"]
    cell = next(c for c in cells if "parameters" in c["metadata"].get("tags", []))
    values = {}
    for node in ast.parse("".join(cell["source"])).body:
        values[node.targets[0].id] = ast.literal_eval(node.value)
    return values


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_defaults_are_the_cpu_profile_and_the_committed_outputs_come_from_it(nb):
    """What GitHub, nbviewer and Colab show is the run of the defaults (a model that learnt), complete."""
    assert _parameters(nb) == {
        "profile": "cpu",
        "data": None,
        "seeds": None,
        "n_clips": None,
        "overrides": {},
    }
    data = json.loads(nb.read_text())
    cells = data["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert all(c.get("execution_count") for c in code), "commit the notebooks executed (make notebooks)"
    # executed as committed: no parameters injected over the defaults
    assert data["metadata"]["papermill"]["parameters"] == {}, "make notebooks executes with the defaults"
    assert not [c for c in cells if "injected-parameters" in c["metadata"].get("tags", [])]
    card = json.dumps([c.get("outputs", []) for c in code])
    assert "profile: cpu" in card, "the session card names the profile the outputs come from"
    for c in code:
        for out in c.get("outputs", []):
            assert out["output_type"] != "error"
            assert out.get("name") != "stderr", (
                f"stderr in a stored output: {''.join(out.get('text', ''))[:200]}"
            )


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    """A folder laid out like the checkout, so the notebooks put data/ and runs/ there."""
    root = tmp_path_factory.mktemp("book")
    (root / "notebooks").mkdir()
    return root


# Chapters 4 and 5 run end to end under papermill in test_own_data.py (with seeds and overrides of their
# own), and the book test runs them all under ci and compares their profile-independent outputs with the
# committed ones (test_book.py).


@pytest.mark.parametrize(
    "parameters, message",
    [
        ({"n_clip": 50}, r"unknown notebook parameter\(s\) \['n_clip'\]"),
        ({"overrides": {"train.lrr": 0.1}}, r"parameter overrides: train.lrr: unknown config key"),
        ({"seeds": "0"}, r"parameter seeds must be a non-empty list of integers"),
        (
            {"profile": "gpu"},
            r"parameter profile: profile 'gpu' not found .* \(known: ci, cpu, cpu-table3, paper\)",
        ),
        ({"n_clips": 5}, r"parameter n_clips must be an integer >= 10"),
        (
            {"description": "x", "run_overrides": {}},
            r"unknown notebook parameter\(s\) \['description', 'run_overrides'\].*-p profile cpu",
        ),
    ],
)
def test_a_bad_parameter_fails_with_a_clear_message(sandbox, parameters, message):
    out = sandbox / "notebooks" / "bad.ipynb"
    with pytest.raises(papermill.PapermillExecutionError, match=message):
        papermill.execute_notebook(
            str(ROOT / "notebooks" / "01_data.ipynb"),
            str(out),
            parameters=parameters,
            cwd=str(out.parent),
            kernel_name="python3",
            progress_bar=False,
        )


def _notebook(path: Path, outputs: list[str], tag: str = "profile-independent") -> Path:
    cells = [
        {
            "cell_type": "code",
            "source": f"print({n})",
            "metadata": {"tags": [tag]},
            "outputs": [{"output_type": "stream", "name": "stdout", "text": text}],
        }
        for n, text in enumerate(outputs)
    ]
    path.write_text(json.dumps({"cells": cells, "metadata": {}}))
    return path


def test_output_differences_compares_only_tagged_cells_after_sanitising(tmp_path):
    from mtlsed.book.build import output_differences

    sanitize = tmp_path / "sanitize.cfg"
    sanitize.write_text("[seconds]\nregex: \\d+(\\.\\d+)? s\\b\nreplace: N s\n")
    committed = _notebook(tmp_path / "a.ipynb", ["took 12.5 s\n", "dice 0.25\n"])
    same = _notebook(tmp_path / "b.ipynb", ["took 3 s\n", "dice 0.25\n"])
    assert output_differences(committed, same, sanitize) == []
    other = _notebook(tmp_path / "c.ipynb", ["took 3 s\n", "dice 0.5\n"])
    (found,) = output_differences(committed, other, sanitize)
    assert "tagged cell 2 ('print(1)')" in found and "dice 0.25" in found and "dice 0.5" in found
    untagged = _notebook(tmp_path / "d.ipynb", ["x\n", "y\n"], tag="other")
    assert (
        output_differences(untagged, _notebook(tmp_path / "e.ipynb", ["z\n", "w\n"], tag="other"), sanitize)
        == []
    )
    (count,) = output_differences(committed, untagged, sanitize)
    assert "2 cells tagged profile-independent, 0 executed" in count


def test_a_failing_cell_in_a_build_is_one_message_naming_the_notebook_and_cell(tmp_path):
    import nbformat

    from mtlsed.book.build import _execute
    from mtlsed.core.errors import UserError

    nb = tmp_path / "broken.ipynb"
    book = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("x = 1"),
            nbformat.v4.new_code_cell("raise ValueError('no such clip')"),
        ],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    )
    nbformat.write(book, nb)
    out = tmp_path / "out.ipynb"
    with pytest.raises(
        UserError, match=r"broken\.ipynb: cell 2 failed: ValueError: no such clip \(the executed"
    ):
        _execute(nb, out, cwd=str(tmp_path))
    assert out.is_file()


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_cell_shows_a_matplotlib_return_value(nb):
    """A cell that ends in ``fig.suptitle(...)`` shows ``Text(...)`` and the book captions it as a figure."""
    for n, cell in enumerate(json.loads(nb.read_text())["cells"]):
        for out in cell.get("outputs", []):
            shown = "".join(out.get("data", {}).get("text/plain", ""))
            assert not shown.startswith(("Text(", "[<matplotlib", "<matplotlib.")), (nb.name, n, shown[:60])
