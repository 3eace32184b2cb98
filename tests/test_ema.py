"""Weight averaging (``train.ema_decay``): the average against a hand loop, and what a run saves."""

import csv

import pytest
import torch

from mtlsed.config import Config, ConfigError
from mtlsed.data.dataset import SedDataset
from mtlsed.ema import WeightAverage
from mtlsed.inference import load_run
from mtlsed.train import train, validate

TINY = {
    "features.sample_rate": 16000,
    "model.channels": "[4, 4]",
    "model.dilations": "[1, 2]",
    "train.batch_size": 4,
    "train.lr_decay_every": 4,
    "train.iterations": 6,
    "train.eval_every": 3,
}


def tiny_cfg(**extra) -> Config:
    return Config().with_overrides([f"{k}={v}" for k, v in {**TINY, **extra}.items()])


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


def test_a_run_validates_and_saves_the_average_and_trains_as_without(small_set, tmp_path):
    once = {"train.eval_every": 6}  # one evaluation: best.pt is saved from the same weights as last.pt
    plain = train(small_set, tiny_cfg(**once), tmp_path / "plain")
    averaged = train(small_set, tiny_cfg(**once, **{"train.ema_decay": 0.5}), tmp_path / "averaged")
    plain_last = torch.load(plain / "last.pt", weights_only=False)
    last = torch.load(averaged / "last.pt", weights_only=False)
    # the average never feeds back: the trained weights are those of the run without it, bit for bit
    assert all(torch.equal(plain_last["model"][k], last["trained"][k]) for k in last["trained"])
    assert "trained" not in plain_last
    assert last["average_updates"] == 6
    assert any(not torch.equal(last["model"][k], last["trained"][k]) for k in last["model"])
    best = torch.load(averaged / "best.pt", weights_only=False)  # what validation chose: the average too
    assert best["iteration"] == 6
    assert all(torch.equal(best["model"][k], last["model"][k]) for k in best["model"])
    # the validation logged is the average's: recomputed from the saved model
    cfg, _classes, model = load_run(averaged, "last")
    val = validate(model, SedDataset(small_set, cfg, "val"), cfg, torch.device("cpu"))
    with (averaged / "log.csv").open() as fh:
        logged = list(csv.DictReader(fh))[-1]
    assert float(logged["val_loss"]) == pytest.approx(val["val_loss"], rel=1e-5)
    assert float(logged["val_at_map"]) == pytest.approx(val["val_at_map"], rel=1e-6)
