"""A user's own data set, with classes the package has never seen, through import, train, evaluate,
reproduce and the notebooks (issue #11)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import papermill
import pytest
import soundfile as sf

from mtlsed.data.format import FormatError, read_dataset, validate
from mtlsed.data.importer import SourceSet, import_sets
from mtlsed.data.synthetic import CLASS_NOTES
from mtlsed.runs.runfolder import RunFolder

ROOT = Path(__file__).resolve().parent.parent
# classes of the user's set: none of them is an embedded class
OWN = {"kettle": 1800.0, "owl": 420.0, "typewriter": None}  # tone frequency; None: clicks
SR = 16000


def _clip(rng, events: list[tuple[str, float, float]]) -> np.ndarray:
    """10 s of faint noise with each (class, onset, offset) event added at +20 dB."""
    y = 0.003 * rng.standard_normal(10 * SR)
    t = np.arange(10 * SR) / SR
    for label, onset, offset in events:
        on = (t >= onset) & (t < offset)
        freq = OWN[label]
        if freq:
            y[on] += 0.3 * np.sin(2 * np.pi * freq * t[on])
        else:
            y[on] += 0.3 * (np.sin(2 * np.pi * 7 * t[on]) > 0.9) * rng.standard_normal(on.sum())
    return y.astype(np.float32)


def make_own_folder(root: Path, n: int, seed: int, strong: bool, classes_txt: bool) -> Path:
    """A folder in DESED's TSV format: audio/, weak.tsv, optionally strong.tsv and classes.txt."""
    rng = np.random.default_rng(seed)
    names = sorted(OWN)
    (root / "audio").mkdir(parents=True)
    weak, rows = ["filename\tevent_labels"], ["filename\tonset\toffset\tevent_label"]
    for i in range(n):
        labels = sorted(rng.choice(names, size=1 + i % 2, replace=False))
        onsets = rng.uniform(0.5, 6.5, 2)
        events = [(lab, float(o), float(o) + 3.0) for lab, o in zip(labels, onsets, strict=False)]
        name = f"{root.name}_{i:03d}.wav"
        sf.write(str(root / "audio" / name), _clip(rng, events), SR)
        weak.append(f"{name}\t{','.join(labels)}")
        rows += [f"{name}\t{a:.3f}\t{b:.3f}\t{lab}" for lab, a, b in events]
    (root / "weak.tsv").write_text("\n".join(weak) + "\n")
    if strong:
        (root / "strong.tsv").write_text("\n".join(rows) + "\n")
    if classes_txt:
        (root / "classes.txt").write_text("".join(c + "\n" for c in reversed(names)))
    return root


@pytest.fixture(scope="module")
def own(tmp_path_factory):
    """The user's two folders, train (weak labels only, no classes.txt) and test (strong labels)."""
    base = tmp_path_factory.mktemp("own")
    train = make_own_folder(base / "train", 40, 0, strong=False, classes_txt=False)
    test = make_own_folder(base / "test", 12, 1, strong=True, classes_txt=False)
    return base, train, test


def _mtlsed(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "mtlsed", *map(str, args)], capture_output=True, text=True, cwd=cwd
    )


# -- import ---------------------------------------------------------------------------------


def test_import_two_folders_infers_sorted_classes_and_keeps_test_strong_labels(own, tmp_path):
    _, train, test = own
    report = import_sets(SourceSet.folder(train), tmp_path / "set", SourceSet.folder(test), val_fraction=0.25)
    index = read_dataset(tmp_path / "set")
    assert index.classes == ["kettle", "owl", "typewriter"] and report.classes_from.startswith("inferred")
    assert report.counts == {"train": 30, "val": 10, "test": 12}
    assert sorted(index.files_in("test")) == sorted(read_dataset_names(test))
    # strong labels: every test clip has them, no validation clip does (weak labels only, as in the paper)
    assert all(index.has_strong(n) for n in index.files_in("test"))
    assert not any(index.has_strong(n) for n in index.files_in("val") + index.files_in("train"))
    # per class counts, by hand from the weak labels
    by_hand = sum("owl" in index.weak[n] for n in index.files_in("train"))
    assert report.per_class["owl"]["train"] == by_hand
    assert (tmp_path / "set" / "audio" / index.files_in("test")[0]).is_symlink()
    assert validate(tmp_path / "set") == []
    text = str(report)
    assert "52 clips, 3 classes" in text and "kettle" in text and "skipped" not in text


def read_dataset_names(folder: Path) -> list[str]:
    return [line.split("\t")[0] for line in (folder / "weak.tsv").read_text().splitlines()[1:]]


def test_import_one_folder_holds_out_a_seeded_test_fraction_from_strong_clips(own, tmp_path):
    base, _, test = own
    # a folder whose strong.tsv covers half the clips: the held-out clips are drawn from those
    src = tmp_path / "src"
    src.mkdir()
    (src / "audio").symlink_to(test / "audio")
    (src / "weak.tsv").write_text((test / "weak.tsv").read_text())
    names = read_dataset_names(test)
    keep = set(names[:6])
    strong = [ln for ln in (test / "strong.tsv").read_text().splitlines() if ln.split("\t")[0] in keep]
    (src / "strong.tsv").write_text("filename\tonset\toffset\tevent_label\n" + "\n".join(strong) + "\n")
    (src / "classes.txt").write_text("typewriter\nowl\nkettle\n")  # the user's order is kept
    a = import_sets(SourceSet.folder(src), tmp_path / "a", test_fraction=0.25, val_fraction=0.2, seed=3)
    b = import_sets(SourceSet.folder(src), tmp_path / "b", test_fraction=0.25, val_fraction=0.2, seed=3)
    ia, ib = read_dataset(tmp_path / "a"), read_dataset(tmp_path / "b")
    assert ia.classes == ["typewriter", "owl", "kettle"] and a.classes_from.endswith("classes.txt")
    assert ia.split == ib.split and a.counts == b.counts == {"train": 7, "val": 2, "test": 3}
    assert set(ia.files_in("test")) <= keep
    c = import_sets(SourceSet.folder(src), tmp_path / "c", test_fraction=0.25, val_fraction=0.2, seed=4)
    assert read_dataset(tmp_path / "c").split != ia.split and c.counts == a.counts


def test_import_skips_unreadable_clips_and_names_them(own, tmp_path):
    _, train, _ = own
    src = tmp_path / "src"
    (src / "audio").mkdir(parents=True)
    names = read_dataset_names(train)[:12]
    for n in names[2:]:
        (src / "audio" / n).symlink_to(train / "audio" / n)
    (src / "audio" / names[0]).write_bytes(b"RIFF not audio")  # corrupt; names[1] is missing
    weak = [ln for ln in (train / "weak.tsv").read_text().splitlines() if ln.split("\t")[0] in names]
    (src / "weak.tsv").write_text("filename\tevent_labels\n" + "\n".join(weak) + "\n")
    report = import_sets(SourceSet.folder(src), tmp_path / "out", test_fraction=0.2)
    assert sum(report.counts.values()) == 10
    reasons = dict((Path(f).name, why) for f, why in report.skipped)
    assert reasons[names[0]].startswith("cannot read audio") and reasons[names[1]] == "audio file not found"
    assert "skipped 2 clip(s)" in str(report) and names[0] in str(report)
    assert "the test split has no strong labels" in str(report)  # weak.tsv only: said, not hidden
    assert validate(tmp_path / "out") == []


def test_import_errors_name_the_file_and_line(own, tmp_path):
    _, train, test = own
    src = tmp_path / "src"
    src.mkdir()
    (src / "audio").symlink_to(train / "audio")
    (src / "classes.txt").write_text("kettle\nowl\n")
    lines = (train / "weak.tsv").read_text().splitlines()
    (src / "weak.tsv").write_text("\n".join(lines) + "\n")
    bad = next(i for i, ln in enumerate(lines) if "typewriter" in ln) + 1
    with pytest.raises(FormatError, match=rf"weak.tsv:{bad}: .*unknown label\(s\) \['typewriter'\]"):
        import_sets(SourceSet.folder(src), tmp_path / "out")
    with pytest.raises(FormatError, match="also a training clip"):
        import_sets(SourceSet.folder(train), tmp_path / "twice", SourceSet.folder(train))
    with pytest.raises(FormatError, match="neither weak.tsv nor strong.tsv"):
        SourceSet.folder(train / "audio")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    with pytest.raises(FileExistsError, match="not made by mtlsed import"):
        import_sets(SourceSet.folder(train), mine, SourceSet.folder(test))


# -- the commands and the notebooks on it ------------------------------------------------------


@pytest.fixture(scope="module")
def imported(own, tmp_path_factory):
    """`mtlsed import` of the two folders, run as a user would; the working folder of what follows."""
    base, train, test = own
    work = tmp_path_factory.mktemp("work")
    done = _mtlsed("import", train, work / "mine", "--test", test, "--val-fraction", "0.25", cwd=work)
    assert done.returncode == 0, done.stderr
    assert "52 clips, 3 classes (inferred from the labels, sorted)" in done.stdout
    return work, work / "mine"


def test_train_evaluate_reproduce_on_the_users_data(imported):
    work, data = imported
    short = ["train.iterations=4", "train.eval_every=2"]
    run = work / "run"
    done = _mtlsed("train", "--data", data, "--profile", "ci", "--out", run, "--set", *short, cwd=work)
    assert done.returncode == 0, done.stderr
    assert (run / "classes.txt").read_text().split() == ["kettle", "owl", "typewriter"]
    assert json.loads((run / "identity.json").read_text())["data_path"] == str(data.resolve())
    # evaluate finds the data the run was trained on
    ev = _mtlsed("evaluate", run, cwd=work)
    assert ev.returncode == 0, ev.stderr
    metrics = json.loads((run / "metrics_test.json").read_text())
    assert metrics["n_clips"] == 12 and metrics["data"] == str(data.resolve())
    rep = _mtlsed("reproduce", "--table", "1", "--profile", "ci", "--data", data, cwd=work)
    assert rep.returncode == 0, rep.stderr
    (grid,) = (work / "runs" / "ci").glob("table1-*")
    header = (grid / "table1.md").read_text().splitlines()[0]
    n_clips = len(read_dataset(data).filenames)
    assert f"on the user's data set mine ({n_clips} clips, 3 classes: kettle, owl, typewriter)" in header
    assert "embedded" not in header  # the profile's description says nothing of a data set (#18)
    # nine rows less the two top-5 rows, which need five classes: skipped, and the table says so
    assert sorted(p.parent.parent.name for p in grid.glob("*/seed0/metrics_test.json")) == [
        "ddc_fap", "segment-label", "segment-top2", "segment-top3",
        "segment_silent-label", "segment_silent-top2", "segment_silent-top3",
    ]  # fmt: skip
    assert "Skipped: segment-top5, segment_silent-top5 (top-k selection needs at least k classes" in header
    # a folder that is not a data set (here: the run folder) is named, with the way to make one
    wrong = _mtlsed("train", "--data", run, "--profile", "ci", "--out", work / "r2", cwd=work)
    assert wrong.returncode == 2
    assert f"{run}: not a dataset folder (no weak.tsv); make one with `mtlsed import" in wrong.stderr


# Runs shorter than ci's own: what is checked is whose data the chapters show and which grids they fill, not
# what they learn. Chapter 5 gets seeds and overrides of its own, given as text as `-p overrides '{...}'`
# passes them (#10): its tables follow them.
CHAPTERS = {
    "01_data": {},
    "04_training": {"overrides": '{"train.iterations": 4, "train.eval_every": 2}'},
    "05_evaluation": {"seeds": [7], "overrides": '{"train.iterations": 3, "train.eval_every": 3}'},
}


def _iterations_and_seed(run: Path) -> tuple[int, int] | None:
    """A run's training length and seed, as its identity records them (None: no run there)."""
    identity = RunFolder(run).identity()
    return identity and (identity["config"]["train"]["iterations"], identity["config"]["train"]["seed"])


@pytest.mark.parametrize("name", list(CHAPTERS))
def test_chapters_show_the_users_data(imported, name):
    work, data = imported
    out = work / "notebooks" / f"{name}.ipynb"
    out.parent.mkdir(exist_ok=True)
    papermill.execute_notebook(
        str(ROOT / "notebooks" / f"{name}.ipynb"),
        str(out),
        parameters={"profile": "ci", "data": str(data), **CHAPTERS[name]},
        cwd=str(out.parent),
        kernel_name="python3",
        progress_bar=False,
    )
    cells = json.loads(out.read_text())["cells"]
    shown = json.dumps([c.get("outputs", []) for c in cells if c["cell_type"] == "code"])
    assert "profile: ci" in shown and "wall time of this notebook" in shown
    for own_class in OWN:
        assert own_class in shown, f"{own_class} not shown in {name}"
    for embedded in CLASS_NOTES:
        assert embedded not in shown, f"the embedded class {embedded} is shown in {name}"
    assert f"data: {data.resolve()}" in shown
    grids = list((work / "runs" / "ci").glob("table1-*"))
    if name == "04_training":
        # chapter 4's run is Table 1's MTL run of the first seed (with its BCE twin): trained once, in the
        # grid of chapter 4's settings, which no table was asked of
        (grid4,) = [g for g in grids if _iterations_and_seed(g / "segment_silent-label" / "seed0") == (4, 0)]
        assert sorted(p.name for p in grid4.iterdir()) == ["ddc_fap", "segment_silent-label"]
        assert not (grid4 / "table1.md").is_file() and not (work / "runs" / "ci" / "notebook").exists()
    if name == "05_evaluation":
        # chapter 5's grid is the one of its own seeds and overrides, apart from any other Table 1 grid
        (grid1,) = [g for g in grids if (g / "ddc_fap" / "seed7").exists()]
        assert _iterations_and_seed(grid1 / "ddc_fap" / "seed7") == (3, 7)
        assert (grid1 / "table1.md").is_file() and not list(grid1.glob("*/seed0"))
        (grid2,) = (work / "runs" / "ci").glob("table2-*")
        said = (grid2 / "table2.md").read_text()
        assert "on the user's data set mine (" in said and " clips, 3 classes: " in said
        # on one data set, Table 2's DDC-FAP and MTL-DDC-FAP rows are Table 1's runs: trained once
        for row2, row1 in (("ddc_fap", "ddc_fap"), ("mtl_ddc_fap", "segment_silent-label")):
            assert (grid2 / row2 / "seed7").resolve() == (grid1 / row1 / "seed7").resolve()
        # the embedded sets were never mixed
        assert not (work / "data").exists()


def test_report_names_the_held_out_classes_with_few_clips(tmp_path):
    from mtlsed.data.importer import FEW_CLIPS, ImportReport

    report = ImportReport(tmp_path, ["alarm", "bell"], "classes.txt")
    report.counts = {"train": 10, "val": 5, "test": 6}
    report.strong_clips = {"test": 6}
    # per split, by hand: alarm has 4 validation clips and none in test; bell 1 test clip; train is not judged
    report.per_class = {"alarm": {"train": 6, "val": 4}, "bell": {"train": 1, "val": 5, "test": 1}}
    lines = report.lines()
    few = [ln for ln in lines if ln.strip().startswith(f"fewer than {FEW_CLIPS} clips of:")]
    assert FEW_CLIPS == 5 and len(few) == 1
    assert "alarm (val 4), bell (test 1);" in few[0] and "train" not in few[0]
    assert "  no clip of: alarm (test)" in lines  # none at all is said on its own line, not as "few"
    report.per_class = {"alarm": {"train": 6, "val": 5, "test": 5}, "bell": {"train": 1, "val": 5, "test": 6}}
    assert not [ln for ln in report.lines() if "fewer than" in ln]
