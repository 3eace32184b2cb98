"""The log-mel feature cache of a data set, kept next to it in ``DIR/features/KEY/``.

``features.npy`` ``(N, T, F)`` (memory-mapped), ``filenames.txt``, ``stats.npz`` (per-band mean and std
of the training clips) and ``meta.json``. ``KEY`` hashes the feature configuration, the front end's
source, the audio and the split, so a change to any of them builds a new cache; a build that is
interrupted resumes where it stopped: it is written into a ``.partial`` folder renamed only when
complete, so a crash never leaves a cache that looks finished.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from mtlsed.config.settings import FeatureConfig
from mtlsed.core.atomic import write_json, write_text
from mtlsed.core.diskspace import reserve
from mtlsed.core.errors import UserError
from mtlsed.core.locks import held
from mtlsed.data.audio import load_audio
from mtlsed.data.format import read_dataset
from mtlsed.features.labels import FrameGrid
from mtlsed.features.logmel import LogMel


@dataclass
class FeatureCache:
    """A finished cache: ``features`` ``(N, T, F)`` memory-mapped, in ``filenames`` order."""

    path: Path
    filenames: list[str]
    mean: np.ndarray  # (F,)
    std: np.ndarray  # (F,)
    meta: dict

    @property
    def features(self) -> np.ndarray:
        return np.load(self.path / "features.npy", mmap_mode="r")

    def position(self) -> dict[str, int]:
        return {f: i for i, f in enumerate(self.filenames)}

    def norm_stats(self, cfg: FeatureConfig, train: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Per-band ``(mean, std)`` of the clips ``train`` in the domain of ``cfg.normalise``.

        ``dataset``: the cache's own statistics. Otherwise (``mtlsed.features.normalise``) they are computed
        once
        from the normalised training clips and kept in the cache folder, named by the settings.
        """
        if cfg.normalise == "dataset":
            return self.mean, self.std
        from mtlsed.core.hashing import digest
        from mtlsed.features.normalise import band_stats, normalise

        fields = dataclasses.asdict(cfg)
        settings = {k: v for k, v in fields.items() if k == "normalise" or k.startswith("pcen")}
        path = self.path / f"norm-{digest({**settings, 'train': sorted(train)})}.npz"
        if path.is_file():
            with np.load(path) as z:
                return z["mean"], z["std"]
        pos = self.position()
        rows = np.sort([pos[f] for f in train])
        zero, one = np.zeros_like(self.mean), np.ones_like(self.std)
        parts = []
        for i in range(0, len(rows), 256):  # the normalised training clips, a block at a time
            raw = torch.from_numpy(np.asarray(self.features[rows[i : i + 256]], dtype=np.float32))
            parts.append(normalise(raw, cfg, torch.from_numpy(zero), torch.from_numpy(one)).numpy())
        mean, std = band_stats(np.concatenate(parts))
        if cfg.normalise == "clip_band_mean":
            mean = np.zeros_like(mean)  # the clip's own mean is removed; only the scale is the dataset's
        mean, std = mean.astype(np.float32), std.astype(np.float32)
        from mtlsed.core.atomic import atomic_path

        with atomic_path(path, suffix=".npz") as tmp:
            np.savez(tmp, mean=mean, std=std)
        return mean, std

    @classmethod
    def open(cls, path: Path) -> FeatureCache:
        meta = json.loads((path / "meta.json").read_text())
        stats = np.load(path / "stats.npz")
        names = (path / "filenames.txt").read_text().splitlines()
        return cls(path, names, stats["mean"], stats["std"], meta)


def cache_key(root: Path, cfg: FeatureConfig, clip_seconds: float, index=None) -> str:
    """The cache's name: a hash of the feature configuration, the front end's source, the audio bytes
    and ``split.tsv`` (its training clips give the normalisation statistics)."""
    from mtlsed.core.code import module_fingerprint
    from mtlsed.core.hashing import digest
    from mtlsed.data.fingerprint import data_fingerprint

    data = data_fingerprint(root, index)
    source = [module_fingerprint(m) for m in ("features/logmel.py", "data/audio.py")]
    return digest(
        {
            "features": cfg.cache_fields(),
            "clip_seconds": clip_seconds,
            "audio": data["audio"],
            "split": data["split.tsv"],
            "source": source,
        }
    )


def build_feature_cache(
    root: str | Path,
    cfg: FeatureConfig,
    clip_seconds: float = 10.0,
    batch_size: int = 8,
    device: str | torch.device = "cpu",
    progress: bool | None = None,
    index=None,
) -> FeatureCache:
    """The cache of the data set at ``root`` for ``cfg``: opened if it exists, else built (resuming).

    Processes that ask for the same cache at once (a grid training two runs) take turns: the first
    builds it under a lock, the others wait and open it. ``index``: the set's index when already read.
    """
    index = index or read_dataset(root)
    key = cache_key(index.root, cfg, clip_seconds, index)
    final = index.root / "features" / key
    if (final / "meta.json").is_file():
        return FeatureCache.open(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    with held(final.with_name(key + ".lock"), "features", wait=True):  # another builder: wait, then reuse
        if (final / "meta.json").is_file():
            return FeatureCache.open(final)
        return _build(index, key, final, cfg, clip_seconds, batch_size, device, progress)


def _build(index, key, final, cfg, clip_seconds, batch_size, device, progress) -> FeatureCache:
    partial = final.with_name(key + ".partial")
    partial.mkdir(parents=True, exist_ok=True)
    names = index.filenames
    shape = (len(names), FrameGrid.for_clip(cfg, clip_seconds).n_frames, cfg.n_mels)
    arr_path, state_path = partial / "features.npy", partial / "progress.json"
    done = 0
    if state_path.is_file() and arr_path.is_file():
        state = json.loads(state_path.read_text())
        if state.get("shape") == list(shape):
            done = int(state["done"])
    if done == 0:
        arr = np.lib.format.open_memmap(arr_path, mode="w+", dtype=np.float32, shape=shape)
    else:
        arr = np.load(arr_path, mmap_mode="r+")
    reserve(arr_path, "the feature cache")  # a disk too small: a message here, not SIGBUS in a write
    front = LogMel(cfg).to(device)
    show = sys.stderr.isatty() if progress is None else progress
    with tqdm(total=len(names), initial=done, disable=not show, desc="log-mel", unit="clip") as bar:
        for start in range(done, len(names), batch_size):
            chunk = names[start : start + batch_size]
            waves = np.stack([load_audio(index.audio_path(n), cfg.sample_rate, clip_seconds) for n in chunk])
            with torch.no_grad():
                feats = front(torch.from_numpy(waves).to(device)).cpu().numpy()
            arr[start : start + len(chunk)] = feats
            arr.flush()
            write_json(state_path, {"shape": list(shape), "done": start + len(chunk)})
            bar.update(len(chunk))
    del arr
    train = set(index.files_in("train")) if index.split else set(names)
    mean, std = _band_stats(np.load(arr_path, mmap_mode="r"), [i for i, n in enumerate(names) if n in train])
    np.savez(partial / "stats.npz", mean=mean, std=std)
    write_text(partial / "filenames.txt", "".join(n + "\n" for n in names))
    meta = {
        "key": key,
        "features": cfg.cache_fields(),
        "clip_seconds": clip_seconds,
        "n_clips": len(names),
        "shape": list(shape),
        "stats_from": "train split" if index.split else "all clips",
    }
    write_json(partial / "meta.json", meta)
    state_path.unlink()
    if final.exists():  # left by a build that died between its rename and its meta.json
        shutil.rmtree(final)
    partial.rename(final)
    return FeatureCache.open(final)


def _band_stats(arr: np.ndarray, rows: list[int], chunk: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Per-band mean and std over the frames of ``rows`` of ``arr`` ``(N, T, F)``."""
    if not rows:
        raise UserError("no training clips to compute normalisation statistics from")
    total = np.zeros(arr.shape[2])
    total_sq = np.zeros(arr.shape[2])
    count = 0
    for i in range(0, len(rows), chunk):
        block = np.asarray(arr[rows[i : i + chunk]], dtype=np.float64)  # (n, T, F)
        total += block.sum(axis=(0, 1))
        total_sq += np.square(block).sum(axis=(0, 1))
        count += block.shape[0] * block.shape[1]
    mean = total / count
    std = np.sqrt(np.maximum(total_sq / count - mean**2, 1e-12))
    return mean.astype(np.float32), std.astype(np.float32)
