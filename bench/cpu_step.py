"""One CPU training step of the cpu profile's DDC-FAP: what the trainer did, against what it does now.

    .venv/bin/python bench/cpu_step.py [--rounds 15] [--loss bce|mtl]

Variants, interleaved step after step in one process on the same batch (one thread), median ms per
step (forward, Eq. (8) loss, backward, Adam) and minor page faults per step:

- ``bf16, contiguous``: ``train.amp: true`` on the CPU, what the cpu profile ran until 2026-12-04
  (bfloat16 autocast keeps the model contiguous: ``mtlsed.training.step.memory_format``).
- ``float32, channels_last``: ``train.amp: false``, with ReLU not in place and glibc's default
  allocator thresholds.
- ``+ ReLU in place``: ``mtlsed.models.blocks`` now.
- ``+ heap kept``: and ``mtlsed.core.allocator.keep_freed_memory`` (the trainer's CPU path now).

The allocator setting is process-wide; it is switched per step with ``mallopt`` (glibc only).
"""

import argparse
import copy
import resource
import statistics
import time

import torch

from mtlsed.config.settings import LossConfig
from mtlsed.core.allocator import MMAP_THRESHOLD_MAX, TRIM_THRESHOLD, malloc_thresholds
from mtlsed.models.ddc_fap import DDCFAP
from mtlsed.training.step import make_scaler, training_step

GLIBC_DEFAULT = 128 * 1024  # glibc's initial mmap and trim thresholds


def _set_heap(kept: bool) -> None:
    if kept:
        malloc_thresholds(MMAP_THRESHOLD_MAX, TRIM_THRESHOLD)
    else:
        malloc_thresholds(GLIBC_DEFAULT, GLIBC_DEFAULT)


def _relu_inplace(model, inplace: bool):
    for m in model.modules():
        if isinstance(m, torch.nn.ReLU):
            m.inplace = inplace
    return model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--loss", choices=["bce", "mtl"], default="mtl", help="BCE alone or segment + silent 0.2")
    args = ap.parse_args()
    torch.set_num_threads(1)
    loss = LossConfig() if args.loss == "mtl" else LossConfig(segment_weight=0.0, silent_weight=0.0)
    torch.manual_seed(0)
    base = DDCFAP(10, 32, [16, 16, 16, 16], [1, 2, 4, 8])
    x, y = torch.randn(16, 311, 32), (torch.rand(16, 10) < 0.3).float()

    def net(channels_last: bool, inplace: bool):
        layout = torch.channels_last if channels_last else torch.contiguous_format
        return _relu_inplace(copy.deepcopy(base).to(memory_format=layout), inplace)

    # name: (model, bf16 autocast, heap kept)
    variants = {
        "bf16, contiguous": (net(False, False), True, False),
        "float32, channels_last": (net(True, False), False, False),
        "+ ReLU in place": (net(True, True), False, False),
        "+ heap kept": (net(True, True), False, True),
    }
    opts = {k: torch.optim.Adam(v[0].parameters(), 1e-3) for k, v in variants.items()}
    scaler = make_scaler(torch.device("cpu"), False)  # no loss scaling on the CPU, bfloat16 or not
    times: dict[str, list[float]] = {k: [] for k in variants}
    faults: dict[str, list[int]] = {k: [] for k in variants}
    for _ in range(args.rounds + 1):  # the first round warms up
        for name, (model, bf16, kept) in variants.items():
            _set_heap(kept)
            before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            tic = time.perf_counter()
            training_step(model, opts[name], scaler, x, y, loss, amp=bf16)  # the trainer's step
            times[name].append(time.perf_counter() - tic)
            faults[name].append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    ref = statistics.median(times["bf16, contiguous"][1:])
    print(f"DDC-FAP 16x4, batch 16, 311 x 32, loss {args.loss}, one thread, median of {args.rounds} rounds")
    print("| variant | ms/step | page faults/step | x bf16 |")
    print("|---|---|---|---|")
    for name in variants:
        t = statistics.median(times[name][1:])
        print(f"| {name} | {t * 1000:.0f} | {statistics.median(faults[name][1:]):.0f} | {ref / t:.2f}x |")


if __name__ == "__main__":
    main()
