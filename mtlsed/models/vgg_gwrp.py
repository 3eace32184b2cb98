"""VGG-GWRP (Kong et al. 2019): VGG-like blocks at full resolution, masks, global weighted rank pooling."""

from __future__ import annotations

import torch
from torch import nn

from mtlsed.models.blocks import conv_bn_relu
from mtlsed.models.output import SedOutput
from mtlsed.models.pooling import gwrp


class VGGGWRP(nn.Module):
    """Log-mel ``(B, T, F)`` -> :class:`SedOutput`; frame output = mask averaged over frequency."""

    DEFAULT_CHANNELS = [32, 64, 128, 128]

    def __init__(
        self,
        n_classes: int,
        n_mels: int,
        channels=None,
        units_per_block: int = 2,
        dropout: float = 0.0,
        decay: float = 0.9998,
    ):
        super().__init__()
        channels = list(channels or self.DEFAULT_CHANNELS)
        layers: list[nn.Module] = []
        c_in = 1
        for c in channels:
            for _ in range(units_per_block):
                layers.append(conv_bn_relu(c_in, c))
                c_in = c
        self.body = nn.Sequential(*layers)
        self.dropout = nn.Dropout2d(dropout) if dropout else nn.Identity()
        self.head = nn.Conv2d(c_in, n_classes, 1)
        self.decay = decay

    def forward(self, x: torch.Tensor) -> SedOutput:
        h = self.body(x.unsqueeze(1))
        masks = torch.sigmoid(self.head(self.dropout(h)).float())  # (B, K, T, F)
        return SedOutput(clip=gwrp(masks, self.decay), frame=masks.mean(-1), masks=masks)
