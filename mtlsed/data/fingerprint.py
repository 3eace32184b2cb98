"""The fingerprint of a data set's content: every audio file's bytes and the label files (what, not where).
A run, a feature cache and a grid record it and are reused only while it is the one of now."""

from __future__ import annotations

from pathlib import Path

from mtlsed.core.hashing import digest, file_sha256
from mtlsed.data.format import read_dataset
from mtlsed.data.hashes import audio_hashes

LABEL_FILES = ("classes.txt", "weak.tsv", "strong.tsv", "split.tsv")


def data_fingerprint(root: str | Path, index=None) -> dict[str, str]:
    """``{"audio": ..., "classes.txt": ..., "weak.tsv": ..., ..., "digest": ...}`` of a data set folder.

    ``audio`` covers the clips listed in ``weak.tsv`` (names and bytes); a label file that is absent
    has the value ``"absent"``. ``index``: the folder's :class:`DatasetIndex` when the caller has read it.
    """
    index = index or read_dataset(root)
    hashes = audio_hashes(index.root, index.filenames, index.root / "audio")
    fp = {"audio": digest(sorted(hashes.items()))}
    for name in LABEL_FILES:
        path = index.root / name
        fp[name] = file_sha256(path)[:16] if path.is_file() else "absent"
    fp["digest"] = digest(fp)
    return fp
