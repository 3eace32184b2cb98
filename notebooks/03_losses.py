# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,mystnb,-all
#     notebook_metadata_filter: kernelspec,jupytext,-all
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 3. The losses: dice, segment loss and silent loss
#
# The paper's auxiliary task has no isolated sources to learn from. It asks two things
# of the masks instead: the masks of the events *active* in a clip should not claim the
# same time-frequency bins (**segment loss**, Eq. 4-6), and the masks of the *inactive*
# classes should be empty (**silent loss**, Eq. 7). This chapter computes each term on
# toy masks and on a real batch, and ties it to its equation.
#
# **In this chapter:** soft dice and why a dimmer mask lowers it; the segment and silent
# losses written out term by term and checked against `mtlsed`; what the segment loss does
# to two overlapping masks, alone and with the cross-entropy; which pairs each selection
# rule compares; and the other constraints that Table 3 sets beside the paper's.

# %% tags=["remove-cell", "colab-setup"]
# Colab: installs mtlsed when it is missing, keeping Colab's CUDA torch; does nothing locally.
# The package comes from MTLSED_SOURCE when it is set (a fork, a branch, a wheel's path), else from
# PUBLISHED, the repository this book was built from (README, "On a Colab GPU").
# DRIVE = True keeps data/ and runs/ on Google Drive, so a new session resumes where the last one stopped.
DRIVE = False
PUBLISHED = ""

import importlib.util
import os
import subprocess
import sys

if importlib.util.find_spec("mtlsed") is None:
    source = os.environ.get("MTLSED_SOURCE", "").strip() or PUBLISHED
    if not source:
        raise RuntimeError(
            "mtlsed is not installed and this copy names no public repository: set MTLSED_SOURCE to a "
            "git URL or a wheel (README, 'On a Colab GPU'), e.g. os.environ['MTLSED_SOURCE'] = '...whl'"
        )
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", source], check=True)
if DRIVE:
    from google.colab import drive

    drive.mount("/content/drive")
    os.makedirs("/content/drive/MyDrive/mtlsed", exist_ok=True)
    os.chdir("/content/drive/MyDrive/mtlsed")  # data/ and runs/ go here

# %% tags=["parameters"]
# Papermill parameters (`-p profile ci`): a shipped profile (ci, cpu, paper) or a profile file;
# `data`: a dataset folder (`mtlsed import` makes one) used instead of the embedded set; what to
# change in the profile: None keeps its value, overrides adds config keys on top of its own.
# On a GPU (Colab): profile = "paper" runs at the paper's scale, and data = "data/overlapped" on the
# paper's DCASE 2018 set once README's "On a Colab GPU" has mixed it.
profile = "cpu"
data = None
seeds = None
n_clips = None
overrides = {}

# %%
import matplotlib.pyplot as plt
import pandas as pd
import torch
from IPython.display import Markdown, display

import mtlsed.book.notebook as nb
from mtlsed.book import plots
from mtlsed.objectives.losses import pairwise_dice, segment_loss, silent_loss
from mtlsed.objectives.total import total_loss

session = nb.setup(profile, data, seeds, n_clips, overrides)
print(session.card())

# %% [markdown]
# ## Dice on toy masks (Eq. 3)
#
# Two rectangles of ones on a 20 x 16 grid: A covers 10 x 8 = 80 bins, B covers
# 10 x 8 = 80 bins, and they share 5 x 4 = 20 bins. The dice coefficient is
# $2 |A \cap B| / (|A| + |B|) = 40 / 160 = 0.25$. With soft masks the intersection is
# the sum of the products.

# %% mystnb={"figure": {"caption": "Toy masks: A and B share 20 of their 80 bins; C is A at half strength."}}
toy = torch.zeros(1, 3, 20, 16)
toy[0, 0, 2:12, 2:10] = 1.0  # A
toy[0, 1, 7:17, 6:14] = 1.0  # B: overlaps A on rows 7-11 and columns 6-9
toy[0, 2] = 0.5 * toy[0, 0]  # C: A at half strength
fig, axes = plt.subplots(1, 3, figsize=(7, 2.2))
for ax, k, name in zip(axes, range(3), ["A", "B", "C = A / 2"], strict=True):
    ax.imshow(toy[0, k].T, origin="lower", vmin=0, vmax=1, cmap="viridis")
    ax.set_title(name)
    ax.axis("off")

# %% tags=["profile-independent"]
dice = pairwise_dice(toy)[0]
pd.DataFrame(dice.numpy().round(4), index=["A", "B", "C"], columns=["A", "B", "C"])

# %% [markdown]
# dice(A, B) = 0.25 as computed by hand, and dice(A, A) = 1 for this binary mask. Soft
# masks count by strength: dice(A, A / 2) = 2 * 40 / (80 + 40) = 0.667, and a mask at
# half strength overlaps *itself* by half, dice(C, C) = 2 * 20 / (40 + 40) = 0.5. So the
# segment loss can fall without the masks moving apart, by growing dimmer; the
# cross-entropy on the clip probabilities pulls the other way, since a dim mask pools to a
# low probability for a class that is there.
#
# All pairs come from **one Gram matrix**: with masks flattened to $(K, TF)$,
# $G = M M^\top$ holds every $\sum_{t,f} M_i M_j$, and the sizes $s_k = \sum_{t,f} M_k$
# give $\mathrm{dice}_{ij} = 2 G_{ij} / (s_i + s_j)$: one batched matrix product instead
# of a loop over $K(K-1)$ pairs.
#
# ## The pairwise dice of a real clip

# %% mystnb={"figure": {"caption": "Dice (Eq. 3) between the masks of every pair of classes for one test clip."}}
data_dir = session.data_dir()
run_dir = nb.profile_run(session, data_dir)
out, labels, classes, names = nb.model_batch(run_dir, data_dir, n=8)
clip_dice = pairwise_dice(out.masks)[0].numpy()
label_set = [c for c, y in zip(classes, labels[0], strict=True) if y > 0]
fig, ax = plots.plot_matrix(clip_dice, classes, title=f"dice of every mask pair, {names[0]}")
print("labelled classes of this clip:", ", ".join(label_set))

# %% [markdown]
# ## Each term written out (Eq. 3, 5 and 7)
#
# The same terms for the first clip of the batch in a few lines each, beside `mtlsed`'s
# batched versions (the cell stops if they ever disagree):

# %%
M, active = out.masks[0], labels[0] > 0.5  # (K, T, F) masks of one clip, its labelled classes


def dice(a, b, eps=1e-7):  # Eq. (3) with soft masks
    return 2 * (a * b).sum() / (a.sum() + b.sum() + eps)


ids = active.nonzero().flatten().tolist()
segment_by_hand = sum(dice(M[i], M[j]) for i in ids for j in ids if i != j)  # Eq. (5), ordered pairs
silent_by_hand = sum(M[k].abs().mean() for k in range(len(classes)) if not active[k])  # Eq. (7)
assert torch.isclose(
    torch.as_tensor(segment_by_hand, dtype=torch.float32), segment_loss(out.masks[:1], active[None])
)
assert torch.isclose(torch.as_tensor(silent_by_hand), silent_loss(out.masks[:1], ~active[None]))
print(
    f"segment loss {float(segment_by_hand):.4f}, silent loss {float(silent_by_hand):.4f}: the package agrees"
)

# %% [markdown]
# ## What the segment loss does to two overlapping masks
#
# Two blobs that share some bins, both classes present in the clip, shaped by gradient
# descent on the segment loss alone, and on the segment loss with the cross-entropy that
# says both classes are there (a stand-in for the model: the masks are sigmoids of free
# values, the clip probability a self-weighted mean of the mask):

# %% mystnb={"figure": {"caption": "Two masks (A red, B blue, shared bins purple) shaped by gradient descent: on the segment loss alone (top) and with the cross-entropy (bottom); right, the dice of the pair and each mask's mean level, step by step."}}
toys = {
    "segment loss alone": nb.toy_segment_descent(False),
    "segment loss and cross-entropy": nb.toy_segment_descent(True),
}
fig, axes = plots.plot_toy_descent(toys)

# %%
Markdown(nb.toy_descent_sentence(toys))

# %% [markdown]
# Alone, the segment loss empties the shared bins and lets each mask spread into bins no
# sound fills: the overlap goes, and so does the masks' meaning. The cross-entropy keeps
# each class present and pushes the masks towards 0 or 1, where dimming is no longer a way
# out; the overlap then falls only as far as the two terms balance. In the model the
# silent loss and the frames' own evidence hold the masks further in place; the weights
# $\lambda$ set the balance.
#
# ## Which pairs the segment loss compares (Eq. 5 and 6)
#
# Label-guided selection uses the clip labels; self-supervised selection takes the
# $Topk$ classes with the highest predicted clip probability and needs no labels. For
# each clip of a test batch, the classes each rule selects and the resulting segment
# loss (the dice summed over ordered pairs of selected classes):

# %%
nb.selection_table(out, labels, classes, names)

# %% [markdown]
# When $Topk$ is larger than the number of events in a clip, the extra classes are
# pushed apart from the real ones by the segment loss instead of being silenced: the
# paper's explanation for why top-5 helps less than the labels.
#
# ## The silent loss (Eq. 7)
#
# For every inactive class, the mean absolute mask value; the silent loss of a clip is
# their sum. Mask energy of an absent class is what becomes an insertion at detection
# time.

# %% mystnb={"figure": {"caption": "Mean mask value of each class for one clip; the silent loss (Eq. 7) sums it over the inactive (grey) classes."}}
level = out.masks[0].abs().mean((1, 2)).numpy()
inactive = labels[0] < 0.5
fig, ax = plt.subplots(figsize=(7, 2.4))
ax.bar(classes, level, color=["lightgrey" if a else plots.class_colour(k) for k, a in enumerate(inactive)])
ax.set_ylabel("mean |M|")
ax.set_title(
    f"{names[0]}: silent loss {float(silent_loss(out.masks[:1], inactive[None])):.3f} "
    "(sum over the grey, inactive classes)"
)
ax.tick_params(axis="x", labelrotation=60, labelsize=7)
fig.tight_layout()

# %% [markdown]
# ## The total (Eq. 8)
#
# $L_{total} = \lambda_1 L_{sed} + \lambda_2 L_{segment} + \lambda_3 L_{silent}$ with the
# paper's $\lambda = (1, 0.2, 0.2)$, each term a mean over the clips of the batch
# (the total is the sum of the weighted row):

# %%
terms = total_loss(out, labels, session.config.loss)
nb.loss_table(terms, session.config.loss)

# %% [markdown]
# ### The weighted terms over a real run
#
# The same three terms as they enter the total at the first and at the last logged
# iteration of the profile's run (each a mean over the iterations since the line before):

# %%
over_run = nb.weighted_terms(run_dir)
over_run

# %%
Markdown(nb.weighted_terms_sentence(over_run))

# %% [markdown]
# ### The masks of one clip, with and without the two losses
#
# The run above and its twin trained with the cross-entropy alone (same seed, same data),
# on one test clip: its labelled classes and the unlabelled class with the most mask
# energy, on one colour scale.

# %% mystnb={"figure": {"caption": "One test clip's masks after training with the cross-entropy alone (top) and with the segment and silent losses (bottom), same seed: the labelled classes and the most active unlabelled one (columns), on one colour scale."}}
twin = nb.bce_twin(run_dir)
if twin is not None:
    views, mask_classes, shown, clip = nb.masks_by_run(
        {"BCE only": twin, "segment\n+ silent": run_dir}, data_dir
    )
    fig, axes = plots.plot_constraint_masks(
        views,
        mask_classes,
        shown,
        session.config.features.hop_ms / 1000,
        title=f"{clip}: the masks of the two runs",
    )
else:
    print("the BCE-only twin of this run was not trained (the profile's run_overrides make another run)")

# %%
if twin is not None:
    display(Markdown(nb.masks_sentence(views, mask_classes, shown)))

# %% [markdown]
# Other published constraints shape the same masks in other ways (a cosine penalty,
# separation judged by the detector, mixture consistency): chapter 6 sets them beside the
# paper's two losses.

# %% [markdown]
# ## Recap
#
# The segment loss is the dice overlap of the active classes' masks; the silent loss the
# mean level of the inactive ones. Soft dice falls when masks part, but also when they dim
# or spread into empty bins, so the segment loss needs the cross-entropy (and the silent
# loss) to hold the masks in place; the weights λ set that balance. Label-guided selection
# compares the labelled classes; top-k compares the k most probable, and pushes apart real
# and spurious classes when k is larger than the number of events.

# %%
print(session.finish())
