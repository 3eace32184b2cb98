"""One training step, the only one: memory layout, precision, autocast scope, loss scaling and optimiser.

The trainer (:mod:`mtlsed.training.train`), Table 3's cost column (:mod:`mtlsed.experiments.table3`), the GPU
check and the
benchmarks in ``bench/`` all step through :func:`training_step` on a model placed by :func:`place_model`,
so what a check or a timing measures is what the runs train.

The invariants that only a GPU would otherwise show:

- the forward pass runs under autocast, the loss **outside** it: CUDA autocast refuses
  ``binary_cross_entropy`` ("unsafe to autocast"), which CPU autocast quietly casts;
- float16 (CUDA) is scaled by a ``GradScaler``; bfloat16 (CPU) has float32's range and is not;
- the random state saved with a checkpoint is the CPU generator's and, on CUDA, the run's device's
  (:func:`random_state`); it is restored from a checkpoint loaded to the CPU (:func:`restore_random_state`).
"""

from __future__ import annotations

from contextlib import nullcontext

import torch

from mtlsed.config.settings import LossConfig, TrainConfig
from mtlsed.objectives.total import LossTerms, total_loss


def memory_format(device: torch.device, amp: bool) -> torch.memory_format:
    """The layout of the model's convolution weights (and so of its activations) in training.

    ``channels_last`` for float32 on the CPU: PyTorch's depthwise convolution backward is about twice as
    fast in it (the cpu profile's step 1.9x, ``bench/channels_last.py``), with gradients as close to a
    float64 reference as float32 allows (tests/test_train.py). Contiguous with bfloat16 autocast on the
    CPU, where ``channels_last`` depthwise convolutions return wrong weight gradients for dilations >= 2
    (relative error above 1, or NaN), and on the GPU, whose path was written and checked contiguous.
    """
    return torch.channels_last if device.type == "cpu" and not amp else torch.contiguous_format


def place_model(model: torch.nn.Module, device: torch.device, amp: bool) -> torch.nn.Module:
    """``model`` on ``device`` in the layout of :func:`memory_format` (in place; returned for chaining)."""
    return model.to(device, memory_format=memory_format(device, amp))


def precision_context(device: torch.device, amp: bool):
    """The autocast of a forward pass: float16 on CUDA, bfloat16 on CPU, none when ``amp`` is off.

    With it on CPU the model stays in the default (contiguous) memory format (:func:`memory_format`).
    """
    if not amp:
        return nullcontext()
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.float16)
    if device.type == "cpu":
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return nullcontext()


def make_optimizer(model: torch.nn.Module, tc: TrainConfig) -> torch.optim.Optimizer:
    """Adam at ``tc.lr`` (the paper's); with ``tc.weight_decay > 0``, AdamW: decoupled weight decay, so the
    decay does not pass through Adam's per-weight scaling."""
    if tc.weight_decay > 0:
        return torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
    return torch.optim.Adam(model.parameters(), lr=tc.lr)


def make_scaler(device: torch.device, amp: bool) -> torch.amp.GradScaler:
    """Loss scaling for float16 autocast on CUDA; a pass-through (disabled) scaler everywhere else.

    ``torch.amp.GradScaler("cuda")`` is torch >= 2.3 (pyproject.toml's floor)."""
    return torch.amp.GradScaler("cuda", enabled=amp and device.type == "cuda")


def training_step(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    x: torch.Tensor,
    y: torch.Tensor,
    loss: LossConfig,
    *,
    amp: bool,
    raw: torch.Tensor | None = None,
    judge=None,
    log_eps: float = 1e-8,
) -> LossTerms:
    """Forward ``x (B, T, F)`` under :func:`precision_context`, Eq. (8)'s loss against ``y (B, K)`` with
    autocast off, backward through ``scaler``, one optimiser step. ``raw (B, T, F)``: the unnormalised
    log-mel, for the loss terms that read the input (``loss.uses_input()``); ``judge``: the detector as
    judge of separated sources (``loss.judge_weight``). Returns the loss terms (the graph's ``total``)."""
    device = x.device
    with precision_context(device, amp):
        out = model(x)
    # outside autocast: the losses see the outputs' dtype and run in float32 where they cast
    terms = total_loss(out, y, loss, raw, judge, log_eps)
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(terms.total).backward()
    scaler.step(optimizer)
    scaler.update()
    return terms


def random_state(device: torch.device) -> dict[str, torch.Tensor]:
    """The generators a run draws from: ``rng`` the CPU's and, on CUDA, ``cuda_rng`` the device's (its
    dropout and any on-device draws); both CPU byte tensors, as ``torch.save`` should keep them."""
    state = {"rng": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda_rng"] = torch.cuda.get_rng_state(device).cpu()
    return state


def restore_random_state(state: dict, device: torch.device) -> None:
    """Set the generators from a checkpoint's :func:`random_state` (read with ``map_location="cpu"``);
    ``torch.set_rng_state`` takes a CPU byte tensor only, so any tensor is brought there first."""
    torch.set_rng_state(state["rng"].cpu())
    if device.type == "cuda" and "cuda_rng" in state:
        torch.cuda.set_rng_state(state["cuda_rng"].cpu(), device)
