"""The losses against plain loops written here, edge cases and selections."""

import itertools

import pytest
import torch

from mtlsed.config.settings import LossConfig
from mtlsed.models.output import SedOutput
from mtlsed.objectives.losses import bce_loss, pairwise_dice, segment_loss, select_active, silent_loss
from mtlsed.objectives.total import total_loss

EPS = 1e-7


def dice_loop(a, b):
    return 2 * (a * b).sum() / (a.sum() + b.sum() + EPS)


def segment_loop(masks, active):
    per_clip = []
    for n in range(masks.shape[0]):
        members = [k for k in range(masks.shape[1]) if active[n, k]]
        s = sum(
            (dice_loop(masks[n, i], masks[n, j]) for i in members for j in members if i != j),
            torch.tensor(0.0),
        )
        per_clip.append(s)
    return torch.stack(per_clip).mean()


def silent_loop(masks, inactive):
    per_clip = []
    for n in range(masks.shape[0]):
        s = torch.tensor(0.0, dtype=torch.float64)
        for k in range(masks.shape[1]):
            if inactive[n, k]:
                s = s + masks[n, k].abs().sum() / (masks.shape[2] * masks.shape[3])
        per_clip.append(s)
    return torch.stack(per_clip).mean()


@pytest.fixture
def masks():
    torch.manual_seed(1)
    return torch.rand(4, 7, 13, 9, dtype=torch.float64)


def test_pairwise_dice_matches_a_loop(masks):
    got = pairwise_dice(masks, EPS)
    assert got.shape == (4, 7, 7)
    for n, i, j in itertools.product(range(4), range(7), range(7)):
        assert float(got[n, i, j]) == pytest.approx(
            float(dice_loop(masks[n, i], masks[n, j].float())), abs=1e-6
        )


def test_dice_by_hand():
    a = torch.zeros(1, 2, 2, 2)
    a[0, 0] = torch.tensor([[1.0, 1.0], [0.0, 0.0]])
    a[0, 1] = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    # |A n B| = 1, |A| = |B| = 2 -> 2 * 1 / 4
    assert float(pairwise_dice(a)[0, 0, 1]) == pytest.approx(0.5, abs=1e-6)
    assert float(pairwise_dice(a)[0, 0, 0]) == pytest.approx(1.0, abs=1e-6)


def test_segment_and_silent_losses_match_loops(masks):
    torch.manual_seed(2)
    for _ in range(5):
        active = torch.rand(4, 7) < 0.4
        active[0, :3] = True  # at least one clip with several active classes
        assert float(segment_loss(masks, active, EPS)) == pytest.approx(
            float(segment_loop(masks, active)), abs=1e-6
        )
        inactive = ~active
        assert float(silent_loss(masks, inactive)) == pytest.approx(
            float(silent_loop(masks, inactive)), abs=1e-6
        )


def test_segment_loss_gradients_match_the_loop(masks):
    active = torch.zeros(4, 7, dtype=torch.bool)
    active[0, [1, 4, 5]] = True
    active[2, [0, 6]] = True
    m1 = masks.clone().requires_grad_(True)
    m2 = masks.clone().requires_grad_(True)
    segment_loss(m1, active, EPS).backward()
    segment_loop(m2, active).backward()
    torch.testing.assert_close(m1.grad.double(), m2.grad, atol=1e-6, rtol=1e-5)
    assert float(m1.grad[1].abs().sum()) == 0.0  # clip 1 has no active pair


def test_edge_cases():
    m = torch.rand(2, 5, 4, 3)
    one = torch.zeros(2, 5, dtype=torch.bool)
    one[:, 2] = True
    assert float(segment_loss(m, one)) == 0.0  # fewer than two active classes
    assert float(segment_loss(m, torch.zeros(2, 5, dtype=torch.bool))) == 0.0
    zeros = torch.zeros(2, 5, 4, 3, requires_grad=True)
    everything = torch.ones(2, 5, dtype=torch.bool)
    loss = segment_loss(zeros, everything) + silent_loss(zeros, everything)
    loss.backward()
    assert loss.item() == 0.0 and torch.isfinite(zeros.grad).all()
    assert torch.isfinite(pairwise_dice(zeros)).all()


def test_selection_on_hand_made_cases():
    probs = torch.tensor([[0.1, 0.9, 0.5, 0.7], [0.8, 0.2, 0.3, 0.1]])
    labels = torch.tensor([[0.0, 1.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0]])
    assert select_active(probs, labels, "label").tolist() == [
        [False, True, True, False],
        [True, False, False, False],
    ]
    assert select_active(probs, None, "topk", 2).tolist() == [
        [False, True, False, True],
        [True, False, True, False],
    ]
    assert select_active(probs, None, "topk", 4).all()
    with pytest.raises(ValueError, match="topk = 5 must be between 1 and the number of classes K = 4"):
        select_active(probs, None, "topk", 5)
    with pytest.raises(ValueError, match="needs the clip labels"):
        select_active(probs, None, "label")


def test_total_loss_is_eq8_with_each_term(masks):
    masks = masks.float()
    clip = torch.rand(4, 7)
    labels = (torch.rand(4, 7) < 0.3).float()
    labels[:, 0] = 1
    labels[:, 3] = 1
    out = SedOutput(clip=clip, frame=masks.mean(-1), masks=masks)
    cfg = LossConfig()  # 1, 0.2, 0.2, label-guided
    terms = total_loss(out, labels, cfg)
    active = labels > 0.5
    bce = -(labels * clip.log() + (1 - labels) * (1 - clip).log()).mean()
    assert float(terms.bce) == pytest.approx(float(bce), rel=1e-5)
    assert float(terms.segment) == pytest.approx(float(segment_loop(masks.double(), active)), abs=1e-5)
    assert float(terms.silent) == pytest.approx(float(silent_loop(masks.double(), ~active)), abs=1e-5)
    expected = float(bce) + 0.2 * float(terms.segment) + 0.2 * float(terms.silent)
    assert float(terms.total) == pytest.approx(expected, rel=1e-6)
    logged = terms.as_dict()
    assert set(logged) == {"total", "bce", "segment", "silent", "cosine", "judge", "consistency"}
    # the terms beyond the paper are logged as zeros when their weights are off
    assert logged["cosine"] == logged["judge"] == logged["consistency"] == 0.0
    topk = total_loss(out, labels, LossConfig(selection="topk", topk=3))
    sel = select_active(clip, None, "topk", 3)
    assert float(topk.segment) == pytest.approx(float(segment_loop(masks.double(), sel)), abs=1e-5)
    # a model without masks: only BCE is possible
    no_masks = SedOutput(clip=clip, frame=clip[..., None], masks=None)
    with pytest.raises(ValueError, match="gives no masks.*loss.segment_weight=0"):
        total_loss(no_masks, labels, cfg)
    only_bce = total_loss(no_masks, labels, LossConfig(segment_weight=0, silent_weight=0))
    assert float(only_bce.total) == pytest.approx(float(bce), rel=1e-5)


def test_bce_clamps_saturated_probabilities():
    loss = bce_loss(torch.tensor([[0.0, 1.0]]), torch.tensor([[1.0, 0.0]]))
    # both terms are about -log(1e-7) = 16.1 (float32 rounds 1 - 1e-7 to 1 - 1.19e-7)
    assert torch.isfinite(loss) and 15.9 < float(loss) < 16.2
