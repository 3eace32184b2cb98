"""The GPU path, checked in one short run: the paper profile with AMP on one CUDA device.

    python bench/gpu_check.py [--iterations 300] [--clips 480] [--work DIR]      (or bench/gpu_check.sh)

On one GPU it takes a few minutes (an H100-class card: about 3; a Colab T4: about 8) and prints, for the
record in README and the book:

1. the device, torch and CUDA versions;
2. AMP (float16 autocast with a grad scaler) against float32 on the first steps: the same model, seed
   and batches trained 10 steps both ways, their losses side by side and the largest relative gap;
3. the paper profile (32 kHz, DDC-FAP 32-64-128-128, batch 24) trained ``--iterations`` iterations with
   AMP through the real trainer (``mtlsed.training.train.train``): clips per second, peak GPU memory, whether
   every logged loss is finite;
4. a resume: the same run killed after its checkpoint at half the iterations (a real ``kill -9`` of a
   ``mtlsed train`` process) and resumed with ``--resume``; whether its final weights equal those of
   the uninterrupted run bit for bit (on GPUs cuDNN may choose non-deterministic kernels: then the
   largest weight difference is printed instead).

``--json FILE`` writes the same numbers to one JSON file, step by step.

Without CUDA it says so and exits 2: the check is for a GPU machine (README, "On a Colab GPU").
``--allow-cpu --profile ci`` runs the same steps on the CPU (bfloat16 autocast), a smoke test of the
script itself (tests/test_gpu_check.py).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROFILE = "paper"  # set by main: --profile
DEVICE = "cuda"  # set by main: "cpu" with --allow-cpu on a machine without CUDA


def _say(text: str) -> None:
    print(text, flush=True)


def _data(work: Path, clips: int) -> Path:
    """The embedded set at the profile's sample rate (32 kHz for the paper profile)."""
    from mtlsed.config.profiles import load_profile
    from mtlsed.data.build import BuildSpec, build_dataset

    rate = load_profile(PROFILE).config().features.sample_rate
    out = work / f"overlapped-{clips}-{rate}hz"
    if not (out / "weak.tsv").is_file():
        build_dataset(out, BuildSpec("overlapped", clips, 0, rate), progress=False)
    return out


def _config(iterations: int, amp: bool, eval_every: int):
    from mtlsed.config.profiles import load_profile

    return (
        load_profile(PROFILE)
        .config()
        .with_overrides(
            {
                "train.iterations": iterations,
                "train.eval_every": eval_every,
                "train.amp": amp,
                "train.device": DEVICE,
            }
        )
    )


def amp_against_float32(data: Path, steps: int = 10) -> list[tuple[float, float]]:
    """Losses of ``steps`` training steps from one initialisation with float16 autocast and in float32."""
    import torch

    from mtlsed.features.dataset import SedDataset
    from mtlsed.models import build_model
    from mtlsed.training.step import make_optimizer, make_scaler, place_model, training_step

    cfg = _config(steps, True, steps)
    device = torch.device(DEVICE)
    dataset = SedDataset(data, cfg, "train")
    x_all, y_all, _ = dataset.tensors()
    losses = {}
    for amp in (True, False):
        torch.manual_seed(0)
        # the trainer's own step (mtlsed.training.step): layout, autocast scope, scaler and optimiser as a
        # run has them
        model = place_model(build_model(cfg.model, len(dataset.classes), x_all.shape[-1]), device, amp)
        opt, scaler = make_optimizer(model, cfg.train), make_scaler(device, amp)
        out = []
        for step in range(steps):
            batch = cfg.train.batch_size
            idx = [(step * batch + j) % len(dataset) for j in range(batch)]
            x, y = x_all[idx].to(device), y_all[idx].to(device)
            terms = training_step(model, opt, scaler, x, y, cfg.loss, amp=amp, log_eps=cfg.features.log_eps)
            out.append(float(terms.total))
        losses[amp] = out
    return list(zip(losses[True], losses[False], strict=True))


def _peak_gib() -> float:
    import torch

    return torch.cuda.max_memory_allocated() / 2**30 if DEVICE == "cuda" else float("nan")


def _train_cli(data: Path, run: Path, cfg_args: list[str], resume: bool = False) -> list[str]:
    cmd = [
        sys.executable,
        "-m",
        "mtlsed",
        "train",
        "--data",
        str(data),
        "--profile",
        PROFILE,
        "--out",
        str(run),
    ]
    return cmd + (["--resume"] if resume else []) + ["--set", *cfg_args, f"train.device={DEVICE}"]


def _write(report: dict, path: Path | None) -> None:
    """The run's numbers as one JSON file (what README quotes); written after each step, so a check
    that fails half way still leaves what it measured."""
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=1) + "\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--clips", type=int, default=480, help="clips of the embedded set (profile's rate)")
    parser.add_argument("--work", type=Path, help="working folder (default: a temporary one)")
    parser.add_argument("--profile", default="paper", help="the profile trained (default: paper)")
    parser.add_argument("--json", type=Path, help="also write the numbers to this JSON file")
    parser.add_argument(
        "--allow-cpu", action="store_true", help="run on the CPU when there is no GPU (a smoke test)"
    )
    args = parser.parse_args(argv)

    import torch

    global PROFILE, DEVICE
    PROFILE = args.profile
    if not torch.cuda.is_available():
        if not args.allow_cpu:
            _say(f"no CUDA device (torch {torch.__version__}); this check is for a GPU machine")
            return 2
        DEVICE = "cpu"
    from mtlsed.runs.runfolder import RunFolder
    from mtlsed.training.train import train

    work = args.work or Path(tempfile.mkdtemp(prefix="mtlsed-gpu-"))
    work.mkdir(parents=True, exist_ok=True)
    name = torch.cuda.get_device_name(0) if DEVICE == "cuda" else "CPU (smoke test, bfloat16 autocast)"
    report: dict = {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "device": name,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "profile": PROFILE,
    }
    _say(f"date: {report['date']}")
    _say(f"device: {name}; torch {torch.__version__}, CUDA {torch.version.cuda}; profile {PROFILE}")
    start = time.perf_counter()
    data = _data(work, args.clips)
    _say(f"data: {data} ({args.clips} clips, {time.perf_counter() - start:.0f} s)")

    pairs = amp_against_float32(data)
    gap = max(abs(a - b) / abs(b) for a, b in pairs)
    _say(f"AMP ({'float16' if DEVICE == 'cuda' else 'bfloat16'}) against float32, the first steps' losses:")
    for i, (a, b) in enumerate(pairs, start=1):
        _say(f"  step {i:2d}: amp {a:.5f}  float32 {b:.5f}")
    _say(f"  largest relative gap: {gap:.2e}")
    report["amp_against_float32"] = {
        "amp": [a for a, _ in pairs],
        "float32": [b for _, b in pairs],
        "gap": gap,
    }
    _write(report, args.json)

    half = args.iterations // 2
    cfg_args = [f"train.iterations={args.iterations}", f"train.eval_every={half}", "train.amp=true"]
    run = work / "run"
    if DEVICE == "cuda":
        torch.cuda.reset_peak_memory_stats()
    tic = time.perf_counter()
    train(data, _config(args.iterations, True, half), run, progress=False)
    seconds = time.perf_counter() - tic
    log = RunFolder(run).read_log()
    finite = all(math.isfinite(float(r[k])) for r in log for k in ("loss", "bce", "segment", "silent"))
    batch = _config(args.iterations, True, half).train.batch_size
    clips = args.iterations * batch
    _say(
        f"training: {args.iterations} iterations x {batch} clips in {seconds:.0f} s = "
        f"{clips / seconds:.0f} clips/s "
        f"(validation included); peak GPU memory {_peak_gib():.2f} GiB; "
        f"losses finite: {finite}"
    )
    report["training"] = {
        "iterations": args.iterations,
        "batch": batch,
        "seconds": round(seconds, 1),
        "clips_per_second": round(clips / seconds, 1),
        "peak_gib": _peak_gib(),
        "losses_finite": finite,
        "last_log_row": log[-1] if log else None,
    }
    _write(report, args.json)

    killed = work / "killed"
    proc = subprocess.Popen(
        _train_cli(data, killed, cfg_args), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    while proc.poll() is None and not (killed / "last.pt").is_file():
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    at = RunFolder(killed).checkpoint_info("last")["iteration"] if (killed / "last.pt").is_file() else 0
    resumed = subprocess.run(_train_cli(data, killed, cfg_args, resume=True), capture_output=True, text=True)
    if resumed.returncode != 0:  # say why: a resume that fails only on a GPU is what this check is for
        _say(f"resume FAILED (exit {resumed.returncode}):\n{resumed.stderr[-3000:]}")
        report["resume"] = {"ok": False, "killed_at": at, "stderr": resumed.stderr[-3000:]}
        _write(report, args.json)
        return 1
    a = RunFolder(run).load_checkpoint("last")["model"]
    b = RunFolder(killed).load_checkpoint("last")["model"]
    same = all(torch.equal(a[k], b[k]) for k in a)
    diff = max(float((a[k].float() - b[k].float()).abs().max()) for k in a)
    _say(
        f"resume: killed after the checkpoint of iteration {at}, resumed to {args.iterations}: "
        + ("weights bit-exact" if same else f"weights differ by at most {diff:.2e} (not bit-exact)")
    )
    report["resume"] = {"ok": True, "killed_at": at, "bit_exact": same, "largest_difference": diff}
    report["total_seconds"] = round(time.perf_counter() - start, 1)
    _write(report, args.json)
    _say(f"total: {report['total_seconds']:.0f} s; work folder {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
