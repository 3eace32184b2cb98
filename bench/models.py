"""Forward + backward speed of each model on this CPU at the paper's input size, side by side.

    .venv/bin/python bench/models.py [--batch 4] [--steps 3] [--classes 41]

Input: 10 s clips, 311 frames x 64 mel bands. Prints parameters, multiply-adds
per clip, clips/s of a training step (BCE for all; the full MTL loss for the
mask models), and the DDC-FAP / VGG-GWRP speed ratio.

Multiply-adds are counted, not timed: DDC-FAP needs about 8x fewer than
VGG-GWRP. On a CPU that does not turn into 8x the speed, because PyTorch's CPU
kernels for depthwise (and more so dilated depthwise) convolutions are
memory-bound, their backward pass above all; on a GPU the gap is wider.
"""

import argparse
import time

import torch

from mtlsed.config.settings import LossConfig, ModelConfig
from mtlsed.models import DISPLAY_NAMES, MODELS, build_model, model_summary
from mtlsed.training.step import make_scaler, training_step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--classes", type=int, default=41)
    args = ap.parse_args()
    torch.manual_seed(0)
    x = torch.randn(args.batch, 311, 64)
    labels = torch.zeros(args.batch, args.classes)
    labels[:, :2] = 1
    speed = {}
    print(f"batch {args.batch}, 311 x 64 input, K = {args.classes}, {torch.get_num_threads()} threads")
    print(f"{'model':10s} {'params':>10s} {'GMAC/clip':>10s} {'clips/s':>9s}")
    for name in MODELS:
        model = build_model(ModelConfig(name=name), args.classes, 64)
        summary = model_summary(model)
        opt = torch.optim.Adam(model.parameters())
        mtl = name in ("ddc_fap", "vgg_gwrp")
        loss_cfg = LossConfig() if mtl else LossConfig(segment_weight=0, silent_weight=0)

        def step(
            model=model, opt=opt, loss_cfg=loss_cfg
        ):  # the trainer's step, float32 (mtlsed.training.step)
            training_step(model, opt, make_scaler(x.device, False), x, labels, loss_cfg, amp=False)

        step()  # warm-up
        start = time.perf_counter()
        for _ in range(args.steps):
            step()
        speed[name] = args.batch * args.steps / (time.perf_counter() - start)
        gmac = summary["macs"] / 1e9
        print(f"{DISPLAY_NAMES[name]:10s} {summary['params']:10,d} {gmac:10.2f} {speed[name]:9.2f}")
    print(f"DDC-FAP / VGG-GWRP training speed ratio: {speed['ddc_fap'] / speed['vgg_gwrp']:.2f}x")


if __name__ == "__main__":
    main()
