"""Notebook guards: text twins, parameters, papermill end to end, and a clear error for a bad parameter."""

import ast
import json
from pathlib import Path

import papermill
import pytest

from mtlsed.book import twin_text

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))


def test_five_paired_notebooks():
    assert [nb.stem for nb in NOTEBOOKS] == [
        "01_data",
        "02_model",
        "03_losses",
        "04_training",
        "05_evaluation",
    ]


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_text_twin_matches_by_content(nb):
    assert twin_text(nb) == nb.with_suffix(".py").read_text(), f"run `jupytext --sync {nb}`"


def _parameters(nb: Path) -> dict:
    cells = json.loads(nb.read_text())["cells"]
    cell = next(c for c in cells if "parameters" in c["metadata"].get("tags", []))
    values = {}
    for node in ast.parse("".join(cell["source"])).body:
        values[node.targets[0].id] = ast.literal_eval(node.value)
    return values


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_defaults_are_the_ci_profile_and_outputs_are_clean(nb):
    assert _parameters(nb) == {"profile": "ci", "data": None, "seeds": None, "n_clips": None, "overrides": {}}
    cells = json.loads(nb.read_text())["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert all(c.get("execution_count") for c in code), "commit the notebooks executed (make notebooks)"
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


@pytest.mark.parametrize("name", ["04_training", "05_evaluation"])
def test_papermill_runs_notebooks_with_the_ci_profile(sandbox, name):
    out = sandbox / "notebooks" / f"{name}.ipynb"
    parameters = {"profile": "ci"}
    if name == "05_evaluation":  # #10: the tables follow the notebook's own seeds and overrides,
        # given as text as `-p overrides '{...}'` passes them
        overrides = '{"train.iterations": 3, "train.eval_every": 3}'
        parameters = {**parameters, "seeds": [7], "overrides": overrides}
    papermill.execute_notebook(
        str(ROOT / "notebooks" / f"{name}.ipynb"),
        str(out),
        parameters=parameters,
        cwd=str(out.parent),
        kernel_name="python3",
        progress_bar=False,
    )
    text = out.read_text()
    assert "profile: ci" in text and "wall time of this notebook" in text
    if name == "05_evaluation":
        # chapter 4 (ci defaults) trained its run into the Table 1 grid of the defaults; chapter 5's
        # seeds and overrides make a grid of their own
        grids = sorted((sandbox / "runs" / "ci").glob("table1-*"), key=lambda g: (g / "table1.md").is_file())
        assert len(grids) == 2 and not (grids[0] / "table1.md").is_file()
        assert sorted(p.name for p in grids[0].iterdir()) == ["ddc_fap", "segment_silent-label"]
        grid1 = grids[1]
        (grid2,) = (sandbox / "runs" / "ci").glob("table2-*")
        assert (grid1 / "table1.md").is_file() and (grid2 / "table2.md").is_file()
        identity = json.loads((grid1 / "ddc_fap" / "seed7" / "identity.json").read_text())
        assert identity["config"]["train"]["iterations"] == 3 and identity["config"]["train"]["seed"] == 7
        assert not list(grid1.glob("*/seed0"))
        # the notebooks' own run is Table 1's MTL run of the first seed: trained once, in the grid
        assert not (sandbox / "runs" / "ci" / "notebook").exists()


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
