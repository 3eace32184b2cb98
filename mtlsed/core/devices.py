"""The device a run uses: ``auto`` (CUDA, then Apple MPS, then the CPU) or the one named, if it is here.

Training, evaluation and ``mtlsed features`` pick it here, so a device that is not there is one message,
before any work, wherever it is asked for.
"""

from __future__ import annotations

import torch

from mtlsed.core.errors import UserError
from mtlsed.core.vocabulary import KNOWN_DEVICES


def pick_device(name: str = "auto") -> torch.device:
    """``auto``: CUDA, then Apple MPS, then CPU; otherwise the named device, which must exist here."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps" if _mps() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise UserError(f"train.device={name!r}: not a device name; use {KNOWN_DEVICES}") from None
    if device.type not in ("cpu", "cuda", "mps"):
        raise UserError(f"train.device={name!r}: not supported here; use {KNOWN_DEVICES}")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            cuda = torch.version.cuda
            build = "a CPU-only build" if cuda is None else f"built for CUDA {cuda}"
            raise UserError(
                f"train.device={name!r}: no CUDA device available (torch {torch.__version__} is {build}); "
                f"devices here: {available_devices()}. Use train.device=auto (or cpu)"
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise UserError(
                f"train.device={name!r}: there are {torch.cuda.device_count()} CUDA device(s) here "
                f"({available_devices()})"
            )
    if device.type == "mps" and "mps" not in available_devices():
        raise UserError(f"train.device={name!r}: Apple MPS is not available; devices: {available_devices()}")
    return device


def available_devices() -> str:
    """The devices this torch can use, as a short list (``cpu, cuda:0 (NVIDIA H200)``)."""
    found = ["cpu"]
    if torch.cuda.is_available():
        found += [f"cuda:{i} ({torch.cuda.get_device_name(i)})" for i in range(torch.cuda.device_count())]
    if _mps():
        found.append("mps")
    return ", ".join(found)


def _mps() -> bool:
    return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
