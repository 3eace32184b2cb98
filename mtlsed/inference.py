"""One way to run a trained model: load a run, predict a split, look at single clips.

``mtlsed evaluate``, the training loop's validation and the notebooks all go through here, so
what the tables score is what the chapters show.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from mtlsed.config import Config
from mtlsed.data.dataset import SedDataset
from mtlsed.errors import UserError
from mtlsed.models import build_model
from mtlsed.models.output import SedOutput


def pick_device(name: str = "auto") -> torch.device:
    """``auto``: CUDA, then Apple MPS, then CPU; otherwise the named device."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    return torch.device(name)


def load_run(run_dir: str | Path, which: str = "best", device: str | torch.device = "cpu"):
    """The config, classes and model (in eval mode) of a run; ``which`` = ``best`` or ``last``."""
    run_dir = Path(run_dir)
    path = run_dir / f"{which}.pt"
    if not path.is_file():
        raise UserError(f"{path}: no checkpoint (has the run finished its first evaluation?)")
    cfg = Config.load(run_dir / "config.yaml")
    classes = (run_dir / "classes.txt").read_text().splitlines()
    state = torch.load(path, map_location=device, weights_only=False)
    model = build_model(cfg.model, len(classes), cfg.features.n_mels)
    model.load_state_dict(state["model"])
    return cfg, classes, model.to(device).eval()


def trained_on(run_dir: str | Path) -> Path:
    """The data set a run was trained on (recorded in its ``identity.json``)."""
    path = Path(run_dir) / "identity.json"
    recorded = json.loads(path.read_text()).get("data_path") if path.is_file() else None
    if not recorded:
        raise UserError(f"{run_dir}: the run does not record its data set; give it with --data DIR")
    if not Path(recorded).is_dir():
        raise UserError(f"{run_dir} was trained on {recorded}, which is gone; give the data with --data DIR")
    return Path(recorded)


def batches(dataset: SedDataset, batch_size: int):
    """Consecutive batches ``(x (B, T, F), clip labels (B, K), frame labels (B, K, T))`` of a split."""
    x, y, frames = dataset.tensors()
    for start in range(0, len(dataset), batch_size):
        yield x[start : start + batch_size], y[start : start + batch_size], frames[start : start + batch_size]


@torch.no_grad()
def outputs(
    model, dataset: SedDataset, device, batch_size: int = 16
) -> Iterator[tuple[SedOutput, torch.Tensor]]:
    """``(model output, clip labels (B, K))`` batch by batch over a split, the model in eval mode."""
    model.eval()
    for x, y, _ in batches(dataset, batch_size):
        yield model(x.to(device)), y


def predict(model, dataset: SedDataset, device, batch_size: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Clip ``(N, K)`` and frame ``(N, K, T)`` probabilities of every clip of ``dataset``."""
    clips, frames = [], []
    for out, _ in outputs(model, dataset, device, batch_size):
        clips.append(out.clip.float().cpu())
        frames.append(out.frame.float().cpu())
    return torch.cat(clips).numpy(), torch.cat(frames).numpy()


@torch.no_grad()
def predict_clips(run_dir: str | Path, data_dir: str | Path, indices, split: str = "test"):
    """The best model of ``run_dir`` on clips ``indices`` of a split, on the CPU.

    Returns ``(output, dataset, x (B, T, F))``: the full :class:`SedOutput` (masks included) of the
    clips, the split they come from and their normalised features.
    """
    cfg, classes, model = load_run(run_dir, "best", "cpu")
    dataset = SedDataset(data_dir, cfg, split)
    if dataset.classes != classes:
        raise UserError(f"{data_dir} has classes {dataset.classes}, the run was trained on {classes}")
    x = torch.stack([dataset[i][0] for i in indices])
    return model(x), dataset, x
