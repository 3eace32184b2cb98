"""Models, registered by name and built from the config; every one returns a :class:`SedOutput`."""

from __future__ import annotations

import torch
from torch import nn

from mtlsed.config.settings import ModelConfig
from mtlsed.core.vocabulary import MODEL_NAMES
from mtlsed.models.attention import AttentionSED
from mtlsed.models.ddc_fap import DDCFAP
from mtlsed.models.output import SedOutput
from mtlsed.models.talnet import TALNet
from mtlsed.models.vgg_gwrp import VGGGWRP

__all__ = ["MODELS", "SedOutput", "build_model", "count_macs", "model_summary", "receptive_field"]


def _ddc(cfg: ModelConfig, k: int, f: int) -> nn.Module:
    return DDCFAP(k, f, cfg.channels, cfg.dilations, cfg.units_per_block, cfg.dropout, cfg.fap_alpha_init)


def _vgg(cfg: ModelConfig, k: int, f: int) -> nn.Module:
    return VGGGWRP(k, f, cfg.channels, cfg.units_per_block, cfg.dropout, cfg.gwrp_decay)


def _att(cfg: ModelConfig, k: int, f: int) -> nn.Module:
    return AttentionSED(k, f, cfg.channels, cfg.gru_hidden, cfg.dropout)


def _tal(cfg: ModelConfig, k: int, f: int) -> nn.Module:
    return TALNet(k, f, cfg.channels, cfg.gru_hidden, cfg.dropout)


MODELS = {"ddc_fap": _ddc, "vgg_gwrp": _vgg, "attention": _att, "talnet": _tal}


def build_model(cfg: ModelConfig, n_classes: int, n_mels: int) -> nn.Module:
    if cfg.name not in MODELS:
        raise ValueError(f"unknown model {cfg.name!r}; known: {sorted(MODELS)}")
    return MODELS[cfg.name](cfg, n_classes, n_mels)


def count_macs(model: nn.Module, n_frames: int = 311, n_mels: int = 64) -> int:
    """Multiply-adds of one forward pass on one clip ``(1, T, F)`` (conv, linear and GRU layers)."""
    total = 0

    def conv_hook(m: nn.Conv2d, inp, out):
        nonlocal total
        total += out.numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]

    def linear_hook(m: nn.Linear, inp, out):
        nonlocal total
        total += out.numel() * m.in_features

    def gru_hook(m: nn.GRU, inp, out):
        nonlocal total
        steps = inp[0].shape[1] if m.batch_first else inp[0].shape[0]
        dirs = 2 if m.bidirectional else 1
        n_in = m.input_size
        for _ in range(m.num_layers):
            total += dirs * steps * 3 * (n_in * m.hidden_size + m.hidden_size * m.hidden_size)
            n_in = dirs * m.hidden_size

    hooks = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(linear_hook))
        elif isinstance(m, nn.GRU):
            hooks.append(m.register_forward_hook(gru_hook))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, n_frames, n_mels))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return total


def model_summary(model: nn.Module, n_frames: int = 311, n_mels: int = 64) -> dict:
    """Parameter count and multiply-adds for a clip of ``n_frames`` (311 = 10 s at the paper's front end)."""
    params = sum(p.numel() for p in model.parameters())
    return {"params": params, "macs": count_macs(model, n_frames, n_mels)}


def receptive_field(model: nn.Module) -> int:
    """Receptive field in frames (and bands) of the stride-free conv stack in front of the masks.

    Each 3x3 conv with dilation d widens it by 2 d; 1x1 convs add nothing.
    """
    rf = 1
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            rf += (m.kernel_size[0] - 1) * m.dilation[0]
    return rf


def size_table(configs: dict, n_classes: int = 10, n_mels: int = 64, n_frames: int = 311):
    """Parameters and multiply-adds per clip of ``(n_frames, n_mels)`` for each labelled ``ModelConfig``."""
    import pandas as pd

    rows = {}
    for label, model_cfg in configs.items():
        summary = model_summary(build_model(model_cfg, n_classes, n_mels), n_frames, n_mels)
        rows[label] = {"parameters": summary["params"], "GMAC per clip": round(summary["macs"] / 1e9, 3)}
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "model"
    return frame


def config_sizes(cfg, names: list[str], n_classes: int = 10):
    """:func:`size_table` of the named models at the sizes of a full ``Config`` (its mel bands, its clips)."""
    n_frames = cfg.features.n_frames(int(round(cfg.data.clip_seconds * cfg.features.sample_rate)))
    configs = {MODEL_NAMES[n]: cfg.with_overrides({"model.name": n}).model for n in names}
    return size_table(configs, n_classes, cfg.features.n_mels, n_frames)
