"""Worker processes that never outlive the process that started them."""

from __future__ import annotations

import signal
import sys


def die_with_parent() -> None:
    """Call first in a worker: on Linux the kernel kills it when its parent dies (``PR_SET_PDEATHSIG``).

    A killed ``synth`` or ``reproduce`` thus leaves no worker writing files behind it; elsewhere a
    no-op (the pools' own shutdown still applies).
    """
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
        except OSError:  # pragma: no cover - a libc without that name
            pass
