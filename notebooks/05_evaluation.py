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
# # 5. Evaluation: Table 1 and Table 2
#
# Every row of the paper's two tables, trained and evaluated for each seed of the
# profile, next to the paper's numbers. The metrics follow the paper: AT-mAP (clip
# level), SED-mAP (frame level), and the event-based error rate ER with its deletion
# (D) and insertion (I) parts, with a 200 ms onset collar and a 200 ms / 50 % offset
# collar (sed_eval). F1 and the modern PSDS1 / PSDS2 (sed_scores_eval, DESED's
# settings) are reported beside them.
#
# This chapter trains every row of Tables 1 and 2 that is not trained yet, and reuses the
# runs that are. Under the `paper` profile Table 1 alone is 27 runs of 10 000 iterations,
# hours on one GPU (README, "On a Colab GPU"). The same grids run from the command line,
# and a grid that is interrupted resumes:
#
# ```bash
# mtlsed reproduce --table 1 --profile cpu
# mtlsed reproduce --table 2 --profile paper --data data/desed   # a set made by mtlsed import(-desed)
# ```
#
# **In this chapter:** every row of the paper's Tables 1 and 2 beside the paper's numbers;
# each MTL row compared with BCE alone seed by seed, with an interval; and which kinds of
# error (deletions, insertions) the auxiliary losses change.

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
from IPython.display import Markdown, display

import mtlsed.book.notebook as nb
from mtlsed.book import plots
from mtlsed.core.vocabulary import BEYOND_METRICS, HEADLINE
from mtlsed.data.format import read_dataset, read_strong
from mtlsed.experiments.aggregate import per_seed_metrics
from mtlsed.experiments.report import comparison_markdown
from mtlsed.experiments.reproduce import reproduce
from mtlsed.experiments.table1 import TUNED
from mtlsed.experiments.tables import markdown_table, markdown_weights
from mtlsed.models import config_sizes
from mtlsed.runs.runfolder import RunFolder

session = nb.setup(profile, data, seeds, n_clips, overrides)
print(session.card())

# %% [markdown]
# ## Table 1: the losses on the overlapped set
#
# Nine rows: DDC-FAP alone; with the segment loss (label-guided, or top-2/3/5
# self-supervised); with the segment and silent losses. Each cell is our mean ± sample
# standard deviation over the seeds, with the paper's value in brackets.

# %% tags=["full-width"]
table1 = reproduce(1, session.prof, session.data, root=session.root, log=lambda *a: None)
display(Markdown(markdown_table(table1.entries, HEADLINE)))

# %% [markdown]
# Beyond the paper: event F1 and PSDS (no paper value). F1 is undefined for a run that
# detects no event at all; a cell marked `[n/N seeds]` averages the seeds where it is defined.

# %% tags=["full-width"]
display(Markdown(markdown_table(table1.entries, BEYOND_METRICS)))

# %% [markdown]
# ## Do the auxiliary losses help? A paired comparison
#
# Each MTL run is paired with the BCE-only run of the same seed (same data, same
# initial draw), and the difference MTL − BCE is taken seed by seed. The interval is the
# paired 95% t interval over seeds, and the verdict is read off it (`mtlsed.experiments.comparison`):
# *better* or *worse* when it lies on one side of zero, *no detectable difference* when it
# holds zero, *not comparable* with fewer than two seeds or, for ER, D, I and F1, when a
# run detected nothing.

# %% tags=["full-width"]
display(Markdown(comparison_markdown(1, "segment_silent-label", table1.comparisons["segment_silent-label"])))

# %% [markdown]
# The paper fixes λ2 = λ3 = 0.2. Whether that suits another data set and training length
# is a question for the validation split, not for test: when the profile has a
# `weight_grid`, `reproduce` trains label-guided segment + silent DDC-FAP once per pair
# (first seed), keeps the pair with the highest validation SED-mAP (AT-mAP when the
# validation clips are weakly labelled; ties go to 0.2 / 0.2), and trains the row
# `segment_silent-label-val` with it for every paired seed. Its comparison with BCE alone:

# %% tags=["full-width"]
if table1.weights:
    display(Markdown(markdown_weights(table1.weights)))
    display(Markdown(comparison_markdown(1, TUNED, table1.comparisons[TUNED])))
else:
    print(f"profile {session.profile} has no weight_grid: only the paper's 0.2 / 0.2 is trained")

# %% [markdown]
# Both PSDS scenarios subtract the spread of the true-positive rate across classes from
# its mean ($\alpha_{st} = 1$, DESED's setting), so a model that finds some classes and
# misses others can score 0 although single classes are found well; short training
# gives exactly such models. Each class's own PSD-ROC area (scenario 1, first seed)
# shows which classes are found:

# %%
grid1, data_dir = table1.grid, table1.data
first_seed = f"seed{session.seeds[0]}"
per_class = nb.psds_by_class(
    {
        "BCE only": grid1 / "ddc_fap" / first_seed,
        "+ segment + silent": grid1 / "segment_silent-label" / first_seed,
    },
    data_dir,
)
per_class.round(3)

# %% [markdown]
# ## Insertions with and without the silent loss
#
# The paper's claim for the silent loss is that it cuts insertion errors (I), because
# it silences the masks of absent classes. Per seed:

# %% mystnb={"figure": {"caption": "Insertion rate I per seed (dots) and its mean (bars) without auxiliary loss, with the segment loss, and with the segment and silent losses (label-guided); under each bar, its number of seeds (the profile pairs some rows over more seeds than others)."}}
per_seed = per_seed_metrics(grid1, ["ddc_fap", "segment-label", "segment_silent-label"])
fig, ax = plots.plot_per_seed(
    per_seed,
    "I",
    ["BCE only", "+ segment", "+ segment + silent"],
    title="insertions per seed (dots) and their mean (bars)",
)
ax.set_ylabel("insertion rate I")
fig.tight_layout()

# %% [markdown]
# ## Predictions against references
#
# Three test clips, scored by the notebooks' own MTL-DDC-FAP run (segment + silent,
# label-guided, first seed: the run of chapter 4, which is also Table 1's run of that
# row and seed): the reference events,
# the detected events after post-processing (clip gate, frame threshold, median filter;
# see `mtlsed.evaluation.metrics`), and the frame probabilities.

# %% mystnb={"figure": {"caption": "Reference events (left) and the events detected after post-processing (right) for three test clips."}}
run = nb.profile_run(session, data_dir)
index = read_dataset(data_dir)
detected = read_strong(run / "events_test.tsv")
metrics = RunFolder(run).require_metrics("test")
print(
    "this run on the whole test split:",
    ", ".join(f"{k} {metrics[k]:.3f}" for k in HEADLINE),
)
test_files = index.files_in("test")[:3]
fig, axes = plt.subplots(len(test_files), 2, figsize=(12, 2.2 * len(test_files)))
for row_axes, name in zip(axes, test_files, strict=True):
    plots.plot_event_roll(index.strong[name], index.classes, ax=row_axes[0], title=f"{name}: reference")
    plots.plot_event_roll(detected.get(name, []), index.classes, ax=row_axes[1], title="detected")
fig.tight_layout()

# %% mystnb={"figure": {"caption": "Frame probabilities of one test clip against its reference events (shaded); dashed: the detection threshold."}}
view = nb.inspect_clip(run, data_dir, i=0)
fig, ax = plots.plot_frame_probs(
    view.frame,
    index.classes,
    view.times,
    view.events,
    title=f"{view.filename}: frame probabilities and reference (shaded)",
    threshold=session.config.eval.frame_threshold,
)

# %% [markdown]
# ## Table 2: the models on a DESED-format set
#
# Attention, TALNet, VGG-GWRP and DDC-FAP trained with BCE, and MTL-DDC-FAP (segment +
# silent, label-guided). Without a data set of your own (the `data` parameter) the profile
# uses the embedded set mixed with the DESED-like recipe (0-4 events, random onsets,
# 6-30 dB); with one, both tables run on it (`mtlsed reproduce --data DIR` from the
# command line).

# %% tags=["full-width"]
table2 = reproduce(2, session.prof, session.data, root=session.root, log=lambda *a: None)
display(Markdown(markdown_table(table2.entries, HEADLINE)))

# %% [markdown]
# The profile's `model.channels` sets the convolution widths of every model, but the
# recurrent layers of Attention and TALNet keep their size (`model.gru_hidden`), so
# under a reduced profile the models are not the same size as in the paper, nor as each
# other. Read Table 2 with their sizes at hand:

# %%
config_sizes(session.config, ["attention", "talnet", "vgg_gwrp", "ddc_fap"], len(index.classes))

# %% tags=["full-width"]
display(Markdown(markdown_table(table2.entries, BEYOND_METRICS)))

# %% [markdown]
# ## Recap
#
# The tables give each row's mean and spread over seeds beside the paper's number; the
# paired comparisons say, seed by seed with an interval, where the auxiliary losses help,
# hurt, or make no detectable difference on this data. The book's first page states the
# bottom line this build reached.

# %%
print(session.finish())
