"""The GPU path's invariants, pinned on this CPU: one training step for everyone, the loss outside autocast,
checkpoints read to the CPU, both random generators saved and restored, collective operands on the run's
device, and a torch floor that has the APIs the code calls."""

import ast
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
from packaging.requirements import Requirement
from packaging.version import Version

import mtlsed.training.step as step
from mtlsed.config.settings import LossConfig, TrainConfig
from mtlsed.models.ddc_fap import DDCFAP
from mtlsed.runs.runfolder import RunFolder
from mtlsed.training.train import mean_over_processes

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
CPU = torch.device("cpu")


def _tiny():
    torch.manual_seed(0)
    model = DDCFAP(3, 16, [4, 4], [1, 2])
    x, y = torch.randn(2, 40, 16), torch.tensor([[1.0, 0, 1], [0, 1, 0]])
    return model, x, y


def test_the_loss_is_computed_with_autocast_off(monkeypatch):
    """CUDA autocast refuses binary_cross_entropy; CPU autocast casts it. So the step must leave autocast
    before the loss, and the forward pass must be inside it: both recorded while a real step runs."""
    model, x, y = _tiny()
    seen = {}

    def forward_hook(*_):  # returns None: the output is left as it is
        seen["forward"] = torch.is_autocast_enabled("cpu")

    model.register_forward_hook(forward_hook)
    real = step.total_loss

    def recording(*args, **kwargs):
        seen["loss"] = torch.is_autocast_enabled("cpu")
        return real(*args, **kwargs)

    monkeypatch.setattr(step, "total_loss", recording)
    opt = step.make_optimizer(model, TrainConfig())
    terms = step.training_step(model, opt, step.make_scaler(CPU, True), x, y, LossConfig(), amp=True)
    assert seen == {"forward": True, "loss": False}
    assert torch.isfinite(terms.total)


def test_one_step_equals_the_steps_written_out():
    """training_step is forward, Eq. (8), backward and one Adam step: the same weights as by hand."""
    model, x, y = _tiny()
    twin = DDCFAP(3, 16, [4, 4], [1, 2])
    twin.load_state_dict(model.state_dict())
    opt = step.make_optimizer(model, TrainConfig())
    step.training_step(model, opt, step.make_scaler(CPU, False), x, y, LossConfig(), amp=False)
    by_hand = torch.optim.Adam(twin.parameters(), lr=TrainConfig().lr)
    step.total_loss(twin(x), y, LossConfig()).total.backward()
    by_hand.step()
    for (name, a), b in zip(model.state_dict().items(), twin.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def _calls(path: Path, attr: str) -> list[int]:
    """Lines of ``path`` that call a method or function named ``attr``."""
    tree = ast.parse(path.read_text())
    return [
        n.lineno
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == attr
    ]


def test_every_training_step_is_the_one_in_mtlsed_step():
    """The trainer, Table 3's cost column, the GPU check and the benchmarks step through training_step;
    none writes a backward pass or a grad scaler of its own (so what is checked is what trains)."""
    sources = [*(ROOT / "mtlsed").rglob("*.py"), *(ROOT / "bench").glob("*.py")]
    own = {p: _calls(p, "backward") + _calls(p, "GradScaler") for p in sources if p.name != "step.py"}
    assert {str(p.relative_to(ROOT)): lines for p, lines in own.items() if lines} == {}
    users = {
        "mtlsed/training/train.py",
        "mtlsed/experiments/table3.py",
        "bench/gpu_check.py",
        "bench/cpu_step.py",
    }
    for name in users:
        assert _calls(ROOT / name, "training_step") or "training_step(" in (ROOT / name).read_text(), name


def test_checkpoints_load_to_the_cpu(tmp_path, monkeypatch):
    """A checkpoint mapped to CUDA turns the saved CPU generator into a CUDA tensor, which
    torch.set_rng_state refuses: every resume on a GPU failed. Loading maps to the CPU, whatever the run's
    device; the signature no longer takes a device at all."""
    run = RunFolder(tmp_path / "run")
    run.path.mkdir()
    run.save_checkpoint("last", {"model": {"w": torch.ones(2)}, **step.random_state(CPU)})
    mapped = []
    real = torch.load
    monkeypatch.setattr(torch, "load", lambda *a, **k: mapped.append(k.get("map_location")) or real(*a, **k))
    state = run.load_checkpoint("last")
    assert mapped == ["cpu"]
    assert state["rng"].device == CPU and state["rng"].dtype == torch.uint8
    with pytest.raises(TypeError):
        run.load_checkpoint("last", torch.device("cuda"))  # the old call: no device to pass any more


def test_the_cpu_generator_round_trips_through_a_checkpoint(tmp_path):
    run = RunFolder(tmp_path / "run")
    run.path.mkdir()
    torch.manual_seed(7)
    run.save_checkpoint("last", {"model": {}, **step.random_state(CPU)})
    expected = torch.rand(5)
    torch.manual_seed(123)  # something else drew in between
    step.restore_random_state(run.load_checkpoint("last"), CPU)
    assert torch.equal(torch.rand(5), expected)


def test_the_cuda_generator_is_saved_and_restored_on_the_runs_device(monkeypatch):
    """Without a GPU here, torch.cuda's two generator calls are replaced by recorders: the state of the
    run's device is saved as a CPU tensor and handed back to that device on resume."""
    device = torch.device("cuda", 1)
    calls = []
    saved = torch.arange(8, dtype=torch.uint8)
    monkeypatch.setattr(torch.cuda, "get_rng_state", lambda d: calls.append(("get", d)) or saved.clone())
    monkeypatch.setattr(torch.cuda, "set_rng_state", lambda s, d: calls.append(("set", s, d)))
    state = step.random_state(device)
    assert set(state) == {"rng", "cuda_rng"} and state["cuda_rng"].device == CPU
    step.restore_random_state(state, device)
    assert calls[0] == ("get", device)
    assert calls[1][0] == "set" and torch.equal(calls[1][1], saved) and calls[1][2] == device
    assert set(step.random_state(CPU)) == {"rng"}  # a CPU run's checkpoints are as before


def test_the_all_reduce_operand_lives_on_the_runs_device(monkeypatch):
    """NCCL reduces CUDA tensors only (gloo, in the tests, takes CPU ones): the epoch means are reduced
    from a tensor on the run's device. Recorded on a device that is not the CPU ('meta')."""

    class Reduced(Exception):
        pass

    seen = []

    def recorder(t, *args, **kwargs):
        seen.append((t.device, t.dtype, t.shape))
        raise Reduced

    monkeypatch.setattr(dist, "all_reduce", recorder)
    with pytest.raises(Reduced):
        mean_over_processes({"total": 1.0, "bce": 0.5}, torch.device("meta"), 2)
    assert seen == [(torch.device("meta"), torch.float64, torch.Size([2]))]


def test_the_mean_over_processes_in_a_real_process_group(tmp_path):
    """One gloo process: the mean over a world of one is the value itself, names kept in order."""
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        assert mean_over_processes({"total": 1.5, "bce": 0.25}, CPU, 1) == {"total": 1.5, "bce": 0.25}
    finally:
        dist.destroy_process_group()


def test_the_torch_floor_has_the_apis_the_code_calls():
    """torch.amp.GradScaler("cuda") came with torch 2.3; torch.is_autocast_enabled(device) with 2.4 (tests
    only). The package's floor, and environment.yml's, must not promise an older torch."""
    assert _calls(ROOT / "mtlsed" / "training" / "step.py", "GradScaler")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    env = (ROOT / "environment.yml").read_text()
    for text in [*project["dependencies"], *(line.strip(" -") for line in env.splitlines())]:
        if text.startswith("torch"):
            req = Requirement(text)
            floor = min(Version(s.version) for s in req.specifier if s.operator in (">=", "=="))
            assert floor >= Version("2.3"), text
