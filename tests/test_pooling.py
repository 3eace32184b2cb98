"""Pooling functions: limits, ranges, stability, gradients, against hand computations."""

import math

import pytest
import torch

from mtlsed.models.pooling import FrequencyAutoPool, attention_pool, autopool, gwrp, linear_softmax

torch.manual_seed(0)


def test_autopool_limits():
    p = torch.rand(4, 3, 50)
    torch.testing.assert_close(autopool(p, 0.0, dim=-1), p.mean(-1))
    torch.testing.assert_close(autopool(p, 1e4, dim=-1), p.max(-1).values, atol=1e-4, rtol=0)
    torch.testing.assert_close(autopool(p, -1e4, dim=-1), p.min(-1).values, atol=1e-4, rtol=0)
    # alpha = 1 on [0, 1]: weights e^0 / (e^0 + e^1) and e^1 / (e^0 + e^1)
    two = torch.tensor([0.0, 1.0])
    assert float(autopool(two, 1.0, dim=0)) == pytest.approx(math.e / (1 + math.e))


def test_autopool_is_stable_and_differentiable_at_large_alpha():
    p = torch.rand(2, 5, 311, requires_grad=True)
    for alpha in (1e3, 1e6, 1e9):
        out = autopool(p, alpha, dim=-1)
        assert torch.isfinite(out).all() and (out >= 0).all() and (out <= 1).all()
        out.sum().backward()
        assert torch.isfinite(p.grad).all()
        p.grad = None


def test_fap_starts_as_the_plain_mean_and_follows_eq1():
    masks = torch.rand(2, 3, 20, 8)
    fap = FrequencyAutoPool(3, 8)
    clip, frame = fap(masks)
    torch.testing.assert_close(clip, masks.mean((2, 3)))
    torch.testing.assert_close(frame, masks.mean(-1))
    with torch.no_grad():
        fap.beta.normal_()
        fap.alpha.normal_(std=5)
        alpha = fap.alpha.clone()
        clip, frame = fap(masks)
        w = torch.softmax(fap.beta, -1)
    # Eq. (1) by hand for one clip, class, frame
    b, k, t = 1, 2, 7
    assert float(frame[b, k, t]) == pytest.approx(
        float(sum(w[k, f] * masks[b, k, t, f] for f in range(8))), abs=1e-6
    )
    per_band = [
        float((torch.softmax(alpha[k, f] * masks[b, k, :, f], 0) * masks[b, k, :, f]).sum()) for f in range(8)
    ]
    assert float(clip[b, k]) == pytest.approx(sum(float(w[k, f]) * per_band[f] for f in range(8)), abs=1e-6)
    assert torch.allclose(fap.band_weights().sum(-1), torch.ones(3))
    assert ((clip >= 0) & (clip <= 1)).all() and ((frame >= 0) & (frame <= 1)).all()


def test_gwrp_by_hand():
    x = torch.tensor([[[[0.2, 0.9], [0.5, 0.1]]]])  # (1, 1, 2, 2)
    d = 0.5
    # sorted: 0.9, 0.5, 0.2, 0.1; weights 1, .5, .25, .125
    expected = (0.9 + 0.5 * 0.5 + 0.25 * 0.2 + 0.125 * 0.1) / (1 + 0.5 + 0.25 + 0.125)
    assert float(gwrp(x, d)) == pytest.approx(expected)
    assert float(gwrp(x, 1.0)) == pytest.approx(float(x.mean()))
    assert float(gwrp(x, 0.0)) == pytest.approx(0.9)


def test_linear_softmax_and_attention_by_hand():
    p = torch.tensor([0.2, 0.6, 0.0])
    assert float(linear_softmax(p, 0)) == pytest.approx((0.04 + 0.36) / 0.8, rel=1e-5)
    cla, att = torch.tensor([0.1, 0.9]), torch.tensor([0.25, 0.75])
    assert float(attention_pool(cla, att, 0)) == pytest.approx(0.1 * 0.25 + 0.9 * 0.75)
    q = torch.rand(4, 3, 30, requires_grad=True)
    out = linear_softmax(q, -1) + attention_pool(q, torch.rand(4, 3, 30), -1)
    out.sum().backward()
    assert torch.isfinite(q.grad).all()
