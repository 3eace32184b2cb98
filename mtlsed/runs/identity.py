"""What produced a result: fingerprints of a data set's content, of the code, and of a run.

Every cached artefact (feature cache, training run, metrics file, grid of runs) records the
fingerprint of what produced it and is reused only when that fingerprint is the one of now:

- **data**: the bytes of every audio file and of ``weak.tsv``, ``strong.tsv``, ``classes.txt`` and
  ``split.tsv``. Audio hashes are remembered in ``DATA/.mtlsed/audio-sha256.tsv`` by file size and
  modification time (as git's index does), so a second look at a large set reads no audio; an edit
  changes the modification time and so is hashed again, even at the same size.
- **code**, in two parts, each the normal form of its modules (no docstrings, comments or import paths),
  so a change that can move a number counts and nothing else does:
  - **training** (:data:`NUMERIC`: features, models, losses, the training step and loop, inference and the
    mAPs that pick a run's best checkpoint): what the trained weights depend on;
  - **evaluation** (:data:`EVALUATION`: post-processing, event metrics, scoring a split): what a run's
    metrics depend on beyond its weights.
- **run**: the resolved configuration, the data fingerprint and the training code fingerprint. A change to
  the evaluation code leaves it as it is: finished runs are scored again, not trained again.

:func:`differences` turns two fingerprints into sentences naming what changed.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path

from mtlsed.core.code import normal_form
from mtlsed.core.hashing import digest
from mtlsed.data.fingerprint import LABEL_FILES

# The modules whose code can change the weights a run trains (features, losses, models, training,
# inference, the validation mAPs). Only they make the training code fingerprint.
NUMERIC = {
    "data/audio.py",  # reading and resampling clips
    "features/augment.py",
    "config/settings.py",  # window and hop in samples, ranges
    "objectives/constraints.py",
    "training/ema.py",  # the weights a run evaluates
    "features/logmel.py",
    "evaluation/inference.py",
    "features/labels.py",  # the frame grid
    "objectives/losses.py",
    "objectives/total.py",
    "evaluation/ranking.py",  # the mAPs validation picks the best checkpoint by
    "features/normalise.py",
    "training/step.py",  # the training step: precision, scaler, optimiser
    "training/train.py",
    "data/__init__.py",
    "features/cache.py",
    "features/dataset.py",
    "data/format.py",  # reading the labels
    "core/events.py",  # the labels' type
    "models/*",
}
# The modules a run's metrics depend on beyond its weights: a change here re-scores finished runs.
EVALUATION = {
    "evaluation/evaluate.py",
    "evaluation/metrics.py",
    "evaluation/postprocess.py",
}
# Everything else, with why it cannot change a run's numbers. A new module must be put in one of the
# two sets (tests/test_identity.py checks): the fingerprint never silently ignores code that counts.
NOT_NUMERIC = {
    "__init__.py": "the version",
    "__main__.py": "entry point",
    "core/__init__.py": "the layer's docstring",
    "config/__init__.py": "the layer's docstring",
    "features/__init__.py": "the layer's docstring",
    "objectives/__init__.py": "the layer's docstring",
    "runs/__init__.py": "the layer's docstring",
    "evaluation/__init__.py": "the layer's docstring",
    "training/__init__.py": "the layer's docstring",
    "experiments/__init__.py": "the layer's docstring",
    "book/__init__.py": "the layer's docstring",
    "cli/__init__.py": "the layer's docstring",
    "core/allocator.py": "where freed memory goes (malloc's thresholds), not what is computed",
    "core/atomic.py": "how files are written",
    "core/diskspace.py": "free space before a write, messages for a full disk",
    "core/code.py": "the normal form of code that the fingerprints hash",
    "core/hashing.py": "hashes of files and objects",
    "core/textio.py": "UTF-8 and TSV files: bytes in and out, a file that reads otherwise is an error",
    "core/locks.py": "who may write a folder, not what is written",
    "core/devices.py": "which device runs a run (train.device is in its config), not what it computes",
    "core/vocabulary.py": "names of metrics and loss terms (the code that computes them is fingerprinted)",
    "data/hashes.py": "the audio hashes a data fingerprint is made of",
    "data/fingerprint.py": "the data fingerprint itself",
    "book/build.py": "the book build",
    "book/header.py": "the notebooks' header cells and their stand-ins",
    "cli/main.py": "command line",
    "cli/commands.py": "command line",
    "experiments/comparison.py": "paired statistics, recomputed from the runs by every `reproduce`",
    "core/envinfo.py": "hardware description",
    "core/errors.py": "error types",
    "experiments/aggregate.py": "tables from the runs' metrics",
    "experiments/datasets.py": "the data step; a data set's content is fingerprinted",
    "experiments/paper.py": "the paper's numbers",
    "experiments/registry.py": "which tables exist",
    "experiments/reproduce.py": "grids of runs; each run's own config is in its fingerprint",
    "experiments/rows.py": "the rows of the tables; each run's own config is in its fingerprint",
    "experiments/runner.py": "training and evaluating grids of runs",
    "experiments/table1.py": "grids of runs for Table 1",
    "experiments/table2.py": "grids of runs for Table 2",
    "runs/identity.py": "the fingerprints themselves",
    "book/notebook.py": "the notebooks' helpers",
    "book/plots.py": "figures",
    "core/procs.py": "worker processes",
    "config/profiles.py": "profiles resolve to a config, which is in the fingerprint",
    "book/publish.py": "where the project is published (launch buttons, install source)",
    "experiments/report.py": "the results page",
    "experiments/verdict.py": "the bottom line, from the paired comparisons",
    "runs/runfolder.py": "run folder bookkeeping",
    "runs/runinfo.py": "what a run prints",
    "book/separation.py": "listening to masks",
    "data/shift.py": "makes data sets (their content is fingerprinted)",
    "experiments/table3.py": "grids of runs for Table 3; each run's own config is in its fingerprint",
    "experiments/tables.py": "table formatting",
    "core/yamlio.py": "reading YAML; the resolved config is in the fingerprint",
    "data/build.py": "makes data sets (their content is fingerprinted)",
    "data/dcase2018.py": "makes data sets",
    "data/groups.py": "splits data sets (the split is in the data fingerprint)",
    "data/policy.py": "what a data set accepts (a valid set's numbers do not depend on it)",
    "data/caveats.py": "warnings about a data set and the train-time check of its validation split",
    "data/desed.py": "imports data sets",
    "data/download.py": "downloads data sets",
    "data/importer.py": "imports data sets",
    "data/mix.py": "makes data sets",
    "data/pools.py": "makes data sets",
    "data/ours.py": "which folders mtlsed made (a marker outside the data fingerprint)",
    "data/splits.py": "sizes the splits of data sets (the split is in the data fingerprint)",
    "data/synthetic.py": "makes data sets",
}


def _in(modules: set[str], relative: str) -> bool:
    folder = relative.rsplit("/", 1)[0] + "/*" if "/" in relative else None
    return relative in modules or folder in modules


def is_numeric(relative: str) -> bool:
    """Whether the module at ``relative`` (``objectives/losses.py``, ``models/ddc_fap.py``) can change a
    number: it is in :data:`NUMERIC` (training) or :data:`EVALUATION`."""
    return _in(NUMERIC, relative) or _in(EVALUATION, relative)


def code_fingerprint(package: str | Path | None = None, part: str = "training") -> str:
    """Hash of the normal form (:func:`normal_form`) of the :data:`NUMERIC` modules (``part="training"``) or
    of the :data:`EVALUATION` modules (``part="evaluation"``).

    A docstring, a comment, a blank line, or any change to table formatting, plots, notebooks, the book
    or the command line leaves both as they are. ``package``: another copy of the package's folder (tests).
    """
    if part not in ("training", "evaluation"):
        raise ValueError(f"part must be training or evaluation, got {part!r}")
    return _code_fingerprint(str(Path(package or Path(__file__).resolve().parents[1]).resolve()), part)


@cache
def _code_fingerprint(package: str, part: str) -> str:
    root = Path(package)
    modules = NUMERIC if part == "training" else EVALUATION
    # the normal forms in their own order, not by path: a module that moves keeps the fingerprint
    forms = sorted(
        normal_form(path.read_text())
        for path in root.rglob("*.py")
        if _in(modules, path.relative_to(root).as_posix())
    )
    h = hashlib.sha256()
    for form in forms:
        h.update(hashlib.sha256(form.encode()).digest())
    return h.hexdigest()[:12]


def evaluation_fingerprint() -> str:
    """What a run's metrics files record as ``evaluation_code``: scored by this evaluation code."""
    return code_fingerprint(part="evaluation")


def run_fingerprint(cfg_dict: dict, data_fp: dict) -> dict:
    """The identity of a training run: its config, its data (what, not where) and the training code."""
    config = json.loads(json.dumps(cfg_dict))
    fp = {"config": config, "data": data_fp, "code": code_fingerprint()}
    fp["digest"] = digest({k: fp[k] for k in ("config", "data", "code")})
    return fp


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def differences(saved: dict, now: dict) -> list[str]:
    """What differs between two run (or data) fingerprints, one sentence each."""
    out = []
    if "config" in saved or "config" in now:
        a, b = _flat(saved.get("config", {})), _flat(now.get("config", {}))
        for key in sorted(set(a) | set(b)):
            if a.get(key, "<absent>") != b.get(key, "<absent>"):
                out.append(f"config {key}: {a.get(key, '<absent>')!r} then, {b.get(key, '<absent>')!r} now")
    da, db = saved.get("data", saved), now.get("data", now)
    for part in ("audio", *LABEL_FILES):
        if part in da and part in db and da[part] != db[part]:
            what = "the audio files" if part == "audio" else part
            out.append(f"data: {what} changed")
    if saved.get("code") != now.get("code") and ("code" in saved or "code" in now):
        out.append(f"code: the numeric code changed ({saved.get('code')} then, {now.get('code')} now)")
    return out
