"""What produced a result: hardware, software and profile, for every table and notebook."""

from __future__ import annotations

import os
import platform
import sys
from importlib.metadata import PackageNotFoundError, version

PACKAGES = ["mtlsed", "torch", "numpy", "librosa", "sed_eval", "sed_scores_eval"]


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment() -> dict:
    """A flat description of this machine and the packages in use."""
    import torch

    info = {
        "python": sys.version.split()[0],
        "platform": platform.platform(terse=True),
        "cpu": _cpu_name(),
        "cpu_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none",
    }
    for name in PACKAGES:
        try:
            info[name] = version(name)
        except PackageNotFoundError:
            info[name] = "not installed"
    return info


def hardware_line(info: dict | None = None) -> str:
    info = info or environment()
    gpu = f", GPU {info['gpu']}" if info["gpu"] != "none" else ", no GPU"
    return f"{info['cpu']} ({info['cpu_cores']} cores{gpu})"
