"""Eq. (8): the weighted total of the paper's losses (:mod:`mtlsed.objectives.losses`) and of the mask
constraints beyond the paper (:mod:`mtlsed.objectives.constraints`), term by term for the log."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from mtlsed.config.settings import LossConfig
from mtlsed.core.errors import ConfigError
from mtlsed.core.vocabulary import EXTRA_LOSS_TERMS, LOSS_TERMS
from mtlsed.models.output import SedOutput
from mtlsed.objectives import constraints
from mtlsed.objectives.losses import bce_loss, segment_loss, select_active, silent_loss


@dataclass
class LossTerms:
    """The total of Eq. (8) (with the terms beyond the paper) and each term, for the optimiser and logging."""

    total: torch.Tensor
    bce: torch.Tensor
    segment: torch.Tensor
    silent: torch.Tensor
    cosine: torch.Tensor | None = None
    judge: torch.Tensor | None = None
    consistency: torch.Tensor | None = None

    def __post_init__(self):
        for name in EXTRA_LOSS_TERMS:
            if getattr(self, name) is None:
                setattr(self, name, self.bce.new_zeros(()))

    def as_dict(self) -> dict[str, float]:
        return {k: float(getattr(self, k).detach()) for k in ("total", *LOSS_TERMS)}


# the weights of the terms that need masks (the cosine penalty only with cosine_on=mask)
_MASK_WEIGHTS = ("segment_weight", "silent_weight", "judge_weight", "consistency_weight")


def total_loss(
    out: SedOutput,
    labels: torch.Tensor,
    cfg: LossConfig,
    raw: torch.Tensor | None = None,
    judge=None,
    log_eps: float = 1e-8,
) -> LossTerms:
    """Eq. (8) with the weights and the active-set rule of ``cfg``, plus the terms beyond the paper.

    ``raw`` ``(B, T, F)``: the batch's raw log-mel, and ``judge``: a function from separated raw inputs
    ``(B, A, T, F)`` to the detector's clip probabilities ``(B, A, K)``, for the separation terms
    (``loss.judge_weight``, ``loss.consistency_weight``; :mod:`mtlsed.objectives.constraints`). Without them
    (the
    validation loss) those two terms are left out.
    """
    bce = bce_loss(out.clip, labels)
    zero = bce.new_zeros(())
    needs_masks = cfg.segment_weight > 0 or cfg.silent_weight > 0 or cfg.uses_input()
    needs_masks |= cfg.cosine_weight > 0 and cfg.cosine_on == "mask"
    if needs_masks and out.masks is None:
        on = [f"loss.{k}={getattr(cfg, k)}" for k in _MASK_WEIGHTS if getattr(cfg, k) > 0]
        if cfg.cosine_weight > 0 and cfg.cosine_on == "mask":
            on.append(f"loss.cosine_weight={cfg.cosine_weight} with loss.cosine_on=mask")
        raise ConfigError(
            f"this model gives no masks, so these terms cannot be computed: {', '.join(on)}; set them to 0 "
            "(loss.cosine_on=frame works for any model)"
        )
    segment = silent = cosine = judged = consistency = zero
    if cfg.segment_weight > 0 or cfg.silent_weight > 0:
        active = select_active(out.clip, labels, cfg.selection, cfg.topk)
        if cfg.segment_weight > 0:
            segment = segment_loss(out.masks, active, cfg.dice_eps)
        if cfg.silent_weight > 0:
            silent = silent_loss(out.masks, ~active)
    if cfg.cosine_weight > 0 or (cfg.uses_input() and raw is not None):
        positive = labels > 0.5
        if cfg.cosine_weight > 0:
            cosine = constraints.cosine_penalty_of(out, positive, on=cfg.cosine_on)
        if cfg.consistency_weight > 0 and raw is not None:
            consistency = constraints.mixture_consistency(
                out.masks, raw, positive, log_eps, cfg.consistency_mode
            )
        if cfg.judge_weight > 0 and raw is not None and judge is not None:
            index, valid = constraints.active_index(positive)
            if index.shape[1]:
                probs = judge(constraints.separated_inputs(raw, out.masks, index, log_eps))
                judged = constraints.judge_loss(probs, index, valid)
    total = cfg.bce_weight * bce + cfg.segment_weight * segment + cfg.silent_weight * silent
    total = (
        total + cfg.cosine_weight * cosine + cfg.judge_weight * judged + cfg.consistency_weight * consistency
    )
    return LossTerms(total, bce, segment, silent, cosine, judged, consistency)
