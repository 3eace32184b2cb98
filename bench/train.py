"""Training speed per model on this machine and the time sed_eval takes for 1000 clips.

    .venv/bin/python bench/train.py [--iterations 6] [--batch 8]

Training runs the real trainer (data loading from the feature cache, loss,
backward, Adam) on a 16 kHz embedded set with the default model sizes and with
the `cpu` profile's sizes. The evaluation part scores 1000 clips of random
predictions with sed_eval's event-based metrics, as `mtlsed evaluate` does.
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from mtlsed.config import Config
from mtlsed.data.build import BuildSpec, build_dataset
from mtlsed.data.format import Event
from mtlsed.metrics import event_based
from mtlsed.models import DISPLAY_NAMES, MODELS
from mtlsed.profiles import load_profile
from mtlsed.train import train


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iterations", type=int, default=6)
    ap.add_argument("--batch", type=int, default=8)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = build_dataset(Path(tmp) / "set", BuildSpec("overlapped", 60, 0, 16000), progress=False)
        cpu = load_profile("cpu").config()
        print(f"training: batch {args.batch}, 311 x 64 features, {args.iterations} iterations per model")
        print(f"{'model':10s} {'sizes':>14s} {'clips/s':>9s}")
        setups = [(name, "default", Config().model.channels) for name in MODELS]
        setups.append(("ddc_fap", "cpu profile", cpu.model.channels))
        setups.append(("ddc_fap", "cpu + bce only", cpu.model.channels))
        for name, label, channels in setups:
            cfg = cpu if label.startswith("cpu") else Config()
            over = {
                "model.name": name,
                "model.channels": channels,
                "features.sample_rate": 16000,
                "train.batch_size": args.batch,
                "train.iterations": args.iterations + 1,
                "train.eval_every": args.iterations + 1,
            }
            if name not in ("ddc_fap", "vgg_gwrp") or "bce" in label:
                over.update({"loss.segment_weight": 0.0, "loss.silent_weight": 0.0})
            run = Path(tmp) / f"{name}-{label}".replace(" ", "_")
            start = time.perf_counter()
            train(data, cfg.with_overrides(over), run, progress=False)
            seconds = time.perf_counter() - start
            print(
                f"{DISPLAY_NAMES[name]:10s} {label:>14s} {args.batch * (args.iterations + 1) / seconds:9.2f}"
            )
    rng = np.random.default_rng(0)
    classes = [f"c{k}" for k in range(10)]
    reference, estimated = {}, {}
    for i in range(1000):
        name = f"clip{i}.wav"
        reference[name] = [
            Event(name, 3.0, 3.0 + rng.uniform(0.3, 4), str(rng.choice(classes))) for _ in range(2)
        ]
        estimated[name] = [
            (float(a), float(a + rng.uniform(0.1, 3)), str(rng.choice(classes))) for a in rng.uniform(0, 8, 3)
        ]
    start = time.perf_counter()
    event_based(reference, estimated, classes)
    print(f"sed_eval event-based metrics for 1000 clips: {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
