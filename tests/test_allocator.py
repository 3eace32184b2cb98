"""The trainer's allocator setting: freed activation memory is reused, not mapped afresh each step."""

import subprocess
import sys

import pytest

# Allocates and frees a 10 MiB tensor (a cpu-profile activation) 50 times; prints the minor page faults
# that cost before and after mtlsed.allocator.keep_freed_memory, and what it returned.
PROBE = """
import resource, torch
from mtlsed.allocator import keep_freed_memory

def faults():
    torch.empty(10 * 2**20 // 4).fill_(1.0)  # the first allocation of the heap may fault once
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(50):
        torch.empty(10 * 2**20 // 4).fill_(1.0)
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

default = faults()
applied = keep_freed_memory()
again = keep_freed_memory()
print(default, applied, again, faults())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt: Linux only")
def test_freed_activations_stay_on_the_heap():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    default, applied, again, kept = out.stdout.split()
    assert applied == again == "True"
    # glibc's defaults give freed memory back (munmap, or a trim of the heap's top): here about 400 of
    # a block's 2560 pages of 4 KiB are faulted in again on every use; kept on the heap, almost none
    assert int(default) >= 50 * 100
    assert int(kept) < int(default) / 20
