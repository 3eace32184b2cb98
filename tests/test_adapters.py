"""Real-data adapters on tiny fake copies of the DCASE 2018 and DESED layouts."""

import subprocess
import sys
from collections import Counter

import numpy as np
import pytest
from conftest import mtlsed_here, write_wav

from mtlsed.data.audio import load_audio
from mtlsed.data.dcase2018 import dcase2018_sources, read_fsd2018, read_tut2018
from mtlsed.data.desed import DESED_CLASSES, import_desed
from mtlsed.data.format import FormatError, read_dataset, validate

FSD_CLASSES = ["Bark", "Cello", "Knock"]


def _tone(sr, seconds, f, stereo=False):
    t = np.arange(int(sr * seconds)) / sr
    y = 0.3 * np.sin(2 * np.pi * f * t)
    return np.stack([y, 0.5 * y], axis=1) if stereo else y


def make_fsd(root, layout="kaggle", per_class=5):
    audio = root / ("audio_train" if layout == "kaggle" else "FSDKaggle2018.audio_train")
    rows = []
    for c, label in enumerate(FSD_CLASSES):
        for j in range(per_class):
            name = f"{label.lower()}{j}.wav"
            write_wav(audio / name, _tone(44100, 0.5 + j, 300 * (c + 1)), 44100)
            rows.append(f"{name},{label},1")
    rows.append("unverified.wav,Bark,0")
    write_wav(audio / "unverified.wav", _tone(44100, 1, 100), 44100)
    rows.append("gone.wav,Cello,1")  # listed but not in the copy
    if layout == "kaggle":
        (root / "train.csv").write_text("fname,label,manually_verified\n" + "\n".join(rows) + "\n")
    else:
        meta = root / "FSDKaggle2018.meta"
        meta.mkdir(parents=True)
        zen = [r.split(",") for r in rows]
        text = "fname,label,manually_verified,freesound_id,license\n"
        text += "\n".join(f"{a},{b},{c},123,CC0" for a, b, c in zen) + "\n"
        (meta / "train_post_competition.csv").write_text(text)
    return root


def make_tut(root, n=8, folds=True):
    lines = ["filename\tscene_label\tidentifier\tsource_label"]
    for i in range(n):
        name = f"audio/street-{i}.wav"
        write_wav(root / name, _tone(48000, 3.0, 60 + i, stereo=True) + 0.01, 48000)
        lines.append(f"{name}\tstreet_traffic\tid-{i}\ta")
    (root / "meta.csv").write_text("\n".join(lines) + "\n")
    if folds:
        setup = root / "evaluation_setup"
        setup.mkdir()
        (setup / "fold1_train.txt").write_text(
            "".join(f"audio/street-{i}.wav\tstreet_traffic\n" for i in range(6))
        )
        (setup / "fold1_evaluate.txt").write_text("".join(f"audio/street-{i}.wav\n" for i in range(6, n)))
    return root


@pytest.mark.parametrize("layout", ["kaggle", "zenodo"])
def test_fsd2018_both_layouts_and_verified_filter(tmp_path, layout):
    root = make_fsd(tmp_path / layout, layout)
    items = read_fsd2018(root)
    assert Counter(label for _, label in items) == {c: 5 for c in FSD_CLASSES}
    assert all(p.is_file() for p, _ in items)
    assert len(read_fsd2018(root, verified_only=False)) == 16  # + the unverified clip


def test_fsd2018_errors_name_file_and_line(tmp_path):
    root = make_fsd(tmp_path / "fsd")
    text = (root / "train.csv").read_text().splitlines()
    text[3] = "bark2.wav,Bark,maybe"
    (root / "train.csv").write_text("\n".join(text) + "\n")
    with pytest.raises(FormatError, match=r"train.csv:4: manually_verified must be 0 or 1"):
        read_fsd2018(root)
    with pytest.raises(FormatError, match="no FSDKaggle2018 metadata found"):
        read_fsd2018(tmp_path)
    with pytest.raises(FormatError, match="meta.csv: file not found"):
        read_tut2018(tmp_path)


def test_dcase2018_sources_split_files_and_report(tmp_path):
    fsd, tut = make_fsd(tmp_path / "fsd"), make_tut(tmp_path / "tut")
    folds = read_tut2018(tut)
    assert len(folds["fold1_train"]) == 6 and len(folds["fold1_evaluate"]) == 2
    sources, classes, report = dcase2018_sources(
        fsd, tut, sr=8000, seed=0, val_fraction=0.2, test_fraction=0.2
    )
    assert classes == sorted(FSD_CLASSES)
    files = {s: {p for c in classes for p in sources[s][0].by_class[c]} for s in sources}
    assert not (files["train"] & files["test"]) and not (files["train"] & files["val"])
    assert all(len(sources[s][0].by_class[c]) >= 1 for s in sources for c in classes)
    assert {p.name for p in sources["test"][1].paths} == {"street-6.wav", "street-7.wav"}
    assert len(report.skipped) == 1 and "gone.wav" in report.skipped[0]
    bg = sources["train"][1].draw(np.random.default_rng(0), 8000 * 10)  # 3 s files looped to 10 s
    assert bg.shape == (80000,) and abs(np.sqrt(np.mean(bg.astype(float) ** 2)) - 1) < 1e-3


def test_mix_dcase2018_cli_end_to_end(tmp_path):
    fsd, tut = make_fsd(tmp_path / "fsd", "zenodo"), make_tut(tmp_path / "tut", folds=False)
    out = tmp_path / "overlapped"
    cmd = [
        sys.executable,
        "-m",
        "mtlsed",
        "mix-dcase2018",
        "--events",
        str(fsd),
        "--backgrounds",
        str(tut),
        str(out),
        "--clips",
        "10",
        "--seed",
        "1",
        "--sr",
        "8000",
        "--workers",
        "1",
    ]
    run = subprocess.run(cmd, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "skipped 1 listed file(s)" in run.stdout
    assert validate(out) == []
    index = read_dataset(out)
    assert index.classes == sorted(FSD_CLASSES) and len(index.filenames) == 10
    for name in index.filenames:
        events = index.strong[name]
        assert len({e.label for e in events}) == 2
        assert all(3.0 <= e.onset < e.offset <= 7.0 + 1e-6 for e in events)
    bad = mtlsed_here(*cmd[3:5], tmp_path, *cmd[6:])
    assert bad.returncode == 2 and "no FSDKaggle2018 metadata found" in bad.stderr


def make_desed(root):
    meta, audio = root / "metadata", root / "audio"
    weak_names = [f"Y{i:03d}_0.000_10.000.wav" for i in range(10)]
    (meta / "train").mkdir(parents=True)
    (meta / "validation").mkdir(parents=True)
    rows = ["filename\tevent_labels"]
    for i, name in enumerate(weak_names):
        rows.append(f"{name}\t{DESED_CLASSES[i % 10]},{DESED_CLASSES[(i + 3) % 10]}")
        if i != 9:  # the last weak clip is missing from the copy
            write_wav(audio / "train" / "weak" / name, _tone(44100, 10, 440 + 10 * i), 44100)  # each its own
    (meta / "train" / "weak.tsv").write_text("\n".join(rows) + "\n")
    strong = [
        "filename\tonset\toffset\tevent_label",
        "Yval1.wav\t0.5\t2.0\tDog",
        "Yval1.wav\t1.0\t4.5\tSpeech",
        "Yval2.wav\t\t\t",
        "Yval3.wav\t3.0\t7.25\tBlender",
    ]
    (meta / "validation" / "validation.tsv").write_text("\n".join(strong) + "\n")
    write_wav(audio / "validation" / "Yval1.wav", _tone(44100, 10, 300), 44100)
    write_wav(audio / "validation" / "Yval2.wav", _tone(44100, 7.5, 300), 44100)  # shorter than 10 s
    write_wav(audio / "validation" / "Yval3.wav", _tone(44100, 10, 320), 44100)
    return root


def test_desed_import(tmp_path):
    desed = make_desed(tmp_path / "DESED")
    out = tmp_path / "desed_set"
    report = import_desed(desed, out, val_fraction=0.2)
    assert report.counts == {"train": 7, "val": 2, "test": 3}
    assert len(report.skipped) == 1 and "Y009" in report.skipped[0][0]
    assert report.skipped[0][1] == "audio file not found" and "skipped 1 clip(s)" in str(report)
    assert validate(out) == []
    index = read_dataset(out)
    assert index.classes == DESED_CLASSES
    assert index.weak["Yval1.wav"] == ["Dog", "Speech"] and index.weak["Yval2.wav"] == []
    assert [(e.onset, e.offset) for e in index.strong["Yval3.wav"]] == [(3.0, 7.25)]
    assert not index.has_strong("Y000_0.000_10.000.wav")
    assert (out / "audio" / "Yval1.wav").is_symlink()
    y = load_audio(index.audio_path("Yval2.wav"), 16000, 10.0)  # padded to 10 s
    assert y.shape == (160000,) and np.all(y[int(7.5 * 16000) + 1 :] == 0)
    # importing again into the same folder is fine (links already there)
    assert import_desed(desed, out, val_fraction=0.2).counts == report.counts
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("mine")
    with pytest.raises(FileExistsError, match="not made by mtlsed import-desed"):
        import_desed(desed, foreign)
