"""The torch Dataset over a feature cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from mtlsed.config.settings import Config
from mtlsed.data.format import DatasetIndex, read_dataset
from mtlsed.features.cache import FeatureCache, build_feature_cache
from mtlsed.features.labels import FrameGrid, clip_labels


class SedDataset(torch.utils.data.Dataset):
    """Items ``(features (T, F), clip labels (K,), frame labels (K, T))`` of one split.

    Features are normalised with the training split's per-band statistics.
    Frame labels are all zero for clips without strong labels; ``has_strong``
    says which clips have them.
    """

    def __init__(
        self,
        root: str | Path,
        cfg: Config,
        split: str | None = None,
        cache: FeatureCache | None = None,
        index: DatasetIndex | None = None,
    ):
        self.index: DatasetIndex = index or read_dataset(root)
        self.cfg = cfg
        self.cache = cache or build_feature_cache(root, cfg.features, cfg.data.clip_seconds, index=self.index)
        self.split = split
        self.filenames = self.index.files_in(split)
        pos = self.cache.position()
        self.rows = np.array([pos[f] for f in self.filenames], dtype=np.int64)
        self.classes = self.index.classes
        n_frames = self.cache.meta["shape"][1]
        self.grid = FrameGrid.of(cfg.features, n_frames)
        self.times = self.grid.centres
        self.clip_labels = clip_labels(self.index.weak, self.filenames, self.classes)
        self.has_strong = np.array([self.index.has_strong(f) for f in self.filenames])
        self._features = None
        self._tensors = None

    def __len__(self) -> int:
        return len(self.filenames)

    def frame_labels(self, i: int) -> np.ndarray:
        events = self.index.strong.get(self.filenames[i], []) if self.index.strong else []
        return self.grid.frame_labels(events, self.classes)

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The whole split in memory: features ``(N, T, F)`` (normalised), clip labels ``(N, K)``, frame
        labels ``(N, K, T)``.

        Built once and kept: the trainer indexes batches out of them, which is several times faster on a
        CPU than collating one item at a time through a DataLoader (600 clips of 311 x 64 take 48 MB).
        """
        if self._tensors is None:
            x = self.normalised(self._raw())
            frames = np.stack([self.frame_labels(i) for i in range(len(self))]) if len(self) else None
            self._tensors = (
                torch.from_numpy(x.astype(np.float32, copy=False)),
                torch.from_numpy(self.clip_labels),
                torch.from_numpy(frames) if frames is not None else torch.zeros(0),
            )
        return self._tensors

    def _raw(self) -> np.ndarray:
        """The split's raw (not normalised) log-mel ``(N, T, F)``, in split order."""
        feats = np.asarray(self.cache.features[np.sort(self.rows)], dtype=np.float32)
        return feats[np.argsort(np.argsort(self.rows))]  # back to split order (sorted reads are faster)

    def raw_features(self) -> torch.Tensor:
        """The split's raw log-mel ``(N, T, F)`` (what augmentation works on, before normalisation)."""
        return torch.from_numpy(self._raw())

    def normalised(self, raw: np.ndarray) -> np.ndarray:
        """Raw log-mel ``(N, T, F)`` as the model's input, by ``features.normalise`` (the one place a split is
        normalised): ``dataset`` in numpy (``(x - mean) / std``, bit for bit what
        :func:`mtlsed.features.normalise.normalise` computes), the others through that function."""
        if self.cfg.features.normalise == "dataset":
            return (raw - self.cache.mean) / self.cache.std
        from mtlsed.features.normalise import normalise

        mean, std = (torch.from_numpy(s) for s in self.norm_stats())
        return normalise(
            torch.from_numpy(np.require(raw, np.float32, "W")), self.cfg.features, mean, std
        ).numpy()

    def norm_stats(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-band ``(mean (F,), std (F,))`` of the training split in the domain of ``features.normalise``
        (:func:`mtlsed.features.normalise.normalise` takes them); computed once per cache and setting, then
        kept."""
        return self.cache.norm_stats(self.cfg.features, self.index.files_in("train"))

    def __getitem__(self, i: int):
        if self._features is None:  # opened lazily: each DataLoader worker maps the file itself
            self._features = self.cache.features
        raw = np.asarray(self._features[self.rows[i]])
        return (
            torch.from_numpy(self.normalised(raw[None])[0].astype(np.float32, copy=False)),
            torch.from_numpy(self.clip_labels[i]),
            torch.from_numpy(self.frame_labels(i)),
        )
