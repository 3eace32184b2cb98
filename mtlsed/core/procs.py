"""Worker processes that never outlive the process that started them."""

from __future__ import annotations

import signal
import sys


def die_with_parent() -> None:
    """Call first in a worker: on Linux the kernel kills it when its parent dies (``PR_SET_PDEATHSIG``).

    A killed ``synth`` or ``reproduce`` thus leaves no worker writing files behind it; elsewhere a
    no-op (the pools' own shutdown still applies). Ctrl-C is left to the parent (the worker ignores
    SIGINT), which says once what was kept and stops its workers.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
        except OSError:  # pragma: no cover - a libc without that name
            pass


def stop_workers(pool) -> None:
    """Stop the processes of a ``ProcessPoolExecutor`` now (an interrupted grid does not wait for them)."""
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        if process.is_alive():
            process.terminate()
