"""One float32 training step on the CPU, contiguous against ``channels_last``, side by side.

    .venv/bin/python bench/channels_last.py [--rounds 5] [--sizes ci cpu paper]

The trainer keeps the model in ``channels_last`` for float32 on the CPU
(``mtlsed.training.step.memory_format``):
PyTorch's depthwise convolution backward is much faster in it. Each figure is the median time of one step
(forward, Eq. (8) loss, backward, Adam) of DDC-FAP at a profile's size on one thread, the two layouts
interleaved round after round on the same batch; the last column is the ratio.
"""

import argparse
import copy
import time

import torch

from mtlsed.config.settings import LossConfig
from mtlsed.models.ddc_fap import DDCFAP
from mtlsed.training.step import make_scaler, training_step

CPU = torch.device("cpu")

# (channels, dilations, batch, mel bands, frames): the profiles' model sizes at 10 s clips
SIZES = {
    "ci": ([8, 8], [1, 2], 8, 64, 311),
    "cpu": ([16, 16, 16, 16], [1, 2, 4, 8], 16, 32, 311),
    "paper": ([32, 64, 128, 128], [1, 2, 4, 8], 4, 64, 311),
}


def step(model, opt, x, y) -> float:
    """Seconds of one float32 step through the trainer's own step function (mtlsed.training.step)."""
    tic = time.perf_counter()
    training_step(model, opt, make_scaler(CPU, False), x, y, LossConfig(), amp=False)
    return time.perf_counter() - tic


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--sizes", nargs="+", default=["ci", "cpu"], choices=list(SIZES))
    args = ap.parse_args()
    torch.set_num_threads(1)
    print("| size | contiguous ms/step | channels_last ms/step | speed-up |")
    print("|---|---|---|---|")
    for size in args.sizes:
        channels, dilations, batch, mels, frames = SIZES[size]
        torch.manual_seed(0)
        base = DDCFAP(10, mels, channels, dilations)
        x, y = torch.randn(batch, frames, mels), (torch.rand(batch, 10) < 0.3).float()
        nets = {
            "contiguous": base,
            "channels_last": copy.deepcopy(base).to(memory_format=torch.channels_last),
        }
        opts = {k: torch.optim.Adam(m.parameters(), 1e-3) for k, m in nets.items()}
        times = {k: [] for k in nets}
        for _ in range(args.rounds + 1):  # the first round warms up
            for k in nets:
                times[k].append(step(nets[k], opts[k], x, y))
        med = {k: sorted(v[1:])[len(v[1:]) // 2] * 1000 for k, v in times.items()}
        print(
            f"| {size} | {med['contiguous']:.0f} | {med['channels_last']:.0f} | "
            f"{med['contiguous'] / med['channels_last']:.2f}x |"
        )


if __name__ == "__main__":
    main()
