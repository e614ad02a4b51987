"""Give memory back to the operating system (and the GPU) after a large object (the model) is dropped."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import sys


def release_memory() -> None:
    """Collect cycles, then ask glibc to return free heap pages (without this the RSS of a process
    that unloaded a model stays where it was: the allocator keeps the freed arenas). A model that ran
    on CUDA or Apple's MPS leaves its blocks in torch's caching allocator: those are emptied too (only
    when torch is loaded already: this never imports it)."""
    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None:
        try:
            if torch.cuda.is_initialized():
                torch.cuda.empty_cache()
            mps = getattr(torch, "mps", None)
            if sys.platform == "darwin" and mps is not None and torch.backends.mps.is_available():
                mps.empty_cache()
        except Exception:  # a driver gone away: nothing more to give back
            pass
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):  # musl and friends: nothing to trim
            ctypes.CDLL("libc.so.6").malloc_trim(0)
