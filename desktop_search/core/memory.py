"""Give memory back to the operating system after a large object (the model) is dropped."""

from __future__ import annotations

import ctypes
import gc
import sys


def release_memory() -> None:
    """Collect cycles, then ask glibc to return free heap pages (without this the RSS of a process
    that unloaded a model stays where it was: the allocator keeps the freed arenas)."""
    gc.collect()
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):  # musl and friends: nothing to trim
            pass
