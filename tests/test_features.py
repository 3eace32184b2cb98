"""The log-mel front end against librosa, the feature cache, and the torch Dataset."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch

from mtlsed.config.settings import FeatureConfig
from mtlsed.data.audio import load_audio
from mtlsed.data.format import read_dataset
from mtlsed.features.cache import build_feature_cache
from mtlsed.features.dataset import SedDataset
from mtlsed.features.labels import FrameGrid
from mtlsed.features.logmel import LogMel, logmel_librosa


@pytest.mark.parametrize(
    "cfg",
    [
        FeatureConfig(sample_rate=32000),  # the paper's front end: 2048 / 1024, 311 frames
        FeatureConfig(sample_rate=16000, center=True, fmax=7000.0),
    ],
)
def test_torch_matches_librosa(small_set, cfg):
    index = read_dataset(small_set)
    waves = np.stack([load_audio(index.audio_path(f), cfg.sample_rate, 10.0) for f in index.filenames[:3]])
    ours = LogMel(cfg)(torch.from_numpy(waves)).numpy()
    assert ours.shape == (3, cfg.n_frames(waves.shape[1]), 64)
    if cfg.sample_rate == 32000:
        assert ours.shape[1] == 311
    for i in range(3):
        ref = logmel_librosa(waves[i], cfg)
        assert ref.shape == ours[i].shape
        assert np.max(np.abs(ours[i] - ref)) < 1e-3
    # batching does not change a clip's features
    single = LogMel(cfg)(torch.from_numpy(waves[1]))[0].numpy()
    np.testing.assert_allclose(single, ours[1], atol=1e-5)


def test_cache_is_reused_and_rebuilt_on_change(small_set, tmp_path):
    cfg = FeatureConfig(sample_rate=16000)
    first = build_feature_cache(small_set, cfg)
    again = build_feature_cache(small_set, cfg)
    assert again.path == first.path
    arr = first.features
    assert arr.shape == (40, 311, 64) and isinstance(arr, np.memmap)
    index = read_dataset(small_set)
    ref = logmel_librosa(load_audio(index.audio_path(first.filenames[5]), 16000, 10.0), cfg)
    np.testing.assert_allclose(arr[5], ref, atol=1e-3)
    # normalisation statistics are those of the training split, computed by hand here
    train_rows = [first.filenames.index(f) for f in index.files_in("train")]
    block = np.asarray(arr[train_rows], dtype=np.float64)
    np.testing.assert_allclose(first.mean, block.mean(axis=(0, 1)), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(first.std, block.std(axis=(0, 1)), rtol=1e-4)
    # another feature config -> another cache
    other = build_feature_cache(small_set, FeatureConfig(sample_rate=16000, n_mels=32))
    assert other.path != first.path and other.features.shape == (40, 311, 32)
    # another file list -> another cache
    copy = tmp_path / "copy"
    subprocess.run(["cp", "-r", str(small_set), str(copy)], check=True)
    lines = (copy / "weak.tsv").read_text().splitlines()
    (copy / "weak.tsv").write_text("\n".join(lines[:-1]) + "\n")
    split = (copy / "split.tsv").read_text().splitlines()
    (copy / "split.tsv").write_text(
        "\n".join(s for s in split if not s.startswith(lines[-1].split("\t")[0])) + "\n"
    )
    strong = (copy / "strong.tsv").read_text().splitlines()
    (copy / "strong.tsv").write_text(
        "\n".join(s for s in strong if not s.startswith(lines[-1].split("\t")[0])) + "\n"
    )
    smaller = build_feature_cache(copy, cfg)
    assert smaller.path.name != first.path.name and smaller.features.shape[0] == 39


SLOW_BUILD = textwrap.dedent(
    """
    import sys, time
    import mtlsed.features.cache as F
    from mtlsed.config.settings import FeatureConfig
    real = F.load_audio
    def slow(*a, **k):  # the real loader, only slower, so the kill lands mid-build
        time.sleep(0.05)
        return real(*a, **k)
    F.load_audio = slow
    F.build_feature_cache(sys.argv[1], FeatureConfig(sample_rate=16000), batch_size=4, progress=False)
    """
)


def test_cache_survives_a_kill_mid_write(small_set, tmp_path):
    data = tmp_path / "set"
    subprocess.run(["cp", "-r", str(small_set), str(data)], check=True)
    subprocess.run(["rm", "-rf", str(data / "features")], check=True)
    proc = subprocess.Popen([sys.executable, "-c", SLOW_BUILD, str(data)])
    deadline = time.time() + 60
    state = None
    while time.time() < deadline:
        states = list((data / "features").glob("*.partial/progress.json"))
        if states:
            try:
                state = json.loads(states[0].read_text())
            except (json.JSONDecodeError, FileNotFoundError):
                continue
            if state["done"] >= 8:
                break
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert state is not None and 8 <= state["done"] < 40
    # nothing looks finished after the kill
    assert not [p for p in (data / "features").iterdir() if not p.name.endswith((".partial", ".lock"))]
    resumed = build_feature_cache(data, FeatureConfig(sample_rate=16000))
    reference = build_feature_cache(small_set, FeatureConfig(sample_rate=16000))
    np.testing.assert_array_equal(np.asarray(resumed.features), np.asarray(reference.features))
    np.testing.assert_array_equal(resumed.mean, reference.mean)
    assert not list((data / "features").glob("*.partial"))


def test_dataset_items(small_set, cfg16):
    ds = SedDataset(small_set, cfg16, split="train")
    index = read_dataset(small_set)
    assert len(ds) == len(index.files_in("train")) == 28
    x, y, frames = ds[0]
    assert x.shape == (311, 64) and y.shape == (10,) and frames.shape == (10, 311)
    assert x.dtype == torch.float32
    name = ds.filenames[0]
    assert {ds.classes[k] for k in torch.nonzero(y).flatten().tolist()} == set(index.weak[name])
    # frame t is active when its centre (t * hop + n_fft / 2) / sr lies in [onset, offset)
    times = FrameGrid.of(cfg16.features, 311).centres
    assert times[0] == pytest.approx(512 / 16000) and times[1] - times[0] == pytest.approx(0.032)
    for ev in index.strong[name]:
        k = ds.classes.index(ev.label)
        inside = (times >= ev.onset) & (times < ev.offset)
        assert torch.equal(frames[k].bool(), torch.from_numpy(inside))
        assert inside.sum() > 0
    # training features are standardised per band
    allx = torch.stack([ds[i][0] for i in range(len(ds))])
    assert allx.mean(dim=(0, 1)).abs().max() < 1e-3
    assert (allx.std(dim=(0, 1)) - 1).abs().max() < 1e-2
    loader = torch.utils.data.DataLoader(ds, batch_size=4)
    xb, yb, fb = next(iter(loader))
    assert xb.shape == (4, 311, 64) and yb.shape == (4, 10) and fb.shape == (4, 10, 311)


def test_cache_follows_the_audio_content_and_the_split(small_set, tmp_path):
    """#10: an in-place edit at the same size, or a changed split, never reuses stale features or stats."""
    import os
    import shutil

    import soundfile as sf

    data = tmp_path / "data"
    shutil.copytree(small_set, data, ignore=shutil.ignore_patterns("features", ".mtlsed"))
    cfg = FeatureConfig(sample_rate=16000)
    first = build_feature_cache(data, cfg)
    name = first.filenames[0]
    path = data / "audio" / name
    size = path.stat().st_size
    y, sr = sf.read(str(path), dtype="int16")
    sf.write(str(path), (y // 10).astype(np.int16), sr, subtype="PCM_16")  # -20 dB, same size
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    assert path.stat().st_size == size
    edited = build_feature_cache(data, cfg)
    assert edited.path != first.path
    delta = np.abs(np.asarray(edited.features[0]) - np.asarray(first.features[0])).max()
    assert delta > 4.0  # about 20 dB = log(100) = 4.6 on the natural-log scale
    assert np.array_equal(edited.features[1], first.features[1])
    # moving a training clip to the test split changes the normalisation statistics
    lines = (data / "split.tsv").read_text().splitlines()
    i = next(j for j, line in enumerate(lines) if line.endswith("\ttrain"))
    lines[i] = lines[i].replace("\ttrain", "\ttest")
    (data / "split.tsv").write_text("\n".join(lines) + "\n")
    resplit = build_feature_cache(data, cfg)
    assert resplit.path != edited.path and not np.allclose(resplit.mean, edited.mean)
