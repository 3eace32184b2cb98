"""The trainer's allocator setting (mtlsed.core.allocator): what it does is deterministic and tested here;
what it saves (page faults per step) depends on the kernel's state and is measured in bench/cpu_step.py,
side by side with glibc's defaults (on this machine the count is bimodal from run to run, so no test
asserts it)."""

import subprocess
import sys

import pytest

PROBE = """
import ctypes, ctypes.util
from mtlsed.core import allocator

calls = []
libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
real = libc.mallopt
real.argtypes, real.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int


class Recorder:
    def __getattr__(self, name):
        if name == "mallopt":
            def mallopt(param, value):
                calls.append((param, value))
                return real(param, value)
            return mallopt
        return getattr(libc, name)


allocator.ctypes.CDLL = lambda *_: Recorder()
print(allocator.keep_freed_memory(), allocator.keep_freed_memory(), calls)
print(allocator.malloc_thresholds(128 * 1024, 128 * 1024), calls[-2:])
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt: Linux only")
def test_keep_freed_memory_sets_both_thresholds_once():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    first, second = out.stdout.splitlines()
    from mtlsed.core.allocator import M_MMAP_THRESHOLD, M_TRIM_THRESHOLD, MMAP_THRESHOLD_MAX, TRIM_THRESHOLD

    # applied once per process: the mmap threshold at glibc's maximum, then the trim threshold
    assert (
        first
        == f"True True [({M_MMAP_THRESHOLD}, {MMAP_THRESHOLD_MAX}), ({M_TRIM_THRESHOLD}, {TRIM_THRESHOLD})]"
    )
    # glibc's defaults set back the same way (bench/cpu_step.py switches between the two per step)
    assert second == f"True [({M_MMAP_THRESHOLD}, 131072), ({M_TRIM_THRESHOLD}, 131072)]"
