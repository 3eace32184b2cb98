"""Models: the one output type, shapes and ranges at odd lengths, sizes, and a one-batch overfit."""

import copy

import pytest
import torch

from mtlsed.config.settings import LossConfig, ModelConfig
from mtlsed.models import MODELS, build_model, count_macs, model_summary
from mtlsed.objectives.total import total_loss

SMALL = {"ddc_fap": [8, 8], "vgg_gwrp": [8, 8], "attention": [8, 8], "talnet": [8, 8, 8]}


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("n_frames", [97, 311])
def test_output_shapes_and_ranges(name, n_frames):
    torch.manual_seed(0)
    model = build_model(ModelConfig(name=name, channels=SMALL[name], gru_hidden=16), n_classes=10, n_mels=64)
    model.eval()
    out = model(torch.randn(3, n_frames, 64))
    assert out.clip.shape == (3, 10) and out.frame.shape == (3, 10, n_frames)
    for t in (out.clip, out.frame):
        assert ((t >= 0) & (t <= 1)).all()
    if name in ("ddc_fap", "vgg_gwrp"):
        assert out.masks.shape == (3, 10, n_frames, 64)
        assert ((out.masks >= 0) & (out.masks <= 1)).all()
    else:
        assert out.masks is None


def test_default_sizes_and_the_ddc_block_is_lighter():
    sizes = {n: model_summary(build_model(ModelConfig(name=n), 41, 64)) for n in MODELS}
    for s in sizes.values():
        assert s["params"] > 0 and s["macs"] > 0
    assert sizes["ddc_fap"]["params"] < sizes["vgg_gwrp"]["params"] / 4
    assert sizes["ddc_fap"]["macs"] < sizes["vgg_gwrp"]["macs"] / 4


def test_macs_by_hand_for_a_single_conv():
    net = torch.nn.Sequential(torch.nn.Unflatten(1, (1, 5)), torch.nn.Conv2d(1, 4, 3, padding=1))
    # (1, 5, 6) -> unflatten -> (1, 1, 5, 6); out 4 x 5 x 6 values, each 1 * 3 * 3 multiply-adds
    assert count_macs(net, n_frames=5, n_mels=6) == 4 * 5 * 6 * 9


def test_ddc_dilations_and_bad_configs():
    model = build_model(ModelConfig(channels=[4, 4, 4], dilations=[1, 3, 5]), 5, 16)
    dil = [m.dilation[0] for m in model.modules() if isinstance(m, torch.nn.Conv2d) and m.groups > 1]
    assert dil == [1, 3, 3, 5, 5]  # first unit of block 1 is a plain conv
    with pytest.raises(ValueError, match="3 blocks but 2 dilations"):
        build_model(ModelConfig(channels=[4, 4, 4], dilations=[1, 2]), 5, 16)


@pytest.mark.parametrize("name", ["ddc_fap", "vgg_gwrp"])
def test_one_batch_overfit_with_the_full_mtl_loss(name):
    torch.manual_seed(0)
    x = torch.randn(4, 40, 16)
    labels = torch.zeros(4, 5)
    labels[0, [0, 1]] = 1
    labels[1, [2, 3]] = 1
    labels[2, [1, 4]] = 1
    labels[3, 0] = 1
    paper = LossConfig()  # Eq. (8) with the paper's weights: 1, 0.2, 0.2
    model = build_model(ModelConfig(name=name, channels=[8, 8]), 5, 16)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    history = []
    for _ in range(50):
        terms = total_loss(model(x), labels, paper)
        opt.zero_grad()
        terms.total.backward()
        opt.step()
        history.append(terms.as_dict())
    assert history[-1]["total"] < 0.6 * history[0]["total"]
    assert history[-1]["bce"] < history[0]["bce"]
    assert history[-1]["silent"] < history[0]["silent"]
    # the optimised total is Eq. (8) with those weights, at every step (a dropped or mis-weighted term fails)
    for h in (history[0], history[-1]):
        assert h["total"] == pytest.approx(h["bce"] + 0.2 * h["segment"] + 0.2 * h["silent"], rel=1e-5)
        assert h["segment"] > 0 and h["silent"] > 0  # both auxiliary terms were computed


@pytest.mark.parametrize("name", ["ddc_fap", "talnet", "vgg_gwrp"])  # attention's units are gated, no ReLU
def test_relu_in_place_changes_no_number(name):
    """The blocks' ReLUs work in place (less memory traffic): outputs and every gradient are bit for bit
    those of out-of-place ReLUs, in both memory layouts the trainer uses."""
    torch.manual_seed(0)
    cfg = ModelConfig(name=name, channels=SMALL[name], gru_hidden=16)
    fast = build_model(cfg, n_classes=5, n_mels=16)
    relus = [m for m in fast.modules() if isinstance(m, torch.nn.ReLU)]
    assert relus and all(m.inplace for m in relus)
    slow = copy.deepcopy(fast)
    for m in slow.modules():
        if isinstance(m, torch.nn.ReLU):
            m.inplace = False
    x, y = torch.randn(3, 40, 16), (torch.rand(3, 5) < 0.5).float()
    for layout in (torch.contiguous_format, torch.channels_last):
        grads = []
        for net in (fast, slow):
            net.to(memory_format=layout).zero_grad()
            out = net(x)
            total_loss(out, y, LossConfig(segment_weight=0.0, silent_weight=0.0)).total.backward()
            grads.append([out.clip.detach(), out.frame.detach()] + [p.grad for p in net.parameters()])
        assert all(torch.equal(a, b) for a, b in zip(*grads, strict=True))
