"""Frames and labels (#10): the dataset and the evaluation encode the same frames, frame 0 included."""

import numpy as np

from mtlsed.config import Config, FeatureConfig
from mtlsed.data.format import Event
from mtlsed.labels import clip_labels, frame_boundaries, frame_labels, frame_times


def test_frame_centres_by_hand():
    cfg = FeatureConfig(sample_rate=16000, win_ms=64, hop_ms=32, center=False)
    # n_fft 1024, hop 512: frame t centred at (512 t + 512) / 16000 s
    assert np.allclose(frame_times(cfg, 3), [0.032, 0.064, 0.096])
    cfg.center = True
    assert np.allclose(frame_times(cfg, 3), [0.0, 0.032, 0.064])
    assert np.allclose(frame_boundaries(cfg, 3), [0.0, 0.016, 0.048, 0.080])


def test_frame_zero_with_center_true_is_labelled_alike_by_dataset_and_evaluation(small_set):
    """An event [0, 0.01) covers the centre of frame 0 (0 s) when frames are centred: both sides say so."""
    from mtlsed.data.dataset import SedDataset
    from mtlsed.metrics import Scores

    cfg = Config().with_overrides({"features.sample_rate": 16000, "features.center": True})
    data = SedDataset(small_set, cfg, "test")
    n = data.cache.meta["shape"][1]
    times = frame_times(cfg.features, n)
    events = [Event("x.wav", 0.0, 0.01, data.classes[0])]
    ours = frame_labels(events, data.classes, times)
    assert ours[0, 0] == 1 and ours[0, 1:].sum() == 0
    # the evaluation reads the centres that the scores file carries, not the clipped edges' midpoints
    scores = Scores(
        ["x.wav"],
        data.classes,
        np.zeros((1, 2)),
        np.zeros((1, 2, n)),
        frame_boundaries(cfg.features, n),
        times,
    )
    assert np.array_equal(frame_labels(events, data.classes, scores.times), ours)
    midpoints = (scores.boundaries[:-1] + scores.boundaries[1:]) / 2
    assert midpoints[0] != times[0]  # what the old evaluation used, off by a quarter hop at frame 0
    assert np.array_equal(data.tensors()[2][0].numpy(), data.frame_labels(0))


def test_clip_labels():
    got = clip_labels({"a": ["cat"], "b": [], "c": ["dog", "cat"]}, ["c", "a", "b"], ["dog", "cat"])
    assert got.tolist() == [[1, 1], [0, 1], [0, 0]]
