"""Plot helpers for the notebooks, libfmp style: each takes ``ax=None`` and returns ``(fig, ax)``.

Small default sizes and one palette (matplotlib's ``tab10``), so that class
colours agree between figures.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

FIGSIZE = (7.0, 2.6)


# tab10 with its grey swapped for navy: grey marks inactive classes in the figures
CLASS_COLOURS = [c if i != 7 else "#1a237e" for i, c in enumerate(plt.get_cmap("tab10").colors)]


def class_colour(k: int):
    """A distinct colour per class index (cycling after 10), never grey."""
    return CLASS_COLOURS[k % len(CLASS_COLOURS)]


def _axes(ax, figsize=FIGSIZE):
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
        return fig, ax
    return ax.figure, ax


def log_power_db(logmel: np.ndarray) -> np.ndarray:
    """Natural-log power to dB."""
    return 10 * logmel / np.log(10)


def plot_logmel(
    logmel: np.ndarray,
    hop_s: float = 0.032,
    ax=None,
    title: str | None = None,
    dynamic_db: float = 80,
    top_db: float | None = None,
):
    """A log-mel spectrogram ``(T, F)`` (natural-log power) as an image in dB, time in seconds.

    The colour scale spans ``dynamic_db`` below ``top_db`` (default: this spectrogram's
    maximum); give several panels the same ``top_db`` to compare their levels.
    """
    standalone = ax is None
    fig, ax = _axes(ax)
    db = log_power_db(logmel)
    top = float(db.max()) if top_db is None else top_db
    img = ax.imshow(
        db.T,
        origin="lower",
        aspect="auto",
        cmap="magma",
        vmin=top - dynamic_db,
        vmax=top,
        extent=(0, logmel.shape[0] * hop_s, 0, logmel.shape[1]),
    )
    ax.set_xlabel("time (s)")
    ax.set_ylabel("mel band")
    fig.colorbar(img, ax=ax, label="dB", fraction=0.03) if standalone else None
    if title:
        ax.set_title(title)
    return fig, ax


def plot_logmel_panels(panels: list, hop_s: float = 0.032, dynamic_db: float = 80, axes=None):
    """Several log-mel spectrograms ``[(title, (T, F) natural-log power), ...]`` side by side on ONE dB scale
    (the loudest panel's maximum at the top), with one colour bar: a quiet part looks quiet. Returns
    ``(fig, axes)``."""
    if axes is None:
        fig, axes = plt.subplots(
            1, len(panels), figsize=(3.2 * len(panels) + 1, 2.6), sharey=True, squeeze=False
        )
        axes = axes[0]
    fig = np.asarray(axes).flat[0].figure
    top = max(float(log_power_db(x).max()) for _, x in panels)
    for ax, (title, x) in zip(axes, panels, strict=True):
        plot_logmel(x, hop_s, ax=ax, title=title, dynamic_db=dynamic_db, top_db=top)
    for ax in list(axes)[1:]:
        ax.set_ylabel("")
    image = np.asarray(axes).flat[0].images[0]
    fig.colorbar(
        image,
        ax=list(axes),
        label=f"dB (0 = the loudest panel's top, {dynamic_db:g} dB shown)",
        fraction=0.03,
        pad=0.02,
    )
    return fig, axes


def plot_band_weights(weights: np.ndarray, classes: list[str], ax=None):
    """FAP's band weights ``(K, F)`` (each row sums to 1) on a diverging scale centred on the uniform 1/F:
    white is "this band counts as much as any", red more, blue less. The scale spans at least 0 to 2/F, so a
    departure of a few percent stays pale instead of filling the colour range. Returns ``(fig, ax)``."""
    from matplotlib.colors import TwoSlopeNorm

    fig, ax = _axes(ax, (7, 0.25 * len(classes) + 1.2))
    uniform = 1.0 / weights.shape[1]
    span = max(uniform, float(np.abs(weights - uniform).max()))
    img = ax.imshow(
        weights,
        aspect="auto",
        origin="lower",
        cmap="RdBu_r",
        norm=TwoSlopeNorm(vcenter=uniform, vmin=max(0.0, uniform - span), vmax=uniform + span),
        interpolation="nearest",
    )
    ax.set_yticks(range(len(classes)), classes, fontsize=7)
    ax.set_xlabel("mel band f")
    ax.set_title("learned band weights $w_k(f)$")
    fig.colorbar(img, ax=ax, fraction=0.03, label=f"$w_k(f)$ (uniform: 1/F = {uniform:.4f})")
    return fig, ax


def plot_event_roll(events, classes: list[str], duration: float = 10.0, ax=None, title: str | None = None):
    """Events ``[(onset, offset, label)]`` (or objects with those attributes) as bars, one row per class."""
    fig, ax = _axes(ax, (7.0, 0.25 * len(classes) + 0.8))
    for ev in events:
        onset, offset, label = (ev.onset, ev.offset, ev.label) if hasattr(ev, "onset") else ev
        k = classes.index(label)
        ax.broken_barh([(onset, offset - onset)], (k - 0.4, 0.8), color=class_colour(k))
    ax.set_yticks(range(len(classes)), classes, fontsize=8)
    ax.set_ylim(-0.6, len(classes) - 0.4)
    ax.set_xlim(0, duration)
    ax.set_xlabel("time (s)")
    ax.grid(axis="x", alpha=0.3)
    if title:
        ax.set_title(title)
    return fig, ax


def overlay_events(ax, events, classes: list[str], n_bands: int = 64) -> None:
    """Draw event boxes (active part) over a spectrogram axis, in place (nothing to show as a cell result)."""
    for ev in events:
        onset, offset, label = (ev.onset, ev.offset, ev.label) if hasattr(ev, "onset") else ev
        k = classes.index(label)
        ax.add_patch(
            plt.Rectangle(
                (onset, 0.5), offset - onset, n_bands - 1, fill=False, lw=1.5, ec=class_colour(k), label=label
            )
        )
    if events:
        ax.legend(loc="upper right", fontsize=7)


def _mask_image(ax, mask: np.ndarray, hop_s: float):
    """One class's mask ``(T, F)`` on the shared 0-1 colour scale, time in seconds on x."""
    return ax.imshow(
        mask.T,
        origin="lower",
        aspect="auto",
        vmin=0,
        vmax=1,
        cmap="viridis",
        extent=(0, mask.shape[0] * hop_s, 0, mask.shape[1]),
    )


def plot_masks(masks: np.ndarray, classes: list[str], hop_s: float = 0.032, active=None, axes=None):
    """Masks ``(K, T, F)`` as a grid of images; ``active`` classes get a bold title. Returns (fig, axes)."""
    k = masks.shape[0]
    cols = 5
    rows = int(np.ceil(k / cols))
    if axes is None:
        fig, axes = plt.subplots(
            rows, cols, figsize=(2.0 * cols, 1.6 * rows), sharex=True, sharey=True, squeeze=False
        )
    else:
        fig = np.asarray(axes).flat[0].figure
    flat = np.asarray(axes).ravel()
    for i, ax in enumerate(flat):
        if i >= k:
            ax.axis("off")
            continue
        image = _mask_image(ax, masks[i], hop_s)
        bold = active is not None and active[i]
        ax.set_title(classes[i], fontsize=8, fontweight="bold" if bold else "normal")
    grid = np.asarray(axes)
    grid = grid.reshape(1, -1) if grid.ndim == 1 else grid
    for ax in grid[-1]:
        ax.set_xlabel("time (s)", fontsize=7)
    for ax in grid[:, 0]:
        ax.set_ylabel("mel band", fontsize=7)
    fig.colorbar(image, ax=list(flat), shrink=0.8, label="mask value (0 to 1, one scale)")
    return fig, axes


def plot_matrix(
    matrix: np.ndarray,
    labels: list[str],
    ax=None,
    title: str | None = None,
    fmt: str = ".2f",
    vmax: float | None = 1.0,
):
    """A square matrix (e.g. the pairwise dice of one clip) as an annotated heatmap."""
    fig, ax = _axes(ax, (4.2, 3.6))
    img = ax.imshow(matrix, cmap="Blues", vmin=0, vmax=vmax)
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    if len(labels) <= 12:
        for i in range(len(labels)):
            for j in range(len(labels)):
                ax.text(
                    j,
                    i,
                    format(matrix[i, j], fmt),
                    ha="center",
                    va="center",
                    fontsize=6,
                    color="white" if matrix[i, j] > 0.6 * (vmax or matrix.max()) else "black",
                )
    fig.colorbar(img, ax=ax, fraction=0.046)
    if title:
        ax.set_title(title)
    return fig, ax


def plot_curves(
    log,
    columns: list[str],
    ax=None,
    title: str | None = None,
    ylabel: str = "",
    weights: dict[str, float] | None = None,
    unit_range: bool = False,
):
    """Training curves from a ``log.csv`` DataFrame: one line per column against iteration.

    ``weights``: columns drawn multiplied by their weight in Eq. (8) (labelled ``0.2 × segment``), so the
    lines show what each term adds to the total; ``unit_range``: a 0-1 y axis (scores such as mAPs).
    """
    fig, ax = _axes(ax, (4.5, 2.8))
    weights = weights or {}
    for i, col in enumerate(columns):
        data = log[["iteration", col]].dropna()
        w = weights.get(col, 1.0)
        label = f"{w:g} × {col}" if col in weights else col
        ax.plot(data["iteration"], w * data[col], marker="o", ms=3, label=label, color=class_colour(i))
    ax.set_xlabel("iteration")
    ax.set_ylabel(ylabel)
    if unit_range:
        ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title)
    return fig, ax


def plot_autopool(p: np.ndarray, levels, hop_s: float = 0.032, ax=None):
    """A frame curve ``p`` (T,) and what auto-pool makes of it: one horizontal line per sharpness α at its
    pooled value. ``levels``: :func:`mtlsed.book.notebook.autopool_levels` of ``p``."""
    fig, ax = _axes(ax, (6.5, 2.6))
    times = np.arange(len(p)) * hop_s
    ax.plot(times, p, color="black", lw=1.2, label="p(t)")
    for i, (alpha, row) in enumerate(levels.iterrows()):
        ax.axhline(
            row["pooled value"],
            color=class_colour(i),
            ls="--",
            lw=1.2,
            label=f"α = {alpha}: {row['pooled value']:.2f}",
        )
    ax.set_xlim(0, times[-1] if len(times) > 1 else 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("probability")
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    ax.grid(alpha=0.3)
    return fig, ax


def plot_frame_probs(
    frame: np.ndarray,
    classes: list[str],
    times: np.ndarray,
    reference=None,
    ax=None,
    title: str | None = None,
    threshold: float | None = None,
):
    """Frame probabilities ``(K, T)`` of the classes that matter, with reference events shaded."""
    fig, ax = _axes(ax)
    shown = set()
    if reference:
        for ev in reference:
            k = classes.index(ev.label)
            ax.axvspan(ev.onset, ev.offset, color=class_colour(k), alpha=0.15)
            shown.add(k)
    shown |= {k for k in range(len(classes)) if frame[k].max() > 0.3}
    for k in sorted(shown):
        ax.plot(times, frame[k], color=class_colour(k), label=classes[k])
    if threshold is not None:
        ax.axhline(threshold, color="grey", ls="--", lw=0.8)
    ax.set_ylim(0, 1)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("probability")
    ax.legend(fontsize=7, loc="upper right")
    if title:
        ax.set_title(title)
    return fig, ax


def plot_class_gallery(sr: int = 16000, seed: int = 0, seconds: float = 4.0, axes=None):
    """One example spectrogram of every embedded class (the same front end as the models)."""
    import torch

    from mtlsed.config.settings import FeatureConfig
    from mtlsed.data.audio import fix_length
    from mtlsed.data.synthetic import GENERATORS, synth_event
    from mtlsed.features.logmel import LogMel

    cfg = FeatureConfig(sample_rate=sr)
    front = LogMel(cfg)
    names = list(GENERATORS)
    if axes is None:
        fig, axes = plt.subplots(2, 5, figsize=(11, 4), sharex=True, sharey=True)
    else:
        fig = np.asarray(axes).flat[0].figure
    for ax, name in zip(np.asarray(axes).ravel(), names, strict=False):
        y = fix_length(synth_event(name, np.random.default_rng(seed), sr), int(seconds * sr))
        logmel = front(torch.from_numpy(y))[0].numpy()
        plot_logmel(logmel, cfg.hop_ms / 1000, ax=ax, title=name, dynamic_db=70)
        ax.set_xlabel("")
        ax.set_ylabel("")
    fig.supxlabel("time (s)", fontsize=9)
    fig.supylabel("mel band", fontsize=9)
    fig.tight_layout()
    return fig, axes


def plot_clip_gallery(clips: list, classes: list[str], hop_s: float = 0.032, cols: int = 3, axes=None):
    """Log-mels ``(T, F)`` of several clips with their strong labels boxed: ``clips`` holds
    ``(title, logmel, events)`` triples (a data set's examples, one per class). Returns (fig, axes)."""
    rows = max(1, int(np.ceil(len(clips) / cols)))
    if axes is None:
        size = (11, 2.2 * rows)
        fig, axes = plt.subplots(rows, cols, figsize=size, sharex=True, sharey=True, squeeze=False)
    else:
        fig = np.asarray(axes).flat[0].figure
    flat = np.asarray(axes).ravel()
    for ax, (title, logmel, events) in zip(flat, clips, strict=False):
        plot_logmel(logmel, hop_s, ax=ax, title=title, dynamic_db=70)
        overlay_events(ax, events, classes, n_bands=logmel.shape[1])
        ax.set_xlabel("")
        ax.set_ylabel("")
    for ax in flat[len(clips) :]:
        ax.set_visible(False)
    fig.supxlabel("time (s)", fontsize=9)
    fig.supylabel("mel band", fontsize=9)
    fig.tight_layout()
    return fig, axes


def plot_per_seed(table, metric: str, labels: list[str], ax=None, title: str | None = None):
    """One metric per seed (dots) and its mean (bars) for each row of ``table``, in order of appearance.

    ``table`` has a ``row`` column and a ``metric`` column (see
    ``mtlsed.experiments.aggregate.per_seed_metrics``);
    ``labels`` names the rows on the x axis, each with its number of seeds (rows may have different
    numbers: a mean over one seed is no mean). Returns (fig, ax).
    """
    fig, ax = _axes(ax, figsize=(5, 2.6))
    groups = list(table.groupby("row", sort=False))
    if len(groups) != len(labels):
        raise ValueError(f"{len(groups)} rows in the table but {len(labels)} labels")
    ticks = []
    for k, ((_row, group), label) in enumerate(zip(groups, labels, strict=True)):
        ax.scatter([k] * len(group), group[metric], color=class_colour(k), zorder=3)
        ax.bar(k, group[metric].mean(), color=class_colour(k), alpha=0.35)
        ticks.append(f"{label}\n({len(group)} seed{'s' if len(group) != 1 else ''})")
    ax.set_xticks(range(len(labels)), ticks)
    if title:
        ax.set_title(title)
    return fig, ax


def plot_separation(mixture: np.ndarray, estimates: dict, hop_s: float = 0.032, axes=None):
    """Log-mel ``(T, F)`` of a mixture and of each named estimate, side by side on the mixture's scale.

    One colour scale for all panels (the mixture's maximum at the top), so a weak estimate
    looks dark. Returns (fig, axes).
    """
    n = 1 + len(estimates)
    if axes is None:
        fig, axes = plt.subplots(1, n, figsize=(4 * n, 2.6), sharey=True, squeeze=False)
        axes = axes[0]
    fig = np.asarray(axes).flat[0].figure
    top_db = float(log_power_db(mixture).max())
    plot_logmel(mixture, hop_s, ax=axes[0], title="mixture", top_db=top_db)
    for ax, (name, est) in zip(axes[1:], estimates.items(), strict=True):
        plot_logmel(est, hop_s, ax=ax, title=name, top_db=top_db)
    return fig, axes


def plot_constraint_masks(
    views: dict[str, np.ndarray],
    classes: list[str],
    shown: list[int],
    hop_s: float = 0.032,
    axes=None,
    title: str | None = None,
):
    """The masks of one clip under each constraint: a row per constraint (``views``: label -> ``(K, T, F)``),
    a column per class in ``shown``, all on one colour scale [0, 1]; time in seconds across, mel bands up.
    ``title``: above the whole grid, clear of the column titles. Returns (fig, axes)."""
    rows, cols = len(views), len(shown)
    if axes is None:
        fig, axes = plt.subplots(
            rows, cols, figsize=(2.3 * cols, 1.35 * rows), sharex=True, sharey=True, squeeze=False
        )
    else:
        fig = np.asarray(axes).flat[0].figure
    axes = np.asarray(axes).reshape(rows, cols)
    image = None
    for r, (label, masks) in enumerate(views.items()):
        for c, k in enumerate(shown):
            ax = axes[r, c]
            image = _mask_image(ax, masks[k], hop_s)
            if r == 0:
                ax.set_title(classes[k], fontsize=8)
            if c == 0:
                ax.set_ylabel(label, fontsize=7, rotation=0, ha="right", va="center", labelpad=8)
            ax.tick_params(labelsize=6)
    for ax in axes[-1]:
        ax.set_xlabel("time (s)", fontsize=7)
    if image is not None:
        fig.subplots_adjust(left=0.18, top=0.8 if title else 0.88)
        fig.colorbar(image, ax=axes, shrink=0.8, label="mask value")
    if title:
        fig.suptitle(title, fontsize=9, y=0.99)
    return fig, axes


def plot_toy_descent(runs: dict, axes=None):
    """Two masks shaped by gradient descent (:func:`mtlsed.book.notebook.toy_segment_descent`), one row per
    run ``{name: ToyDescent}``: the pair at three steps (A in red, B in blue, overlap in purple, one 0-1
    scale) and the dice of the pair with each mask's mean level over the steps. Returns ``(fig, axes)``."""
    rows = len(runs)
    if axes is None:
        fig, axes = plt.subplots(rows, 4, figsize=(11, 2.3 * rows), squeeze=False)
    fig = np.asarray(axes).flat[0].figure
    for row, (name, r) in zip(np.asarray(axes), runs.items(), strict=True):
        for ax, (step, masks) in zip(row[:3], r.snapshots.items(), strict=True):
            a, b = masks
            ax.imshow(np.stack([a, 0.15 * np.minimum(a, b), b], -1).transpose(1, 0, 2), origin="lower")
            ax.set_title(f"step {step}", fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
        row[0].set_ylabel(name.replace(" and ", "\nand "), fontsize=8)
        ax = row[3]
        steps = np.arange(len(r.dice))
        ax.plot(steps, r.dice, color="black", label="dice(A, B)")
        ax.plot(steps, [lv[0] for lv in r.level], color="tab:red", label="mean of A")
        ax.plot(steps, [lv[1] for lv in r.level], color="tab:blue", ls="--", label="mean of B")
        ax.set_ylim(0, 1)
        ax.set_xlabel("step")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    return fig, axes
