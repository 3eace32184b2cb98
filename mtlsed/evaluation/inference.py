"""One way to run a trained model: load a run, predict a split, look at single clips.

``mtlsed evaluate``, the training loop's validation and the notebooks all go through here, so
what the tables score is what the chapters show.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from mtlsed.core.errors import UserError
from mtlsed.features.dataset import SedDataset
from mtlsed.models import build_model
from mtlsed.models.output import SedOutput


def load_run(run_dir: str | Path, which: str = "best", device: str | torch.device = "cpu"):
    """The config, classes and model (in eval mode) of a run; ``which`` = ``best`` or ``last``.

    Every file is read through :class:`~mtlsed.runs.runfolder.RunFolder`: a damaged one is named.
    """
    from mtlsed.runs.runfolder import RunFolder

    run = RunFolder(run_dir)
    cfg, classes = run.config(), run.classes()
    state = run.load_checkpoint(which)
    model = build_model(cfg.model, len(classes), cfg.features.n_mels)
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as err:
        raise UserError(f"{run.file(which + '.pt')} does not fit the run's config.yaml ({err})") from None
    return cfg, classes, model.to(device).eval()


def trained_on(run_dir: str | Path) -> Path:
    """The data set a run was trained on (recorded in its ``identity.json``)."""
    from mtlsed.runs.runfolder import RunFolder

    return RunFolder(run_dir).data_path()


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
