"""What produced a result: fingerprints of a data set's content, of the code, and of a run.

Every cached artefact (feature cache, training run, metrics file, grid of runs) records the
fingerprint of what produced it and is reused only when that fingerprint is the one of now:

- **data**: the bytes of every audio file and of ``weak.tsv``, ``strong.tsv``, ``classes.txt`` and
  ``split.tsv``. Audio hashes are remembered in ``DATA/.mtlsed/audio-sha256.tsv`` by file size and
  modification time (as git's index does), so a second look at a large set reads no audio; an edit
  changes the modification time and so is hashed again, even at the same size.
- **code**: the code of the modules that can change a number (:data:`NUMERIC`: features, models, losses,
  training, inference, post-processing, metrics), in a normal form without docstrings and comments, so
  a change that can move a number counts and nothing else does.
- **run**: the resolved configuration, the data
  fingerprint and the code fingerprint.

:func:`differences` turns two fingerprints into sentences naming what changed.
"""

from __future__ import annotations

import ast
import hashlib
import json
from functools import cache
from pathlib import Path

LABEL_FILES = ("classes.txt", "weak.tsv", "strong.tsv", "split.tsv")
HASH_CACHE = Path(".mtlsed") / "audio-sha256.tsv"
# The modules whose code can change a number a run produces (training, features, losses, models,
# inference, post-processing, metrics). Only they make the code fingerprint.
NUMERIC = {
    "audio.py",  # reading and resampling clips
    "augment.py",
    "config.py",  # window and hop in samples, ranges
    "constraints.py",
    "ema.py",  # the weights a run evaluates
    "evaluate.py",
    "features.py",
    "inference.py",
    "labels.py",  # the frame grid
    "losses.py",
    "metrics.py",
    "normalise.py",
    "postprocess.py",
    "step.py",  # the training step: precision, scaler, optimiser
    "train.py",
    "data/__init__.py",
    "data/cache.py",
    "data/dataset.py",
    "data/format.py",  # reading the labels
    "models/*",
}
# Everything else, with why it cannot change a run's numbers. A new module must be put in one of the
# two sets (tests/test_identity.py checks): the fingerprint never silently ignores code that counts.
NOT_NUMERIC = {
    "__init__.py": "the version",
    "__main__.py": "entry point",
    "allocator.py": "where freed memory goes (malloc's thresholds), not what is computed",
    "atomic.py": "how files are written",
    "book.py": "the book build",
    "cli.py": "command line",
    "commands.py": "command line",
    "comparison.py": "paired statistics, recomputed from the runs by every `reproduce`",
    "envinfo.py": "hardware description",
    "errors.py": "error types",
    "experiments.py": "grids of runs; each run's own config is in its fingerprint",
    "identity.py": "the fingerprints themselves",
    "notebook.py": "the notebooks' helpers",
    "plots.py": "figures",
    "procs.py": "worker processes",
    "profiles.py": "profiles resolve to a config, which is in the fingerprint",
    "publish.py": "where the project is published (launch buttons, install source)",
    "report.py": "the results page",
    "runfolder.py": "run folder bookkeeping",
    "runinfo.py": "what a run prints",
    "separation.py": "listening to masks",
    "shift.py": "makes data sets (their content is fingerprinted)",
    "table3.py": "grids of runs for Table 3; each run's own config is in its fingerprint",
    "tables.py": "table formatting",
    "yamlio.py": "reading YAML; the resolved config is in the fingerprint",
    "data/build.py": "makes data sets (their content is fingerprinted)",
    "data/dcase2018.py": "makes data sets",
    "data/groups.py": "splits data sets (the split is in the data fingerprint)",
    "data/policy.py": "what a data set accepts (a valid set's numbers do not depend on it)",
    "data/desed.py": "imports data sets",
    "data/download.py": "downloads data sets",
    "data/importer.py": "imports data sets",
    "data/mix.py": "makes data sets",
    "data/pools.py": "makes data sets",
    "data/synthetic.py": "makes data sets",
}


def digest(obj) -> str:
    """A short stable hash of a JSON-serialisable object."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def audio_hashes(root: Path, filenames: list[str], audio_dir: Path) -> dict[str, str]:
    """sha256 of every audio file, reusing remembered hashes whose size and mtime still match."""
    cache_path = root / HASH_CACHE
    known: dict[str, tuple[str, str]] = {}
    if cache_path.is_file():
        for line in cache_path.read_text(encoding="utf-8", errors="replace").splitlines():
            parts = line.rsplit("\t", 2)
            if len(parts) == 3 and len(parts[2]) == 64:  # a damaged line is hashed again, never trusted
                known[parts[0]] = (parts[1], parts[2])
    out, changed = {}, False
    for name in filenames:
        path = audio_dir / name
        st = path.stat()
        stamp = f"{st.st_size}:{st.st_mtime_ns}"
        if name in known and known[name][0] == stamp:
            out[name] = known[name][1]
        else:
            out[name] = file_sha256(path)
            known[name] = (stamp, out[name])
            changed = True
    if changed:
        try:  # a read-only data set is hashed again next time, nothing more
            from mtlsed.atomic import write_text

            write_text(cache_path, "".join(f"{n}\t{s}\t{h}\n" for n, (s, h) in sorted(known.items())))
        except OSError:
            pass
    return out


def data_fingerprint(root: str | Path, index=None) -> dict[str, str]:
    """``{"audio": ..., "classes.txt": ..., "weak.tsv": ..., ..., "digest": ...}`` of a data set folder.

    ``audio`` covers the clips listed in ``weak.tsv`` (names and bytes); a label file that is absent
    has the value ``"absent"``. ``index``: the folder's :class:`DatasetIndex` when the caller has read it.
    """
    from mtlsed.data.format import read_dataset

    index = index or read_dataset(root)
    hashes = audio_hashes(index.root, index.filenames, index.root / "audio")
    fp = {"audio": digest(sorted(hashes.items()))}
    for name in LABEL_FILES:
        path = index.root / name
        fp[name] = file_sha256(path)[:16] if path.is_file() else "absent"
    fp["digest"] = digest(fp)
    return fp


PACKAGE_NAME = "mtlsed"


def normal_form(source: str) -> str:
    """The code of a module without its docstrings, comments, layout and where its own imports come from:
    what running it depends on. An import from the package keeps the names it binds and drops the
    module path (``from mtlsed.objectives.losses import bce_loss`` reads as ``from mtlsed import
    bce_loss``), so moving a module to another folder changes no fingerprint; the moved module's own
    code is fingerprinted where it lies now."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                if isinstance(body[0].value.value, str):
                    node.body = body[1:] or [ast.Pass()]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == PACKAGE_NAME:
            node.module = PACKAGE_NAME
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == PACKAGE_NAME:
                    alias.name = f"{PACKAGE_NAME}.{alias.name.rsplit('.', 1)[-1]}"
    return ast.dump(tree, annotate_fields=False, include_attributes=False)


def is_numeric(relative: str) -> bool:
    """Whether the module at ``relative`` (``losses.py``, ``models/ddc_fap.py``) is in :data:`NUMERIC`."""
    folder = relative.rsplit("/", 1)[0] + "/*" if "/" in relative else None
    return relative in NUMERIC or folder in NUMERIC


def module_fingerprint(relative: str, package: Path | None = None) -> str:
    """Hash of the normal form of one module of the package (``features.py``)."""
    package = Path(package or Path(__file__).resolve().parent)
    return hashlib.sha256(normal_form((package / relative).read_text()).encode()).hexdigest()[:16]


def code_fingerprint(package: str | Path | None = None) -> str:
    """Hash of the :data:`NUMERIC` modules' normal form (:func:`normal_form`).

    A docstring, a comment, a blank line, or any change to table formatting, plots, notebooks, the book
    or the command line leaves it as it is; a change to a loss, a model, the features, training,
    post-processing or a metric moves it. ``package``: another copy of the package's folder (tests).
    """
    return _code_fingerprint(str(Path(package or Path(__file__).resolve().parent).resolve()))


@cache
def _code_fingerprint(package: str) -> str:
    root = Path(package)
    # the normal forms in their own order, not by path: a module that moves keeps the fingerprint
    forms = sorted(
        normal_form(path.read_text())
        for path in root.rglob("*.py")
        if is_numeric(path.relative_to(root).as_posix())
    )
    h = hashlib.sha256()
    for form in forms:
        h.update(hashlib.sha256(form.encode()).digest())
    return h.hexdigest()[:12]


def run_fingerprint(cfg_dict: dict, data_fp: dict) -> dict:
    """The identity of a training run: its config, its data (what, not where) and the code."""
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
