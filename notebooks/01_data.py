# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,mystnb,-all
#     notebook_metadata_filter: kernelspec,jupytext,-all
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 1. The data: sounds, mixtures and labels
#
# The paper trains on clips that carry only **weak labels**: the list of event classes a
# clip contains, with no times. To measure detection we still need **strong labels**
# (onset, offset, class) for the test clips. This chapter builds both from sound
# sources: the embedded synthetic sound set that ships with `mtlsed`, mixed with the
# paper's *overlapped* protocol (Sec. 4.2). The same code mixes real DCASE 2018 sounds
# (see the end of the chapter).

# %% tags=["remove-cell"]
# Colab: install mtlsed when it is missing (Colab's own torch is kept); does nothing locally.
import importlib.util
import subprocess
import sys

if importlib.util.find_spec("mtlsed") is None:
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "git+https://github.com/mtlsed/mtlsed"], check=True
    )

# %% tags=["parameters"]
# Papermill parameters (`-p profile cpu`): a profile from params/ or a profile file, and what to
# change in it. None keeps the profile's value; overrides adds config keys on top of the profile's.
profile = "ci"
seeds = None
n_clips = None
overrides = {}

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Audio, display

import mtlsed.notebook as nb
from mtlsed import plots
from mtlsed.data.format import read_dataset, validate
from mtlsed.data.mix import mix_overlapped
from mtlsed.data.synthetic import CLASS_NOTES, SyntheticBackgrounds, SyntheticEvents
from mtlsed.features import logmel

session = nb.setup(profile, seeds, n_clips, overrides)
print(session.card())

# %% [markdown]
# ## The embedded sound set
#
# Ten classes of procedurally generated events, each drawn from a seeded random
# generator: nothing is downloaded, and a seed reproduces a sound exactly. Each class
# varies within itself (pitch, duration, envelope, noise colour), and several classes
# share frequency regions on purpose, so that keeping their masks apart is a real
# problem.

# %% tags=["nbval-check-output"]
pd.DataFrame({"class": list(CLASS_NOTES), "what it sounds like": list(CLASS_NOTES.values())})

# %% mystnb={"figure": {"caption": "The embedded sound set: one example of each class, 4 s, on the profile's log-mel front end."}}
sr = session.config.features.sample_rate
fig, axes = plots.plot_class_gallery(sr=sr, seed=1)

# %% [markdown]
# ## The overlapped protocol, step by step
#
# Two events of **different** classes are drawn. Each is zero-padded (if shorter) or
# truncated (if longer) to a 4 s window; both windows start at 3 s of a 10 s clip; each
# event is scaled so that its active part is 20 dB above the background, a
# non-stationary ambience.

# %%
rng = np.random.default_rng(7)
mixture = mix_overlapped(rng, SyntheticEvents(sr), SyntheticBackgrounds(sr), sr)
features = session.config.features
hop_s = features.hop_ms / 1000
classes = SyntheticEvents(sr).classes

# %% mystnb={"figure": {"caption": "The overlapped protocol's parts: the background and two events of different classes, each padded or cut to a 4 s window that starts at 3 s."}}
parts = [("background", mixture.background)] + [(e.label, e.audio) for e in mixture.events]
fig, axes = plt.subplots(1, 3, figsize=(11, 2.6), sharey=True)
for ax, (name, audio) in zip(axes, parts, strict=True):
    plots.plot_logmel(logmel(audio, features), hop_s, ax=ax, title=name)

# %% mystnb={"figure": {"caption": "The mixture, events 20 dB above the background, with its strong labels: each box spans an event's active part."}}
fig, ax = plots.plot_logmel(
    logmel(mixture.audio, features), hop_s, title="the mixture, with its strong labels"
)
plots.overlay_events(ax, mixture.events, classes)

# %% [markdown]
# The boxes are the **strong labels**. They come from the *active part* of each event
# (the frames within 30 dB of its loudest 20 ms), not from its padded 4 s window: an
# event shorter than 4 s ends before 7 s.

# %% tags=["nbval-check-output"]
pd.DataFrame(
    [
        {
            "event": e.label,
            "onset (s)": round(e.onset, 2),
            "offset (s)": round(e.offset, 2),
            "SNR (dB)": round(e.snr_db, 1),
        }
        for e in mixture.events
    ]
)

# %% [markdown]
# The **weak label** of this clip is just the set of classes, which is all the model
# sees in training:

# %% tags=["nbval-check-output"]
print("weak label:", ", ".join(mixture.labels))

# %% [markdown]
# Listen to the sources and the mixture (at their true relative levels):

# %%
for name, audio in nb.shared_scale(dict(parts + [("mixture", mixture.audio)])).items():
    print(name)
    display(Audio(audio, rate=sr, normalize=False))

# %% [markdown]
# ## A data set of the profile's size
#
# `mtlsed synth` (or the function behind it) mixes a whole data set into one folder in
# DESED's format: `audio/*.wav`, `weak.tsv`, `strong.tsv`, the ordered class list and a
# train / val / test split. Every later chapter reads this folder and nothing else.

# %%
data_dir = nb.profile_data(session, "overlapped")
index = read_dataset(data_dir)
problems = validate(data_dir)
print(f"{len(index.filenames)} clips in {data_dir.name}; validation problems: {len(problems)}")

# %% tags=["nbval-check-output"]
split_counts = pd.Series(index.split).value_counts().reindex(["train", "val", "test"])
class_counts = (
    pd.Series([c for labels in index.weak.values() for c in labels]).value_counts().reindex(index.classes)
)
pd.DataFrame({"clips": split_counts}).T

# %% mystnb={"figure": {"caption": "Clips per class in the profile's data set; every clip holds two classes."}}
fig, ax = plt.subplots(figsize=(7, 2.4))
class_counts.plot.bar(ax=ax, color=[plots.class_colour(k) for k in range(len(index.classes))])
ax.set_ylabel("clips")
ax.set_title("clips per class (each clip has two classes)")
fig.tight_layout()

# %% [markdown]
# ## The same from your copies of DCASE 2018
#
# With FSDKaggle2018 (task 2) as events and TUT Urban Acoustic Scenes 2018 (task 1) as
# backgrounds, the paper's set of 8000 clips at 32 kHz is
#
# ```bash
# mtlsed mix-dcase2018 --events /data/FSDKaggle2018 --backgrounds /data/TUT-urban-acoustic-scenes-2018-development \
#     data/overlapped-dcase2018 --clips 8000 --seed 0
# mtlsed check data/overlapped-dcase2018
# ```
#
# and DESED (DCASE 2020 task 4) becomes a data set folder with
# `mtlsed import-desed /data/DESED/dataset data/desed`. Either folder then replaces the
# embedded set through the configuration key `data.root`.

# %%
print(session.finish())
