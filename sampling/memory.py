"""Keeping a long-running process's memory bounded by its requests.

Each generation step allocates and frees several tensors of batch × vocabulary (10 MB each for 16
samples of a 152k vocabulary). glibc serves the first such blocks with ``mmap`` and then raises its
threshold to their size, so that later ones come from the heap, where blocks of many sizes freed in
turn fragment it: the resident memory of one 16 × 200-token request grew by 1.8 GB. A fixed
threshold keeps every large block on ``mmap``, returned to the system when freed (about 20 % more
time per step on a CPU, from the page faults). Servers call `return_large_blocks_to_the_system`
once at start; the library never changes the allocator by itself.
"""

from __future__ import annotations

import ctypes
import sys

M_MMAP_THRESHOLD = -3
DEFAULT_THRESHOLD = 1 << 20


def return_large_blocks_to_the_system(threshold: int = DEFAULT_THRESHOLD) -> bool:
    """Serve every allocation above ``threshold`` bytes with ``mmap`` (glibc only). Returns
    whether the setting took effect; elsewhere it is a no-op that returns False."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    return bool(libc.mallopt(M_MMAP_THRESHOLD, int(threshold)))
