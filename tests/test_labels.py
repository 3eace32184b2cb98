"""The frame grid and labels (#10, #19): the dataset, the evaluation, detection and separation share one
time axis, frame 0 included, with centred and uncentred frames."""

import numpy as np
import pytest

from mtlsed.config.settings import Config, EvalConfig, FeatureConfig
from mtlsed.core.errors import UserError
from mtlsed.core.events import Event
from mtlsed.evaluation.postprocess import detect_events
from mtlsed.features.labels import FrameGrid, clip_labels, frame_labels


def test_frame_centres_and_edges_by_hand():
    cfg = FeatureConfig(sample_rate=16000, win_ms=64, hop_ms=32, center=False)
    # n_fft 1024, hop 512: frame t centred at (512 t + 512) / 16000 s
    grid = FrameGrid.of(cfg, 3)
    assert np.allclose(grid.centres, [0.032, 0.064, 0.096])
    assert np.allclose(grid.edges, [0.016, 0.048, 0.080, 0.112])
    cfg.center = True
    grid = FrameGrid.of(cfg, 3)
    assert np.allclose(grid.centres, [0.0, 0.032, 0.064])
    assert np.allclose(grid.edges, [0.0, 0.016, 0.048, 0.080])  # the first edge clipped at 0
    assert grid.hop_s == pytest.approx(0.032)  # never read off the clipped edges (0.016 there)
    # 10 s at 16 kHz: 1 + (160000 - 1024) // 512 = 311 frames uncentred, 1 + 160000 // 512 = 313 centred
    assert FrameGrid.for_clip(FeatureConfig(sample_rate=16000), 10.0).n_frames == 311
    assert FrameGrid.for_clip(FeatureConfig(sample_rate=16000, center=True), 10.0).n_frames == 313


@pytest.mark.parametrize("center", [False, True])
def test_median_filter_width_is_the_configured_length_with_either_framing(center):
    """0.45 s at a 32 ms hop is 14 frames, made odd: 15, whatever the first edge is (#19: with center=True
    the hop was read off the clipped first edges, halved, and the filter was twice as long)."""
    grid = FrameGrid.of(FeatureConfig(sample_rate=16000, center=center), 311)
    assert grid.median_width(0.45) == 15 and grid.median_width(0.0) == 1 and grid.median_width(0.1) == 3
    # a 15-frame median keeps a run of 8 or more frames and removes a shorter one; the doubled filter of
    # the bug (29 frames) would have removed the 14-frame run too
    frame = np.zeros((1, 311))
    frame[0, 100:114] = 0.9
    frame[0, 200:207] = 0.9
    events = detect_events(frame, np.array([0.9]), grid, ["dog"], EvalConfig(median_filter_s=0.45))
    assert len(events) == 1
    onset, offset, _ = events[0]
    assert onset == pytest.approx(grid.edges[100]) and offset == pytest.approx(grid.edges[114])
    assert offset - onset == pytest.approx(14 * 0.032)


def test_frame_labels_against_a_hand_count():
    """Centres 0.05, 0.15, ..., 0.95 s; an event [0.1, 0.3) holds the centres 0.15 and 0.25 (frames 1, 2),
    [0.95, 2) holds frame 9 (its centre is the onset), and an offset on a centre excludes that frame."""
    grid = FrameGrid(0.1, 0.05, 10)
    events = [Event("a", 0.1, 0.3, "dog"), Event("a", 0.95, 2.0, "cat"), Event("a", 0.0, 0.05, "cat")]
    got = grid.frame_labels(events, ["dog", "cat"])
    expected = np.zeros((2, 10), dtype=np.float32)
    expected[0, [1, 2]] = 1
    expected[1, 9] = 1
    assert np.array_equal(got, expected)


def test_frame_zero_with_center_true_is_labelled_alike_by_dataset_and_evaluation(small_set):
    """An event [0, 0.01) covers the centre of frame 0 (0 s) when frames are centred: the dataset's frame
    labels and the scores file's grid both say so."""
    from mtlsed.evaluation.metrics import Scores
    from mtlsed.features.dataset import SedDataset

    cfg = Config().with_overrides({"features.sample_rate": 16000, "features.center": True})
    data = SedDataset(small_set, cfg, "test")
    n = data.cache.meta["shape"][1]
    events = [Event("x.wav", 0.0, 0.01, data.classes[0])]
    expected = np.zeros((len(data.classes), n), dtype=np.float32)
    expected[0, 0] = 1
    assert np.array_equal(data.grid.frame_labels(events, data.classes), expected)
    grid = FrameGrid.of(cfg.features, n)
    scores = Scores(["x.wav"], data.classes, np.zeros((1, 2)), np.zeros((1, 2, n)), grid)
    assert np.array_equal(frame_labels(events, data.classes, scores.times), expected)
    assert np.array_equal(data.tensors()[2][0].numpy(), data.frame_labels(0))


def test_scores_files_keep_their_grid(tmp_path):
    from mtlsed.evaluation.metrics import Scores

    grid = FrameGrid.of(FeatureConfig(sample_rate=16000, center=True), 313)
    scores = Scores(["a"], ["dog"], np.zeros((1, 1)), np.zeros((1, 1, 313)), grid)
    back = Scores.load(scores.save(tmp_path / "s.npz"))
    assert back.grid.hop_s == pytest.approx(grid.hop_s) and back.grid.offset_s == 0.0
    assert back.grid.n_frames == 313 and np.allclose(back.boundaries, grid.edges)
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(UserError, match="bad.npz: damaged scores file"):
        Scores.load(tmp_path / "bad.npz")


def test_clip_labels():
    got = clip_labels({"a": ["cat"], "b": [], "c": ["dog", "cat"]}, ["c", "a", "b"], ["dog", "cat"])
    assert got.tolist() == [[1, 1], [0, 1], [0, 0]]
