"""Resources and threads: how long a window fits in the memory at hand, and the low OS priority of
document encoding.

Thread rule: :func:`lower_priority` keeps the set of threads it has reniced (``_lowered``); it is called
from the indexing thread only (one at a time: the writer's single indexing run), so the set needs no lock.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

MIN_CONTEXT = 512
# Peak RSS above the loaded model per window token on the blocked path, measured on the Ettin-32M shape
# (hidden 384): ~22 KB/token at 32k; 84 bytes × hidden (32 KB at 384) leaves a margin.
BLOCKED_BYTES_PER_TOKEN_PER_HIDDEN = 84


def available_memory_bytes() -> int | None:
    """Memory the OS can still hand out (Linux MemAvailable; physical memory elsewhere), or None."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def device_memory_bytes(device: str) -> int | None:
    """Free memory of the accelerator that runs the model (CUDA: free device memory); None for the CPU
    and Apple's unified memory, where :func:`available_memory_bytes` is the limit."""
    if not device.startswith("cuda"):
        return None
    try:
        import torch

        free, _total = torch.cuda.mem_get_info(torch.device(device))
        return int(free)
    except Exception:  # no driver, a busy device: the CPU's figure stands
        return None


def window_bytes(n: int, hidden: int, heads: int, blocked: bool) -> int:
    """Rough peak memory one n-token window adds on top of the loaded model."""
    linear = BLOCKED_BYTES_PER_TOKEN_PER_HIDDEN * hidden * n
    if blocked:
        return linear
    return linear + 3 * 4 * heads * n * n  # stock: n×n mask plus scores and probabilities in fp32


def fit_context_length(requested: int, hidden: int, heads: int, blocked: bool,
                       available: int | None = None, share: float = 0.5) -> tuple[int, str | None]:
    """The largest length ≤ requested (halving) whose window fits in ``share`` of available memory."""
    available = available_memory_bytes() if available is None else available
    if available is None:
        return requested, None
    n = requested
    while n > MIN_CONTEXT and window_bytes(n, hidden, heads, blocked) > share * available:
        n //= 2
    n = max(min(requested, MIN_CONTEXT), n)
    if n == requested:
        return n, None
    need = window_bytes(requested, hidden, heads, blocked) / 2**30
    return n, (f"context length {requested} needs ~{need:.1f} GB per window but only "
               f"{available / 2**30:.1f} GB is available; using {n}")


def context_length_note(encoder: Any | None) -> str | None:
    """For ``Service.status()``: why the encoder uses a shorter context than asked (None if it does not)."""
    return getattr(encoder, "context_note", None) if encoder is not None else None


# --- priority ------------------------------------------------------------------------------------------
NICE_ENV = "DESKTOP_SEARCH_NICE"
_lowered: set[int] = set()


def _thread_name(tid: int) -> str | None:
    try:
        with open(f"/proc/self/task/{tid}/comm") as f:
            return f.read().strip()
    except OSError:
        return None


def lower_priority(increment: int | None = None) -> str:
    """Run document encoding at a lower OS priority so the desktop stays responsive.

    Linux schedules threads, so we renice threads rather than the process: called from the main
    thread (the CLI indexing in its own process), every thread of the process; called from a worker
    thread (the GUI's indexing thread), that thread and the unnamed native threads (torch's OpenMP
    and the BLAS workers it drives), but not the main thread nor threads that carry a name of their
    own (Qt's pools: searching and preview must keep their priority while encoding yields). Other
    POSIX systems: the whole process only when called from the main thread. Windows:
    skipped. ``DESKTOP_SEARCH_NICE`` sets the increment (default 10; 0 turns this off). Niceness is
    one-way for an unprivileged process, so this runs once per thread set.
    """
    if increment is None:
        try:
            increment = int(os.environ.get(NICE_ENV, "10"))
        except ValueError:
            increment = 10
    if increment <= 0 or sys.platform == "win32" or not hasattr(os, "setpriority"):
        return "skipped"
    main = threading.current_thread() is threading.main_thread()
    if sys.platform.startswith("linux"):
        try:
            tids = [int(t) for t in os.listdir("/proc/self/task")]
        except OSError:
            return "skipped"
        pid = os.getpid()
        me = threading.get_native_id()
        process_name = _thread_name(pid)
        done = 0
        for tid in tids:
            if tid in _lowered or (not main and tid == pid):
                continue
            if not main and tid != me and _thread_name(tid) != process_name:
                continue  # a named thread (a Qt pool: search, preview): not ours to slow down
            try:
                current = os.getpriority(os.PRIO_PROCESS, tid)
                os.setpriority(os.PRIO_PROCESS, tid, min(19, current + increment))
                _lowered.add(tid)
                done += 1
            except OSError:
                pass
        return f"{done} threads reniced"
    if main and os.getpid() not in _lowered:
        try:
            os.setpriority(os.PRIO_PROCESS, 0, min(19, os.getpriority(os.PRIO_PROCESS, 0) + increment))
            _lowered.add(os.getpid())
            return "process reniced"
        except OSError:
            return "skipped"
    return "skipped"
