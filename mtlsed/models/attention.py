"""Attention model (Xu et al. 2018): gated CNN, gated biGRU, attention pooling over time."""

from __future__ import annotations

import torch
from torch import nn

from mtlsed.models.blocks import GatedConv
from mtlsed.models.output import SedOutput
from mtlsed.models.pooling import attention_pool


class GatedBiGRU(nn.Module):
    """A bidirectional GRU whose output is gated by a second one: ``lin * sigmoid(gate)``."""

    def __init__(self, n_in: int, hidden: int):
        super().__init__()
        self.lin = nn.GRU(n_in, hidden, batch_first=True, bidirectional=True)
        self.gate = nn.GRU(n_in, hidden, batch_first=True, bidirectional=True)

    def forward(self, x):
        return self.lin(x)[0] * torch.sigmoid(self.gate(x)[0])


class AttentionSED(nn.Module):
    """Log-mel ``(B, T, F)`` -> :class:`SedOutput` without masks.

    Each block is two gated conv units and a max-pool over frequency only (time
    resolution kept); the remaining bands are averaged, a gated biGRU runs over
    time, and two frame-wise heads give the classification ``cla`` (sigmoid)
    and the attention ``att`` (softmax over classes). Clip = ``sum_t cla*att / sum_t att``.
    """

    DEFAULT_CHANNELS = [64, 64, 64, 64]

    def __init__(self, n_classes: int, n_mels: int, channels=None, hidden: int = 128, dropout: float = 0.0):
        super().__init__()
        channels = list(channels or self.DEFAULT_CHANNELS)
        layers: list[nn.Module] = []
        c_in = 1
        for c in channels:
            layers += [GatedConv(c_in, c), GatedConv(c, c), nn.MaxPool2d((1, 2), ceil_mode=True)]
            c_in = c
        self.body = nn.Sequential(*layers)
        self.dropout = nn.Dropout(dropout) if dropout else nn.Identity()
        self.rnn = GatedBiGRU(c_in, hidden)
        self.cla = nn.Linear(2 * hidden, n_classes)
        self.att = nn.Linear(2 * hidden, n_classes)

    def forward(self, x: torch.Tensor) -> SedOutput:
        h = self.body(x.unsqueeze(1)).mean(-1).transpose(1, 2)  # (B, T, C)
        h = self.dropout(self.rnn(h))  # (B, T, 2H)
        cla = torch.sigmoid(self.cla(h).float()).transpose(1, 2)  # (B, K, T)
        att = torch.softmax(self.att(h).float(), dim=-1).transpose(1, 2)  # (B, K, T)
        return SedOutput(clip=attention_pool(cla, att, dim=-1), frame=cla, masks=None)
