"""Channel transforms and shifted copies of a split, checked against independent measurements."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import correlate

from mtlsed.core.errors import UserError
from mtlsed.data.format import read_dataset, validate
from mtlsed.data.shift import (
    PEAK,
    TRANSFORMS,
    codec_kind,
    make_channel,
    scaled_clips,
    shift_split,
    shifted_sets,
)
from mtlsed.experiments.tables import markdown_shifted

SR = 16000
NAMES = list(TRANSFORMS)
LABELS = ("classes.txt", "weak.tsv", "strong.tsv", "split.tsv")


def white(seconds: float, seed: int, sr: int = SR) -> np.ndarray:
    """``(S,)`` white Gaussian noise of RMS 0.1."""
    return (0.1 * np.random.default_rng(seed).standard_normal(int(seconds * sr))).astype(np.float32)


def tone(seconds: float, hz: float, sr: int = SR, amplitude: float = 0.5) -> np.ndarray:
    return (amplitude * np.sin(2 * np.pi * hz * np.arange(int(seconds * sr)) / sr)).astype(np.float32)


def best_lag(y: np.ndarray, x: np.ndarray, most: int = 3000) -> int:
    """The lag (samples) at which ``y`` best matches ``x``, within ``most``."""
    c = correlate(y.astype(np.float64), x.astype(np.float64), mode="full", method="fft")
    lags = np.arange(-(len(x) - 1), len(y))
    keep = np.abs(lags) <= most
    return int(lags[keep][np.argmax(c[keep])])


def rms(y: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(y, dtype=np.float64))))


# -- every transform -------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_transform_keeps_length_and_dtype_and_is_seeded(name):
    y = white(2.0, 0) + tone(2.0, 440.0, amplitude=0.2)
    f = TRANSFORMS[name]
    a, b = f(y, SR, np.random.default_rng(0)), f(y, SR, np.random.default_rng(0))
    assert a.shape == y.shape and a.dtype == np.float32 and np.all(np.isfinite(a))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, y)
    ch0, ch1 = make_channel(name, 0, SR), make_channel(name, 1, SR)
    assert np.array_equal(ch0(y, 3), make_channel(name, 0, SR)(y, 3))
    assert ch0.params != ch1.params or name == "noise"  # noise: a fixed SNR, new samples
    assert not np.allclose(ch0(y, 3), ch1(y, 3), atol=1e-4)


@pytest.mark.parametrize("sr", [SR, 44100])
@pytest.mark.parametrize("name", [*NAMES, "codec-mulaw"])
def test_transform_is_time_aligned(name, sr):
    """A burst of noise comes out where it went in (filter, room and codec delays removed)."""
    burst = np.zeros(2 * sr, np.float32)
    burst[sr // 2 : sr // 2 + sr // 20] = white(0.05, 3, sr) * 3  # aperiodic: the lag is unambiguous
    ch = (
        make_channel("codec", 0, sr, {"kind": "mulaw"})
        if name == "codec-mulaw"
        else make_channel(name, 0, sr)
    )
    y = ch(burst, 0)
    assert y.shape == burst.shape and best_lag(y, burst) == 0


def test_unknown_names_are_refused():
    with pytest.raises(UserError, match="known: mic, eq, room, codec, noise"):
        make_channel("telephone", 0, SR)
    with pytest.raises(UserError, match="snr"):
        make_channel("noise", 0, SR, {"snr": 3.0})


# -- mic and eq: the measured magnitude response is the drawn curve --------------------


def band_db(x: np.ndarray, y: np.ndarray, lo: float, hi: float, weight: np.ndarray | None = None) -> float:
    """``10 log10(sum |Y|^2 / sum |X|^2)`` over the FFT bins in ``[lo, hi)`` Hz (``Y`` replaced by
    ``weight * X`` when ``weight`` is given: the expected value of a curve)."""
    f = np.fft.rfftfreq(len(x), 1 / SR)
    band = (f >= lo) & (f < hi)
    px = np.abs(np.fft.rfft(x.astype(np.float64))[band]) ** 2
    py = (
        px * weight[band] ** 2 if weight is not None else np.abs(np.fft.rfft(y.astype(np.float64))[band]) ** 2
    )
    return float(10 * np.log10(py.sum() / px.sum()))


def third_octaves(lo: float, hi: float) -> list[tuple[float, float]]:
    centres = lo * 2.0 ** (np.arange(0, 40) / 3)
    return [(c * 2 ** (-1 / 6), c * 2 ** (1 / 6)) for c in centres if c * 2 ** (1 / 6) < hi]


def mic_curve(p: dict, f: np.ndarray) -> np.ndarray:
    """The module docstring's ``mic`` response, written out again: ``|H(f)|`` linear."""
    f = np.maximum(f, 1e-3)
    low_power = (f / p["low_cut_hz"]) ** 4 / (1 + (f / p["low_cut_hz"]) ** 4)
    high_power = 1 / (1 + (f / p["rolloff_hz"]) ** 4)
    sigma = p["presence_octaves"] / (2 * np.sqrt(2 * np.log(2)))
    bell_db = p["presence_db"] * np.exp(-0.5 * (np.log2(f / p["presence_hz"]) / sigma) ** 2)
    return np.sqrt(low_power * high_power) * 10 ** (bell_db / 20)


def assert_response(ch, curve, x: np.ndarray, index: int) -> np.ndarray:
    """The channel's output of ``x`` matches ``curve`` within 1 dB in third-octave bands; the
    differences (dB)."""
    y = ch(x, index)
    f = np.fft.rfftfreq(len(x), 1 / SR)
    measured, expected = [], []
    for lo, hi in third_octaves(160.0, 0.9 * SR / 2):
        measured.append(band_db(x, y, lo, hi))
        expected.append(band_db(x, None, lo, hi, weight=curve(f)))
    np.testing.assert_allclose(measured, expected, atol=1.0)
    return np.subtract(measured, expected)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mic_response_is_the_drawn_curve(seed):
    ch = make_channel("mic", seed, SR)
    p = ch.params
    assert 100 <= p["low_cut_hz"] <= 300 and 3 <= abs(p["presence_db"]) <= 6
    first = assert_response(ch, lambda f: mic_curve(p, f), white(4.0, 10), index=0)
    second = assert_response(ch, lambda f: mic_curve(p, f), white(4.0, 11), index=5)
    np.testing.assert_allclose(first, second, atol=0.1)  # one device: one response for every clip
    x = white(1.0, 12)
    assert np.array_equal(ch(x, 0), ch(x, 9))  # no per-clip randomness in a filter


@pytest.mark.parametrize("seed", [0, 3])
def test_eq_response_is_the_drawn_curve(seed):
    ch = make_channel("eq", seed, SR)
    centres, gains = ch.params["centres_hz"], ch.params["gains_db"]
    assert 4 <= len(gains) <= 8 and all(abs(g) <= 6 for g in gains)
    x = white(4.0, 20)
    assert_response(ch, ch.response, x, index=0)
    y = ch(x, 0)
    for c, g in zip(centres, gains, strict=True):  # the curve passes through each drawn gain
        assert band_db(x, y, c * 2 ** (-1 / 24), c * 2 ** (1 / 24)) == pytest.approx(g, abs=1.0)
    assert np.array_equal(y, ch(x, 4))


# -- room: the decay of the impulse response ------------------------------------------


def schroeder_rt60(h: np.ndarray, sr: int = SR) -> float:
    """RT60 from the Schroeder integral of ``h (L,)``: a line fitted between -5 and -25 dB, times 3."""
    edc = np.cumsum(h[::-1].astype(np.float64) ** 2)[::-1]
    edc_db = 10 * np.log10(edc / edc[0])
    fit = (edc_db <= -5) & (edc_db >= -25)
    slope = np.polyfit(np.flatnonzero(fit) / sr, edc_db[fit], 1)[0]
    return -60.0 / slope


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_room_decay_gives_the_drawn_rt60(seed):
    ch = make_channel("room", seed, SR)
    click = np.zeros(SR, np.float32)  # longer than any response drawn (at most 0.8 s)
    click[0] = 1.0
    h = ch(click, 0)
    assert 0.3 <= ch.params["rt60_s"] <= 0.8
    assert schroeder_rt60(h) == pytest.approx(ch.params["rt60_s"], rel=0.2)
    assert np.argmax(np.abs(h)) == 0  # the direct path, not delayed
    x = white(2.0, 1)
    assert rms(ch(x, 0)) == pytest.approx(rms(x), rel=1e-4)


# -- noise: the SNR and the colour ------------------------------------------------------


@pytest.mark.parametrize("snr", [None, 3.0])
def test_noise_is_pink_at_the_snr(snr):
    ch = make_channel("noise", 0, SR, None if snr is None else {"snr_db": snr})
    x = white(4.0, 2) + tone(4.0, 1000.0, amplitude=0.3)
    noise = ch(x, 0).astype(np.float64) - x
    measured = 20 * np.log10(rms(x) / rms(noise))
    assert measured == pytest.approx(10.0 if snr is None else snr, abs=0.5)
    power = np.abs(np.fft.rfft(noise)) ** 2
    f = np.fft.rfftfreq(len(noise), 1 / SR)
    per_octave = [
        power[(f >= c / np.sqrt(2)) & (f < c * np.sqrt(2))].mean() for c in (125, 250, 500, 1000, 2000)
    ]
    slope = np.polyfit(np.arange(5), 10 * np.log10(per_octave), 1)[0]
    assert slope == pytest.approx(-3.0, abs=0.5)  # pink: -3 dB per octave
    assert not np.array_equal(ch(x, 0), ch(x, 1))  # new noise for another clip
    assert np.array_equal(make_channel("noise", 0, SR)(np.zeros(100, np.float32), 0), np.zeros(100))


# -- codec: lossy but aligned --------------------------------------------------------------


@pytest.mark.parametrize("kind", ["auto", "mulaw"])
def test_codec_changes_a_tone_but_keeps_it_aligned(kind):
    ch = make_channel("codec", 0, SR, None if kind == "auto" else {"kind": kind})
    assert ch.params["kind"] == (codec_kind(SR) if kind == "auto" else kind)
    x = tone(2.0, 1000.0, amplitude=0.3)
    y = ch(x, 0)
    assert np.max(np.abs(y - x)) > 1e-3
    assert np.corrcoef(x, y)[0, 1] > 0.9
    burst = np.zeros(2 * SR, np.float32)
    burst[SR // 2 : SR // 2 + 800] = white(0.05, 3) * 3
    assert best_lag(ch(burst, 0), burst) == 0


def test_codec_path_here():
    """Which codec runs on this machine is said, and MP3 is used whenever libsndfile writes it."""
    can_write = "MP3" in sf.available_formats() and "MPEG_LAYER_III" in sf.available_subtypes("MP3")
    assert codec_kind(SR) in ("mp3", "mulaw")
    if not can_write:
        assert codec_kind(SR) == "mulaw"
    assert codec_kind(96000) == "mulaw"  # no MP3 at this rate


# -- shift_split on a small data set ---------------------------------------------------------


@pytest.fixture(scope="module")
def source(small_set, tmp_path_factory) -> Path:
    """A copy of the small set (its feature cache left out)."""
    out = tmp_path_factory.mktemp("shift") / "data"
    shutil.copytree(small_set, out, ignore=shutil.ignore_patterns("features"))
    return out


@pytest.fixture(scope="module")
def shifted(source, tmp_path_factory) -> Path:
    return shift_split(source, tmp_path_factory.mktemp("shifted") / "noise", "noise", seed=0)


def clips(root: Path) -> dict[str, str]:
    index = read_dataset(root)
    return {name: index.split[name] for name in index.filenames}


def test_only_the_split_changes(source, shifted):
    names = clips(source)
    assert clips(shifted) == names
    test_clips = [n for n, s in names.items() if s == "test"]
    channel = make_channel("noise", 0, SR)
    for name, split in names.items():
        path, original = shifted / "audio" / name, source / "audio" / name
        if split != "test":
            assert path.is_symlink() and Path(os.readlink(path)) == original.resolve()
            continue
        assert not path.is_symlink() and sf.info(str(path)).subtype == "PCM_16"
        y, sr = sf.read(str(path), dtype="float32")
        x, _ = sf.read(str(original), dtype="float32")
        assert sr == SR and y.shape == x.shape and not np.array_equal(y, x)
        expected = channel(x, test_clips.index(name))  # clip i of the split has index i
        np.testing.assert_allclose(y, expected, atol=1.5 / 32768)
    for label in LABELS:
        assert (shifted / label).read_bytes() == (source / label).read_bytes()
    assert validate(shifted) == []


def test_settings_are_recorded(source, shifted):
    import json

    settings = json.loads((shifted / "shift.json").read_text())
    assert settings["transform"] == "noise" and settings["seed"] == 0 and settings["split"] == "test"
    assert settings["data"] == str(source.resolve())
    assert settings["params"] == {"16000": {"snr_db": 10.0}}
    assert settings["clips"] == 8 and settings["normalised"] == {}
    assert (shifted / ".mtlsed" / "made-by").read_text() == f"shift noise seed 0 of {source.resolve()}\n"


def test_rerun_is_a_no_op_and_other_settings_are_refused(source, shifted):
    written = sorted(p for p in (shifted / "audio").iterdir() if not p.is_symlink())
    before = {p: p.stat().st_mtime_ns for p in written + [shifted / "weak.tsv"]}
    shift_split(source, shifted, "noise", seed=0)
    assert {p: p.stat().st_mtime_ns for p in before} == before
    with pytest.raises(FileExistsError, match="seed: 0 there, 1 asked"):
        shift_split(source, shifted, "noise", seed=1)
    with pytest.raises(FileExistsError, match="transform: 'noise' there, 'eq' asked"):
        shift_split(source, shifted, "eq", seed=0)
    with pytest.raises(FileExistsError, match="split: 'test' there, 'val' asked"):
        shift_split(source, shifted, "noise", seed=0, split="val")
    with pytest.raises(FileExistsError, match="params"):
        shift_split(source, shifted, "noise", seed=0, params={"snr_db": 0.0})


def test_a_folder_not_made_by_shift_is_refused(source, tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not made by mtlsed shift"):
        shift_split(source, tmp_path / "mine", "noise")
    (tmp_path / "imported" / ".mtlsed").mkdir(parents=True)
    (tmp_path / "imported" / ".mtlsed" / "made-by").write_text("import\n")
    with pytest.raises(FileExistsError, match="'import', not by shift"):
        shift_split(source, tmp_path / "imported", "noise")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_bad_names_and_empty_splits_are_refused(source, tmp_path):
    with pytest.raises(UserError, match="known: mic, eq, room, codec, noise"):
        shift_split(source, tmp_path / "a", "reverb")
    with pytest.raises(UserError, match="unknown split 'dev'"):
        shift_split(source, tmp_path / "a", "noise", split="dev")
    no_test = tmp_path / "no-test"
    shutil.copytree(source, no_test, ignore=shutil.ignore_patterns("audio"))
    (no_test / "split.tsv").write_text((source / "split.tsv").read_text().replace("\ttest", "\ttrain"))
    with pytest.raises(UserError, match="'test' split has no clips"):
        shift_split(no_test, tmp_path / "b", "noise")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` but the hash cache: relative path -> bytes (a link: its target)."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            out[rel] = os.readlink(path).encode()
        elif path.is_file() and "audio-sha256" not in rel:
            out[rel] = path.read_bytes()
    return out


def test_a_killed_run_resumes_to_the_same_bytes(source, shifted, tmp_path):
    out = shift_split(source, tmp_path / "noise", "noise", seed=0)
    test_clips = sorted(p for p in (out / "audio").iterdir() if not p.is_symlink())
    kept = {p: p.stat().st_mtime_ns for p in test_clips[1:]}
    (out / "weak.tsv").unlink()  # killed before the label files
    test_clips[0].unlink()  # and before this clip
    (out / "audio" / f".{test_clips[1].name}.123.tmp.wav").write_bytes(b"half a clip")
    shift_split(source, out, "noise", seed=0)
    assert {p: p.stat().st_mtime_ns for p in kept} == kept  # written clips not redone
    assert tree(out) == tree(shifted)


def test_clipping_is_avoided_and_reported(source, tmp_path):
    import json

    out = shift_split(source, tmp_path / "loud", "noise", seed=0, params={"snr_db": -30.0})
    normalised = json.loads((out / "shift.json").read_text())["normalised"]
    assert normalised and all(0 < g < 1 for g in normalised.values())
    for name in normalised:
        y, _ = sf.read(str(out / "audio" / name), dtype="float32")
        assert np.max(np.abs(y)) == pytest.approx(PEAK, abs=1e-3)
    assert scaled_clips(out) == len(normalised) and scaled_clips(tmp_path) == 0


def test_shifted_table_against_hand_means_and_changes():
    seeds = [
        {"clean": {"at_map": 0.6, "er": 1.0}, "eq": {"at_map": 0.5, "er": 1.2, "scaled_clips": 0}},
        {"clean": {"at_map": 0.8, "er": 1.4}, "eq": {"at_map": 0.5, "er": 1.6, "scaled_clips": 2}},
    ]
    md = markdown_shifted({"BCE": seeds}, metrics=["at_map", "er"])
    lines = md.splitlines()
    assert lines[0] == "| Row | Metric | clean | eq |"
    # clean AT-mAP 0.7 ± 0.141 (sample std of 0.6, 0.8); eq 0.5 ± 0, 0.2 below clean
    assert lines[2] == "| BCE | AT-mAP | 0.700\u00a0±\u00a00.141 | 0.500\u00a0±\u00a00.000 (-0.200) |"
    assert lines[3] == "| BCE | ER | 1.200\u00a0±\u00a00.283 | 1.400\u00a0±\u00a00.283 (+0.200) |"
    assert "scaled to a peak of 0.99 (eq 2;" in md
    assert "scaled to a peak" not in markdown_shifted({"BCE": seeds[:1]}, metrics=["er"])


def test_shifted_sets_are_made_once(source):
    sets = shifted_sets(source, ["eq", "room"], seed=2)
    assert sets == {"eq": source / "shifted" / "eq-seed2", "room": source / "shifted" / "room-seed2"}
    stamps = {p: p.stat().st_mtime_ns for s in sets.values() for p in (s / "audio").iterdir()}
    assert shifted_sets(source, ["eq", "room"], seed=2) == sets
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    assert all(validate(s) == [] for s in sets.values())
    with pytest.raises(UserError, match="unknown transform 'hall'"):
        shifted_sets(source, ["eq", "hall"])


def test_a_changed_source_or_a_bare_marker_is_checked(source, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(source, data, ignore=shutil.ignore_patterns("shifted", ".mtlsed"))
    out = shift_split(data, tmp_path / "out", "noise")
    (out / "shift.json").unlink()  # as if killed after the marker: the marker alone is checked
    shift_split(data, out, "noise")
    (out / "shift.json").unlink()
    with pytest.raises(
        FileExistsError, match="made as 'shift noise seed 0 of .*', asked 'shift noise seed 3"
    ):
        shift_split(data, out, "noise", seed=3)
    shift_split(data, out, "noise")
    (data / "strong.tsv").write_text((data / "strong.tsv").read_text() + "\n")
    with pytest.raises(FileExistsError, match="labels strong.tsv: '[0-9a-f]{16}' there"):
        shift_split(data, out, "noise")
