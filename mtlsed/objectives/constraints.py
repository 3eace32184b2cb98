"""Two published alternatives to the paper's mask constraints (dice segment loss, silent loss), as loss terms.

**Cosine-similarity penalty** (Pellegrini & Cances, IJCNN 2019, arXiv 1901.03146). For each clip, the
cosine similarity between the temporal predictions of every pair of *positive* (labelled) classes is
added to the loss, so that two classes of one clip stop predicting the same frames::

    P_n = sum_{i in P_n} sum_{j in P_n, j != i} cos(y_i, y_j),   cos(a, b) = <a, b> / (|a| |b|)

over the *ordered* pairs (each unordered pair counted twice) of the positive set P_n of clip n; clips
with fewer than two positives give 0. Here it applies to the frame probabilities ``(B, K, T)`` of any
model, or to the masks ``(B, K, T, F)`` flattened over (T, F). See :func:`cosine_penalty`.

**Separation judged by a classifier, and mixture consistency** (Pishdadian, Wichern & Le Roux, IEEE/ACM
TASLP 2020, arXiv 1911.02182; conference version "Learning to separate sounds from weakly labeled
scenes", ICASSP 2020). A separator predicts one mask per class; the classifier applied to the separated
source of class k must output the weak label of class k for class k and 0 for every other class (other
active classes included); the separated sources must add up to the mixture. Here the separator is the
mask head of the detector and the classifier is the detector itself, applied to the separated inputs:

- :func:`active_index` gathers the active classes of each clip (as ``mtlsed.objectives.losses.segment_loss``
does),
- :func:`separated_inputs` makes the raw log-mel of each gathered class's separated source,
- :func:`judge_loss` is the classification loss on those sources,
- :func:`mixture_consistency` asks the separated energies of the active classes to add up to the mixture.

Typical use, with ``model`` the detector, ``x_raw`` the raw log-mel, ``out = model(x)`` and
``normalise`` from :mod:`mtlsed.features.normalise` (mind the detector's batch-norm statistics in train
mode)::

    index, valid = active_index(labels > 0.5)                              # (B, A), (B, A)
    sep = separated_inputs(x_raw, out.masks, index, cfg.features.log_eps)   # (B, A, T, F), raw
    probs = model(normalise(sep.flatten(0, 1), cfg.features, mean, std)).clip.view(B, A, K)
    loss = judge_loss(probs, index, valid) + lam * mixture_consistency(
        out.masks, x_raw, labels > 0.5, cfg.features.log_eps)

Sources of the text: the two papers' full texts could not be read from this machine (no internet; the
stored copies reachable here hold only their abstracts). The cosine penalty follows the authors' public
notebook (github.com/topel/ijcnn19_submission, ``ijcnn2019-sed-cosine.ipynb``, functions
``keras_cosine_distance``, ``keras_cosine_penalty``, ``MIL_loss``); the judge and consistency terms
follow the two abstracts quoted in the function docstrings. No paper equation numbers are given here
because none could be checked; every choice not fixed by those sources is marked **[choice]**.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from mtlsed.models.output import SedOutput
from mtlsed.objectives.losses import PROB_CLAMP

COS_EPS = 1e-7


def _floating(x: torch.Tensor) -> torch.Tensor:
    """``x`` in float32, or float64 when it already is (so tests can compare in double precision)."""
    return x if x.dtype in (torch.float32, torch.float64) else x.float()


def active_index(active: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The active classes of each clip, padded: ``(B, K)`` bool -> ``index (B, A)`` long, ``valid (B, A)``.

    ``A`` is the largest number of active classes in the batch (0 when no class is active anywhere).
    Row b lists the active classes of clip b in class order, then (``valid`` False) inactive classes as
    padding: padded entries are real class indices, so they can be gathered, but must be ignored.
    Same gathering as :func:`mtlsed.objectives.losses.segment_loss` (a stable sort of ``~active``).
    """
    active = active.bool()
    n_active = active.sum(1)  # (B,)
    a = int(n_active.max()) if active.numel() else 0
    order = torch.sort((~active).to(torch.int8), dim=1, stable=True).indices[:, :a]  # (B, A)
    valid = torch.arange(a, device=active.device)[None, :] < n_active[:, None]  # (B, A)
    return order, valid


def gather_classes(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Rows of the classes in ``index``: ``x (B, K, ...)``, ``index (B, A)`` -> ``(B, A, ...)``."""
    idx = index.reshape(*index.shape, *([1] * (x.dim() - 2))).expand(*index.shape, *x.shape[2:])
    return torch.gather(x, 1, idx)


# ----------------------------------------------------------------------------------------------------
# Cosine-similarity penalty (Pellegrini & Cances 2019)
# ----------------------------------------------------------------------------------------------------


def pairwise_cosine(x: torch.Tensor, eps: float = COS_EPS) -> torch.Tensor:
    """Cosine similarity of every pair of rows: ``(B, A, N)`` -> ``(B, A, A)`` (one batched Gram matrix).

    ``cos(a, b) = <a, b> / (max(|a|, eps) max(|b|, eps))``: the exact cosine unless a row is (nearly)
    all zeros, which then has similarity 0 with everything, and finite gradients (the norms are taken as
    ``sqrt(max(sum a^2, eps^2))``, never ``sqrt(0)``).
    """
    x = _floating(x)
    gram = torch.bmm(x, x.transpose(1, 2))  # (B, A, A): <x_i, x_j>
    norms = x.square().sum(-1).clamp(min=eps * eps).sqrt()  # (B, A)
    return gram / (norms[:, :, None] * norms[:, None, :])


def cosine_penalty(
    x: torch.Tensor, positive: torch.Tensor, eps: float = COS_EPS, divide_by_classes: bool = True
) -> torch.Tensor:
    """The cosine-similarity penalty of Pellegrini & Cances (2019), mean over clips.

    ``x``: per-class predictions ``(B, K, T)`` (frame probabilities) or ``(B, K, T, F)`` (masks, flattened
    over T and F); ``positive``: ``(B, K)`` bool, the labelled classes of each clip.

    Per clip n, with P_n its positive classes and ``cos`` of :func:`pairwise_cosine`::

        P_n = sum over ordered pairs (i, j), i != j, both in P_n, of cos(x_i, x_j)   [/ K]

    - **which pairs**: only the positive (ground-truth) classes of the clip, as the paper and the
      authors' code (``keras_cosine_distance`` masks the predictions by ``y_true``); negative classes
      take no part. Clips with fewer than two positives contribute 0.
    - **ordered pairs (sum, not mean)**: the authors' ``keras_cosine_penalty`` sums each positive
      class's row of the cosine matrix and subtracts the diagonal, i.e. sums both (i, j) and (j, i).
      Here the diagonal is excluded exactly (their subtraction of 1 assumes cos(x_i, x_i) = 1, which
      fails for an all-zero row); everything else is the same.
    - **``/ K`` (``divide_by_classes=True``, default)**: their penalty is a ``(batch, classes)`` tensor
      added to the per-class BCE, and Keras averages a loss over its last axis, so the penalty that their
      coefficient multiplies is the ordered-pair sum divided by the number of classes K. With
      ``mtlsed.objectives.losses.bce_loss`` (also a mean over classes) the same division keeps their
      coefficient
      meaningful. ``divide_by_classes=False`` gives the plain ordered-pair sum, on the scale of
      ``mtlsed.objectives.losses.segment_loss`` (which sums dice over ordered pairs).
    - **batch**: mean over clips (the Keras batch mean; also how ``mtlsed.objectives.losses`` averages).

    **[choice]** ``eps`` guards the norms (their code adds Keras' epsilon 1e-7 to each norm). On masks
    (not in the paper, which had frame predictions only) the vectors are the flattened T-F masks.
    Only the positive rows are gathered, so the cost is O(B A^2 N) whatever K is.
    """
    positive = positive.bool()
    n_classes = positive.shape[1]
    index, valid = active_index(positive)
    a = index.shape[1]
    if a < 2:
        return x.sum() * 0.0  # keeps the graph (and the device) of x
    rows = gather_classes(x.flatten(2), index) * valid[:, :, None]  # (B, A, N), padded rows zeroed
    cos = pairwise_cosine(rows, eps)  # (B, A, A)
    pair = valid[:, :, None] & valid[:, None, :] & ~torch.eye(a, dtype=torch.bool, device=x.device)
    per_clip = (cos * pair).sum((1, 2))  # (B,)
    if divide_by_classes:
        per_clip = per_clip / n_classes
    return per_clip.mean()


def cosine_input(out: SedOutput, on: str = "frame") -> torch.Tensor:
    """What the cosine penalty compares: ``out.frame`` ``(B, K, T)`` or ``out.masks`` ``(B, K, T, F)``."""
    if on == "frame":
        return out.frame
    if on == "mask":
        if out.masks is None:
            raise ValueError("this model gives no masks; use the cosine penalty with on='frame'")
        return out.masks
    raise ValueError(f"unknown cosine penalty input {on!r}; expected 'frame' or 'mask'")


def cosine_penalty_of(
    out: SedOutput,
    positive: torch.Tensor,
    on: str = "frame",
    eps: float = COS_EPS,
    divide_by_classes: bool = True,
) -> torch.Tensor:
    """:func:`cosine_penalty` on a model's frame probabilities (``on='frame'``) or masks (``on='mask'``)."""
    return cosine_penalty(cosine_input(out, on), positive, eps, divide_by_classes)


# ----------------------------------------------------------------------------------------------------
# Separation judged by a classifier, and mixture consistency (Pishdadian, Wichern & Le Roux 2020)
# ----------------------------------------------------------------------------------------------------


def separated_inputs(
    logmel_raw: torch.Tensor, masks: torch.Tensor, index: torch.Tensor, log_eps: float
) -> torch.Tensor:
    """Raw log-mel of the separated sources of the classes in ``index``: ``(B, T, F)``, ``(B, K, T, F)``,
    ``(B, A)`` -> ``(B, A, T, F)``.

    The mask acts on the mel *energies*: with ``L = log(E + eps)`` the mixture's raw log-mel (so
    ``E = exp(L) - eps``, the front end's ``log_eps``) and ``M`` the mask of class ``index[b, a]``,
    the separated source has energy ``M E`` and raw log-mel::

        log(M E + eps) = L + log(M + (1 - M) r),   r = eps exp(-L) = exp(log(eps) - L)

    which is exact, and stable: ``L >= log(eps)`` gives ``r`` in (0, 1], so ``M + (1 - M) r`` is a convex
    combination of 1 and ``r``, never 0 and never overflowing. ``M = 1`` returns ``L`` exactly and
    ``M = 0`` returns ``log(eps)``, the front end's silence. (A plain ``L + log(M + tiny)`` would instead
    push masked-out bins far below the silence floor.) ``r`` is clamped to [0, 1] against rounding, and
    the argument of the log to at least the smallest normal float, so a mask of exactly 0 on a very loud
    bin stays finite.

    The result is raw: normalise it like any input before the detector sees it. Entries where ``valid``
    of :func:`active_index` is False hold the source of a padding class and should be ignored.
    """
    logmel_raw = _floating(logmel_raw)
    m = gather_classes(_floating(masks), index)  # (B, A, T, F)
    r = torch.exp(math.log(log_eps) - logmel_raw).clamp(0.0, 1.0)[:, None]  # (B, 1, T, F)
    arg = (m + (1.0 - m) * r).clamp(min=torch.finfo(m.dtype).tiny)
    return logmel_raw[:, None] + torch.log(arg)


def judge_loss(
    clip_probs: torch.Tensor,
    index: torch.Tensor,
    valid: torch.Tensor,
    present: torch.Tensor | None = None,
) -> torch.Tensor:
    """Classification loss on separated sources (Pishdadian et al. 2020), mean over the judged sources.

    ``clip_probs``: ``(B, A, K)`` clip probabilities the detector gives to the separated sources of
    :func:`separated_inputs`; ``index`` ``(B, A)``: the class whose source each is; ``valid`` ``(B, A)``:
    which entries are real; ``present`` ``(B, A)`` bool or None: the weak label of that class (None: all
    judged sources are of active classes, the usual use with :func:`active_index`).

    For the source of class k in clip n the target over the K classes is ``y_nk e_k`` (``e_k`` one-hot)::

        L = mean over judged (n, a) of  (1/K) sum_c BCE(p_{n,a,c}, y_{n,k} [c = k]),   k = index[n, a]

    - **the source's own class** must score its weak label: 1 for an active class.
    - **all other classes score 0, other active classes included**: a well separated source holds only
      its own class ("the classifier applied to a separated source [must] output weak labels for the
      class corresponding to that source and zeros for all other classes", ICASSP 2020 abstract; "high
      probability to the class corresponding to that source and low probability to all other classes",
      TASLP abstract).
    - **inactive classes**: their sources have the all-zero target (their weak label is 0), i.e. they must
      sound like nothing. To include them as the paper does (all K sources judged), pass
      ``index = arange(K)`` for every clip, ``valid`` all True and ``present = labels``; that costs K
      detector passes per clip. The default use judges the active sources only (A passes) and leaves
      inactive masks to the silent loss of ``mtlsed.objectives.losses`` (Eq. 7), which already drives them to
      0.
    - **[choice] averaging**: BCE averaged over the K classes (as ``mtlsed.objectives.losses.bce_loss``),
    then over
      all judged sources of the batch. The mean over sources (not a per-clip sum) keeps the weight of the
      term the same whether the active sources or all K sources are judged. The papers' exact averaging
      could not be checked. Probabilities are clamped to [1e-7, 1 - 1e-7] as in ``bce_loss``.

    No judged source (A = 0, or no ``valid``) gives 0, keeping the graph.
    """
    probs = _floating(clip_probs)
    valid = valid.bool()
    if valid.numel() == 0 or not bool(valid.any()):
        return probs.sum() * 0.0
    target = F.one_hot(index.long(), probs.shape[-1]).to(probs.dtype)  # (B, A, K)
    if present is not None:
        target = target * present.to(probs.dtype)[:, :, None]
    bce = F.binary_cross_entropy(probs.clamp(PROB_CLAMP, 1 - PROB_CLAMP), target, reduction="none")
    per_source = bce.mean(-1)  # (B, A)
    return (per_source * valid).sum() / valid.sum()


CONSISTENCY_MODES = ("equal", "at_most")


def mixture_consistency(
    masks: torch.Tensor,
    logmel_raw: torch.Tensor,
    active: torch.Tensor,
    log_eps: float,
    mode: str = "equal",
) -> torch.Tensor:
    """The separated energies of the active classes should add up to the mixture energy; mean over clips.

    ``masks`` ``(B, K, T, F)``, ``logmel_raw`` ``(B, T, F)`` (``E = exp(L) - log_eps``, the mel energy),
    ``active`` ``(B, K)`` bool. With ``S = sum_{k active} M_k`` the separated energies sum to ``S E``,
    and per clip n (an L1 distance on energies, normalised by the mixture energy)::

        equal:    C_n = sum_tf |E - S E| / sum_tf E  =  sum_tf E |1 - S| / sum_tf E
        at_most:  C_n = sum_tf E max(S - 1, 0) / sum_tf E

    ``equal`` is the paper's constraint ("the separated sources sum up to the mixture"): an
    energy-weighted mean of ``|1 - S|``, 0 when the active masks add up to 1, in [0, max(1, A - 1)].
    The normalisation by the clip's energy makes it independent of loudness.

    **Background.** Our mixtures also hold a background that belongs to no class, and the detector has
    no mask for it. ``equal`` then asks the active classes to take the background too (S = 1 in
    background-only bins), which fights the silent frames the detector must find; weighting by energy
    keeps that pull small where the background is quiet, but not where it is loud. ``at_most`` is the
    background-compatible reading **[choice]**: the separated sources may not add up to *more* than the
    mixture (no energy counted twice, the same spirit as the dice segment loss), and any shortfall is
    left to the background. The paper's separator, trained on event mixtures, has no such unowned part.

    **[choice]**: the paper works on STFT magnitudes; here the masks act on mel energies (as in
    :func:`separated_inputs`); the sum runs over the active classes only (pass ``active`` all True to
    sum all K masks, as a separator with one output per class would); clips with no active class
    contribute 0 (there is no source to constrain) and the batch value is the mean over all clips, as in
    ``mtlsed.objectives.losses.segment_loss``.
    """
    if mode not in CONSISTENCY_MODES:
        raise ValueError(f"unknown consistency mode {mode!r}; expected one of {CONSISTENCY_MODES}")
    masks = _floating(masks)
    energy = (torch.exp(_floating(logmel_raw)) - log_eps).clamp(min=0.0)  # (B, T, F)
    act = active.bool()
    s = torch.einsum("bktf,bk->btf", masks, act.to(masks.dtype))  # (B, T, F)
    gap = (1.0 - s).abs() if mode == "equal" else (s - 1.0).clamp(min=0.0)
    total = energy.sum((1, 2))  # (B,)
    per_clip = (energy * gap).sum((1, 2)) / total.clamp(min=torch.finfo(total.dtype).tiny)
    per_clip = per_clip * act.any(1).to(per_clip.dtype)
    return per_clip.mean()
