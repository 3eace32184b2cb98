"""Weight averaging (``train.ema_decay``): an exponential moving average of the trained weights.

The averaged copy is what a run validates and saves as its model (``best.pt``, ``last.pt``); the trained
weights go on learning untouched (``last.pt`` keeps them too, for ``--resume``). DESED_task's mean teacher
evaluates such an average (decay 0.999 over many thousand steps). On realdev's grouped validation it did
not help the ``cpu`` profile (decays 0.99 and 0.995, five seeds; docs/DEVELOPMENT.md, round four), which
leaves it off.

After update ``n`` (1-based), for every floating-point tensor of the state (parameters and batch-norm
running statistics, as timm's ``ModelEmaV3``)::

    avg_n = d_n * avg_{n-1} + (1 - d_n) * w_n,    d_n = min(decay, (n - 1) / n)

so the first updates are the plain running mean of the weights seen so far (DESED_task's warm-up,
``min(1 - 1 / step, decay)``) and the average never starts from the random initialisation. Integer
buffers (batch norm's ``num_batches_tracked``) are copied.
"""

from __future__ import annotations

import copy

import torch


class WeightAverage:
    """The moving average of ``model``'s state; :meth:`update` after each optimiser step."""

    def __init__(self, model: torch.nn.Module, decay: float):
        if not 0 < decay < 1:
            raise ValueError(f"decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.model = copy.deepcopy(model).requires_grad_(False)
        for m in self.model.modules():  # a deep copy unpacks a GRU's weights; cuDNN wants them in one block
            if isinstance(m, torch.nn.RNNBase):
                m.flatten_parameters()
        self.updates = 0

    def factor(self) -> float:
        """``d_n`` of the next update."""
        n = self.updates + 1
        return min(self.decay, (n - 1) / n)

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        d = self.factor()
        trained = model.state_dict()
        for name, avg in self.model.state_dict().items():
            w = trained[name]
            if avg.is_floating_point():
                avg.lerp_(w.to(avg.dtype), 1 - d)
            else:
                avg.copy_(w)
        self.updates += 1
