"""The names every layer shares: the metrics a run is scored by and the terms its loss is logged by.

One owner each, so a table, a log column, the bottom line and a notebook cannot name a metric or a loss
term differently. Names only: nothing here computes a number.
"""

from __future__ import annotations

# every scalar metric of ``metrics_<split>.json`` a table shows, in table order
HEADLINE = ("at_map", "sed_map", "er", "d", "i")  # the paper's five (its Tables 1 and 2)
BEYOND_METRICS = ("f1", "psds1", "psds2")  # scored here too: event F1 and the DCASE PSDS scenarios
METRICS = HEADLINE + BEYOND_METRICS
# computed from detected events: void when nothing is detected
EVENT_METRICS = frozenset({"er", "d", "i", "f1"})
LOWER_IS_BETTER = frozenset({"er", "d", "i"})
# how prose and figures name a metric
METRIC_NAMES = {
    "at_map": "AT-mAP",
    "sed_map": "SED-mAP",
    "er": "ER",
    "d": "D",
    "i": "I",
    "f1": "F1",
    "psds1": "PSDS1",
    "psds2": "PSDS2",
}

# the terms of the training loss as logged per iteration: Eq. (8)'s, then the constraints beyond the paper
PAPER_LOSS_TERMS = ("bce", "segment", "silent")
EXTRA_LOSS_TERMS = ("cosine", "judge", "consistency")
LOSS_TERMS = PAPER_LOSS_TERMS + EXTRA_LOSS_TERMS

# how tables and figures name a model (``model.name`` -> its name in the paper)
MODEL_NAMES = {"ddc_fap": "DDC-FAP", "vgg_gwrp": "VGG-GWRP", "attention": "Attention", "talnet": "TALNet"}

# the devices ``train.device`` and ``--device`` name (``mtlsed.core.devices.pick_device``)
DEVICE_PATTERN = r"auto|cpu|mps|cuda(:\d+)?"
KNOWN_DEVICES = "auto, cpu, cuda, cuda:N or mps"
