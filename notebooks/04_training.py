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
# # 4. Training
#
# The profile's model, MTL-DDC-FAP, trained with Eq. (8): binary cross-entropy on the
# clip labels plus the segment and silent losses (label-guided, $\lambda = 1, 0.2, 0.2$),
# Adam with a step-decayed learning rate. The trainer picks the GPU when there is one
# (CUDA, then Apple MPS, then the CPU) and, with `train.amp`, mixed precision (float16 on
# CUDA, bfloat16 on a CPU); on a CPU it trains on one thread (`mtlsed.training.train.cpu_threads`),
# and in float32 it keeps the model `channels_last` (the `cpu` profile turns `train.amp`
# off: a step is 1.5x faster so, `bench/cpu_step.py`). From the command line the same run is
#
# ```bash
# mtlsed train --data data/overlapped-600clips-16000hz-seed0 --profile cpu --out runs/my-run
# mtlsed train ... --resume        # continue a run that was interrupted
# torchrun --nproc_per_node 2 -m mtlsed train ...   # several GPUs or machines
# ```
#
# The run is trained once per setting: it is Table 1's label-guided segment + silent run
# of the first seed, kept in that row's folder of the Table 1 grid
# (`runs/PROFILE/table1-KEY/`, KEY the fingerprint of configuration, data content and
# code). Chapter 2 may already have trained it, chapter 5 reuses it, and a rerun reuses
# it only when nothing changed; the table below gives its own training time and
# hardware. (A profile with `run_overrides`, e.g. longer training for this one run,
# keeps it apart in `runs/PROFILE/notebook/` instead.)
#
# **In this chapter:** how a run is trained and resumed; each term of Eq. (8) over the run;
# what a checkpoint holds; the sources the masks separate, to listen to; and how the run
# scores when the test clips come through other channels.

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
from IPython.display import Audio, display

import mtlsed.book.notebook as nb
from mtlsed.book import plots
from mtlsed.book.separation import separate
from mtlsed.core.vocabulary import PAPER_LOSS_TERMS
from mtlsed.features.logmel import logmel
from mtlsed.runs.runfolder import RunFolder

session = nb.setup(profile, data, seeds, n_clips, overrides)
print(session.card())

# %%
data_dir = session.data_dir()
run_dir = nb.profile_run(session, data_dir)
run = RunFolder(run_dir)  # every file of a run folder is read through it, checked
cfg = run.config()
nb.run_summary(run_dir)

# %% [markdown]
# ## Curves
#
# `log.csv` holds one row every `train.eval_every` iterations: each loss term averaged
# since the previous row, and the validation metrics.

# %% mystnb={"figure": {"caption": "Training curves: the total loss of Eq. (8), its BCE term and the validation loss; the segment and silent terms multiplied by their weights, as they enter the total; the validation mAPs on a 0-1 axis."}}
log = nb.training_log(run_dir)
fig, axes = plt.subplots(1, 3, figsize=(12, 3))
plots.plot_curves(log, ["loss", "bce", "val_loss"], ax=axes[0], title="loss (Eq. 8): training and validation")
lam = {"segment": session.config.loss.segment_weight, "silent": session.config.loss.silent_weight}
plots.plot_curves(
    log, PAPER_LOSS_TERMS[1:], ax=axes[1], title="auxiliary terms as weighted in Eq. (8)", weights=lam
)
plots.plot_curves(log, ["val_at_map", "val_sed_map"], ax=axes[2], title="validation scores", unit_range=True)
fig.tight_layout()

# %%
log.round(4)

# %% [markdown]
# ## Checkpoints
#
# `last.pt` holds everything needed to resume (model, optimiser, scheduler, random
# state) and is rewritten atomically at every row of the log; `best.pt` is the model
# with the best validation SED-mAP so far. A run killed at any moment resumes with
# `--resume` and ends with exactly the weights of an uninterrupted run on the CPU.
# `checkpoints.json` holds each checkpoint's checksum, so a damaged file is named rather
# than loaded, and `clips.tsv` the clips the run learnt from: `mtlsed evaluate` refuses a
# split that shares their audio.

# %%
best = run.load_checkpoint("best")
pd.DataFrame(
    [{"file": p.name, "kB": round(p.stat().st_size / 1024)} for p in sorted(run_dir.iterdir())]
).set_index("file").T

# %%
print(f"best.pt is from iteration {best['iteration']}")

# %% [markdown]
# ## Listening to what the masks separate
#
# Each mask lives on the mel bands of the features. Spread onto the STFT bins of the
# mixture and multiplied with it (keeping the mixture's phase), it gives an estimate of
# its class's source: the separation that the auxiliary task shapes without ever
# hearing an isolated source.
# The panels share the mixture's colour scale and the players its loudness, so a weak
# estimate looks dark and sounds quiet. How clean the estimates are depends on how well
# the profile's run is trained: under `ci` it has barely started.

# %% mystnb={"figure": {"caption": "The mixture and the estimate of each labelled class (its mask applied to the mixture's STFT), on the mixture's colour scale."}}
view = nb.inspect_clip(run_dir, data_dir, i=0)
classes = run.classes()
hop_s = cfg.features.hop_ms / 1000
sr = cfg.features.sample_rate
separated = {c: separate(view.audio, view.masks[classes.index(c)], cfg.features) for c in view.labels}
fig, axes = plots.plot_separation(
    logmel(view.audio, cfg.features),
    {f"mask of {c} applied": logmel(audio, cfg.features) for c, audio in separated.items()},
    hop_s,
)
fig.tight_layout()

# %% [markdown]
# What the model says about this clip, class by class: its clip probability, and whether
# the class is in the clip's weak label (the masks above are those of the labelled classes).

# %%
pd.DataFrame(
    {"clip probability": view.clip.round(3), "in the weak label": [c in view.labels for c in classes]},
    index=pd.Index(classes, name=f"class ({view.filename})"),
)

# %%
players = {"mixture": view.audio, **{f"{c} (its mask applied)": audio for c, audio in separated.items()}}
for name, audio in nb.shared_scale(players).items():
    print(name)
    display(Audio(audio, rate=sr, normalize=False))

# %% [markdown]
# ## Recap
#
# A run trains Eq. (8) on clip labels, validates on its own schedule, keeps the best
# checkpoint by validation mAP, and resumes exactly where it was killed. The curves show
# how much each weighted term adds to the total; the separated sources show what the masks
# learnt to pick out, without ever hearing an isolated source.

# %%
print(session.finish())
