"""Table 3 (#21): every constraint's weight chosen on validation, its rows paired with BCE alone seed by seed,
the verdicts computed, the cost of a step measured, and runs shared with the other tables."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mtlsed.experiments.comparison import paired_difference
from mtlsed.runs.runfolder import RunFolder

ROOT = Path(__file__).resolve().parents[1]
KEYS = ["segment_silent", "cosine", "judge", "consistency"]


@pytest.fixture(scope="module")
def grid(small_set, tmp_path_factory):
    work = tmp_path_factory.mktemp("table3")
    profile = work / "t3.yaml"
    profile.write_text(
        "base: ci\nprofile: t3\ndescription: Table 3 test\nseeds: [0, 1]\nconstraint_grid: [0.05, 0.2]\n"
        "overrides: {train.iterations: 8, train.eval_every: 4}\n"
    )
    cmd = [sys.executable, "-m", "mtlsed", "reproduce", "--profile", str(profile), "--data", str(small_set)]
    first = subprocess.run(
        [*cmd, "--table", "1", "--rows", "ddc_fap"], capture_output=True, text=True, cwd=work
    )
    assert first.returncode == 0, first.stderr[-3000:]
    done = subprocess.run([*cmd, "--table", "3", "--jobs", "2"], capture_output=True, text=True, cwd=work)
    assert done.returncode == 0, done.stderr[-3000:]
    (folder,) = (work / "runs" / "t3").glob("table3-*")
    return folder, done.stdout, work


def _metrics(run: Path, split: str = "test") -> dict:
    return RunFolder(run).require_metrics(split)


def test_each_weight_is_the_best_on_validation_and_rows_link_to_its_runs(grid):
    folder, _, _ = grid
    choices = json.loads((folder / "weights_val.json").read_text())
    assert list(choices) == KEYS
    for key in KEYS:
        val = {
            w: _metrics(folder / "weights" / key / f"w{w:g}" / "seed0", "val")["sed_map"] for w in (0.05, 0.2)
        }
        assert [r["val"] for r in choices[key]["grid"]] == [val[0.05], val[0.2]]
        best = max(val.values())
        winners = [w for w in (0.05, 0.2) if val[w] == best]
        expected = 0.2 if key == "segment_silent" and 0.2 in winners else winners[0]  # the paper's wins a tie
        assert choices[key]["chosen"] == expected
        for seed in (0, 1):
            link = folder / key / f"seed{seed}"
            assert (
                link.is_symlink()
                and link.resolve() == (folder / "weights" / key / f"w{expected:g}" / f"seed{seed}").resolve()
            )
            config = RunFolder(link).config()
            weight = {
                "segment_silent": config.loss.segment_weight,
                "cosine": config.loss.cosine_weight,
                "judge": config.loss.judge_weight,
                "consistency": config.loss.consistency_weight,
            }[key]
            assert weight == expected and config.train.seed == seed
            others = {"cosine_weight", "judge_weight", "consistency_weight"} - {f"{key}_weight"}
            assert all(getattr(config.loss, name) == 0 for name in others)


def test_rows_are_paired_with_bce_seed_by_seed(grid):
    folder, stdout, _ = grid
    paired = json.loads((folder / "table3_paired.json").read_text())
    assert set(paired) == set(KEYS)
    base = {s: _metrics(folder / "ddc_fap" / f"seed{s}") for s in (0, 1)}
    for key in KEYS:
        other = {s: _metrics(folder / key / f"seed{s}") for s in (0, 1)}
        for row in paired[key]:
            expected = paired_difference(base, other, row["metric"])
            assert row["verdict"] == expected["verdict"] and row["per_seed"] == {
                str(k): v for k, v in expected["per_seed"].items()
            }
        at = next(r for r in paired[key] if r["metric"] == "at_map")
        assert at["per_seed"]["0"] == pytest.approx(other[0]["at_map"] - base[0]["at_map"])
        assert f"{key} - ddc_fap, paired over seeds: at_map" in stdout


def test_the_table_the_cost_and_the_shared_bce_runs(grid):
    folder, stdout, work = grid
    md = (folder / "table3.md").read_text()
    for label in (
        "cosine penalty",
        "classifier-judged separation",
        "mixture consistency alone",
        "segment + silent",
    ):
        assert label in md
    assert "2 seeds per row" in md and "Post-processing" in md
    cost = json.loads((folder / "table3_cost.json").read_text())
    assert set(cost) == {"ddc_fap", *KEYS} and all(v > 0 for v in cost.values())
    # how much dearer the judge's step is: a measurement on a shared machine (the table prints it), no test
    assert "seconds per training step" in stdout and "× BCE only" in stdout
    # Table 3's BCE runs are Table 1's, trained once (links into Table 1's grid)
    (table1,) = (work / "runs" / "t3").glob("table1-*")
    for seed in (0, 1):
        assert (folder / "ddc_fap" / f"seed{seed}").resolve() == (
            table1 / "ddc_fap" / f"seed{seed}"
        ).resolve()
