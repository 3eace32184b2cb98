"""The dataset format: round trip, every validation error with its line, `mtlsed check`."""

import subprocess

import numpy as np
import pytest
import soundfile as sf
from conftest import mtlsed_here

from mtlsed.core.events import Event
from mtlsed.data.format import (
    FormatError,
    read_dataset,
    read_strong,
    read_weak,
    validate,
    write_dataset_index,
)

CLASSES = ["dog", "cat", "siren"]


def _make(root, weak_lines, strong_lines=None, audio=None, split=True):
    root.mkdir(parents=True, exist_ok=True)
    (root / "classes.txt").write_text("\n".join(CLASSES) + "\n")
    (root / "weak.tsv").write_text("filename\tevent_labels\n" + "".join(line + "\n" for line in weak_lines))
    if strong_lines is not None:
        (root / "strong.tsv").write_text(
            "filename\tonset\toffset\tevent_label\n" + "".join(line + "\n" for line in strong_lines)
        )
    names = [line.split("\t")[0] for line in weak_lines]
    if split and names:  # every clip in train but the last, in val
        rows = [
            f"{n}\t{'val' if i == len(names) - 1 else 'train'}\n" for i, n in enumerate(dict.fromkeys(names))
        ]
        (root / "split.tsv").write_text("filename\tsplit\n" + "".join(rows))
    (root / "audio").mkdir(exist_ok=True)
    for i, name in enumerate(audio or []):  # 10 s at 1 kHz: a whole clip, cheaply; each clip its own audio
        sf.write(str(root / "audio" / name), np.full(10_000, 1e-3 * (i + 1), dtype=np.float32), 1000)
    return root


def test_round_trip(tmp_path):
    weak = {"a.wav": ["dog", "siren"], "b.wav": [], "c.wav": ["cat"]}
    strong = {
        "a.wav": [Event("a.wav", 0.5, 1.25, "dog"), Event("a.wav", 3.0, 7.0, "siren")],
        "b.wav": [],
    }
    split = {"a.wav": "train", "b.wav": "test", "c.wav": "val"}
    write_dataset_index(tmp_path, CLASSES, weak, strong, split)
    index = read_dataset(tmp_path)
    assert index.classes == CLASSES
    assert index.weak == weak
    assert index.strong == strong
    assert index.split == split
    assert index.has_strong("b.wav") and not index.has_strong("c.wav")
    assert index.files_in("test") == ["b.wav"]
    # b.wav is a clip without events: one row with an empty label.
    assert "b.wav\t\t\t\n" in (tmp_path / "strong.tsv").read_text()


def test_each_validation_problem_is_reported_with_its_line(tmp_path):
    root = _make(
        tmp_path / "set",
        [
            "a.wav\tdog,cat",  # line 2: fine
            "b.wav",  # line 3: a column missing
            "c.wav\tdog,horse",  # line 4: unknown label
            "d.wav\tsiren",  # line 5: fine, but its audio is missing
        ],
        [
            "a.wav\t1.0\t2.0\tdog",  # line 2: fine
            "a.wav\t3.0\t2.0\tcat",  # line 3: onset after offset
            "a.wav\t-1.0\t2.0\tdog",  # line 4: negative time
            "a.wav\t1.0\t2.0\tsiren",  # line 5: siren is not among a.wav's weak labels
            "a.wav\t1.0\t2.0\tbird",  # line 6: unknown label
            "a.wav\t1.0",  # line 7: missing columns
            "zz.wav\t1.0\t2.0\tdog",  # line 8: clip not in weak.tsv
            "a.wav\tx\t2.0\tdog",  # line 9: not a number
        ],
        audio=["a.wav", "b.wav", "c.wav"],
    )
    found = {(p.path.rsplit("/", 1)[-1], p.line): p.message for p in validate(root)}
    assert "expected 2 tab-separated columns" in found[("weak.tsv", 3)]
    assert "unknown label(s) ['horse']" in found[("weak.tsv", 4)]
    assert "d.wav: audio file missing" in found[("weak.tsv", 5)]
    assert "onset 3.0 is not before offset 2.0" in found[("strong.tsv", 3)]
    assert "negative time" in found[("strong.tsv", 4)]
    assert "strong label 'siren' missing from its weak labels ['dog', 'cat']" in found[("strong.tsv", 5)]
    assert "unknown label 'bird'" in found[("strong.tsv", 6)]
    assert "expected 4 tab-separated columns" in found[("strong.tsv", 7)]
    assert "zz.wav: not listed in weak.tsv" in found[("strong.tsv", 8)]
    assert "are not numbers" in found[("strong.tsv", 9)]
    assert "b.wav: not listed in weak.tsv" in found[("split.tsv", 3)]  # its weak row is the broken one
    assert len(found) == 11


def test_readers_stop_at_the_first_bad_line(tmp_path):
    root = _make(tmp_path, ["a.wav\tdog", "a.wav\tcat"], ["a.wav\t2\t1\tdog"])
    with pytest.raises(FormatError, match=r"weak.tsv:3: a.wav: listed twice"):
        read_weak(root / "weak.tsv", CLASSES)
    with pytest.raises(FormatError, match=r"strong.tsv:2: a.wav: onset 2.0 is not before offset 1.0"):
        read_strong(root / "strong.tsv", CLASSES)
    (root / "weak.tsv").write_text("file\tlabels\n")
    with pytest.raises(FormatError, match=r"weak.tsv:1: header"):
        read_weak(root / "weak.tsv")
    with pytest.raises(FormatError, match="nothere.tsv: file not found"):
        read_weak(root / "nothere.tsv")


def test_missing_class_list_and_unknown_split(tmp_path):
    root = _make(tmp_path, ["a.wav\tdog", "b.wav\tcat"], audio=["a.wav", "b.wav"])
    (root / "classes.txt").unlink()
    problems = validate(root)
    assert len(problems) == 1 and "classes.txt" in problems[0].path and "not found" in problems[0].message
    (root / "classes.txt").write_text("dog\ncat\n")
    (root / "split.tsv").write_text("filename\tsplit\na.wav\tdev\nb.wav\tval\n")
    found = [(p.path.rsplit("/", 1)[-1], p.line, p.message) for p in validate(root)]
    assert found[0][:2] == ("split.tsv", 2) and "one of" in found[0][2]
    assert ("weak.tsv", 2, "a.wav: in no split (split.tsv)") in found
    assert ("split.tsv", 0, "no clip in the 'train' split (training needs train and val)") in found


def test_split_audio_and_time_problems(tmp_path):
    """#10/#13: a missing split file, a clip split twice, NaN times, events past the end, a weak label
    with no strong event, duplicate events, and short, empty or unreadable audio."""
    weak = ["a.wav\tdog", "b.wav\tdog,cat", "c.wav\tcat", "d.wav\tdog", "e.wav\tcat"]
    strong = [
        "a.wav\tnan\t2.0\tdog",  # 2: NaN onset
        "b.wav\t\t\t",  # 3: an empty row against two weak labels
        "c.wav\t1.0\t12.5\tcat",  # 4: past the clip's end
        "d.wav\t1.0\t2.0\tdog",  # 5
        "d.wav\t1.0\t2.0\tdog",  # 6: the same event again
        "e.wav\t1.0\tinf\tcat",  # 7: infinite offset
    ]
    root = _make(tmp_path / "set", weak, strong, audio=["a.wav", "b.wav", "c.wav"])
    (root / "split.tsv").unlink()
    found = {(p.path.rsplit("/", 1)[-1], p.line): p.message for p in validate(root)}
    assert "train, evaluate and reproduce need" in found[("split.tsv", 0)]
    assert "must be finite" in found[("strong.tsv", 2)] and "must be finite" in found[("strong.tsv", 7)]
    assert "b.wav: weak label(s) ['dog', 'cat'] have no strong event" in found[("strong.tsv", 3)]
    assert "offset 12.5 s is past the clip's end (10.064 s)" in found[("strong.tsv", 4)]
    assert "same event as line 5" in found[("strong.tsv", 6)]
    assert "d.wav: audio file missing" in found[("weak.tsv", 5)]
    (root / "split.tsv").write_text(
        "filename\tsplit\na.wav\ttrain\nb.wav\ttrain\nc.wav\tval\nd.wav\ttest\ne.wav\ttest\na.wav\tval\n"
    )
    sf.write(str(root / "audio" / "b.wav"), np.zeros(2000, dtype=np.float32), 1000)  # 2 s
    (root / "audio" / "c.wav").write_bytes(b"RIFF....WAVEjunk")
    found = {(p.path.rsplit("/", 1)[-1], p.line): p.message for p in validate(root)}
    assert "a.wav: listed again (line 2)" in found[("split.tsv", 7)]
    assert (
        "2.000 s long, shorter than the clip length (at least 9.936 s); listed in weak.tsv:3"
        in found[("b.wav", 0)]
    )
    assert "cannot read audio" in found[("c.wav", 0)] and "weak.tsv:4" in found[("c.wav", 0)]


def _check(path):
    return mtlsed_here("check", path)


def test_check_cli_on_a_fresh_set_and_on_a_planted_broken_line(small_set, tmp_path):
    ok = _check(small_set)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "no problems found" in ok.stdout
    broken = tmp_path / "broken"
    subprocess.run(["cp", "-r", str(small_set), str(broken)], check=True)
    lines = (broken / "strong.tsv").read_text().splitlines()
    name, onset, _, label = lines[6].split("\t")
    lines[6] = f"{name}\t{onset}\t{float(onset) - 1:.3f}\t{label}"  # line 7 of the file
    (broken / "strong.tsv").write_text("\n".join(lines) + "\n")
    bad = _check(broken)
    assert bad.returncode == 1
    assert f"strong.tsv:7: {name}: onset {float(onset)} is not before offset" in bad.stdout
    assert "1 problem(s)" in bad.stdout


def test_a_classes_file_error_names_the_line_as_the_file_numbers_it(tmp_path):
    """Blank lines count: the duplicate on the fourth line of the file is reported on line 4, not 3."""
    from mtlsed.core.errors import FormatError
    from mtlsed.data.format import read_classes

    path = tmp_path / "classes.txt"
    path.write_text("dog\n\ncat\ndog\n")
    with pytest.raises(FormatError, match=r"classes.txt:4: duplicate class 'dog'"):
        read_classes(path)
    path.write_text("dog\n\n\ncat,bird\n")
    with pytest.raises(FormatError, match=r"classes.txt:4: class 'cat,bird' contains a comma or tab"):
        read_classes(path)
    path.write_text("\ndog\n\ncat\n")
    assert read_classes(path) == ["dog", "cat"]
