"""Splits that hold out whole sources (#18): no group in two splits, seeded, counted by hand; the import's
report and groups file; strong labels kept on validation on request."""

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mtlsed.data.format import FormatError, read_dataset, validate
from mtlsed.data.groups import assign_splits, read_groups

SR = 1000


def _no_group_in_two_splits(split: dict[str, str], groups: dict[str, list[str]]) -> None:
    where: dict[str, str] = {}
    for name, s in split.items():
        for g in groups[name]:
            assert where.setdefault(g, s) == s, f"group {g} in {where[g]} and {s}"


def test_one_group_per_clip_gives_the_fractions_by_hand():
    names = [f"c{i}" for i in range(50)]
    got = assign_splits(names, {}, test_fraction=0.2, val_fraction=0.1, seed=0)
    # 50 clips: test round(10.0) = 10, val round(40 * 0.1) = 4, train 36; nothing dropped
    assert Counter(got.split.values()) == {"train": 36, "val": 4, "test": 10} and got.dropped == []
    again = assign_splits(names, {}, 0.2, 0.1, seed=0)
    other = assign_splits(names, {}, 0.2, 0.1, seed=1)
    assert again.split == got.split and other.split != got.split


def test_clips_sharing_a_recording_stay_together():
    """Ten recordings of six clips each (60 clips): whole recordings go to a split, none is cut."""
    names = [f"r{r}_c{c}" for r in range(10) for c in range(6)]
    groups = {n: [n.split("_")[0]] for n in names}
    got = assign_splits(names, groups, 0.2, 0.15, seed=3)
    _no_group_in_two_splits(got.split, groups)
    counts = Counter(got.split.values())
    assert got.dropped == [] and sum(counts.values()) == 60 and got.method == "whole components"
    assert counts["test"] == 12 and counts["val"] == 6  # 2 recordings and 1 recording, the nearest
    assert got.n_groups == 10 and got.groups_per_split == {"train": 7, "val": 1, "test": 2}


def test_a_clip_mixed_from_two_sources_joins_them():
    """Clips made of two sources each: sources chained pairwise (s0+s1, s1+s2, ...) form components."""
    names, groups = [], {}
    for comp in range(12):
        for k in range(3):  # three clips per component: a-b, b-c, c-a
            name = f"k{comp}_{k}"
            names.append(name)
            groups[name] = [f"s{comp}_{k}", f"s{comp}_{(k + 1) % 3}"]
    got = assign_splits(names, groups, 0.25, 0.1, seed=0, rule="connected")
    _no_group_in_two_splits(got.split, groups)
    assert got.dropped == [] and len(got.split) == 36 and got.n_components == 12


def test_one_giant_component_drops_the_straddling_clips_under_rule_all():
    rng = np.random.default_rng(0)
    names = [f"c{i}" for i in range(300)]
    groups = {n: [f"s{a}", f"s{b}"] for n, (a, b) in zip(names, rng.integers(0, 120, (300, 2)), strict=True)}
    with pytest.raises(FormatError, match="too large to hold out whole sources with --group-rule connected"):
        assign_splits(names, groups, 0.2, 0.1, seed=0, rule="connected")
    got = assign_splits(names, groups, 0.2, 0.1, seed=0, rule="all")
    _no_group_in_two_splits(got.split, groups)
    assert set(got.split) | set(got.dropped) == set(names) and not set(got.split) & set(got.dropped)
    counts = Counter(got.split.values())
    assert counts["test"] > 0 and counts["val"] > 0 and counts["train"] > counts["test"]
    assert len(got.split) > 150  # the local search keeps most clips of a random 2-source mixing
    assert assign_splits(names, groups, 0.2, 0.1, seed=0, rule="all").split == got.split


def test_test_clips_come_from_the_allowed_ones():
    names = [f"c{i}" for i in range(40)]
    strong = set(names[:15])
    got = assign_splits(names, {}, 0.25, 0.1, seed=2, test_ok=strong)
    assert {n for n, s in got.split.items() if s == "test"} <= strong


def test_stratified_split_by_clip_gives_each_class_its_share_by_hand():
    """40 single clips, 32 of class a and 8 of b; test 0.25, val 0.2 of the rest: sizes 24 / 6 / 10.
    By hand, a class's share of a split is its clips x the split's share (0.6 / 0.15 / 0.25): a 19.2 /
    4.8 / 8, b 4.8 / 1.2 / 2, so the nearest counts are a 19 / 5 / 8 and b 5 / 1 / 2."""
    names = [f"c{i}" for i in range(40)]
    labels = {n: ["a"] if i % 5 else ["b"] for i, n in enumerate(names)}
    for seed in range(5):
        got = assign_splits(names, {}, 0.25, 0.2, seed=seed, labels=labels)
        per = {c: Counter(s for n, s in got.split.items() if labels[n] == [c]) for c in "ab"}
        assert per["a"] == {"train": 19, "val": 5, "test": 8}, (seed, per)
        assert per["b"] == {"train": 5, "val": 1, "test": 2}, (seed, per)
        assert got.dropped == [] and got.method == "whole components, stratified by class"
    assert assign_splits(names, {}, 0.25, 0.2, seed=4, labels=labels).split == got.split  # seeded


def _worst_class_share(split: dict[str, str], labels: dict[str, list[str]]) -> float:
    """The largest relative distance of a class's share of val or test from that split's share of clips."""
    sizes = Counter(split.values())
    worst = 0.0
    for c in sorted({c for v in labels.values() for c in v}):
        per = Counter(s for n, s in split.items() if c in labels[n])
        for s in ("val", "test"):
            want = sizes[s] / len(split)
            worst = max(worst, abs(per[s] / sum(per.values()) - want) / want)
    return worst


def test_stratified_split_of_mixed_sources_spreads_classes_and_holds_sources_out():
    """300 clips mixed from 2 of 120 sources, each source of one of 6 classes (source % 6): classes come
    in few sources, so a split by sources alone leaves some class far from its share."""
    rng = np.random.default_rng(0)
    names = [f"c{i}" for i in range(300)]
    pairs = rng.integers(0, 120, (300, 2))
    groups = {n: [f"s{a}", f"s{b}"] for n, (a, b) in zip(names, pairs, strict=True)}
    labels = {n: sorted({f"k{a % 6}", f"k{b % 6}"}) for n, (a, b) in zip(names, pairs, strict=True)}
    plain_worst, worst = [], []
    for seed in range(3):
        plain = assign_splits(names, groups, 0.2, 0.2, seed=seed)
        got = assign_splits(names, groups, 0.2, 0.2, seed=seed, labels=labels)
        _no_group_in_two_splits(got.split, groups)
        assert set(got.split) | set(got.dropped) == set(names) and not set(got.split) & set(got.dropped)
        assert got.method == "groups by local search, straddling clips dropped, stratified by class"
        assert len(got.split) > 0.85 * len(plain.split)  # at the cost of a few more straddling clips
        plain_worst.append(_worst_class_share(plain.split, labels))
        worst.append(_worst_class_share(got.split, labels))
    assert min(plain_worst) > 0.5  # by sources alone: in every draw some class is over 50 % off its share
    assert max(worst) < 0.3 and np.mean(worst) < 0.4 * np.mean(plain_worst)
    assert assign_splits(names, groups, 0.2, 0.2, seed=2, labels=labels).split == got.split


def test_stratifying_gives_way_when_it_would_empty_a_held_out_split():
    """Few sources, each of one class or two (a draw of the generator a reviewer found): stratified
    placement left validation empty; the split falls back to the one without classes and says so."""
    rng = np.random.default_rng(127)
    n = int(rng.integers(20, 200))
    names = [f"c{i}" for i in range(n)]
    n_sources = int(rng.integers(4, 40))
    source = rng.integers(0, n_sources, n)
    groups = {x: [f"s{v}"] for x, v in zip(names, source, strict=True)}
    n_classes = int(rng.integers(1, 8))
    labels = {
        x: sorted({f"k{(v + d) % n_classes}" for d in range(int(rng.integers(1, 3)))})
        for x, v in zip(names, source, strict=True)
    }
    tried = assign_splits(names, groups, 0.1, 0.1, seed=127, labels=labels)
    plain = assign_splits(names, groups, 0.1, 0.1, seed=127)
    assert tried.method.endswith("not stratified by class: that left a held-out split far from its size")
    assert tried.split == plain.split and Counter(tried.split.values())["val"] > 0


def test_a_split_with_no_target_gets_no_clip():
    """No validation wanted, test clips only from the first 24 (the strongly labelled ones), sources of
    uneven sizes: once train was over its target, a source that may not go to test went to validation
    (the earlier placement put 2 clips there)."""
    sizes = [10, 8, 8, 8, 5, 4, 2, 2, 2]
    names = [f"s{k}_{i}" for k, size in enumerate(sizes) for i in range(size)]
    groups = {n: [n.split("_")[0]] for n in names}
    for seed in range(5):
        got = assign_splits(names, groups, 0.25, 0.0, seed=seed, test_ok=set(names[:24]))
        _no_group_in_two_splits(got.split, groups)
        assert "val" not in got.split.values()
        assert {n for n, s in got.split.items() if s == "test"} <= set(names[:24])


def test_read_groups_tsv_and_json(tmp_path):
    tsv = tmp_path / "groups.tsv"
    tsv.write_text("filename\tgroups\na.wav\trec1,mic2\nb.wav\trec1\n")
    assert read_groups(tsv) == {"a.wav": ["rec1", "mic2"], "b.wav": ["rec1"]}
    tsv.write_text("filename\tgroups\na.wav\n")
    with pytest.raises(FormatError, match="groups.tsv:2: expected filename<TAB>groups"):
        read_groups(tsv)
    meta = tmp_path / "meta.json"
    records = [
        {
            "filename": "a.wav",
            "background": "rain.ogg",
            "events": [{"source": "dog1.wav"}, {"source": "cat.wav"}],
        },
        {"filename": "b.wav", "background": "wind.ogg", "events": [{"source": "dog1.wav"}]},
    ]
    meta.write_text(json.dumps(records))
    got = read_groups(meta, ["events.source"])
    assert got == {
        "a.wav": ["events.source=dog1.wav", "events.source=cat.wav"],
        "b.wav": ["events.source=dog1.wav"],
    }
    both = read_groups(meta, ["background", "events.source"])
    assert both["b.wav"] == ["background=wind.ogg", "events.source=dog1.wav"]
    with pytest.raises(FormatError, match="--group-keys"):
        read_groups(meta)


# -- through the command line --------------------------------------------------------------


def _folder(root: Path, n: int = 40) -> dict[str, list[str]]:
    """``n`` clips of 10 s at 1 kHz, labels dog/cat with strong labels; 8 recordings of 5 clips each."""
    rng = np.random.default_rng(0)
    (root / "audio").mkdir(parents=True)
    weak, strong, groups = [], [], {}
    for i in range(n):
        name = f"clip{i:02d}.wav"
        sf.write(str(root / "audio" / name), (0.01 * rng.standard_normal(10 * SR)).astype(np.float32), SR)
        label = "dog" if i % 2 else "cat"
        weak.append(f"{name}\t{label}")
        strong.append(f"{name}\t1.000\t2.000\t{label}")
        groups[name] = [f"rec{i // 5}"]
    (root / "weak.tsv").write_text("filename\tevent_labels\n" + "\n".join(weak) + "\n")
    (root / "strong.tsv").write_text("filename\tonset\toffset\tevent_label\n" + "\n".join(strong) + "\n")
    (root / "groups.tsv").write_text(
        "filename\tgroups\n" + "".join(f"{k}\t{v[0]}\n" for k, v in groups.items())
    )
    return groups


def _mtlsed(*args):
    return subprocess.run([sys.executable, "-m", "mtlsed", *map(str, args)], capture_output=True, text=True)


def test_import_with_groups_reports_them_and_check_holds_them(tmp_path):
    groups = _folder(tmp_path / "src")
    out = tmp_path / "out"
    done = _mtlsed(
        "import", tmp_path / "src", out, "--groups", tmp_path / "src" / "groups.tsv", "--seed", "4"
    )
    assert done.returncode == 0, done.stderr
    index = read_dataset(out)
    _no_group_in_two_splits(index.split, groups)
    per = {s: len({groups[n][0] for n in index.files_in(s)}) for s in ("train", "val", "test")}
    assert (
        f"held out by source: 8 groups (train {per['train']}, val {per['val']}, test {per['test']})"
        in done.stdout
    )
    assert (out / "groups.tsv").is_file() and validate(out) == []
    assert not index.has_strong(index.files_in("val")[0])  # validation: weak labels only, as in the paper
    # a source planted in two splits is found by check, with its file and line
    lines = (out / "groups.tsv").read_text().splitlines()
    test_clip = index.files_in("test")[0]
    train_group = groups[index.files_in("train")[0]][0]
    number = next(i for i, line in enumerate(lines, start=1) if line.startswith(test_clip))
    lines[number - 1] = f"{test_clip}\t{train_group}"
    (out / "groups.tsv").write_text("\n".join(lines) + "\n")
    check = _mtlsed("check", out)
    assert (
        check.returncode == 1 and f"groups.tsv:{number}: {test_clip} (test) shares the source" in check.stdout
    )


def test_import_stratify_gives_each_class_its_share_of_whole_recordings(tmp_path):
    """--stratify through the command line: 20 recordings of 3 clips, 10 of dog and 10 of cat. Test 0.2:
    12 clips, 4 recordings; validation 0.1 of the rest: 4.8 clips, nearest whole recordings 2 (6 clips).
    By hand, each class's share: 2 recordings in test and 1 in validation, i.e. 6 and 3 clips each."""
    src = tmp_path / "src"
    (src / "audio").mkdir(parents=True)
    rng = np.random.default_rng(0)
    weak, groups = [], []
    for r in range(20):
        for c in range(3):
            name = f"r{r:02d}_{c}.wav"
            sf.write(str(src / "audio" / name), (0.01 * rng.standard_normal(10 * SR)).astype(np.float32), SR)
            weak.append(f"{name}\t{'dog' if r < 10 else 'cat'}")
            groups.append(f"{name}\trec{r}")
    (src / "weak.tsv").write_text("filename\tevent_labels\n" + "\n".join(weak) + "\n")
    (src / "groups.tsv").write_text("filename\tgroups\n" + "\n".join(groups) + "\n")
    for seed in range(3):
        out = tmp_path / f"out{seed}"
        done = _mtlsed("import", src, out, "--groups", src / "groups.tsv", "--stratify", "--seed", seed)
        assert done.returncode == 0, done.stderr
        assert "no group in two splits (whole components, stratified by class)" in done.stdout
        index = read_dataset(out)
        for label in ("dog", "cat"):
            counts = [
                sum(1 for n in index.files_in(s) if label in index.weak[n]) for s in ("train", "val", "test")
            ]
            assert counts == [21, 3, 6], (seed, label, counts)
    plain = _mtlsed("import", src, tmp_path / "by_clip", "--stratify")
    assert plain.returncode == 0 and "split by clip, stratified by class" in plain.stdout


def test_val_strong_keeps_the_validation_clips_strong_labels(tmp_path):
    _folder(tmp_path / "src")
    done = _mtlsed("import", tmp_path / "src", tmp_path / "out", "--val-strong", "--val-fraction", "0.2")
    assert done.returncode == 0, done.stderr
    index = read_dataset(tmp_path / "out")
    val = index.files_in("val")
    assert val and all(index.has_strong(n) for n in val)
    # 40 clips: test round(8.0) = 8, val round(32 * 0.2) = 6, train 26, each clip strongly labelled
    rows = {line.split()[0]: line.split()[1:] for line in done.stdout.splitlines()[1:5]}
    assert rows["split"] == ["train", "val", "test"] and rows["clips"] == rows["strong"] == ["26", "6", "8"]


def test_a_clip_named_twice_is_refused_by_tsv_and_json_alike(tmp_path):
    """The same fault, the same answer (#32): a JSON groups file naming a clip twice kept the last."""
    tsv = tmp_path / "g.tsv"
    tsv.write_text("filename\tgroups\na.wav\trec1\nb.wav\trec2\na.wav\trec3\n")
    with pytest.raises(FormatError, match=r"g.tsv:4: a.wav: listed twice \(first on line 2\)"):
        read_groups(tsv)
    records = tmp_path / "records.json"
    records.write_text(json.dumps([{"filename": "a.wav", "s": 1}, {"filename": "a.wav", "s": 2}]))
    with pytest.raises(FormatError, match=r"record 1: a.wav: listed twice \(first as record 0\)"):
        read_groups(records, ["s"])
    mapping = tmp_path / "mapping.json"
    mapping.write_text('{\n  "a.wav": {"s": 1},\n  "b.wav": {"s": 2},\n  "a.wav": {"s": 3}\n}\n')
    with pytest.raises(FormatError, match=r"mapping.json:4: a.wav: given twice in one object"):
        read_groups(mapping, ["s"])


def test_groups_that_leave_a_split_empty_are_refused_naming_them():
    """One source in every clip: nothing can be held out. The split is refused with the source named, not
    written with every clip in one split (#32)."""
    names = [f"c{i}" for i in range(40)]
    with pytest.raises(FormatError, match=r"leave the val and test splits empty.*'s1' \(40 of 40 clips\)"):
        assign_splits(names, {n: ["s1"] for n in names}, 0.2, 0.1, seed=0)
    shared = {n: ["shared", f"own{i}"] for i, n in enumerate(names)}
    with pytest.raises(FormatError, match=r"'shared' \(40 of 40 clips\)"):
        assign_splits(names, shared, 0.2, 0.1, seed=0)
    # no test wanted, one source per split possible: accepted
    two = {n: [f"s{i % 8}"] for i, n in enumerate(names)}
    got = assign_splits(names, two, 0.0, 0.1, seed=0)
    assert set(got.split.values()) == {"train", "val"}
