"""The command line as a user meets it (#13): profiles, progress in a log, honest metrics, early checks."""

import json
import shutil
import subprocess
import sys

import pytest
from conftest import mtlsed_here, untrained_run

from mtlsed.cli.main import main
from mtlsed.experiments.aggregate import aggregate
from mtlsed.experiments.registry import table_rows
from mtlsed.experiments.tables import csv_row, markdown_table

SHORT = ["train.iterations=40", "train.eval_every=20", "train.batch_size=8"]


def _mtlsed(*args, stderr=None, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "mtlsed", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=stderr or subprocess.PIPE,
        text=True,
        cwd=cwd,
    )


def _strict(text: str) -> dict:
    def refuse(name):
        raise ValueError(f"non-strict JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def test_train_with_a_profile_logs_progress_to_a_file_and_evaluate_writes_strict_json(small_set, tmp_path):
    run = tmp_path / "run"
    log = tmp_path / "train.log"
    with log.open("w") as fh:  # not a terminal: lines instead of a bar
        done = _mtlsed("train", small_set, "--profile", "ci", "--out", run, "--set", *SHORT, stderr=fh)
    assert done.returncode == 0, log.read_text()[-2000:]
    text = log.read_text()
    assert "config: profile ci" in text and "with train.iterations=40" in text
    assert "loss weights bce 1, segment 0.2, silent 0.2 (MTL, label selection) | 16000 Hz" in text
    lines = [line for line in text.splitlines() if line.startswith("iteration ")]
    assert [line.split()[1] for line in lines] == [f"{i}/40" for i in range(2, 41, 2)]
    assert "ETA" in lines[0] and "bce" in lines[0]
    assert "run saved in" in done.stdout and "best val_sed_map" in done.stdout
    evaluated = _mtlsed("evaluate", run, small_set, "--split", "test")
    assert evaluated.returncode == 0, evaluated.stderr
    metrics = _strict((run / "metrics_test.json").read_text())
    assert metrics["split"] == "test" and metrics["n_detected"] >= 0
    assert f"detected {metrics['n_detected']}" in evaluated.stdout
    # the profile file itself works as --config too
    again = _mtlsed(
        "train",
        small_set,
        "--config",
        "mtlsed/config/params/ci.yaml",
        "--out",
        tmp_path / "r2",
        "--set",
        *SHORT[:1],
    )
    assert again.returncode == 0, again.stderr[-2000:]


def test_a_run_that_detects_nothing_says_so(small_set, tmp_path, capsys):
    # a clip gate no probability can pass: the run detects nothing at all, trained or not
    run = untrained_run(tmp_path / "silent", small_set, ["eval.clip_threshold=1.0"])
    assert main(["evaluate", str(run), str(small_set)]) == 0
    out = capsys.readouterr().out
    assert "detected 0 (NO DETECTIONS)" in out and "f1 n/a" in out
    metrics = _strict((run / "metrics_test.json").read_text())
    assert metrics["n_detected"] == 0 and metrics["no_detections"] is True
    assert metrics["f1"] is None and metrics["undefined"]["f1"] == "no detections: precision is 0/0"
    assert metrics["er"] == pytest.approx(1.0) and metrics["i"] == 0.0
    row = table_rows(1)[0]
    entries = aggregate([row], {row.key: [metrics, {**metrics, "no_detections": False, "n_detected": 4}]})
    assert entries[0]["no_detection_seeds"] == 1 and entries[0]["n_detected_mean"] == 2.0
    table = markdown_table(entries, ["at_map", "er", "i"])
    assert table.count("[1/2 detect nothing]") == 2  # on ER and I, not on AT-mAP
    (cells,) = [line for line in table.splitlines() if line.startswith("| DDC-FAP")]
    assert "detect nothing" not in cells.split("|")[2]
    row = csv_row(entries[0])  # the CSV table: empty cells, never "nan", and why
    assert row["f1_mean"] == "" and row["f1_std"] == "" and "nan" not in str(row.values()).lower()
    assert row["note"] == "f1 defined for 0/2 seeds; 1/2 seeds detect no event (ER, D, I, F1 void)"


def test_train_fails_before_feature_work_on_what_check_finds(small_set, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(small_set, data, ignore=shutil.ignore_patterns("features", ".mtlsed"))
    (data / "split.tsv").unlink()
    check = mtlsed_here("check", data)
    assert check.returncode == 1 and "split.tsv: file not found" in check.stdout
    train = mtlsed_here("train", data, "--profile", "ci", "--out", tmp_path / "run")
    assert train.returncode == 2 and "split.tsv: file not found" in train.stderr
    assert not (data / "features").exists() and not (tmp_path / "run").exists()  # no feature work, no run
