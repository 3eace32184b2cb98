"""DDC-FAP: dilated depthwise-separable conv blocks, sigmoid masks, frequency-dependent auto-pooling.

No public code exists for the reference model (Liu et al. 2021); this is our
reconstruction (book, "The method"): Kong's 4-block, 32-64-128-128 plan at
full time-frequency resolution, each unit a dilated depthwise 3x3 conv and a
pointwise 1x1 conv, dilations growing over the blocks, the first layer a plain
conv (a depthwise conv on one input channel would be a single filter).
"""

from __future__ import annotations

import torch
from torch import nn

from mtlsed.models.blocks import conv_bn_relu, ddc_unit
from mtlsed.models.output import SedOutput
from mtlsed.models.pooling import FrequencyAutoPool


class DDCFAP(nn.Module):
    """Log-mel ``(B, T, F)`` -> :class:`SedOutput` with masks ``(B, K, T, F)``."""

    DEFAULT_CHANNELS = [32, 64, 128, 128]

    def __init__(
        self,
        n_classes: int,
        n_mels: int,
        channels=None,
        dilations=None,
        units_per_block: int = 2,
        dropout: float = 0.0,
        alpha_init: float = 0.0,
    ):
        super().__init__()
        channels = list(channels or self.DEFAULT_CHANNELS)
        dilations = list(dilations or [2**i for i in range(len(channels))])
        if len(dilations) != len(channels):
            raise ValueError(f"{len(channels)} blocks but {len(dilations)} dilations")
        layers: list[nn.Module] = [conv_bn_relu(1, channels[0])]
        c_in = channels[0]
        for block, (c, d) in enumerate(zip(channels, dilations, strict=True)):
            for unit in range(units_per_block):
                if block == 0 and unit == 0:
                    continue  # the plain first conv stands in for it
                layers.append(ddc_unit(c_in, c, d))
                c_in = c
        self.body = nn.Sequential(*layers)
        self.dropout = nn.Dropout2d(dropout) if dropout else nn.Identity()
        self.head = nn.Conv2d(c_in, n_classes, 1)
        self.pool = FrequencyAutoPool(n_classes, n_mels, alpha_init)

    def forward(self, x: torch.Tensor) -> SedOutput:
        h = self.body(x.unsqueeze(1))  # (B, C, T, F)
        masks = torch.sigmoid(self.head(self.dropout(h)).float())  # (B, K, T, F)
        clip, frame = self.pool(masks)
        return SedOutput(clip=clip, frame=frame, masks=masks)
