"""What produced a result: fingerprints of a data set's content, of the code, and of a run.

Every cached artefact (feature cache, training run, metrics file, grid of runs) records the
fingerprint of what produced it and is reused only when that fingerprint is the one of now:

- **data**: the bytes of every audio file and of ``weak.tsv``, ``strong.tsv``, ``classes.txt`` and
  ``split.tsv``. Audio hashes are remembered in ``DATA/.mtlsed/audio-sha256.tsv`` by file size and
  modification time (as git's index does), so a second look at a large set reads no audio; an edit
  changes the modification time and so is hashed again, even at the same size.
- **code**: the source of the modules that compute features, models, losses, training and metrics
  (not the plotting, book or command-line modules), so any change that can move a number counts.
- **run**: the resolved configuration, the data
  fingerprint and the code fingerprint.

:func:`differences` turns two fingerprints into sentences naming what changed.
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import cache
from pathlib import Path

from mtlsed import __version__

LABEL_FILES = ("classes.txt", "weak.tsv", "strong.tsv", "split.tsv")
HASH_CACHE = Path(".mtlsed") / "audio-sha256.tsv"
# Modules whose source does not change any number a run produces.
PRESENTATION = {
    "book.py",
    "plots.py",
    "notebook.py",
    "cli.py",
    "commands.py",  # argument parsing
    "errors.py",
    "envinfo.py",
    "separation.py",
    "__main__.py",
    "report.py",  # the results page
    "comparison.py",  # paired statistics, recomputed from the runs by every `reproduce`
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
        for line in cache_path.read_text().splitlines():
            name, stamp, sha = line.rsplit("\t", 2)
            known[name] = (stamp, sha)
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
            cache_path.parent.mkdir(exist_ok=True)
            tmp = cache_path.with_name(cache_path.name + f".{os.getpid()}.tmp")
            tmp.write_text("".join(f"{n}\t{s}\t{h}\n" for n, (s, h) in sorted(known.items())))
            os.replace(tmp, cache_path)
        except OSError:
            pass
    return out


def data_fingerprint(root: str | Path) -> dict[str, str]:
    """``{"audio": ..., "classes.txt": ..., "weak.tsv": ..., ..., "digest": ...}`` of a data set folder.

    ``audio`` covers the clips listed in ``weak.tsv`` (names and bytes); a label file that is absent
    has the value ``"absent"``.
    """
    from mtlsed.data.format import read_dataset

    index = read_dataset(root)
    hashes = audio_hashes(index.root, index.filenames, index.root / "audio")
    fp = {"audio": digest(sorted(hashes.items()))}
    for name in LABEL_FILES:
        path = index.root / name
        fp[name] = file_sha256(path)[:16] if path.is_file() else "absent"
    fp["digest"] = digest(fp)
    return fp


@cache
def code_fingerprint() -> str:
    """Hash of the source of every module that can change a result (package version included)."""
    package = Path(__file__).resolve().parent
    h = hashlib.sha256(__version__.encode())
    for path in sorted(package.rglob("*.py")):
        if path.name in PRESENTATION and path.parent == package:
            continue
        h.update(str(path.relative_to(package)).encode())
        h.update(path.read_bytes())
    return f"{__version__}+{h.hexdigest()[:12]}"


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
        out.append(f"code: mtlsed {saved.get('code')} then, {now.get('code')} now")
    return out
