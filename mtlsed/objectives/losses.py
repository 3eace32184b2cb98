"""The losses of the paper (Eq. 3-7): soft dice, segment loss, silent loss, and the clip BCE.

Masks are ``(B, K, T, F)`` in [0, 1]. Per clip n, with active set Omega_n:

- ``dice(A, B) = 2 sum(A B) / (sum A + sum B + eps)``                    (Eq. 3)
- segment loss: sum over *ordered* pairs i != j in Omega_n of dice(M_i, M_j)  (Eq. 4-6)
- silent loss: sum over inactive i of mean_{t,f} |M_i(t, f)|            (Eq. 7)
- total: ``l1 BCE + l2 segment + l3 silent``: :mod:`mtlsed.objectives.total` (Eq. 8)

Batch losses are means over clips. All dice values of a clip come from one Gram
matrix of the flattened masks (one batched matmul), and the segment loss only
forms the Gram of the *active* masks, so its cost does not grow with K.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

PROB_CLAMP = 1e-7


def pairwise_dice(masks: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """Soft dice of every class pair: ``(B, K, T, F)`` -> ``(B, K, K)`` (symmetric, from one Gram matrix)."""
    flat = masks.flatten(2).float()  # (B, K, N)
    inter = torch.bmm(flat, flat.transpose(1, 2))  # (B, K, K): sum_tf M_i M_j
    sizes = flat.sum(-1)  # (B, K)
    return 2 * inter / (sizes[:, :, None] + sizes[:, None, :] + eps)


def select_active(
    clip_probs: torch.Tensor, labels: torch.Tensor | None, mode: str, topk: int = 2
) -> torch.Tensor:
    """The active set of each clip as a ``(B, K)`` boolean.

    ``label``: the labelled classes (Eq. 5). ``topk``: the ``topk`` classes with
    the highest predicted clip probability (Eq. 6); no labels are used.
    """
    if mode == "label":
        if labels is None:
            raise ValueError("label-guided selection needs the clip labels")
        return labels > 0.5
    if mode == "topk":
        n_classes = clip_probs.shape[1]
        if not 1 <= topk <= n_classes:
            raise ValueError(f"topk = {topk} must be between 1 and the number of classes K = {n_classes}")
        idx = clip_probs.detach().topk(topk, dim=1).indices
        return torch.zeros_like(clip_probs, dtype=torch.bool).scatter_(1, idx, True)
    raise ValueError(f"unknown selection {mode!r}; expected 'label' or 'topk'")


def segment_loss(masks: torch.Tensor, active: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """Mean over clips of the dice summed over ordered pairs of active classes (Eq. 4-6).

    Clips with fewer than two active classes contribute 0. Only the active
    masks are gathered into a ``(B, A, T*F)`` block, A = the largest active set.
    """
    active = active.bool()
    n_active = active.sum(1)  # (B,)
    a = int(n_active.max()) if active.numel() else 0
    if a < 2:
        return masks.sum() * 0.0  # keeps the graph (and the device) of the masks
    # Active class indices first, in class order: a stable sort of ~active.
    order = torch.sort((~active).to(torch.int8), dim=1, stable=True).indices[:, :a]  # (B, A)
    valid = torch.arange(a, device=masks.device)[None, :] < n_active[:, None]  # (B, A)
    flat = masks.flatten(2)
    gathered = torch.gather(flat, 1, order[:, :, None].expand(-1, -1, flat.shape[-1])).float()  # (B, A, N)
    gathered = gathered * valid[:, :, None]
    inter = torch.bmm(gathered, gathered.transpose(1, 2))
    sizes = gathered.sum(-1)
    dice = 2 * inter / (sizes[:, :, None] + sizes[:, None, :] + eps)  # (B, A, A)
    pair = valid[:, :, None] & valid[:, None, :] & ~torch.eye(a, dtype=torch.bool, device=masks.device)
    return (dice * pair).sum((1, 2)).mean()


def silent_loss(masks: torch.Tensor, inactive: torch.Tensor) -> torch.Tensor:
    """Mean over clips of the sum over inactive classes of mean_{t,f} |M| (Eq. 7)."""
    per_class = masks.float().abs().mean((2, 3))  # (B, K)
    return (per_class * inactive.float()).sum(1).mean()


def bce_loss(clip_probs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of clip probabilities (clamped away from 0 and 1), mean over clips and classes."""
    p = clip_probs.float().clamp(PROB_CLAMP, 1 - PROB_CLAMP)
    return F.binary_cross_entropy(p, labels.float())
