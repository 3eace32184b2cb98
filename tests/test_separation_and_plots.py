"""Listening to masks, and the plot helpers' libfmp-style interface."""

import librosa
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from mtlsed.book import plots  # noqa: E402
from mtlsed.book.separation import separate  # noqa: E402
from mtlsed.config.settings import FeatureConfig  # noqa: E402
from mtlsed.core.envinfo import environment, hardware_line  # noqa: E402
from mtlsed.core.events import Event  # noqa: E402

CFG = FeatureConfig(sample_rate=16000, fmin=0.0)
SR = 16000


def test_masks_pass_block_and_pick_out_a_tone():
    t = np.arange(10 * SR) / SR
    low, high = np.sin(2 * np.pi * 1000 * t), np.sin(2 * np.pi * 5000 * t)
    n_frames = CFG.n_frames(len(t))
    mix = (0.5 * (low + high)).astype(np.float32)
    kept = separate(mix, np.ones((n_frames, 64)), CFG)
    assert np.abs(kept - mix)[SR:-SR].max() < 0.02  # an all-ones mask gives the mixture back
    assert np.abs(separate(mix, np.zeros((n_frames, 64)), CFG)).max() == 0.0
    centres = librosa.mel_frequencies(66, fmin=0.0, fmax=SR / 2)[1:-1]
    mask = np.zeros((n_frames, 64))
    mask[:, np.abs(centres - 1000) < 300] = 1.0
    only_low = separate(mix, mask, CFG)[SR:-SR]
    assert np.corrcoef(only_low, low[SR:-SR])[0, 1] > 0.99
    assert abs(np.corrcoef(only_low, high[SR:-SR])[0, 1]) < 0.01


def test_plot_helpers_take_ax_and_return_fig_ax():
    classes = ["dog", "cat"]
    events = [Event("a", 1.0, 2.0, "dog"), (3.0, 4.0, "cat")]
    log = pd.DataFrame({"iteration": [10, 20], "loss": [1.0, 0.5], "val_at_map": [0.2, None]})
    calls = [
        lambda ax: plots.plot_logmel(np.random.default_rng(0).normal(size=(50, 64)), ax=ax),
        lambda ax: plots.plot_event_roll(events, classes, ax=ax),
        lambda ax: plots.plot_matrix(np.eye(2), classes, ax=ax),
        lambda ax: plots.plot_curves(log, ["loss", "val_at_map"], ax=ax),
        lambda ax: plots.plot_frame_probs(
            np.full((2, 50), 0.5), classes, np.arange(50) * 0.1, events[:1], ax=ax
        ),
    ]
    for call in calls:
        fig, ax = call(None)
        assert isinstance(fig, plt.Figure) and ax in fig.axes
        own_fig, own_ax = plt.subplots()
        fig2, ax2 = call(own_ax)
        assert fig2 is own_fig and ax2 is own_ax
        plt.close("all")
    fig, axes = plots.plot_masks(np.random.default_rng(0).random((7, 30, 16)), [f"c{i}" for i in range(7)])
    assert axes.shape == (2, 5)
    plt.close("all")


def test_plot_logmel_shares_a_colour_scale_when_asked():
    quiet = np.full((20, 8), np.log(1e-4))  # -40 dB everywhere
    fig, ax = plots.plot_logmel(quiet)
    assert ax.images[0].get_clim() == pytest.approx((-120.0, -40.0))  # its own maximum at the top
    fig2, ax2 = plots.plot_logmel(quiet, top_db=0.0, dynamic_db=60)
    assert ax2.images[0].get_clim() == pytest.approx((-60.0, 0.0))  # the mixture's scale: it looks dark
    plt.close(fig)
    plt.close(fig2)


def test_class_colours_are_distinct_and_never_grey():
    from matplotlib.colors import to_rgb

    colours = [to_rgb(plots.class_colour(k)) for k in range(10)]
    assert len(set(colours)) == 10
    assert all(max(c) - min(c) > 0.1 for c in colours)  # grey has r = g = b
    assert plots.class_colour(12) == plots.class_colour(2)


def test_plot_per_seed_bars_are_means_and_dots_the_seeds():
    table = pd.DataFrame({"row": ["a", "a", "b", "b", "b"], "I": [0.1, 0.3, 0.0, 0.4, 0.2]})
    fig, ax = plots.plot_per_seed(table, "I", ["A", "B"])
    assert [b.get_height() for b in ax.patches] == pytest.approx([0.2, 0.2])
    dots = [c.get_offsets()[:, 1].tolist() for c in ax.collections]
    assert dots == [pytest.approx([0.1, 0.3]), pytest.approx([0.0, 0.4, 0.2])]
    # each row says how many seeds its mean is over
    assert [t.get_text() for t in ax.get_xticklabels()] == ["A\n(2 seeds)", "B\n(3 seeds)"]
    with pytest.raises(ValueError, match="2 rows in the table but 3 labels"):
        plots.plot_per_seed(table, "I", ["A", "B", "C"])
    plt.close("all")


def test_plot_separation_puts_every_panel_on_the_mixture_scale():
    mixture = np.full((20, 8), np.log(1.0))  # 0 dB
    quiet = np.full((20, 8), np.log(1e-3))  # -30 dB
    fig, axes = plots.plot_separation(mixture, {"estimate": quiet})
    assert [ax.images[0].get_clim() for ax in axes] == [pytest.approx((-80.0, 0.0))] * 2
    assert [ax.get_title() for ax in axes] == ["mixture", "estimate"]
    plt.close(fig)


def test_overlay_events_draws_one_box_per_event():
    fig, ax = plt.subplots()
    events = [Event("a.wav", 1.0, 2.5, "dog"), (3.0, 3.5, "cat")]  # Event or (onset, offset, label)
    assert plots.overlay_events(ax, events, ["cat", "dog"]) is None
    boxes = [p for p in ax.patches if isinstance(p, plt.Rectangle)]
    assert [(b.get_x(), b.get_width()) for b in boxes] == [(1.0, 1.5), (3.0, 0.5)]
    assert [b.get_label() for b in boxes] == ["dog", "cat"]
    assert boxes[0].get_edgecolor() != boxes[1].get_edgecolor()
    plt.close(fig)


def test_environment_names_hardware_and_versions():
    info = environment()
    for key in ("python", "cpu", "cpu_cores", "gpu", "torch", "mtlsed", "sed_eval"):
        assert info[key] not in ("", None)
    assert str(info["cpu_cores"]) in hardware_line(info)
