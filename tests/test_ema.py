"""Weight averaging (``train.ema_decay``): the average against a hand loop (what a run saves: test_train)."""

import pytest
import torch

from mtlsed.config.settings import Config, ConfigError
from mtlsed.training.ema import WeightAverage


def _net() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))


def test_average_follows_the_hand_formula_with_its_warm_up():
    torch.manual_seed(0)
    net = _net()
    decay = 0.6
    average = WeightAverage(net, decay)
    expected = None
    factors = []
    for n in range(1, 7):
        with torch.no_grad():
            for p in net.parameters():
                p.copy_(torch.randn_like(p))
        net.train()(torch.randn(5, 3))  # moves batch norm's running statistics and its counter
        trained = {k: v.double().clone() for k, v in net.state_dict().items()}
        d = 0.0 if n == 1 else min(decay, (n - 1) / n)  # the plain running mean first, then the decay
        factors.append((average.factor(), d))
        if expected is None:
            expected = trained
        else:
            expected = {k: d * expected[k] + (1 - d) * trained[k] for k in trained}
        average.update(net)
    assert [got for got, _ in factors] == pytest.approx([want for _, want in factors])
    assert [want for _, want in factors] == pytest.approx([0, 1 / 2, 0.6, 0.6, 0.6, 0.6])
    got = average.model.state_dict()
    for k, v in expected.items():
        if k.endswith("num_batches_tracked"):
            assert int(got[k]) == 6  # counters are copied, not averaged
        else:
            torch.testing.assert_close(got[k].double(), v, rtol=1e-6, atol=1e-6)
    assert average.updates == 6
    assert all(not p.requires_grad for p in average.model.parameters())


def test_first_two_updates_are_the_running_mean():
    net = torch.nn.Linear(2, 1, bias=False)
    average = WeightAverage(net, 0.99)
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[1.0, 2.0]]))
        average.update(net)
        assert torch.equal(average.model.weight, torch.tensor([[1.0, 2.0]]))
        net.weight.copy_(torch.tensor([[3.0, 6.0]]))
        average.update(net)
    assert torch.equal(average.model.weight, torch.tensor([[2.0, 4.0]]))
    assert torch.equal(net.weight, torch.tensor([[3.0, 6.0]]))  # the trained weights are left alone


@pytest.mark.parametrize("bad", [1, 1.5, -0.1])
def test_decay_out_of_range_is_refused(bad):
    with pytest.raises(ConfigError, match=r"train\.ema_decay: must be in \[0, 1\)"):
        Config().with_overrides([f"train.ema_decay={bad}"])
    if bad != 1.5:  # the class refuses 1 and 0 (off is no average at all)
        with pytest.raises(ValueError, match="decay must be in"):
            WeightAverage(torch.nn.Linear(1, 1), max(float(bad), 0.0))
