"""The extraction worker: a fresh process started by :mod:`.pool`.

From Python it is ``python -m desktop_search.core.extract.worker MEM PARENT_PID GUARD``; in a frozen app
it is the app's own executable, ``desktop-search --extract-worker MEM PARENT_PID GUARD`` (the flag is
handled before anything heavy is imported). It has pipes on stdin/stdout, caps its own memory as GUARD
says (``rlimit``: ``RLIMIT_AS``, so a decompression bomb ends in MemoryError or an abort instead of
swapping the machine; ``job``: a Windows Job Object with a per-process memory limit; ``watchdog``: nothing
here, the parent watches the resident size, see :mod:`.pool`), imports only the extraction libraries
(never torch or Qt), says "ready", then answers one request at a time. Frames are an 8-byte big-endian
length followed by a UTF-8 JSON document:

* parent -> worker: ``(job_id, path, limits)``; EOF means "exit";
* worker -> parent: ``("ready", pid)`` once, then ``(job_id, outcome as a dict, retire)`` per request;
  ``retire`` true means the worker exits after this reply (it hit the memory cap).

Frames are JSON, not pickle, in the worker -> parent direction on purpose: the worker parses hostile
files, and plain data is all the parent will accept from it.

Anything a library prints goes to stderr, never into the protocol stream. A watchdog thread exits the
worker if its parent disappears, so a hung extraction cannot outlive the app.
"""

from __future__ import annotations

import contextlib
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
    """``rlimit`` guard: cap the address space (hard: an allocation past it fails). No core dumps."""
    try:
        import resource
    except ImportError:  # not POSIX: the pool runs its watchdog for this worker instead
        return
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if memory_mb > 0:
        cap = memory_mb * 1024 * 1024
        try:
            _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
            if hard != resource.RLIM_INFINITY:
                cap = min(cap, hard)
            resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
        except (ValueError, OSError):
            pass


def _join_job_object(memory_mb: int) -> bool:
    """``job`` guard (Windows): put this process in a new Job Object whose per-process memory limit makes
    commits past ``memory_mb`` fail (MemoryError), as RLIMIT_AS does on Linux. False if it could not be set
    up; the parent's watchdog still applies then."""
    if sys.platform != "win32" or memory_mb <= 0:
        return False
    try:
        import ctypes
        from ctypes import wintypes

        class _Basic(ctypes.Structure):
            _fields_ = [
                ("PerProcessUserTimeLimit", ctypes.c_int64), ("PerJobUserTimeLimit", ctypes.c_int64),
                ("LimitFlags", wintypes.DWORD), ("MinimumWorkingSetSize", ctypes.c_size_t),
                ("MaximumWorkingSetSize", ctypes.c_size_t), ("ActiveProcessLimit", wintypes.DWORD),
                ("Affinity", ctypes.c_size_t), ("PriorityClass", wintypes.DWORD),
                ("SchedulingClass", wintypes.DWORD),
            ]

        class _Io(ctypes.Structure):
            _fields_ = [(name, ctypes.c_uint64) for name in (
                "ReadOperationCount", "WriteOperationCount", "OtherOperationCount",
                "ReadTransferCount", "WriteTransferCount", "OtherTransferCount")]

        class _Extended(ctypes.Structure):
            _fields_ = [
                ("BasicLimitInformation", _Basic), ("IoInfo", _Io), ("ProcessMemoryLimit", ctypes.c_size_t),
                ("JobMemoryLimit", ctypes.c_size_t), ("PeakProcessMemoryUsed", ctypes.c_size_t),
                ("PeakJobMemoryUsed", ctypes.c_size_t),
            ]

        job_object_limit_process_memory = 0x00000100
        job_object_extended_limit_information = 9
        kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
        kernel32.CreateJobObjectW.restype = wintypes.HANDLE
        kernel32.CreateJobObjectW.argtypes = [ctypes.c_void_p, wintypes.LPCWSTR]
        kernel32.SetInformationJobObject.argtypes = [wintypes.HANDLE, ctypes.c_int, ctypes.c_void_p,
                                                     wintypes.DWORD]
        kernel32.GetCurrentProcess.restype = wintypes.HANDLE
        kernel32.AssignProcessToJobObject.argtypes = [wintypes.HANDLE, wintypes.HANDLE]
        job = kernel32.CreateJobObjectW(None, None)
        if not job:
            return False
        info = _Extended()
        info.BasicLimitInformation.LimitFlags = job_object_limit_process_memory
        info.ProcessMemoryLimit = memory_mb * 1024 * 1024
        if not kernel32.SetInformationJobObject(job, job_object_extended_limit_information, ctypes.byref(info),
                                                ctypes.sizeof(info)):
            return False
        # the handle stays open for the worker's lifetime: the job (and its limit) lives as long as we do
        return bool(kernel32.AssignProcessToJobObject(job, kernel32.GetCurrentProcess()))
    except Exception:  # noqa: BLE001 - any failure leaves the watchdog in charge
        return False


def _parent_alive(parent_pid: int) -> bool:
    if sys.platform == "win32":  # os.getppid() never changes there: ask whether the process still exists
        try:
            import psutil

            return bool(psutil.pid_exists(parent_pid))
        except Exception:  # noqa: BLE001
            return True
    return os.getppid() == parent_pid


def _watch_parent(parent_pid: int) -> None:
    while True:
        time.sleep(1.0)
        if not _parent_alive(parent_pid):
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
    try:
        import resource
    except ImportError:  # Windows: the peak working set
        try:
            import psutil

            info = psutil.Process().memory_info()
            return float(getattr(info, "peak_wset", info.rss)) / (1024 * 1024)
        except Exception:  # noqa: BLE001
            return 0.0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 1024 if sys.platform != "darwin" else rss / (1024 * 1024)


def _address_space_high(memory_mb: int, guard: str) -> bool:
    """Whether this worker's address space (what RLIMIT_AS caps) is past 60% of the cap (Linux only)."""
    if guard != "rlimit" or memory_mb <= 0:
        return False
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) / 1024 > 0.6 * memory_mb
    except (OSError, ValueError, IndexError):
        pass
    return False


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
    elif name.startswith("fault-hog"):  # grows 32 MB at a time (touched, so resident) until stopped
        hog = []
        while True:
            hog.append(b"x" * (32 * 1024 * 1024))
            time.sleep(0.02)


def main() -> int:
    memory_mb = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    parent_pid = int(sys.argv[2]) if len(sys.argv) > 2 else os.getppid()
    guard = sys.argv[3] if len(sys.argv) > 3 else ("rlimit" if sys.platform.startswith("linux") else "watchdog")
    faults = os.environ.get("DESKTOP_SEARCH_EXTRACT_FAULTS") == "1"
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):  # OCR: one thread, see extract/ocr.py
        os.environ.setdefault(var, "1")
    in_fd = 0
    out_fd = os.dup(1)
    os.dup2(2, 1)  # stray prints from libraries must not corrupt the protocol
    sys.stdout = sys.stderr
    threading.stack_size(256 * 1024)
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()
    if guard == "rlimit":
        _limit_memory(memory_mb)
    else:
        _limit_memory(0)  # still no core dumps; the cap is the job object and/or the parent's watchdog
        if guard == "job":
            _join_job_object(memory_mb)

    # Warm the libraries once, before the first file's clock starts.
    import logging

    logging.disable(logging.WARNING)
    for module in ("pypdfium2", "lxml.etree", "lxml.html", "charset_normalizer", "pypdf"):
        with contextlib.suppress(Exception):  # a missing optional library fails per file, with a reason
            __import__(module)
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
        # After a MemoryError the heap may be fragmented or a library half-initialised: retire. Likewise
        # when this file left the address space past 60% of the cap (OCR's ONNX Runtime and OpenCV leave
        # ~800 MB mapped): the next file gets a fresh worker instead of failing for want of room.
        retire = bool(outcome.error and "memory" in outcome.error) or _address_space_high(memory_mb, guard)
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
