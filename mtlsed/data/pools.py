"""Event and background sources backed by audio files (real data sets).

They have the same ``draw`` interface as the embedded synthetic sources, so the
mixing code does not know where its sounds come from.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from mtlsed.core.errors import FormatError
from mtlsed.data.audio import load_audio
from mtlsed.data.splits import split_sizes


class FileEvents:
    """Events drawn from labelled files: ``items`` is a list of ``(path, label)``."""

    def __init__(self, items: list[tuple[Path, str]], sr: int, classes: list[str] | None = None):
        self.sr = sr
        self.by_class: dict[str, list[Path]] = {}
        for path, label in items:
            self.by_class.setdefault(label, []).append(Path(path))
        self.classes = list(classes) if classes else sorted(self.by_class)
        empty = [c for c in self.classes if not self.by_class.get(c)]
        if empty:
            raise FormatError(f"no files for class(es) {empty} in this split")

    def __len__(self) -> int:
        return sum(len(v) for v in self.by_class.values())

    def draw(self, rng: np.random.Generator, label: str) -> np.ndarray:
        files = self.by_class[label]
        y = load_audio(files[int(rng.integers(len(files)))], self.sr)
        return y / (np.max(np.abs(y)) + 1e-12)


class FileBackgrounds:
    """Backgrounds drawn from recordings: a random excerpt, looped if too short, RMS 1."""

    def __init__(self, paths: list[Path], sr: int):
        if not paths:
            raise FormatError("no background files in this split")
        self.paths = [Path(p) for p in paths]
        self.sr = sr

    def __len__(self) -> int:
        return len(self.paths)

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        y = load_audio(self.paths[int(rng.integers(len(self.paths)))], self.sr)
        if len(y) < n:
            y = np.tile(y, int(np.ceil(n / len(y))))
        start = int(rng.integers(0, len(y) - n + 1))
        y = y[start : start + n]
        return (y / (np.sqrt(np.mean(y.astype(np.float64) ** 2)) + 1e-12)).astype(np.float32)


def min_group_size(val_fraction: float, test_fraction: float) -> int:
    """The fewest files :func:`split_files` can split into train, val and test with these fractions (each
    non-zero fraction takes at least one file, and train keeps one)."""
    n = 1
    while True:
        sizes = split_sizes(n, val_fraction, test_fraction, at_least_one=True)
        if n >= sizes["test"] + sizes["val"] + 1:
            return n
        n += 1


def split_files(items: list, seed: int, val_fraction: float, test_fraction: float, key=None) -> dict:
    """Split ``items`` into train/val/test reproducibly; with ``key`` each group is split apart.

    Each group's sizes are :func:`~mtlsed.data.splits.split_sizes` (``val_fraction`` of the items that are
    not test items), at least one item in each split whose fraction is above 0.

    Grouping by class keeps every class present in every split.
    """
    groups: dict = {}
    for item in items:
        groups.setdefault(key(item) if key else None, []).append(item)
    out: dict[str, list] = {"train": [], "val": [], "test": []}
    for g, members in sorted(groups.items(), key=lambda kv: str(kv[0])):
        rng = np.random.default_rng([seed, zlib.crc32(str(g).encode())])  # stable across runs
        order = rng.permutation(len(members))
        sizes = split_sizes(len(members), val_fraction, test_fraction, at_least_one=True)
        n_test, n_val = sizes["test"], sizes["val"]
        if len(members) < n_test + n_val + 1:
            raise FormatError(
                f"group {g!r} has {len(members)} file(s), too few to split train/val/test: it needs at least "
                f"{min_group_size(val_fraction, test_fraction)}"
            )
        for j, idx in enumerate(order):
            split = "test" if j < n_test else ("val" if j < n_test + n_val else "train")
            out[split].append(members[idx])
    return out
