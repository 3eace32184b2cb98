"""The helpers behind the notebooks' tables, on hand-made inputs."""

import numpy as np
import pytest
import torch
from conftest import fake_evaluation

from mtlsed.book.notebook import psds_by_class, selection_table, setup
from mtlsed.config.settings import Config
from mtlsed.data.format import read_dataset
from mtlsed.evaluation.metrics import Scores
from mtlsed.experiments.aggregate import per_seed_metrics
from mtlsed.features.labels import FrameGrid
from mtlsed.models import config_sizes
from mtlsed.models import size_table as model_sizes
from mtlsed.models.output import SedOutput


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
    # r1 has the paired rows' seeds 0, 1 and 10 (10 sorts after 1 by number, not by text); r2 only seed 0
    for key, i, seeds in (("r1", 0.1, (0, 1, 10)), ("r2", 0.3, (0,))):
        for seed in seeds:
            fake_evaluation(tmp_path / key / f"seed{seed}", "test", {"i": i + seed, "d": 0.5, "er": 1.0})
    df = per_seed_metrics(tmp_path, ["r1", "r2"])
    assert list(df["I"]) == pytest.approx([0.1, 1.1, 10.1, 0.3])
    assert list(df["seed"]) == [0, 1, 10, 0]
    assert list(df["row"]) == ["r1", "r1", "r1", "r2"] and set(df.columns) == {"row", "seed", "I", "D", "ER"}


def test_psds_by_class_oracle_and_silence(small_set, tmp_path):
    index = read_dataset(small_set)
    names = index.files_in("test")
    grid = FrameGrid(0.02, 0.01, 500)  # 20 ms frames over 10 s
    centres = grid.centres
    oracle = np.zeros((len(names), len(index.classes), 500), dtype=np.float32)
    for i, name in enumerate(names):
        for ev in index.strong[name]:
            oracle[i, index.classes.index(ev.label), (centres >= ev.onset) & (centres < ev.offset)] = 1.0
    runs = {}
    for label, frame in (("oracle", oracle), ("silent", np.zeros_like(oracle))):
        run = tmp_path / label
        run.mkdir()
        Scores(names, index.classes, frame.max(-1), frame, grid).save(run / "scores_test.npz")
        Config().save(run / "config.yaml")
        runs[label] = run
    table = psds_by_class(runs, small_set)
    present = {ev.label for n in names for ev in index.strong[n]}
    # only the classes that occur in the test split, each found perfectly by the oracle, never by silence
    assert set(table.index) == present and len(present) >= 3
    assert table["oracle"].to_numpy() == pytest.approx(1.0)
    assert table["silent"].to_numpy() == pytest.approx(0.0)


def test_model_sizes_count_the_profile_models():
    from mtlsed.config.settings import ModelConfig

    # VGG-GWRP at 4-4 channels with 2 conv units per block, 10 classes, by hand:
    # block 1: 3x3 convs 1->4 and 4->4 without bias + batch norm (2 per channel)
    # block 2: 4->4 twice; head: 1x1 conv 4->10 with bias
    by_hand = (9 * 4 + 8 + 9 * 16 + 8) + 2 * (9 * 16 + 8) + (4 * 10 + 10)
    table = model_sizes({"tiny": ModelConfig(name="vgg_gwrp", channels=[4, 4])})
    assert table.loc["tiny", "parameters"] == by_hand
    session = setup("ci", overrides={"model.channels": [8, 8], "model.dilations": [1, 2]})
    sizes = config_sizes(session.config, ["ddc_fap", "vgg_gwrp", "talnet"])
    assert list(sizes.index) == ["DDC-FAP", "VGG-GWRP", "TALNet"]
    default_vgg = model_sizes({"v": ModelConfig(name="vgg_gwrp")}).loc["v", "parameters"]
    assert sizes.loc["VGG-GWRP", "parameters"] < default_vgg / 100  # the profile's 8-8 channels apply
    assert (sizes["GMAC per clip"] > 0).all()


def test_loss_table_of_the_real_losses_against_a_hand_computation():
    """One clip, three classes, one-bin masks 0.5, 0.25, 0.1, labels {0, 1}, clip probabilities 0.8, 0.7, 0.1:
    BCE = -(ln 0.8 + ln 0.7 + ln 0.9) / 3; segment (ordered pairs of the two labelled masks) =
    2 * dice(0.5, 0.25) = 2 * (2 * 0.125 / 0.75) = 2/3; silent (the unlabelled mask) = 0.1."""
    import math

    from mtlsed.book.notebook import loss_table
    from mtlsed.config.settings import LossConfig
    from mtlsed.models.output import SedOutput
    from mtlsed.objectives.total import total_loss

    cfg = LossConfig(bce_weight=1.0, segment_weight=0.2, silent_weight=0.5, dice_eps=0.0)
    masks = torch.tensor([0.5, 0.25, 0.1]).reshape(1, 3, 1, 1)
    out = SedOutput(torch.tensor([[0.8, 0.7, 0.1]]), masks[..., 0], masks)
    table = loss_table(total_loss(out, torch.tensor([[1.0, 1.0, 0.0]]), cfg), cfg)
    bce = -(math.log(0.8) + math.log(0.7) + math.log(0.9)) / 3
    terms = ["bce", "segment", "silent"]
    assert list(table.loc["value", terms]) == pytest.approx([bce, 2 / 3, 0.1], abs=1e-4)
    assert list(table.loc["weight λ", ["bce", "segment", "silent"]]) == [1.0, 0.2, 0.5]
    expected = [bce, 0.2 * 2 / 3, 0.5 * 0.1]
    assert list(table.loc["λ × value", ["bce", "segment", "silent"]]) == pytest.approx(expected, abs=1e-4)
    assert table.loc["λ × value", "total"] == pytest.approx(sum(expected), abs=1e-4)
    assert table.loc["value", "total"] == ""


def test_shared_scale_keeps_relative_levels():
    from mtlsed.book.notebook import shared_scale

    out = shared_scale({"loud": np.array([0.0, -2.0, 1.0]), "quiet": np.array([0.2, 0.0, -0.1])})
    assert list(out["loud"]) == pytest.approx([0.0, -1.0, 0.5])
    assert list(out["quiet"]) == pytest.approx([0.1, 0.0, -0.05])  # still 20 dB below
    silent = shared_scale({"a": np.zeros(3)})
    assert list(silent["a"]) == [0.0, 0.0, 0.0]


def test_autopool_levels_run_from_the_mean_to_the_max():
    import math

    import numpy as np
    import torch

    from mtlsed.book.notebook import autopool_levels, autopool_weights
    from mtlsed.models.pooling import autopool

    p = np.array([0.1, 0.1, 0.8, 0.8, 0.1])
    event = p > 0.5
    levels = autopool_levels(p, alphas=(0.0, 1.0, 5.0, math.inf), event=event)
    assert list(levels.index) == ["0", "1", "5", "∞"]
    assert levels.loc["0", "pooled value"] == round(1.9 / 5, 3)  # the mean
    assert levels.loc["∞", "pooled value"] == 0.8  # the max
    assert levels.loc["0", "weight on the event's frames"] == 0.4  # 2 of 5 frames
    assert levels.loc["∞", "weight on the event's frames"] == 1.0
    # alpha = 1 by hand: weights e^0.8 on two frames, e^0.1 on three
    hand = (2 * 0.8 * math.exp(0.8) + 3 * 0.1 * math.exp(0.1)) / (2 * math.exp(0.8) + 3 * math.exp(0.1))
    assert levels.loc["1", "pooled value"] == round(hand, 3)
    # the finite ones are what training computes
    for alpha in (0.0, 1.0, 5.0):
        ours = float(autopool_weights(p, alpha) @ p)
        assert abs(ours - float(autopool(torch.tensor(p), alpha, 0))) < 1e-12
    assert levels["pooled value"].is_monotonic_increasing


def test_alpha_sentence_reads_the_numbers():
    import numpy as np

    from mtlsed.book.notebook import alpha_sentence

    still = alpha_sentence(np.full((2, 4), 0.01), ["a", "b"])
    assert "moved at most 0.010 from its start at 0" in still
    alpha = np.array([[0.0, 1.0, 2.0, 3.0], [-1.0, -0.5, 0.0, 0.5]])
    said = alpha_sentence(alpha, ["dog", "bell"])
    assert "spans -1.00 to 3.00" in said and "median 0.25" in said
    assert "dog pools most like a max (median α 1.50" in said and "bell most like a mean (-0.25)" in said


def test_shift_sentence_names_the_costliest_and_the_cheapest_channel():
    from mtlsed.book.notebook import shift_sentence

    shifted = {
        "clean": {"sed_map": 0.6},
        "mic": {"sed_map": 0.55},
        "codec": {"sed_map": 0.4},
        "eq": {"sed_map": 0.61},
    }
    said = shift_sentence(shifted)
    assert "SED-mAP on the clean test clips is 0.600" in said
    assert "the codec channel costs most (-0.200), the eq channel least (+0.010)" in said
    assert "not defined" in shift_sentence({"clean": {"sed_map": None}, "mic": {"sed_map": 0.1}})


def test_weighted_terms_reads_the_first_and_last_log_lines_with_the_runs_weights(tmp_path):
    from mtlsed.book.notebook import weighted_terms, weighted_terms_sentence
    from mtlsed.config.settings import Config
    from mtlsed.runs.runfolder import LOG_COLUMNS, RunFolder

    run = RunFolder(tmp_path)
    cfg = Config()
    cfg.loss.segment_weight, cfg.loss.silent_weight = 0.2, 0.5
    cfg.save(run.file("config.yaml"))
    lines = [
        {"iteration": 10, "bce": 0.7, "segment": 1.0, "silent": 4.0},
        {"iteration": 20, "bce": 0.5, "segment": 0.8, "silent": 2.0},
        {"iteration": 30, "bce": 0.2, "segment": 0.5, "silent": 0.2},
    ]
    run.write_log([{c: line.get(c, "") for c in LOG_COLUMNS} for line in lines])
    table = weighted_terms(tmp_path)
    assert list(table.index) == ["start (iteration 10)", "end (iteration 30)"]
    assert list(table.columns) == ["BCE", "0.2 × segment", "0.5 × silent", "total"]
    assert table.loc["start (iteration 10)"].tolist() == [0.7, 0.2, 2.0, 2.9]  # 0.2 x 1.0, 0.5 x 4.0
    assert table.loc["end (iteration 30)"].tolist() == [0.2, 0.1, 0.1, 0.4]
    said = weighted_terms_sentence(table)
    # start: segment 0.2 / 2.9 = 7 %, silent 2.0 / 2.9 = 69 %; end: 0.1 / 0.4 = 25 % each
    assert said == (
        "At the start the weighted terms are segment 7 %, silent 69 % of the total; at the end the "
        "weighted terms are segment 25 %, silent 25 % of the total (the rest is the cross-entropy)."
    )


def test_masks_sentence_reads_each_runs_levels():
    import numpy as np

    from mtlsed.book.notebook import masks_sentence

    bce = np.zeros((3, 4, 2))
    bce[0], bce[1], bce[2] = 0.6, 0.4, 0.3
    mtl = bce.copy()
    mtl[2] = 0.05
    said = masks_sentence({"BCE only": bce, "segment\n+ silent": mtl}, ["a", "b", "c"], [0, 1, 2])
    assert said == (
        "Mean mask level over the clip: BCE only: labelled classes at a mean of 0.50, c (unlabelled) at "
        "0.30; segment + silent: labelled classes at a mean of 0.50, c (unlabelled) at 0.05."
    )


def test_split_and_class_counts_of_a_dataset_index(tmp_path):
    from mtlsed.book.notebook import class_counts, split_table
    from mtlsed.data.format import DatasetIndex

    index = DatasetIndex(
        tmp_path,
        ["dog", "bell", "siren"],
        {"a.wav": ["dog"], "b.wav": ["dog", "bell"], "c.wav": ["bell"]},
        None,
        {"a.wav": "train", "b.wav": "train", "c.wav": "test"},
    )
    assert split_table(index).loc["clips"].to_dict() == {"train": 2, "val": 0, "test": 1}
    assert class_counts(index).to_dict() == {"dog": 2, "bell": 2, "siren": 0}


def test_pooling_table_against_hand_computed_pools():
    import math

    import numpy as np

    from mtlsed.book.notebook import pooling_table

    masks = np.zeros((2, 4, 2), dtype=np.float32)
    masks[0, 0] = 1.0  # class a: one loud frame of four, both bands: 2 of 8 bins
    table = pooling_table(masks, [1, 0], ["a", "b"])
    assert table.loc["a", "mean"] == 0.25 and table.loc["a", "max"] == 1.0 and table.loc["a", "label"] == 1
    assert table.loc["a", "linear-softmax"] == 1.0  # sum p^2 / sum p over frame means [1, 0, 0, 0]
    alpha5 = math.exp(5) / (math.exp(5) + 3)
    assert table.loc["a", "auto-pool α=5"] == round(alpha5, 3)
    assert table.loc["b"].drop("label").abs().max() == 0.0


def test_the_session_card_fits_a_code_block_and_keeps_every_word(tmp_path, monkeypatch):
    from mtlsed.book.notebook import CARD_WIDTH
    from mtlsed.core.envinfo import environment

    monkeypatch.chdir(tmp_path)  # the session's data and runs folder: nothing is made until a chapter asks
    session = setup("cpu")
    card = session.card()
    lines = card.splitlines()
    assert all(len(line) <= CARD_WIDTH for line in lines), lines
    assert [line.split(":")[0] for line in lines if not line.startswith("  ")] == [
        "profile",
        "data",
        "hardware",
        "software",
    ]
    words = " ".join(card.split())  # the wrapped lines joined again
    assert f"profile: cpu ({' '.join(session.description.split())})" in words
    assert f"sed_eval {environment()['sed_eval']}" in words
