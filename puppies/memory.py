"""Giving the memory a process has freed back to the operating system.

glibc's malloc keeps what a process frees in its arenas for the next allocations: the main
heap is returned only from its top, and the arenas of other threads (asyncio.to_thread's
pool: boto3, Pillow) hardly ever. After a burst (a start-up catch-up, a large fan-out, a
batch of image jobs) the process's RSS stays at the burst's high-water mark, and each new
high-water mark is a step that never comes down (bench/RESULTS.md, "Soak, session 21").
`malloc_trim(0)` hands every free page of every arena back (madvise), keeping the
allocations in use where they are.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from typing import Any


@functools.cache
def _libc() -> Any:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") else None


def release_free_memory() -> bool:
    """Return the pages glibc keeps free to the OS; False where malloc is not glibc's."""
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True
