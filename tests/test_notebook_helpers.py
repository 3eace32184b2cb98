"""The helpers behind the notebooks' tables, on hand-made inputs."""

import json

import pytest
import torch

from mtlsed.models.output import SedOutput
from mtlsed.notebook import per_seed_metrics, selection_table


def test_selection_table_by_hand():
    masks = torch.zeros(1, 3, 4, 2)
    masks[0, 0, :2] = 1.0  # class a: first half
    masks[0, 1, 1:3] = 1.0  # class b: overlaps a on one row of two bins
    out = SedOutput(clip=torch.tensor([[0.9, 0.8, 0.1]]), frame=masks.mean(-1), masks=masks)
    labels = torch.tensor([[1.0, 1.0, 0.0]])
    table = selection_table(out, labels, ["a", "b", "c"], ["x.wav"], topks=(2, 3))
    row = table.loc["x.wav"]
    assert row["labels"] == "a, b" and row["top2 selects"] == "a, b" and row["top3 selects"] == "a, b, c"
    # dice(a, b) = 2 * 2 / (4 + 4) = 0.5, counted for both ordered pairs; c is empty
    assert row["segment label-guided"] == pytest.approx(1.0, abs=1e-4)
    assert row["segment top3"] == pytest.approx(1.0, abs=1e-4)


def test_per_seed_metrics_reads_each_run(tmp_path):
    for key, i in (("r1", 0.1), ("r2", 0.3)):
        for seed in (0, 1):
            run = tmp_path / key / f"seed{seed}"
            run.mkdir(parents=True)
            run.joinpath("metrics.json").write_text(json.dumps({"i": i + seed, "d": 0.5, "er": 1.0}))
    df = per_seed_metrics(tmp_path, ["r1", "r2"], [0, 1])
    assert list(df["I"]) == pytest.approx([0.1, 1.1, 0.3, 1.3])
    assert list(df["row"]) == ["r1", "r1", "r2", "r2"] and set(df.columns) == {"row", "seed", "I", "D", "ER"}
