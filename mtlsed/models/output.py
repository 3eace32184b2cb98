"""The one output type every model returns."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class SedOutput:
    """What a model predicts for a batch.

    clip:  ``(B, K)`` clip-level probabilities.
    frame: ``(B, K, T)`` frame-level probabilities at the input frame rate.
    masks: ``(B, K, T, F)`` time-frequency masks in [0, 1], or None for models without masks.
    """

    clip: torch.Tensor
    frame: torch.Tensor
    masks: torch.Tensor | None = None
