"""Memory settings of a long batch process: a fixed glibc mmap threshold, and a quieter
cyclic garbage collector.

glibc raises its mmap threshold each time a large block is freed, up to 32 MiB on 64-bit,
after which multi-megabyte buffers (fetch responses, batches of dead letters) come from
the heap and their pages stay with the process when freed. Measured under a flood of
300,000 events of unknown models (tests/bench/bench_metrics.py): RSS grew 13-29 MiB with
the dynamic threshold and 5 MiB with a fixed 128 KiB one, live Python memory flat in both
(not a leak). ``MALLOC_MMAP_THRESHOLD_`` in the environment does the same before start
(the Dockerfile sets it); this applies it to a worker started any other way.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os

# Allocations of tracked objects between young collections. Every record aiokafka hands over
# is a new object that dies young (by reference count, no cycles), so the default 700
# ran a collection every few hundred records: 7-10% of a worker's time in a profile.
YOUNG_THRESHOLD = 50_000
M_MMAP_THRESHOLD = -3  # glibc's <malloc.h>
MMAP_THRESHOLD_BYTES = 128 * 1024


def fix_mmap_threshold() -> bool:
    """Fix the threshold unless the environment chose one; False where this is not glibc."""
    if "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))


def quiet_collector() -> None:
    """Collect once, then leave everything alive (imports, the app, its clients: a few
    hundred thousand objects) out of later collections (``gc.freeze``), and collect the
    young generation every ``YOUNG_THRESHOLD`` allocations. Cycles are still collected."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
