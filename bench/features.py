"""Torch log-mel front end vs librosa on the same clips and config, side by side.

    .venv/bin/python bench/features.py [--clips 64] [--sr 32000] [--batch 8]

Prints clips/s of each and the ratio (target: torch >= 2x librosa on a 2-core CPU).
"""

import argparse
import time

import numpy as np
import torch

from mtlsed.config.settings import FeatureConfig
from mtlsed.data.mix import mix_overlapped
from mtlsed.data.synthetic import SyntheticBackgrounds, SyntheticEvents
from mtlsed.features.logmel import LogMel, logmel_librosa


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=64)
    ap.add_argument("--sr", type=int, default=32000)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    cfg = FeatureConfig(sample_rate=args.sr)
    ev, bg = SyntheticEvents(args.sr), SyntheticBackgrounds(args.sr)
    waves = np.stack(
        [mix_overlapped(np.random.default_rng(i), ev, bg, args.sr).audio for i in range(args.clips)]
    )
    front = LogMel(cfg)
    logmel_librosa(waves[0], cfg)  # numba compiles on the first call: keep it out of the timing
    front(torch.from_numpy(waves[: args.batch]))

    def run_torch():
        with torch.no_grad():
            for i in range(0, len(waves), args.batch):
                front(torch.from_numpy(waves[i : i + args.batch]))

    def run_librosa():
        for w in waves:
            logmel_librosa(w, cfg)

    best = {}
    for name, fn in (("torch", run_torch), ("librosa", run_librosa)):
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        best[name] = args.clips / min(times)
    print(
        f"config: {args.sr} Hz, n_fft {cfg.n_fft}, hop {cfg.hop_length}, {cfg.n_mels} mels; "
        f"{args.clips} clips of 10 s; torch batch {args.batch}; {torch.get_num_threads()} threads"
    )
    print(f"torch   {best['torch']:8.1f} clips/s")
    print(f"librosa {best['librosa']:8.1f} clips/s")
    print(f"ratio torch / librosa: {best['torch'] / best['librosa']:.2f}x")


if __name__ == "__main__":
    main()
