"""One meaning of ``--val-fraction`` (#31): a share of the clips that are not test clips, for every command
that draws a split; the defaults keep the embedded sets as they were."""

from collections import Counter

import pytest
from test_adapters import make_fsd, make_tut

from mtlsed.cli.main import main
from mtlsed.data.build import BuildSpec
from mtlsed.data.format import read_split
from mtlsed.data.pools import split_files
from mtlsed.data.splits import MIXED_VAL_FRACTION, split_sizes


def _counts(folder) -> dict[str, int]:
    return dict(Counter(read_split(folder / "split.tsv").values()))


def test_split_sizes_by_hand():
    # 40 clips, test 0.2 of all: 8; val 0.25 of the 32 others: 8; the rest train
    assert split_sizes(40, 0.25, 0.2) == {"train": 24, "val": 8, "test": 8}
    assert split_sizes(40, 0.25, 0.0) == {"train": 30, "val": 10, "test": 0}
    # a pool of 5 files: at least one in each split asked for
    assert split_sizes(5, 0.1, 0.1, at_least_one=True) == {"train": 3, "val": 1, "test": 1}
    assert split_sizes(5, 0.0, 0.1, at_least_one=True) == {"train": 4, "val": 0, "test": 1}


@pytest.mark.parametrize("n", [10, 33, 40, 48, 600, 8000])
def test_the_mixed_default_is_the_old_ten_percent_of_all(n):
    """The embedded sets (default fractions) keep their clips in their splits: 0.125 of the non-test clips
    is what 0.1 of all the clips was, clip for clip."""
    split = BuildSpec("overlapped", n, seed=0, sr=8000).split_of()
    n_test = int(round(n * 0.2))
    assert Counter(split) == {
        "test": n_test,
        "val": int(round(n * 0.1)),
        "train": n - n_test - int(round(n * 0.1)),
    }
    assert BuildSpec("overlapped", n, 0, 8000).val_fraction == MIXED_VAL_FRACTION


def test_every_command_gives_val_fraction_of_the_non_test_clips(tmp_path):
    """``synth``, ``import`` (a drawn test split) and ``mix-dcase2018``, each with ``--val-fraction 0.25
    --test-fraction 0.2`` on 40 clips: 8 test clips, and 8 of the other 32 validate (counted by hand)."""
    args = ["--val-fraction", "0.25", "--test-fraction", "0.2", "--seed", "1"]
    want = {"train": 24, "val": 8, "test": 8}

    synth = tmp_path / "synth"
    assert main(["synth", str(synth), "--clips", "40", "--sr", "8000", "--workers", "1", *args]) == 0
    assert _counts(synth) == want

    imported = tmp_path / "imported"  # the synth set's clips as a user's source folder (its split ignored)
    assert main(["import", str(synth), str(imported), *args]) == 0
    assert _counts(imported) == want

    fsd, tut = make_fsd(tmp_path / "fsd"), make_tut(tmp_path / "tut", n=10, folds=False)
    mixed = tmp_path / "mixed"
    assert main(
        ["mix-dcase2018", "--events", str(fsd), "--backgrounds", str(tut), str(mixed), "--clips", "40",
         "--sr", "8000", "--workers", "1", *args]
    ) == 0  # fmt: skip
    assert _counts(mixed) == want
    # its file pools by the same rule: 10 backgrounds, 2 test, 0.25 of the other 8 = 2 val
    pools = split_files(list(range(10)), 1, 0.25, 0.2)
    assert {s: len(v) for s, v in pools.items()} == {"train": 6, "val": 2, "test": 2}


def test_synth_refuses_a_set_too_small_to_train_and_validate(tmp_path, capsys):
    # 3 clips: 1 test, 0.125 of the other 2 rounds to 0 validation clips
    assert main(["synth", str(tmp_path / "out"), "--clips", "3"]) == 2
    assert (
        "--clips 3 with --val-fraction 0.125 and --test-fraction 0.2 leaves 2 training and 0 validation "
        "clip(s); training needs both"
    ) in capsys.readouterr().err
    # fractions that add up to 1 or more still leave training clips: 5 test, 0.5 of 5 (rounds to 2) val
    assert main(["synth", str(tmp_path / "ok"), "--clips", "10", "--sr", "8000", "--workers", "1",
                 "--val-fraction", "0.5", "--test-fraction", "0.5"]) == 0  # fmt: skip
    assert _counts(tmp_path / "ok") == {"train": 3, "val": 2, "test": 5}
