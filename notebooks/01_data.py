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
# # 1. The data: sounds, mixtures and labels
#
# The paper trains on clips that carry only **weak labels**: the list of event classes a
# clip contains, with no times. To measure detection we still need **strong labels**
# (onset, offset, class) for the test clips. This chapter builds both from sound
# sources: the embedded synthetic sound set that ships with `mtlsed`, mixed with the
# paper's *overlapped* protocol (Sec. 4.2). The same code mixes real DCASE 2018 sounds,
# and a data set of your own comes in with `mtlsed import` (see the end of the chapter).
# Run with the `data` parameter, every chapter shows that data set instead: its classes,
# its clips, its masks and its tables.
#
# **In this chapter:** what weak and strong labels are and which one trains the model; how
# the paper's overlapped set is mixed, step by step; what the data set holds (classes,
# splits, clips per class); and how a set of your own comes in.

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
from IPython.display import Audio, display

import mtlsed.book.notebook as nb
from mtlsed.book import plots
from mtlsed.data.format import read_dataset, validate
from mtlsed.features.logmel import logmel

session = nb.setup(profile, data, seeds, n_clips, overrides)
print(session.card())

# %% [markdown]
# ## The sound set
#
# The embedded set: ten classes of procedurally generated events, each drawn from a
# seeded random generator: nothing is downloaded, and a seed reproduces a sound
# exactly. Each class varies within itself (pitch, duration, envelope, noise colour),
# and several classes share frequency regions on purpose, so that keeping their masks
# apart is a real problem. (With a `data` set: its classes and clips per split.)

# %% tags=["profile-independent"]
nb.class_table(session)

# %% mystnb={"figure": {"caption": "One example of each class on the profile's log-mel front end (the embedded set: 4 s of each event; a data set: the first test clip holding the class, its events boxed)."}}
sr = session.config.features.sample_rate
if session.embedded:
    fig, axes = plots.plot_class_gallery(sr=sr, seed=1)
else:
    examples = nb.class_examples(session)
    classes = read_dataset(session.data_dir()).classes
    fig, axes = plots.plot_clip_gallery(examples, classes, session.config.features.hop_ms / 1000)

# %% [markdown]
# ## The overlapped protocol, step by step
#
# Two events of **different** classes are drawn. Each is zero-padded (if shorter) or
# truncated (if longer) to a 4 s window; both windows start at 3 s of a 10 s clip; each
# event is scaled so that its active part is 20 dB above the background, a
# non-stationary ambience. (With a `data` set, the cells below show its test clip with
# the most events instead: its parts are not known, only its labels.)

# %%
example = nb.example_clip(session, seed=7)
features = session.config.features
hop_s = features.hop_ms / 1000

# %% mystnb={"figure": {"caption": "The overlapped protocol's parts on one dB scale: the background and two events of different classes, each padded or cut to a 4 s window that starts at 3 s (with a data set: the clip itself). The background is quiet because the events sit 20 dB above it."}}
fig, axes = plots.plot_logmel_panels(
    [(name, logmel(audio, features)) for name, audio in example.parts], hop_s
)

# %% mystnb={"figure": {"caption": "The mixture, events 20 dB above the background, with its strong labels: each box spans an event's active part."}}
fig, ax = plots.plot_logmel(
    logmel(example.audio, features), hop_s, title=f"{example.title}, with its strong labels"
)
plots.overlay_events(ax, example.events, example.classes, n_bands=features.n_mels)

# %% [markdown]
# The boxes are the **strong labels**. They come from the *active part* of each event
# (the frames within 30 dB of its loudest 20 ms), not from its padded 4 s window: an
# event shorter than 4 s ends before 7 s.

# %% tags=["profile-independent"]
nb.events_table(example.events)

# %% [markdown]
# The **weak label** of this clip is just the set of classes, which is all the model
# sees in training:

# %% tags=["profile-independent"]
print("weak label:", ", ".join(example.labels))

# %% [markdown]
# Listen to the sources and the mixture (at their true relative levels):

# %%
for name, audio in nb.shared_scale(dict(example.parts + [(example.title, example.audio)])).items():
    print(name)
    display(Audio(audio, rate=sr, normalize=False))

# %% [markdown]
# ## A data set of the profile's size
#
# `mtlsed synth` (or the function behind it) mixes a whole data set into one folder in
# DESED's format: `audio/*.wav`, `weak.tsv`, `strong.tsv`, the ordered class list and a
# train / val / test split. Every later chapter reads this folder and nothing else; with
# the `data` parameter, the folder is yours.

# %%
data_dir = session.data_dir()
index = read_dataset(data_dir)
problems = validate(data_dir)
print(f"{len(index.filenames)} clips in {data_dir.name}; validation problems: {len(problems)}")

# %%
nb.split_table(index)

# %% mystnb={"figure": {"caption": "Clips per class in the chapters' data set (in the embedded overlapped set, every clip holds two classes)."}}
fig, ax = plt.subplots(figsize=(7, 2.4))
nb.class_counts(index).plot.bar(ax=ax, color=[plots.class_colour(k) for k in range(len(index.classes))])
ax.set_ylabel("clips")
ax.set_title(f"clips per class in {data_dir.name}")
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
# `mtlsed import-desed /data/DESED/dataset data/desed`.
#
# ## Your own data
#
# Any weakly labelled set in DESED's TSV format, with classes of its own, comes in the
# same way: a folder with `audio/` and `weak.tsv` (`strong.tsv` and `classes.txt` if you
# have them; the classes are otherwise read off the labels), and optionally a second
# folder for the test split:
#
# ```bash
# mtlsed import /data/mine/train data/mine --test /data/mine/test --val-fraction 0.1
# ```
#
# The audio is linked, not copied; clips that cannot be read are skipped and listed.
# The folder then replaces the embedded set everywhere: `--data data/mine` for `mtlsed
# train`, `evaluate` and `reproduce`, `-p data data/mine` for each notebook under
# papermill, and `make book DATA=data/mine` for the whole book.

# %% [markdown]
# ## Recap
#
# The model learns from weak labels alone: the class list of a clip. Strong labels (each
# event's active part) are used only to score. The overlapped protocol puts two events of
# different classes in 4 s windows at 3 s, 20 dB over a background, so every clip of that
# set is polyphonic by construction. Every set, embedded, mixed from DCASE or your own,
# arrives in one folder format, and everything after this chapter reads only that.

# %%
print(session.finish())
