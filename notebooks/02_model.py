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
# # 2. The mask-based model: DDC blocks and frequency-dependent auto-pooling
#
# DDC-FAP turns the log-mel spectrogram of a clip into **one time-frequency mask per
# class** and pools each mask into a clip probability. This chapter opens the model:
# its size next to the baselines, how far each mask value can see, the masks a trained
# model produces for a test clip, and how FAP weights the mel bands to give the
# frame-level detection of Eq. (1).
#
# **In this chapter:** how large DDC-FAP is next to the baselines of Table 2; how far one
# mask value can see; the masks a trained model gives for one clip; and how FAP turns
# masks into clip probabilities (what the weak label trains) and frame probabilities (the
# detection).

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
import numpy as np
from IPython.display import Markdown

import mtlsed.book.notebook as nb
from mtlsed.book import plots
from mtlsed.config.settings import ModelConfig
from mtlsed.core.vocabulary import MODEL_NAMES
from mtlsed.evaluation.inference import load_run
from mtlsed.features.logmel import logmel
from mtlsed.models import MODELS, build_model, receptive_field, size_table
from mtlsed.runs.runfolder import RunFolder

session = nb.setup(profile, data, seeds, n_clips, overrides)
print(session.card())

# %% [markdown]
# ## Sizes: the paper's models and this profile's
#
# Parameters and multiply-adds for one 10 s clip (311 frames x 64 bands). The DDC block
# replaces each 3x3 convolution by a dilated depthwise 3x3 and a pointwise 1x1, which
# is where DDC-FAP's savings over Kong's VGG-like block come from.

# %%
sizes = {MODEL_NAMES[name]: ModelConfig(name=name) for name in MODELS}
sizes[f"DDC-FAP, profile {session.profile}"] = session.config.model
size_table(sizes)

# %% [markdown]
# The masks keep the full resolution of the input: there is no pooling or stride in
# the network. Growing dilations widen what each mask value depends on:

# %%
full = build_model(ModelConfig(name="ddc_fap"), 10, 64)
hop_ms = session.config.features.hop_ms
ours = build_model(session.config.model, 10, session.config.features.n_mels)
for label, model in (("paper size", full), (f"profile {session.profile}", ours)):
    rf = receptive_field(model)
    print(f"{label}: receptive field {rf} frames ({rf * hop_ms / 1000:.2f} s) x {rf} mel bands")

# %% [markdown]
# ## The masks of a trained model
#
# The profile's model, MTL-DDC-FAP (segment and silent losses, label-guided, first
# seed), is trained once per profile and reused by the later chapters: it is Table 1's
# run of that row and seed, so chapter 5 does not train it again. Chapter 4 shows its
# training in detail.

# %%
data_dir = session.data_dir()
run_dir = nb.profile_run(session, data_dir)
view = nb.inspect_clip(run_dir, data_dir, i=0)
classes = RunFolder(run_dir).classes()
hop_s = hop_ms / 1000
print(f"test clip {view.filename}: weak label {', '.join(view.labels)}")

# %% mystnb={"figure": {"caption": "A test clip with its strong labels (boxes); in training the model only sees its weak label."}}
fig, ax = plots.plot_logmel(
    logmel(view.audio, session.config.features), hop_s, title=f"{view.filename}, with its strong labels"
)
plots.overlay_events(ax, view.events, classes)

# %% mystnb={"figure": {"caption": "The masks $\\hat{M}_k(t, f)$ of every class for this clip (labelled classes in bold)."}}
active = [c in view.labels for c in classes]
fig, axes = plots.plot_masks(view.masks, classes, hop_s, active=active)
_ = fig.suptitle("masks of every class, 0 (dark) to 1 (yellow); labelled classes in bold", fontsize=10)

# %% [markdown]
# Only the bands that FAP weights (next section) reach the output: mask values in bands
# whose weight is near zero cost nothing in the cross-entropy, and only the segment and
# silent losses act on them.

# %% [markdown]
# ## Frequency-dependent auto-pooling
#
# For class $k$ and band $f$, FAP auto-pools the mask over time with its own
# sharpness $\alpha_{kf}$ and weights the bands with $w_k(f) = \mathrm{softmax}_f(\beta_{kf})$.
# Both start at zero (the plain mean); training moves them. The learned band weights
# show where each class lives in frequency:

# %% mystnb={"figure": {"caption": "FAP's learned band weights $w_k(f)$ on a scale centred on the uniform 1/F: red bands count more than the plain mean over bands, blue less, white as much."}}
_, _, fap = load_run(run_dir, "best", "cpu")
weights = fap.pool.band_weights().detach().numpy()
fig, ax = plots.plot_band_weights(weights, classes)

# %%
Markdown(nb.band_weights_sentence(weights))

# %% [markdown]
# ### How sharp the time pooling is: α
#
# Over time, FAP pools with auto-pool: frame $t$ gets the weight
# $\mathrm{softmax}_t(\alpha M)$, so $\alpha = 0$ is the plain mean, large $\alpha$
# approaches the max, and in between the loud frames count more than the quiet ones. On a
# toy frame curve, a 2.5 s event at 0.8 over a background at 0.1 in a 10 s clip:

# %% tags=["profile-independent"]
toy_p = np.full(313, 0.1)
toy_event = np.zeros(313, dtype=bool)
toy_event[100:178] = True
toy_p[toy_event] = 0.8
levels = nb.autopool_levels(toy_p, alphas=(0.0, 1.0, 5.0, np.inf), event=toy_event)
levels

# %% mystnb={"figure": {"caption": "Auto-pool of one toy frame curve (black) for \u03b1 = 0 (the mean), 1, 5 and \u221e (the max): each dashed line is the pooled value, the clip probability that the cross-entropy compares with the weak label."}}
fig, ax = plots.plot_autopool(toy_p, levels, hop_s=0.032)

# %% [markdown]
# With the mean ($\alpha = 0$) a short event barely lifts the clip probability, so the
# weak label pushes the whole mask up, background included; with the max ($\alpha \to
# \infty$) one loud frame is enough and the rest of the mask gets no gradient. FAP learns
# $\alpha_{kf}$ for each class and band between these ends. In this run:

# %%
Markdown(nb.alpha_sentence(fap.pool.alpha.detach().numpy(), classes, session.config.model.fap_alpha_init))

# %% [markdown]
# Eq. (1) gives the frame-level probability $\hat{y}_k(t) = \sum_f w_k(f) \hat{M}_k(t, f)$,
# the detection output, here against the reference events (shaded). What these
# curves show depends on the profile: under `ci` the model has barely started and they
# are flat; under `cpu` some classes are found where they occur and others not yet.

# %% mystnb={"figure": {"caption": "Frame probabilities $\\hat{y}_k(t)$ of Eq. (1) for the labelled classes against their reference events (shaded); dashed: the detection threshold."}}
fig, ax = plots.plot_frame_probs(
    view.frame,
    classes,
    view.times,
    view.events,
    title="frame probabilities, Eq. (1)",
    threshold=session.config.eval.frame_threshold,
)

# %% [markdown]
# ## FAP beside the baselines' pooling
#
# The baselines pool differently: VGG-GWRP ranks all mask values of a class and
# weights them by $0.9998^{j}$; TALNet pools frame probabilities with linear softmax
# $\sum p^2 / \sum p$; auto-pool with one $\alpha$ per class sits between mean and
# max. On the masks of this clip:

# %%
table = nb.pooling_table(view.masks, active, classes)
table.insert(1, "FAP (model)", view.clip.round(3))
table

# %% [markdown]
# ## Recap
#
# DDC-FAP is small next to the baselines: dilated depthwise convolutions see far in time
# and frequency at a few thousand to tens of thousands of weights. Its output is one mask
# per class; FAP pools each mask over time and weights the bands to give the clip
# probability that the weak label trains, and summing the band-weighted mask gives the
# frame probability, the detection, which no label ever trains directly.

# %%
print(session.finish())
