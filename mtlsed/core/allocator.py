"""Keep freed activation memory in the process on Linux, instead of returning it to the system each step.

A training step on the CPU allocates and frees the same few dozen activation tensors of some MiB each
(the cpu profile's: 16 clips x 16 channels x 311 frames x 32 bands, 10 MiB in float32). With glibc's
default thresholds ``malloc`` serves blocks that large with ``mmap``, or trims them off the heap's top
on ``free``, so every step pays the kernel for fresh zeroed pages: tens of thousands of page faults and
a tenth to a seventh of a step's time (``bench/cpu_step.py``). Raising the mmap threshold to its
maximum (32 MiB on 64-bit glibc) and the trim threshold keeps these blocks on the heap, where the next
step reuses them. Larger tensors (the paper's sizes) still go through ``mmap``, as before; the numbers
do not change.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameters (malloc.h)
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_MAX = 32 * 1024 * 1024  # glibc refuses more on 64-bit (DEFAULT_MMAP_THRESHOLD_MAX)
TRIM_THRESHOLD = 1024 * 1024 * 1024  # keep up to 1 GiB of freed heap before trimming it

_applied: bool | None = None


def keep_freed_memory() -> bool:
    """Tune glibc's ``malloc`` for training (once per process); ``True`` when it took effect.

    ``False`` (and nothing changed) off Linux, on a C library without ``mallopt`` (musl), or when glibc
    refuses a value.
    """
    global _applied
    if _applied is None:
        _applied = malloc_thresholds(MMAP_THRESHOLD_MAX, TRIM_THRESHOLD)
    return _applied


def malloc_thresholds(mmap: int, trim: int) -> bool:
    """Set glibc's mmap and trim thresholds in bytes (``mallopt``); ``True`` when both were accepted."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    # mallopt returns 1 on success
    return bool(mallopt(M_MMAP_THRESHOLD, mmap)) and bool(mallopt(M_TRIM_THRESHOLD, trim))
