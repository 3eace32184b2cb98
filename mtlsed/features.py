"""Log-mel front end (torch, batched, CPU or GPU), its librosa reference, and the feature cache.

The torch module and :func:`logmel_librosa` compute the same thing: the power
STFT with a periodic Hann window, librosa's Slaney mel filter bank, and
``log(mel + eps)``; they agree to about 1e-5 on the log scale.

The cache holds the features of every clip of a data set in one array
``(N, T, F)`` on disk (memory-mapped when read), with the clip order and the
per-band mean and standard deviation of the training split. Its folder name is
a hash of the feature configuration, the front end's source, the bytes of every
audio file and ``split.tsv`` (:mod:`mtlsed.identity`), so changing any of them
builds a new cache. It is written into a
``.partial`` folder that is renamed only when complete: a crash never leaves a
cache that looks finished, and the next call resumes from the last chunk saved.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import librosa
import numpy as np
import torch
from tqdm import tqdm

from mtlsed.audio import load_audio
from mtlsed.config import FeatureConfig
from mtlsed.data.format import read_dataset


def mel_filterbank(cfg: FeatureConfig) -> np.ndarray:
    """``(F, n_fft // 2 + 1)`` Slaney-normalised mel filters, as librosa uses them."""
    return librosa.filters.mel(
        sr=cfg.sample_rate, n_fft=cfg.n_fft, n_mels=cfg.n_mels, fmin=cfg.fmin, fmax=cfg.f_max
    )


class LogMel(torch.nn.Module):
    """Waveforms ``(B, S)`` -> log-mel spectrograms ``(B, T, F)``."""

    def __init__(self, cfg: FeatureConfig):
        super().__init__()
        self.cfg = cfg
        self.register_buffer("window", torch.hann_window(cfg.win_length, periodic=True), persistent=False)
        fb = torch.from_numpy(mel_filterbank(cfg).T.copy())  # (n_freq, F)
        self.register_buffer("mel_fb", fb, persistent=False)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        if wave.dim() == 1:
            wave = wave.unsqueeze(0)
        spec = torch.stft(
            wave.float(),
            n_fft=self.cfg.n_fft,
            hop_length=self.cfg.hop_length,
            win_length=self.cfg.win_length,
            window=self.window,
            center=self.cfg.center,
            pad_mode="constant",  # librosa's default since 0.10
            return_complex=True,
        )  # (B, n_freq, T)
        power = spec.real.square() + spec.imag.square()
        mel = torch.matmul(power.transpose(1, 2), self.mel_fb)  # (B, T, F)
        return torch.log(mel + self.cfg.log_eps)


def logmel(y: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """Log-mel ``(T, F)`` of one waveform ``(S,)`` with the torch front end (no gradient)."""
    with torch.no_grad():
        return LogMel(cfg)(torch.from_numpy(np.asarray(y, dtype=np.float32)))[0].numpy()


def logmel_librosa(y: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """Reference log-mel of one waveform ``(S,)`` with librosa: ``(T, F)``."""
    mel = librosa.feature.melspectrogram(
        y=np.asarray(y, dtype=np.float32),
        sr=cfg.sample_rate,
        n_fft=cfg.n_fft,
        hop_length=cfg.hop_length,
        win_length=cfg.win_length,
        window="hann",
        center=cfg.center,
        pad_mode="constant",
        power=2.0,
        n_mels=cfg.n_mels,
        fmin=cfg.fmin,
        fmax=cfg.f_max,
    )
    return np.log(mel + cfg.log_eps).T.astype(np.float32)


# -- cache ------------------------------------------------------------------------


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

    @classmethod
    def open(cls, path: Path) -> FeatureCache:
        meta = json.loads((path / "meta.json").read_text())
        stats = np.load(path / "stats.npz")
        names = (path / "filenames.txt").read_text().splitlines()
        return cls(path, names, stats["mean"], stats["std"], meta)


def cache_key(root: Path, cfg: FeatureConfig, clip_seconds: float) -> str:
    """The cache's name: a hash of the feature configuration, the front end's source, the audio bytes
    and ``split.tsv`` (its training clips give the normalisation statistics)."""
    from mtlsed.identity import data_fingerprint, digest

    data = data_fingerprint(root)
    source = [hash_source(m) for m in ("features", "audio")]
    return digest(
        {
            "features": dataclasses.asdict(cfg),
            "clip_seconds": clip_seconds,
            "audio": data["audio"],
            "split": data["split.tsv"],
            "source": source,
        }
    )


def hash_source(module: str) -> str:
    """sha256 of the source of ``mtlsed.<module>``."""
    path = Path(__file__).resolve().parent / f"{module}.py"
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    tmp.replace(path)


def build_feature_cache(
    root: str | Path,
    cfg: FeatureConfig,
    clip_seconds: float = 10.0,
    batch_size: int = 8,
    device: str | torch.device = "cpu",
    progress: bool | None = None,
) -> FeatureCache:
    """The cache of the data set at ``root`` for ``cfg``: opened if it exists, else built (resuming).

    Processes that ask for the same cache at once (a grid training two runs) take turns: the first
    builds it under a lock, the others wait and open it.
    """
    index = read_dataset(root)
    key = cache_key(index.root, cfg, clip_seconds)
    final = index.root / "features" / key
    if (final / "meta.json").is_file():
        return FeatureCache.open(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    with _locked(final.with_name(key + ".lock")):
        if (final / "meta.json").is_file():
            return FeatureCache.open(final)
        return _build(index, key, final, cfg, clip_seconds, batch_size, device, progress)


@contextmanager
def _locked(path: Path):
    """An exclusive advisory lock on ``path`` (POSIX); elsewhere, no lock."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _build(index, key, final, cfg, clip_seconds, batch_size, device, progress) -> FeatureCache:
    partial = final.with_name(key + ".partial")
    partial.mkdir(parents=True, exist_ok=True)
    names = index.filenames
    n_samples = int(round(clip_seconds * cfg.sample_rate))
    shape = (len(names), cfg.n_frames(n_samples), cfg.n_mels)
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
            _write_json(state_path, {"shape": list(shape), "done": start + len(chunk)})
            bar.update(len(chunk))
    del arr
    train = set(index.files_in("train")) if index.split else set(names)
    mean, std = _band_stats(np.load(arr_path, mmap_mode="r"), [i for i, n in enumerate(names) if n in train])
    np.savez(partial / "stats.npz", mean=mean, std=std)
    (partial / "filenames.txt").write_text("".join(n + "\n" for n in names))
    meta = {
        "key": key,
        "features": dataclasses.asdict(cfg),
        "clip_seconds": clip_seconds,
        "n_clips": len(names),
        "shape": list(shape),
        "stats_from": "train split" if index.split else "all clips",
    }
    _write_json(partial / "meta.json", meta)
    state_path.unlink()
    if final.exists():  # left by a build that died between its rename and its meta.json
        shutil.rmtree(final)
    partial.rename(final)
    return FeatureCache.open(final)


def _band_stats(arr: np.ndarray, rows: list[int], chunk: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Per-band mean and std over the frames of ``rows`` of ``arr`` ``(N, T, F)``."""
    if not rows:
        raise ValueError("no training clips to compute normalisation statistics from")
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
