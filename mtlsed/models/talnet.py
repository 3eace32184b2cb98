"""TALNet (Wang, Li, Metze 2019): conv pairs with pooling, biGRU, linear-softmax pooling."""

from __future__ import annotations

import torch
from torch import nn

from mtlsed.models.blocks import conv_bn_relu
from mtlsed.models.output import SedOutput
from mtlsed.models.pooling import linear_softmax


class TALNet(nn.Module):
    """Log-mel ``(B, T, F)`` -> :class:`SedOutput` without masks.

    Each stage is two 3x3 conv layers and a pooling that halves frequency, and
    time too in the first two stages (time / 4 overall, as in TALNet). Frame
    outputs are brought back to the input frame rate by repetition.
    """

    DEFAULT_CHANNELS = [32, 64, 128, 256, 512]
    TIME_POOLED_STAGES = 2

    def __init__(self, n_classes: int, n_mels: int, channels=None, hidden: int = 100, dropout: float = 0.0):
        super().__init__()
        channels = list(channels or self.DEFAULT_CHANNELS)
        layers: list[nn.Module] = []
        c_in = 1
        self.time_factor = 1
        for i, c in enumerate(channels):
            pool_t = 2 if i < self.TIME_POOLED_STAGES else 1
            self.time_factor *= pool_t
            layers += [conv_bn_relu(c_in, c), conv_bn_relu(c, c), nn.MaxPool2d((pool_t, 2), ceil_mode=True)]
            c_in = c
        self.body = nn.Sequential(*layers)
        n_freq = n_mels
        for _ in channels:
            n_freq = -(-n_freq // 2)
        self.dropout = nn.Dropout(dropout) if dropout else nn.Identity()
        self.rnn = nn.GRU(c_in * n_freq, hidden, batch_first=True, bidirectional=True)
        self.out = nn.Linear(2 * hidden, n_classes)

    def forward(self, x: torch.Tensor) -> SedOutput:
        n_frames = x.shape[1]
        h = self.body(x.unsqueeze(1))  # (B, C, T', F')
        h = h.permute(0, 2, 1, 3).flatten(2)  # (B, T', C*F')
        h = self.dropout(self.rnn(h)[0])
        frame_low = torch.sigmoid(self.out(h).float()).transpose(1, 2)  # (B, K, T')
        clip = linear_softmax(frame_low, dim=-1)
        # ceil pooling: T' * time_factor >= T, so the upsampled frames cover the clip and are cut to it
        frame = frame_low.repeat_interleave(self.time_factor, dim=-1)[..., :n_frames]
        return SedOutput(clip=clip, frame=frame, masks=None)
