"""Experiment grids: the rows, the paper's numbers, aggregation, and `reproduce` end to end."""

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import fake_evaluation, mtlsed_here

from mtlsed.experiments.aggregate import aggregate
from mtlsed.experiments.paper import paper_row
from mtlsed.experiments.registry import table_rows
from mtlsed.experiments.report import WIDE, wide_tables
from mtlsed.experiments.tables import markdown_table, mean_std


def test_rows_of_both_tables_and_their_paper_numbers():
    t1, t2 = table_rows(1), table_rows(2)
    assert len(t1) == 9 and len(t2) == 5
    assert [r.key for r in t2] == ["attention", "talnet", "vgg_gwrp", "ddc_fap", "mtl_ddc_fap"]
    with open(__file__.replace("tests/test_experiments.py", "mtlsed/experiments/paper_tables.csv")) as fh:
        paper = list(csv.DictReader(fh))
    assert len(paper) == 14
    for row in t1 + t2:
        numbers = paper_row(row)
        assert numbers is not None, row.key
    by_key = {r.key: r for r in t1}
    assert paper_row(by_key["ddc_fap"])["at_map"] == 0.662
    assert paper_row(by_key["segment_silent-label"])["i"] == 0.612
    assert paper_row(by_key["segment-top5"])["er"] == 1.631
    assert by_key["segment-top3"].overrides["loss.topk"] == 3
    assert by_key["segment-label"].overrides["loss.silent_weight"] == 0.0
    assert by_key["ddc_fap"].overrides["loss.segment_weight"] == 0.0
    assert {r.overrides["model.name"] for r in t2} == {"attention", "talnet", "vgg_gwrp", "ddc_fap"}


def test_aggregate_mean_and_sample_std():
    rows = table_rows(1)[:2]
    results = {
        rows[0].key: [
            {"at_map": 0.5, "er": 2.0, "f1": 0.3},
            {"at_map": 0.7, "er": 1.0, "f1": float("nan")},
            {"at_map": 0.6, "er": 1.5, "f1": 0.5},
        ],
        rows[1].key: [{"at_map": 0.4, "er": float("nan")}],
    }
    entries = aggregate(rows, results)
    assert entries[0]["at_map_mean"] == pytest.approx(0.6)
    assert entries[0]["at_map_std"] == pytest.approx(0.1)  # sample std of 0.5, 0.7, 0.6
    assert entries[0]["er_std"] == pytest.approx(0.5)
    assert entries[0]["at_map_paper"] == 0.662 and entries[0]["n_seeds"] == 3
    assert np.isnan(entries[1]["at_map_std"]) and np.isnan(entries[1]["er_mean"])
    md = markdown_table(entries, ["at_map", "er"])
    assert "0.600\u00a0±\u00a00.100 (0.662)" in md and "0.400 (0.683)" in md and "n/a (1.661)" in md
    # F1 of the first row is defined for two of the three seeds: the table says so.
    assert entries[0]["f1_n"] == 2 and entries[0]["f1_mean"] == pytest.approx(0.4)
    assert "| 0.400\u00a0±\u00a00.141 [2/3 seeds] |" in markdown_table(entries, ["f1"])
    # rows are named by method, loss and selection; the seed count is a column when it varies ...
    assert md.startswith("| Row | Seeds | AT-mAP | ER |")
    # ... "mean ± std" never breaks inside a narrow column; the paper's value may go under it
    assert "0.600 ± 0.100 (0.662)" not in md and mean_std(0.6, None) == mean_std(0.6, float("nan")) == "0.600"
    assert "| DDC-FAP | 3 | 0.600" in md and "| DDC-FAP: segment, label-guided | 1 | 0.400" in md
    # ... and a line under the table when it does not
    one = markdown_table(entries[:1], ["at_map"])
    assert one.startswith("| Row | AT-mAP | Post-proc. |")
    assert "\n3 seeds per row; the bce rows train with the cross-entropy alone." in one
    # ... and where each row's post-processing came from
    assert one.endswith("the configuration's fixed settings for every row.")


def _reproduce_args(tmp_path, *args) -> list[str]:
    grid, data = str(tmp_path / "grid"), str(tmp_path / "data")
    return ["reproduce", "--profile", "ci", "--embedded-dir", data, "--out", grid, *args]


def _reproduce(tmp_path, *args):
    cmd = [sys.executable, "-m", "mtlsed", *_reproduce_args(tmp_path, *args)]
    # in its own folder: reproduce reuses the finished runs under ./runs (the notebooks' own, say)
    return subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)


def test_reproduce_table1_ci_end_to_end_and_resume(tmp_path):
    first = _reproduce(tmp_path, "--table", "1")
    assert first.returncode == 0, first.stderr[-3000:]
    grid = tmp_path / "grid"
    for row in table_rows(1):
        assert (grid / row.key / "seed0" / "metrics_test.json").is_file()
    with (grid / "table1.csv").open() as fh:
        entries = list(csv.DictReader(fh))
    assert len(entries) == 9
    for e in entries:
        for m in ("at_map", "sed_map", "er", "d", "i"):
            assert 0 <= float(e[f"{m}_mean"]) and float(e[f"{m}_paper"]) > 0
    md = (grid / "table1.md").read_text()
    assert "profile `ci`" in md and "hardware:" in md and "(0.662)" in md
    again = _reproduce(tmp_path, "--table", "1")
    assert again.returncode == 0
    assert again.stdout.count("done earlier, kept") == 9
    assert (grid / "table1.md").read_text() == md


def test_reproduce_table2_rows_and_bad_input(tmp_path):
    run = _reproduce(tmp_path, "--table", "2", "--rows", "attention", "mtl_ddc_fap")
    assert run.returncode == 0, run.stderr[-3000:]
    assert (tmp_path / "data" / "desed-like-48clips-16000hz-seed0" / "weak.tsv").is_file()
    assert "| Attention |" in (tmp_path / "grid" / "table2.md").read_text()
    bad = mtlsed_here(*_reproduce_args(tmp_path, "--table", "2", "--rows", "resnet"), cwd=tmp_path)
    assert bad.returncode == 2 and "unknown row(s) ['resnet']" in bad.stderr
    bad = mtlsed_here("reproduce", "--table", "1", "--profile", "gpu", cwd=tmp_path)
    assert bad.returncode == 2 and "profile 'gpu' not found" in bad.stderr


def _cli(cwd, *args):
    return subprocess.run([sys.executable, "-m", "mtlsed", *args], capture_output=True, text=True, cwd=cwd)


def _grid_of(run):
    """The grid folder a reproduce run reports (``... -> GRID``)."""
    assert run.returncode == 0, run.stderr[-3000:]
    return Path(run.stdout.split(" -> ", 1)[1].splitlines()[0])


def _test_row(grid):
    with (grid / "table2.csv").open() as fh:
        return next(csv.DictReader(fh))


def test_reproduce_reuses_a_run_only_for_the_same_config_data_and_split(tmp_path):
    """#10: another --data, another override under the same profile name, or an evaluation of another
    split never hands back the numbers of the old setting."""
    base = ["reproduce", "--table", "2", "--rows", "ddc_fap", "--profile", "ci", "--jobs", "1"]
    first = _cli(tmp_path, *base)
    grid = _grid_of(first)
    assert grid.parent == tmp_path / "runs" / "ci" and grid.name.startswith("table2-")
    before = _test_row(grid)

    # the README's workflow: a copied profile keeps its name, with other overrides
    mine = tmp_path / "my.yaml"
    text = Path(__file__).parents[1].joinpath("mtlsed", "config", "params", "ci.yaml").read_text()
    mine.write_text(text.replace("train.iterations: 20", "train.iterations: 7"))
    other = _cli(tmp_path, *base[:-4], "--profile", str(mine), "--jobs", "1")
    assert "done earlier" not in other.stdout and _grid_of(other) != grid
    run = _grid_of(other) / "ddc_fap" / "seed0"
    assert json.loads((run / "identity.json").read_text())["config"]["train"]["iterations"] == 7

    # another data set: the same content as the first but one label file changed (a clip moved split)
    data = next((tmp_path / "data").iterdir())
    copy = tmp_path / "copy"
    shutil.copytree(data, copy, ignore=shutil.ignore_patterns("features", ".mtlsed"))
    split = (copy / "split.tsv").read_text().splitlines()
    i = next(j for j, line in enumerate(split) if line.endswith("\ttrain"))
    split[i] = split[i].replace("\ttrain", "\ttest")
    (copy / "split.tsv").write_text("\n".join(split) + "\n")
    moved = _cli(tmp_path, *base, "--data", str(copy))
    assert "done earlier" not in moved.stdout and f"on {copy}" in moved.stdout
    assert _grid_of(moved) != grid

    # evaluating the validation split leaves the test metrics alone
    seed0 = grid / "ddc_fap" / "seed0"
    val = _cli(tmp_path, "evaluate", str(seed0), str(data), "--split", "val")
    assert val.returncode == 0, val.stderr
    assert json.loads((seed0 / "metrics_val.json").read_text())["split"] == "val"
    assert json.loads((seed0 / "metrics_test.json").read_text())["split"] == "test"
    again = _cli(tmp_path, *base)
    assert _grid_of(again) == grid and "done earlier, kept" in again.stdout
    assert _test_row(grid) == before

    # an explicit --out that holds runs of another setting is refused, naming the difference
    clash = _cli(tmp_path, *base[:-4], "--profile", str(mine), "--jobs", "1", "--out", str(grid))
    assert clash.returncode == 2
    assert "config train.iterations: 20 then, 7 now" in clash.stderr and "Traceback" not in clash.stderr


def test_a_change_to_the_evaluation_code_rescores_finished_runs_without_training(tmp_path):
    """A run's identity holds the training code only: metrics written by other evaluation code (a fix to a
    metric or the post-processing) are scored again from the same checkpoint, never trained again."""
    from mtlsed.runs.identity import evaluation_fingerprint

    base = ["reproduce", "--table", "2", "--rows", "ddc_fap", "--profile", "ci", "--jobs", "1"]
    grid = _grid_of(_cli(tmp_path, *base))
    run = grid / "ddc_fap" / "seed0"
    checkpoint = (run / "last.pt").read_bytes()
    first = json.loads((run / "metrics_test.json").read_text())
    assert first["evaluation_code"] == evaluation_fingerprint()
    path = run / "metrics_test.json"
    path.write_text(json.dumps({**first, "evaluation_code": "an-older-one"}))  # as an older mtlsed scored it
    again = _cli(tmp_path, *base)
    assert again.returncode == 0, again.stderr
    assert "ddc_fap seed 0: trained earlier, scored again:" in again.stdout and _grid_of(again) == grid
    assert (run / "last.pt").read_bytes() == checkpoint  # not trained again
    second = json.loads(path.read_text())
    assert second["evaluation_code"] == evaluation_fingerprint()
    assert second["train_seconds"] == first["train_seconds"] and second["at_map"] == first["at_map"]
    assert "done earlier, kept" in _cli(tmp_path, *base).stdout  # and now it is current

    # a look at the last checkpoint (`evaluate --checkpoint last`) is not the run's result: scored again
    last = _cli(tmp_path, "evaluate", str(run), "--checkpoint", "last")
    assert last.returncode == 0 and json.loads(path.read_text())["checkpoint"] == "last"
    third = _cli(tmp_path, *base)
    assert "ddc_fap seed 0: trained earlier, scored again:" in third.stdout
    assert json.loads(path.read_text())["checkpoint"] == "best"
    assert (run / "last.pt").read_bytes() == checkpoint


def test_reproduce_writes_paired_differences_from_its_own_runs(tmp_path):
    """#12: MTL - BCE per seed, read back from the runs' own metrics files."""
    two = tmp_path / "two.yaml"
    text = Path(__file__).parents[1].joinpath("mtlsed", "config", "params", "ci.yaml").read_text()
    two.write_text(text.replace("seeds: [0]", "seeds: [0, 1]"))
    rows = ["--rows", "ddc_fap", "segment_silent-label"]
    done = _cli(tmp_path, "reproduce", "--table", "1", "--profile", str(two), *rows)
    grid = _grid_of(done)
    paired = json.loads((grid / "table1_paired.json").read_text())
    assert list(paired) == ["segment_silent-label"]
    by_metric = {r["metric"]: r for r in paired["segment_silent-label"]}
    for seed in (0, 1):
        base = json.loads((grid / "ddc_fap" / f"seed{seed}" / "metrics_test.json").read_text())
        mtl = json.loads((grid / "segment_silent-label" / f"seed{seed}" / "metrics_test.json").read_text())
        assert by_metric["at_map"]["per_seed"][str(seed)] == pytest.approx(mtl["at_map"] - base["at_map"])
    at = by_metric["at_map"]
    assert at["low"] <= at["mean"] <= at["high"] and at["verdict"] in (
        "better",
        "worse",
        "no detectable difference",
    )
    md = (grid / "table1_paired.md").read_text()
    assert "against DDC-FAP (BCE only)" in md and "| AT-mAP |" in md and "95% t interval over seeds" in md


def _fake_run(path: Path, digest: str, val: dict) -> Path:
    path.mkdir(parents=True)
    (path / "identity.json").write_text(json.dumps({"digest": digest}))
    return fake_evaluation(path, "val", {"run_fingerprint": digest, **val})


def test_choose_weights_rule_highest_validation_score_ties_to_the_papers_pair(tmp_path):
    from mtlsed.experiments.table1 import choose_weights

    grid = [[0.1, 0.1], [0.2, 0.2], [0.4, 0.4]]

    def runs(tag, values, key="sed_map"):
        return [
            _fake_run(tmp_path / tag / str(i), f"d{i}", {"sed_map": None, "at_map": 0.0, key: v})
            for i, v in enumerate(values)
        ]

    tie = choose_weights(grid, runs("tie", [0.5, 0.5, 0.3]), tmp_path)
    assert tie["chosen"] == [0.2, 0.2] and tie["metric"] == "sed_map"
    assert [r["val"] for r in tie["grid"]] == [0.5, 0.5, 0.3]
    assert choose_weights(grid, runs("low", [0.6, 0.5, 0.3]), tmp_path)["chosen"] == [0.1, 0.1]
    # weakly labelled validation clips (no SED-mAP): AT-mAP decides
    weak = choose_weights(grid, runs("weak", [0.2, 0.3, 0.7], key="at_map"), tmp_path)
    assert weak["chosen"] == [0.4, 0.4] and weak["metric"] == "at_map"


def test_reproduce_weight_grid_per_row_seeds_and_each_run_trained_once(tmp_path):
    """#12: the weights of the tuned row come from validation; the paired rows get every seed, the
    others the first; a run that two rows share (same config, seed and data) is trained once."""
    prof = tmp_path / "grid.yaml"
    text = Path(__file__).parents[1].joinpath("mtlsed", "config", "params", "ci.yaml").read_text()
    prof.write_text(
        text.replace(
            "seeds: [0]", "seeds: [0, 1]\nseeds_other_rows: [0]\nweight_grid: [[0.5, 0.5], [0.2, 0.2]]"
        )
    )
    rows = ["--rows", "ddc_fap", "segment_silent-label", "segment-top2", "segment_silent-label-val"]
    done = _cli(tmp_path, "reproduce", "--table", "1", "--profile", str(prof), "--jobs", "2", *rows)
    grid = _grid_of(done)
    assert sorted(p.name for p in (grid / "ddc_fap").iterdir()) == ["seed0", "seed1"]
    assert sorted(p.name for p in (grid / "segment-top2").iterdir()) == ["seed0"]
    # the choice follows the runs' own validation metrics: recorded as the runs say
    choice = json.loads((grid / "weights_val.json").read_text())
    for r in choice["grid"]:
        run = grid / "weights" / f"segment{r['segment_weight']:g}-silent{r['silent_weight']:g}" / "seed0"
        val = json.loads((run / "metrics_val.json").read_text())
        assert val["split"] == "val" and r["val"] == val["sed_map"] and choice["metric"] == "sed_map"
    first = choice["chosen"]
    # the paper's pair of the grid is the fixed row's first seed: a link, not a second training
    paper_pair = grid / "weights" / "segment0.2-silent0.2" / "seed0"
    assert (
        paper_pair.is_symlink()
        and paper_pair.resolve() == (grid / "segment_silent-label" / "seed0").resolve()
    )
    tuned, fixed = grid / "segment_silent-label-val", grid / "segment_silent-label"
    # the tuned row's seeds live with their weights' runs; its folder links there (seed 1 trained there)
    home = grid / "weights" / f"segment{first[0]:g}-silent{first[1]:g}"
    assert (tuned / "seed1").is_symlink() and (tuned / "seed1").resolve() == (home / "seed1").resolve()
    assert (home / "seed1" / "metrics_test.json").is_file()
    # the paper's row trains every seed too, paired with BCE: the tuned row's seed 1 is its own run only
    # when validation chose another pair
    assert (fixed / "seed1").is_dir() and not (fixed / "seed1").is_symlink()
    trained = [p for p in grid.rglob("identity.json") if not any(q.is_symlink() for q in p.parents)]
    tuned_own = 1 if first != [0.2, 0.2] else 0
    assert len(trained) == 2 + 2 + 1 + 1 + tuned_own  # BCE x2, fixed x2, top2, the 0.5 pair, tuned seed 1

    def plant(winner: list[float]) -> dict:
        """Validation scores that make ``winner`` the choice; the grid is then run again."""
        for pair in ([0.5, 0.5], [0.2, 0.2]):
            path = grid / "weights" / f"segment{pair[0]:g}-silent{pair[1]:g}" / "seed0" / "metrics_val.json"
            val = json.loads(path.read_text())
            path.write_text(json.dumps({**val, "sed_map": 0.9 if pair == winner else 0.1}))
        rerun = _cli(tmp_path, "reproduce", "--table", "1", "--profile", str(prof), "--jobs", "2", *rows)
        assert rerun.returncode == 0, rerun.stderr[-2000:]
        with (grid / "table1.csv").open() as fh:
            return {e["row"]: e for e in csv.DictReader(fh)}

    for winner in ([0.5, 0.5], [0.2, 0.2]):
        entries = plant(winner)
        assert json.loads((grid / "weights_val.json").read_text())["chosen"] == winner
        assert (
            f"λ2 {winner[0]:g}, λ3 {winner[1]:g} chosen on val"
            in entries["segment_silent-label-val"]["setting"]
        )
        ident = json.loads((tuned / "seed1" / "identity.json").read_text())
        assert ident["config"]["loss"]["silent_weight"] == winner[1]
        if winner == [0.2, 0.2]:
            # the tuned row is the paper's row: its seeds are the fixed row's runs, trained once
            assert (tuned / "seed0").resolve() == fixed / "seed0"
            assert (tuned / "seed1").resolve() == (fixed / "seed1").resolve()
        else:
            assert (tuned / "seed0").resolve() == grid / "weights" / "segment0.5-silent0.5" / "seed0"
        assert entries["segment_silent-label"]["n_seeds"] == "2"
    plant(first)  # back to what the runs said
    with (grid / "table1.csv").open() as fh:
        entries = {e["row"]: e for e in csv.DictReader(fh)}
    assert entries["segment_silent-label-val"]["n_seeds"] == "2" and entries["segment-top2"]["n_seeds"] == "1"
    paired = json.loads((grid / "table1_paired.json").read_text())
    assert set(paired) == {"segment_silent-label", "segment_silent-label-val", "segment-top2"}
    again = _cli(tmp_path, "reproduce", "--table", "1", "--profile", str(prof), "--jobs", "2", *rows)
    assert again.returncode == 0, again.stderr[-2000:]
    assert again.stdout.count("done earlier, kept") == 6  # the distinct runs of the table, none trained again


def test_wide_tables_wraps_only_tables_of_six_columns_or_more():
    narrow = "| λ2 | λ3 |\n|---|---|\n| 0.1 | 0.2 |"
    wide = "| Row | AT-mAP | SED-mAP | ER | D | I |\n|---|---|---|---|---|---|\n| x | 1 | 2 | 3 | 4 | 5 |"
    page = f"# Title\n\n{narrow}\n\ntext\n<details>\n\n{wide}\n\n</details>\n{wide}"
    out = wide_tables(page)
    assert out.count(WIDE) == 2 and out.count("</div>") == 2
    # each wide table sits between blank lines inside its block (Markdown inside an HTML block), the rest
    # of the page is as it was
    assert f"{WIDE}\n\n{wide}\n\n</div>\n\n</details>" in out and out.endswith(f"{WIDE}\n\n{wide}\n\n</div>")
    assert out.replace(f"{WIDE}\n\n", "").replace("\n\n</div>", "") == page
    code = f"```text\n{wide}\n```"
    assert wide_tables(code) == code  # a table shown as code stays code
