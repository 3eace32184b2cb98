"""Training speed on this machine: the trainer's CPU path against the one it replaced, side by side.

    .venv/bin/python bench/train.py [--iterations 60] [--paper-iterations 3] [--rounds 2] [--load]
                                    [--sizes cpu paper]

Every figure is clips per second of the real trainer (``mtlsed.training.train.train``: batches, loss,
backward, Adam, one validation) on a 16 kHz embedded set, at the ``cpu`` profile's model size and
at the paper's (32-64-128-128 channels, dilations 1-2-4-8). The variants run interleaved, round
after round in one process, so a change in the machine's load hits them alike; the table shows the
median over rounds and the ratio to the old path.

- ``old``: PyTorch's default thread count (two on a 2-core machine), float32
  (``train.threads=0 train.amp=false``), what the trainer did before.
- ``1 thread``: ``train.threads=1``, float32.
- ``1 thread + bf16``: ``train.threads=1 train.amp=true`` (bfloat16 autocast).
- ``grid of 2``: two runs at once, each on one thread (what ``reproduce --jobs 2`` does), counted as
  the clips both runs train per second of wall time, process start-up included (so short runs
  understate it).

``--load`` keeps one busy process running beside the measurements (a stand-in for a notebook
kernel, a browser or another job on the machine): the case where two threads collapse.
"""

import argparse
import multiprocessing
import statistics
import tempfile
import time
from pathlib import Path

from mtlsed.config.profiles import load_profile
from mtlsed.config.settings import Config
from mtlsed.data.build import BuildSpec, build_dataset
from mtlsed.training.train import train

SIZES = {
    "cpu": None,  # the cpu profile's own model
    "paper": {"model.channels": [32, 64, 128, 128], "model.dilations": [1, 2, 4, 8]},
}
VARIANTS = {
    "old": {"train.threads": 0, "train.amp": False},
    "1 thread": {"train.threads": 1, "train.amp": False},
    "1 thread + bf16": {"train.threads": 1, "train.amp": True},
}


def _cfg(size: str, iterations: int, batch: int, extra: dict) -> Config:
    cfg = load_profile("cpu").config()
    over = {
        "train.batch_size": batch,
        "train.iterations": iterations,
        "train.eval_every": iterations,
        **(SIZES[size] or {}),
        **extra,
    }
    return cfg.with_overrides(over)


def _train_once(data: Path, cfg: Config, run: Path) -> float:
    start = time.perf_counter()
    train(data, cfg, run, progress=False)
    return time.perf_counter() - start


def _clips_per_s(data, cfg, run) -> float:
    return cfg.train.batch_size * cfg.train.iterations / _train_once(data, cfg, run)


def _grid_of_two(data, cfg, runs) -> float:
    ctx = multiprocessing.get_context("spawn")
    start = time.perf_counter()
    with ctx.Pool(2) as pool:
        pool.starmap(_train_once, [(data, cfg, r) for r in runs])
    return 2 * cfg.train.batch_size * cfg.train.iterations / (time.perf_counter() - start)


def _burn(stop) -> None:
    x = 0.0
    while not stop.is_set():
        for i in range(100_000):
            x += i * 1e-9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iterations", type=int, default=60, help="iterations per measurement, cpu size")
    ap.add_argument("--paper-iterations", type=int, default=3, help="iterations per measurement, paper size")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--load", action="store_true", help="keep one busy process beside the measurements")
    ap.add_argument("--sizes", nargs="+", choices=list(SIZES), default=list(SIZES))
    args = ap.parse_args()
    stop = multiprocessing.Event()
    burner = multiprocessing.Process(target=_burn, args=(stop,), daemon=True) if args.load else None
    if burner:
        burner.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            data = build_dataset(Path(tmp) / "set", BuildSpec("overlapped", 60, 0, 16000), progress=False)
            _train_once(data, _cfg("cpu", 2, args.batch, {}), Path(tmp) / "warm")  # feature cache, imports
            print(
                f"batch {args.batch}, 311 x 64 features; median clips/s over {args.rounds} rounds"
                + (", one busy process beside" if args.load else "")
            )
            print(f"{'size':6s} {'variant':16s} {'clips/s':>8s} {'x old':>6s}")
            n = 0  # each measurement trains into a folder of its own
            for size in args.sizes:
                its = args.iterations if size == "cpu" else args.paper_iterations
                speeds: dict[str, list[float]] = {}
                for _ in range(args.rounds):
                    for name, extra in VARIANTS.items():
                        n += 1
                        cfg = _cfg(size, its, args.batch, extra)
                        speeds.setdefault(name, []).append(_clips_per_s(data, cfg, Path(tmp) / f"r{n}"))
                    cfg = _cfg(size, its, args.batch, VARIANTS["1 thread"])
                    runs = [Path(tmp) / f"g{n}a", Path(tmp) / f"g{n}b"]
                    speeds.setdefault("grid of 2", []).append(_grid_of_two(data, cfg, runs))
                old = statistics.median(speeds["old"])
                for name, values in speeds.items():
                    v = statistics.median(values)
                    print(f"{size:6s} {name:16s} {v:8.2f} {v / old:6.2f}")
    finally:
        stop.set()
        if burner:
            burner.join()


if __name__ == "__main__":
    main()
