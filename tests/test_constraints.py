"""The alternative mask constraints against plain loops written here, hand-computed toys and edge cases."""

import math

import pytest
import torch

from mtlsed.models.output import SedOutput
from mtlsed.objectives.constraints import (
    active_index,
    cosine_penalty,
    cosine_penalty_of,
    judge_loss,
    mixture_consistency,
    separated_inputs,
)

EPS = 1e-7
LOG_EPS = 1e-8

torch.set_num_threads(1)


# ---------------------------------------------------------------- independent loops


def cos_loop(a, b):
    a, b = a.flatten(), b.flatten()
    return (a * b).sum() / (a.norm().clamp(min=EPS) * b.norm().clamp(min=EPS))


def cosine_loop(x, positive, divide_by_classes=True):
    per_clip = []
    for n in range(x.shape[0]):
        members = [k for k in range(x.shape[1]) if positive[n, k]]
        s = torch.zeros((), dtype=x.dtype)
        for i in members:
            for j in members:
                if i != j:
                    s = s + cos_loop(x[n, i], x[n, j])
        per_clip.append(s / x.shape[1] if divide_by_classes else s)
    return torch.stack(per_clip).mean()


def separated_loop(logmel, masks, index, log_eps):
    b_, a_ = index.shape
    out = torch.empty(b_, a_, *logmel.shape[1:], dtype=torch.float64)
    for n in range(b_):
        for a in range(a_):
            energy = torch.exp(logmel[n].double()) - log_eps
            out[n, a] = torch.log(masks[n, int(index[n, a])].double() * energy + log_eps)
    return out


def judge_loop(probs, index, valid, present=None):
    terms = []
    for n in range(probs.shape[0]):
        for a in range(probs.shape[1]):
            if not valid[n, a]:
                continue
            k = int(index[n, a])
            y = 1.0 if present is None else float(present[n, a])
            s = 0.0
            for c in range(probs.shape[2]):
                p = min(max(float(probs[n, a, c]), EPS), 1 - EPS)
                t = y if c == k else 0.0
                s += -(t * math.log(p) + (1 - t) * math.log(1 - p))
            terms.append(s / probs.shape[2])
    return sum(terms) / len(terms)


def consistency_loop(masks, logmel, active, log_eps, mode="equal"):
    per_clip = []
    for n in range(masks.shape[0]):
        members = [k for k in range(masks.shape[1]) if active[n, k]]
        if not members:
            per_clip.append(0.0)
            continue
        energy = torch.exp(logmel[n].double()) - log_eps
        s = sum(masks[n, k].double() for k in members)
        if mode == "equal":
            gap = (energy - s * energy).abs()
        else:
            gap = (s * energy - energy).clamp(min=0)
        per_clip.append(float(gap.sum() / energy.sum()))
    return sum(per_clip) / len(per_clip)


@pytest.fixture
def data():
    g = torch.Generator().manual_seed(5)
    masks = torch.rand(4, 6, 11, 7, dtype=torch.float64, generator=g)
    frame = torch.rand(4, 6, 11, dtype=torch.float64, generator=g)
    logmel = torch.log(torch.rand(4, 11, 7, dtype=torch.float64, generator=g) * 10 + LOG_EPS)
    active = torch.rand(4, 6, generator=g) < 0.45
    active[0, :3] = True  # several positives
    active[1] = False  # none
    active[2] = False
    active[2, 4] = True  # exactly one
    return masks, frame, logmel, active


# ---------------------------------------------------------------- active_index


def test_active_index_matches_a_loop(data):
    *_, active = data
    index, valid = active_index(active)
    assert index.dtype == torch.long and valid.dtype == torch.bool
    assert index.shape == valid.shape == (4, int(active.sum(1).max()))
    for n in range(4):
        members = [k for k in range(6) if active[n, k]]
        assert valid[n].tolist() == [a < len(members) for a in range(index.shape[1])]
        assert index[n, : len(members)].tolist() == members


def test_active_index_edges():
    index, valid = active_index(torch.zeros(3, 5, dtype=torch.bool))
    assert index.shape == valid.shape == (3, 0)
    index, valid = active_index(torch.tensor([[True], [False]]))
    assert index.tolist() == [[0], [0]] and valid.tolist() == [[True], [False]]


# ---------------------------------------------------------------- cosine penalty


@pytest.mark.parametrize("divide", [True, False])
def test_cosine_penalty_matches_a_loop_on_frames_and_masks(data, divide):
    masks, frame, _, active = data
    for x in (frame, masks):
        got = cosine_penalty(x, active, EPS, divide)
        assert float(got) == pytest.approx(float(cosine_loop(x, active, divide)), abs=1e-10)
    out = SedOutput(clip=frame.mean(-1), frame=frame, masks=masks)
    assert float(cosine_penalty_of(out, active, "mask", EPS, divide)) == pytest.approx(
        float(cosine_loop(masks, active, divide)), abs=1e-10
    )
    assert float(cosine_penalty_of(out, active, "frame", EPS, divide)) == pytest.approx(
        float(cosine_loop(frame, active, divide)), abs=1e-10
    )


def test_cosine_penalty_gradients_match_the_loop(data):
    masks, frame, _, active = data
    a = frame.clone().requires_grad_(True)
    b = frame.clone().requires_grad_(True)
    cosine_penalty(a, active).backward()
    cosine_loop(b, active).backward()
    assert torch.isfinite(a.grad).all()
    assert torch.allclose(a.grad, b.grad, atol=1e-10)
    assert a.grad[1].abs().sum() == 0 and a.grad[2].abs().sum() == 0  # < 2 positives: no pull
    assert a.grad[0, ~active[0]].abs().sum() == 0  # negative classes untouched


def test_cosine_by_hand():
    t = torch.zeros(1, 3, 4)
    t[0, 0] = torch.tensor([1.0, 1.0, 0.0, 0.0])
    t[0, 1] = torch.tensor([0.0, 0.0, 1.0, 1.0])  # disjoint from class 0
    t[0, 2] = torch.tensor([1.0, 0.0, 0.0, 0.0])
    pos = torch.tensor([[True, True, False]])
    assert float(cosine_penalty(t, pos, divide_by_classes=False)) == pytest.approx(0.0, abs=1e-7)
    same = torch.tensor([[True, False, False]])
    t2 = t.clone()
    t2[0, 1] = t2[0, 0] * 0.3  # same direction, other scale -> cos 1
    assert float(cosine_penalty(t2, pos, divide_by_classes=False)) == pytest.approx(2.0, abs=1e-6)
    assert float(cosine_penalty(t2, pos)) == pytest.approx(2.0 / 3, abs=1e-6)  # / K
    # classes 0 and 2: <(1,1,0,0), (1,0,0,0)> / (sqrt 2 * 1) = 1/sqrt 2, counted for (0,2) and (2,0)
    pos02 = torch.tensor([[True, False, True]])
    assert float(cosine_penalty(t, pos02, divide_by_classes=False)) == pytest.approx(math.sqrt(2), abs=1e-6)
    # one positive, none, K = 1: 0, with a graph
    assert float(cosine_penalty(t, same)) == 0.0
    x = torch.rand(2, 1, 5, requires_grad=True)
    z = cosine_penalty(x, torch.ones(2, 1, dtype=torch.bool))
    z.backward()
    assert float(z.detach()) == 0.0 and torch.all(x.grad == 0)
    # masks: two disjoint binary T-F masks -> 0; identical -> 1 per ordered pair
    m = torch.zeros(1, 2, 2, 3)
    m[0, 0, 0] = 1.0
    m[0, 1, 1] = 1.0
    both = torch.ones(1, 2, dtype=torch.bool)
    assert float(cosine_penalty(m, both, divide_by_classes=False)) == pytest.approx(0.0, abs=1e-7)
    m[0, 1] = m[0, 0]
    assert float(cosine_penalty(m, both, divide_by_classes=False)) == pytest.approx(2.0, abs=1e-6)


def test_cosine_penalty_zero_row_is_finite():
    x = torch.zeros(1, 3, 6)
    x[0, 1] = torch.rand(6)
    x.requires_grad_(True)
    z = cosine_penalty(x, torch.ones(1, 3, dtype=torch.bool))
    z.backward()
    assert float(z.detach()) == pytest.approx(0.0, abs=1e-7) and torch.isfinite(x.grad).all()


def test_cosine_input_choice():
    out = SedOutput(clip=torch.rand(2, 3), frame=torch.rand(2, 3, 4), masks=None)
    with pytest.raises(ValueError, match="no masks"):
        cosine_penalty_of(out, torch.ones(2, 3, dtype=torch.bool), on="mask")
    with pytest.raises(ValueError, match="expected 'frame' or 'mask'"):
        cosine_penalty_of(out, torch.ones(2, 3, dtype=torch.bool), on="clip")


# ---------------------------------------------------------------- separated inputs


def test_separated_inputs_match_a_loop(data):
    masks, _, logmel, active = data
    index, valid = active_index(active)
    got = separated_inputs(logmel, masks, index, LOG_EPS)
    assert got.shape == (4, index.shape[1], 11, 7)
    assert torch.allclose(got, separated_loop(logmel, masks, index, LOG_EPS), atol=1e-9)


def test_separated_inputs_by_hand_and_stable():
    logmel = torch.log(torch.tensor([[[1.0, 100.0, 0.0]]]) + LOG_EPS)  # (1, 1, 3): E = 1, 100, 0
    masks = torch.stack([torch.ones(1, 3), torch.zeros(1, 3), torch.full((1, 3), 0.25)])[None]  # (1, 3, 1, 3)
    out = separated_inputs(logmel, masks, torch.tensor([[0, 1, 2]]), LOG_EPS)
    assert torch.allclose(out[0, 0], logmel[0], atol=1e-6)  # mask 1: the mixture itself
    assert torch.allclose(out[0, 1], torch.full((1, 3), math.log(LOG_EPS)), atol=1e-5)  # mask 0: silence
    expected = torch.log(torch.tensor([0.25, 25.0, 0.0]) + LOG_EPS)
    assert torch.allclose(out[0, 2, 0], expected, atol=1e-5)
    # a loud bin and a mask of exactly 0 / a tiny mask: finite values and gradients
    loud = torch.full((1, 2, 2), 80.0)
    m = torch.tensor([0.0, 1e-30]).expand(1, 1, 2, 2).clone().requires_grad_(True)
    y = separated_inputs(loud, m, torch.zeros(1, 1, dtype=torch.long), LOG_EPS)
    y.sum().backward()
    assert torch.isfinite(y).all() and torch.isfinite(m.grad).all()


def test_separated_inputs_gradients_reach_the_masks(data):
    masks, _, logmel, active = data
    m = masks.float().clone().requires_grad_(True)
    index, valid = active_index(active)
    y = separated_inputs(logmel.float(), m, index, LOG_EPS)
    (y * valid[:, :, None, None]).sum().backward()
    assert torch.isfinite(m.grad).all()
    assert (m.grad[~active] == 0).all() and (m.grad[active] != 0).any()


# ---------------------------------------------------------------- judge loss


def test_judge_loss_matches_a_loop(data):
    *_, active = data
    index, valid = active_index(active)
    g = torch.Generator().manual_seed(9)
    probs = torch.rand(*index.shape, 6, dtype=torch.float64, generator=g)
    probs[0, 0, 0] = 1.0  # clamped
    probs[0, 1, 0] = 0.0
    assert float(judge_loss(probs, index, valid)) == pytest.approx(judge_loop(probs, index, valid), abs=1e-9)
    # all K sources judged, the weak labels as ``present`` (the paper's full form)
    full = torch.arange(6).expand(4, 6)
    allv = torch.ones(4, 6, dtype=torch.bool)
    probs6 = torch.rand(4, 6, 6, dtype=torch.float64, generator=g)
    assert float(judge_loss(probs6, full, allv, present=active)) == pytest.approx(
        judge_loop(probs6, full, allv, active), abs=1e-9
    )


def test_judge_loss_by_hand():
    index = torch.tensor([[2, 0]])
    valid = torch.tensor([[True, True]])
    half = torch.full((1, 2, 3), 0.5, dtype=torch.float64)  # float64: 1 - 1e-7 is exact enough
    assert float(judge_loss(half, index, valid)) == pytest.approx(math.log(2), abs=1e-6)
    perfect = torch.zeros(1, 2, 3, dtype=torch.float64)
    perfect[0, 0, 2] = 1.0
    perfect[0, 1, 0] = 1.0
    assert float(judge_loss(perfect, index, valid)) == pytest.approx(0.0, abs=1e-6)
    # the other active class (0) in source a=0 must score 0: a prob of 1 there costs -log(1e-7) / K
    leak = perfect.clone()
    leak[0, 0, 0] = 1.0
    assert float(judge_loss(leak, index, valid)) == pytest.approx(-math.log(EPS) / 3 / 2, rel=1e-4)
    # padding is ignored; an absent class's source must be silent
    assert float(judge_loss(perfect, index, torch.tensor([[True, False]]))) == pytest.approx(0.0, abs=1e-6)
    absent = judge_loss(perfect, index, valid, present=torch.tensor([[True, False]]))
    assert float(absent) == pytest.approx(-math.log(EPS) / 3 / 2, rel=1e-4)


def test_judge_loss_edges_and_gradients():
    p = torch.rand(3, 0, 4, requires_grad=True)
    z = judge_loss(p, torch.zeros(3, 0, dtype=torch.long), torch.zeros(3, 0, dtype=torch.bool))
    z.backward()
    assert float(z.detach()) == 0.0
    p = torch.rand(2, 1, 1, requires_grad=True)  # K = 1
    z = judge_loss(p, torch.zeros(2, 1, dtype=torch.long), torch.tensor([[True], [False]]))
    z.backward()
    assert float(z.detach()) == pytest.approx(-math.log(float(p.detach()[0, 0, 0])), rel=1e-5)
    assert torch.isfinite(p.grad).all() and float(p.grad[1].abs().sum()) == 0.0


# ---------------------------------------------------------------- mixture consistency


@pytest.mark.parametrize("mode", ["equal", "at_most"])
def test_mixture_consistency_matches_a_loop(data, mode):
    masks, _, logmel, active = data
    got = mixture_consistency(masks, logmel, active, LOG_EPS, mode)
    assert float(got) == pytest.approx(consistency_loop(masks, logmel, active, LOG_EPS, mode), abs=1e-9)


def test_mixture_consistency_by_hand():
    g = torch.Generator().manual_seed(3)
    logmel = torch.log(torch.rand(1, 5, 4, generator=g) + LOG_EPS)
    part = torch.rand(5, 4, generator=g)
    masks = torch.stack([part, 1 - part, torch.rand(5, 4, generator=g)])[None]  # (1, 3, 5, 4)
    act = torch.tensor([[True, True, False]])  # the inactive third mask is not counted
    assert float(mixture_consistency(masks, logmel, act, LOG_EPS)) == pytest.approx(0.0, abs=1e-6)
    lam = 0.3
    one = torch.full((1, 1, 5, 4), lam)
    on = torch.ones(1, 1, dtype=torch.bool)
    assert float(mixture_consistency(one, logmel, on, LOG_EPS)) == pytest.approx(1 - lam, abs=1e-6)
    assert float(mixture_consistency(one, logmel, on, LOG_EPS, "at_most")) == 0.0  # shortfall = background
    # two overlapping full masks: the sources add up to twice the mixture
    two = torch.ones(1, 2, 5, 4)
    both = torch.ones(1, 2, dtype=torch.bool)
    assert float(mixture_consistency(two, logmel, both, LOG_EPS)) == pytest.approx(1.0, abs=1e-6)
    assert float(mixture_consistency(two, logmel, both, LOG_EPS, "at_most")) == pytest.approx(1.0, abs=1e-6)
    # energy weighting: a wrong mask on a silent bin costs nothing
    e = torch.tensor([[[4.0, 0.0]]])
    m = torch.tensor([[[[1.0, 0.0]]]])
    assert float(mixture_consistency(m, torch.log(e + LOG_EPS), on, LOG_EPS)) == pytest.approx(0.0, abs=1e-6)


def test_mixture_consistency_edges_and_gradients(data):
    masks, _, logmel, active = data
    m = masks.clone().requires_grad_(True)
    none = torch.zeros(4, 6, dtype=torch.bool)
    z = mixture_consistency(m, logmel, none, LOG_EPS)
    z.backward()
    assert float(z.detach()) == 0.0 and torch.all(m.grad == 0)
    m.grad = None
    mixture_consistency(m, logmel, active, LOG_EPS).backward()
    assert torch.isfinite(m.grad).all()
    assert (m.grad[~active] == 0).all() and (m.grad[active] != 0).any()
    k1 = mixture_consistency(
        torch.full((2, 1, 3, 3), 0.5), torch.zeros(2, 3, 3), torch.ones(2, 1).bool(), LOG_EPS
    )
    assert float(k1) == pytest.approx(0.5, abs=1e-6)
    with pytest.raises(ValueError, match="unknown consistency mode"):
        mixture_consistency(masks, logmel, active, LOG_EPS, "l2")


# ---------------------------------------------------------------- the chain, with a detector as the judge


def test_judge_chain_backpropagates_to_the_masks():
    torch.manual_seed(0)
    b, k, t, f = 2, 3, 8, 5
    judge = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(t * f, k), torch.nn.Sigmoid())
    x_raw = torch.log(torch.rand(b, t, f) + LOG_EPS)
    masks = torch.rand(b, k, t, f, requires_grad=True)
    labels = torch.tensor([[True, False, True], [False, False, False]])
    index, valid = active_index(labels)
    sep = separated_inputs(x_raw, masks, index, LOG_EPS)  # (B, A, T, F)
    probs = judge((sep.flatten(0, 1) + 10.0) / 10.0).view(b, index.shape[1], k)
    loss = judge_loss(probs, index, valid) + 0.5 * mixture_consistency(masks, x_raw, labels, LOG_EPS)
    loss.backward()
    assert torch.isfinite(masks.grad).all()
    assert (masks.grad[0, 0] != 0).any() and (masks.grad[0, 2] != 0).any()
    assert (masks.grad[0, 1] == 0).all() and (masks.grad[1] == 0).all()
