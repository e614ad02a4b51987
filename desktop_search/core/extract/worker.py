"""The extraction worker: a fresh interpreter (``python -m desktop_search.core.extract.worker``).

It is started by :mod:`.pool` with pipes on stdin/stdout, caps its own address space with
``RLIMIT_AS`` (so a decompression bomb ends in MemoryError or an abort instead of swapping the machine),
imports only the extraction libraries (never torch or Qt), says "ready", then answers one request at a
time. Frames are an 8-byte big-endian length followed by a UTF-8 JSON document:

* parent -> worker: ``(job_id, path, limits)``; EOF means "exit";
* worker -> parent: ``("ready", pid)`` once, then ``(job_id, outcome as a dict, retire)`` per request;
  ``retire`` true means the worker exits after this reply (it hit the memory cap).

Frames are JSON, not pickle, in the worker -> parent direction on purpose: the worker parses hostile
files, and plain data is all the parent will accept from it.

Anything a library prints goes to stderr, never into the protocol stream. A watchdog thread exits the
worker if its parent disappears, so a hung extraction cannot outlive the app.
"""

from __future__ import annotations

import dataclasses
import json
import os
import struct
import sys
import threading
import time

_HEADER = struct.Struct(">Q")


def _read_exact(fd: int, n: int) -> bytes | None:
    chunks = []
    while n:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _write_frame(fd: int, obj: object) -> None:
    data = json.dumps(obj, ensure_ascii=True).encode("ascii")
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _limit_memory(memory_mb: int) -> None:
    import resource

    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ValueError, OSError):
        pass
    if memory_mb > 0:
        cap = memory_mb * 1024 * 1024
        try:
            _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
            if hard != resource.RLIM_INFINITY:
                cap = min(cap, hard)
            resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
        except (ValueError, OSError):
            pass


def _watch_parent(parent_pid: int) -> None:
    while True:
        time.sleep(1.0)
        if os.getppid() != parent_pid:
            os._exit(0)


def _peak_rss_mb() -> float:
    """This process's peak resident memory. VmHWM, not ru_maxrss: Linux carries ru_maxrss across
    fork+exec, so a worker would report its (possibly huge) parent's size."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    import resource

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 1024 if sys.platform != "darwin" else rss / (1024 * 1024)


def _inject_fault(path: str) -> None:
    """Test hook (only with DESKTOP_SEARCH_EXTRACT_FAULTS=1): misbehave on files named fault-*."""
    name = os.path.basename(path)
    if name.startswith("fault-hang"):
        threading.Event().wait()
    elif name.startswith("fault-crash"):
        import signal

        os.kill(os.getpid(), signal.SIGSEGV)
    elif name.startswith("fault-exit"):
        os._exit(3)


def main() -> int:
    memory_mb = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    parent_pid = int(sys.argv[2]) if len(sys.argv) > 2 else os.getppid()
    faults = os.environ.get("DESKTOP_SEARCH_EXTRACT_FAULTS") == "1"
    in_fd = 0
    out_fd = os.dup(1)
    os.dup2(2, 1)  # stray prints from libraries must not corrupt the protocol
    sys.stdout = sys.stderr
    threading.stack_size(256 * 1024)
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()
    _limit_memory(memory_mb)

    # Warm the libraries once, before the first file's clock starts.
    import logging

    logging.disable(logging.WARNING)
    for module in ("pypdfium2", "lxml.etree", "lxml.html", "charset_normalizer", "pypdf"):
        try:
            __import__(module)
        except Exception:  # noqa: S110 - a missing optional library fails per file, with a reason
            pass
    from .pool import extract_in_process
    from .types import ExtractLimits

    _write_frame(out_fd, ("ready", os.getpid()))
    while True:
        header = _read_exact(in_fd, _HEADER.size)
        if header is None:
            return 0
        (length,) = _HEADER.unpack(header)
        payload = _read_exact(in_fd, length)
        if payload is None:
            return 0
        job_id, path, limits_dict = json.loads(payload)
        limits = ExtractLimits(**limits_dict)
        started = time.monotonic()
        if faults:
            _inject_fault(path)
        outcome = extract_in_process(path, limits)
        outcome.seconds = time.monotonic() - started
        outcome.worker_rss_mb = _peak_rss_mb()
        # After a MemoryError the heap may be fragmented or a library half-initialised: retire.
        retire = bool(outcome.error and "memory" in outcome.error)
        try:
            _write_frame(out_fd, (job_id, dataclasses.asdict(outcome), retire))
        except MemoryError:
            outcome.result = None
            outcome.error = "extracted text too large to hand over within the memory limit"
            retire = True
            _write_frame(out_fd, (job_id, dataclasses.asdict(outcome), retire))
        if retire:
            return 0


if __name__ == "__main__":
    sys.exit(main())
