"""bench/gpu_check.py, the script a GPU user runs once (#20): on this CPU machine it refuses without
``--allow-cpu``, and with it runs every step (AMP against float32, training through the real trainer, a
real ``kill -9`` and resume) on the ci profile, and its report says what it measured."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "gpu_check.py"

pytestmark = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU machine's behaviour")


def _check(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True)


def test_without_a_gpu_it_says_so_and_exits_2():
    run = _check("--iterations", "4")
    assert run.returncode == 2
    assert "no CUDA device" in run.stdout and "this check is for a GPU machine" in run.stdout


def test_cpu_smoke_run_reports_every_step(tmp_path):
    run = _check("--allow-cpu", "--profile", "ci", "--iterations", "6", "--clips", "32", "--work", tmp_path)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    said = run.stdout
    assert "device: CPU (smoke test, bfloat16 autocast)" in said and "profile ci" in said
    steps = re.findall(r"step +(\d+): amp ([\d.]+)  float32 ([\d.]+)", said)
    assert [int(s) for s, *_ in steps] == list(range(1, 11))
    # bfloat16 and float32 start from the same weights and batches: close, not equal
    gap = float(re.search(r"largest relative gap: (\S+)", said).group(1))
    by_hand = max(abs(float(a) - float(b)) / float(b) for _, a, b in steps)
    assert gap == pytest.approx(by_hand, rel=0.05, abs=1e-4) and 0 < gap < 0.1
    assert re.search(r"training: 6 iterations x \d+ clips in \d+ s = \d+ clips/s", said)
    assert "losses finite: True" in said
    # the killed run resumed from its checkpoint at half the iterations, and on the CPU bit for bit
    assert "resume: killed after the checkpoint of iteration 3, resumed to 6: weights bit-exact" in said
    assert (tmp_path / "killed" / "last.pt").is_file() and (tmp_path / "run" / "last.pt").is_file()
