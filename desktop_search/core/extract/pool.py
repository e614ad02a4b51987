"""Isolated extraction: every file is read in a worker process with a wall-clock timeout and a memory cap.

Length (~520 lines): one protocol (spawn, framing, watchdog, caps, retirement) that is safer read whole
than split across files; the worker side is worker.py.

Workers are fresh interpreters running :mod:`.worker` (spawn semantics: nothing is forked from a parent
that may hold torch, Qt or threads, and nothing heavy is imported into them). From a checkout or a
wheel that is ``python -m desktop_search.core.extract.worker``; a frozen app (PyInstaller) has no
``python -m``, so it re-launches its own executable as ``desktop-search --extract-worker`` (handled by
``packaging/entry.py`` and :func:`desktop_search.cli.main` before anything heavy is imported). A worker
that hangs past the timeout, crashes, or dies of the memory cap is killed and replaced; its file gets a
failed outcome with a human reason and the others go on. The generator kills its workers when it is
closed early.

I/O is portable: one reader thread per worker turns its stdout into frames on a queue (no ``select`` on
pipes, which Windows lacks). What the memory cap guarantees depends on the platform
(:func:`memory_guard`; ``DESKTOP_SEARCH_EXTRACT_MEMORY_GUARD=rlimit|watchdog|job`` forces one):

* ``rlimit`` (Linux, the default there): the worker caps its own address space with ``RLIMIT_AS``. Hard:
  an allocation past the cap fails at once (MemoryError or an abort), the machine never swaps for it.
* ``job`` (Windows): the worker puts itself in a Job Object with ``JOB_OBJECT_LIMIT_PROCESS_MEMORY``, so
  committing memory past the cap fails (hard, like ``rlimit``); the watchdog below runs as well, as a
  backstop if the job cannot be created (e.g. an old Windows inside a job that forbids nesting).
* ``watchdog`` (macOS, where ``RLIMIT_AS`` is not enforced; also the fallback anywhere): the parent reads
  each busy worker's resident memory with psutil every 0.1 s and kills a worker above the cap. Soft: a
  worker can overshoot for up to one poll interval (a fast allocator may reach a few hundred MB more)
  before it is killed; its file fails with a memory reason like the others.

In every mode the timeout is enforced by the parent (kill after ``timeout_s``), workers run in their own
session / process group (a Ctrl-C meant for the app is not delivered to them), and a worker exits by
itself when the app that started it disappears.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import struct
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .types import Extracted, ExtractionFailed, ExtractLimits, ExtractOutcome, Member, NotADocument

_HEADER = struct.Struct(">Q")
_START_TIMEOUT_S = 60.0
_POLL_S = 0.1

MEMORY_GUARD_ENV = "DESKTOP_SEARCH_EXTRACT_MEMORY_GUARD"
MEMORY_GUARDS = ("rlimit", "job", "watchdog")
WORKER_FLAG = "--extract-worker"  # `desktop-search --extract-worker MEM PID GUARD`: a frozen app's worker
WORKER_MODULE = "desktop_search.core.extract.worker"


def memory_guard(platform: str | None = None) -> str:
    """How workers' memory is capped here: ``rlimit``, ``job`` or ``watchdog`` (see the module docstring)."""
    forced = os.environ.get(MEMORY_GUARD_ENV, "").strip().lower()
    if forced in MEMORY_GUARDS:
        return forced
    platform = platform or sys.platform
    if platform == "win32":
        return "job"
    if platform.startswith("linux"):
        return "rlimit"
    return "watchdog"  # macOS accepts RLIMIT_AS but does not enforce it; other systems: do not assume


def worker_command(
    memory_mb: int, parent_pid: int, guard: str, *, frozen: bool | None = None, executable: str | None = None
) -> list[str]:
    """The command line that starts one extraction worker.

    Frozen (PyInstaller sets ``sys.frozen``): the app's own executable with :data:`WORKER_FLAG`; otherwise
    this interpreter with ``-m`` :data:`WORKER_MODULE`.
    """
    frozen = bool(getattr(sys, "frozen", False)) if frozen is None else frozen
    exe = executable or sys.executable
    args = [str(memory_mb), str(parent_pid), guard]
    if frozen:
        # Windows: the Start menu runs the windowed twin (desktop-search-gui.exe), whose standard streams
        # Python treats as absent; workers speak over stdin/stdout, so they run as the console build
        # (CREATE_NO_WINDOW keeps it from opening a console).
        stem, dot, ext = exe.rpartition(".")
        if dot and ext.lower() == "exe" and stem.endswith("-gui") and os.path.exists(f"{stem[:-4]}.exe"):
            exe = f"{stem[:-4]}.exe"
        return [exe, WORKER_FLAG, *args]
    return [exe, "-m", WORKER_MODULE, *args]


def extract_in_process(path: str | os.PathLike[str], limits: ExtractLimits | None = None) -> ExtractOutcome:
    """Extract in this very process (what a worker runs). Never raises for a bad file, but offers no
    protection against hostile files: use :func:`extract_one` or :func:`extract_many` for that."""
    from .ocr import file_clock
    from .registry import run_extractor

    limits = limits or ExtractLimits()
    p = Path(path)
    name = os.fspath(path)
    try:
        with file_clock():  # OCR's time share counts from the outermost file (an archive's members share it)
            return ExtractOutcome(path=name, result=run_extractor(p, limits))
    except NotADocument as exc:
        return ExtractOutcome(path=name, error=exc.reason, skipped=True)
    except ExtractionFailed as exc:
        return ExtractOutcome(path=name, error=exc.reason)
    except FileNotFoundError:
        if os.path.islink(p):
            return ExtractOutcome(path=name, error="broken symbolic link")
        return ExtractOutcome(path=name, error="file disappeared before it could be read")
    except PermissionError:
        return ExtractOutcome(path=name, error="permission denied")
    except IsADirectoryError:
        return ExtractOutcome(path=name, error="is a directory", skipped=True)
    except MemoryError:
        return ExtractOutcome(path=name, error=f"ran out of memory (limit {limits.memory_mb} MB)")
    except RecursionError:
        return ExtractOutcome(path=name, error="document structure nested too deeply")
    except OSError as exc:
        import errno

        if exc.errno == errno.ELOOP:
            return ExtractOutcome(path=name, error="symbolic link loop")
        return ExtractOutcome(path=name, error=f"could not read the file ({exc.strerror or exc})"[:300])
    except Exception as exc:  # an extractor bug must never stop indexing
        return ExtractOutcome(path=name, error=f"extractor error: {type(exc).__name__}: {exc}"[:300])


def extract_one(
    path: str | os.PathLike[str], limits: ExtractLimits | None = None, *, isolated: bool = True
) -> ExtractOutcome:
    """Extract one file in a single isolated worker (or in-process with ``isolated=False``)."""
    if not isolated:
        return extract_in_process(path, limits)
    for outcome in extract_many([os.fspath(path)], limits, workers=1):
        return outcome
    return ExtractOutcome(path=os.fspath(path), error="extraction was cancelled")


def default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def extract_many(
    paths: Iterable[str | os.PathLike[str]],
    limits: ExtractLimits | None = None,
    workers: int | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Iterator[ExtractOutcome]:
    """Yield one outcome per path (in completion order); never raises for a bad file.

    ``paths`` is consumed lazily. ``should_stop`` is polled between files and while waiting (at least
    every 0.1 s); once it returns true the workers are killed and the generator ends without outcomes for
    the files not yet finished.
    """
    pool = _Pool(limits or ExtractLimits(), workers or default_workers())
    try:
        yield from pool.run(iter(paths), should_stop)
    finally:
        pool.close()


class KeptPool:
    """Workers kept between calls, for the watcher's small batches: a worker starts once (about a
    second: a new interpreter and the extractors' imports), not for every change. One caller at a time
    (the indexing thread); ``close_if_idle`` may come from another thread and never stops a call."""

    def __init__(self, limits: ExtractLimits, workers: int = 1):
        self.limits = limits
        self._pool = _Pool(limits, workers)
        self._in_use = threading.Lock()
        self.last_used = time.monotonic()

    def extract(self, paths: Iterable[str | os.PathLike[str]],
                should_stop: Callable[[], bool] | None = None) -> Iterator[ExtractOutcome]:
        with self._in_use:
            try:
                yield from self._pool.run(iter(paths), should_stop)
            finally:
                self._settle()

    def close_if_idle(self, idle_s: float) -> bool:
        """Stop the workers when no call used them for ``idle_s``; False (and nothing done) otherwise."""
        if not self._in_use.acquire(blocking=False):
            return False
        try:
            if time.monotonic() - self.last_used < idle_s:
                return False
            self._pool.close()
            return True
        finally:
            self._in_use.release()

    def _settle(self) -> None:
        # a worker stopped mid-file would answer the next call with this call's file
        for worker in [w for w in self._pool.workers if w.job is not None]:
            self._pool._discard(worker)
        self.last_used = time.monotonic()

    def close(self) -> None:
        self._pool.close()


# ----------------------------------------------------------------------------------------- workers


_EOF = object()  # queue marker: the worker's stdout closed (it exited or was killed)
_MALFORMED = object()  # queue marker: the worker sent bytes that are not a frame


class _Worker:
    def __init__(self, limits: ExtractLimits, guard: str, events: queue.Queue[tuple[_Worker, Any]]):
        frozen = bool(getattr(sys, "frozen", False))
        env = dict(os.environ)
        if not frozen:
            package = __package__ or "desktop_search.core.extract"
            root = Path(__file__).resolve().parents[len(package.split("."))]
            env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH", "")) if p)
        env.setdefault("OMP_NUM_THREADS", "1")
        # glibc keeps a 64 MB malloc arena per thread that allocates; under RLIMIT_AS that reserved space
        # counts. Two are plenty for a worker (OCR's ONNX Runtime thread + the main one).
        env.setdefault("MALLOC_ARENA_MAX", "2")
        stderr = None if os.environ.get("DESKTOP_SEARCH_WORKER_STDERR") else subprocess.DEVNULL
        extra: dict[str, Any] = {}
        if sys.platform == "win32":
            # own process group (Ctrl-C is not forwarded), and no console window flashing up per worker
            extra["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP | subprocess.CREATE_NO_WINDOW
        else:
            extra["start_new_session"] = True  # a Ctrl-C meant for the app is not delivered to workers
        self.proc = subprocess.Popen(
            worker_command(limits.memory_mb, os.getpid(), guard, frozen=frozen),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=env,
            close_fds=True,
            **extra,
        )
        assert self.proc.stdout is not None and self.proc.stdin is not None
        self.out_fd = self.proc.stdout.fileno()
        self.in_fd = self.proc.stdin.fileno()
        self.ready = False
        self.started = time.monotonic()
        self.job: tuple[int, str] | None = None
        self.deadline = 0.0
        self._ps: Any = None
        self.reader = threading.Thread(
            target=self._read, args=(events,), name=f"extract-reader-{self.proc.pid}", daemon=True
        )
        self.reader.start()

    def _read(self, events: queue.Queue[tuple[_Worker, Any]]) -> None:
        """Reader thread: stdout bytes -> whole frames on the pool's queue, then ``_EOF``."""
        buf = bytearray()
        try:
            while True:
                try:
                    chunk = os.read(self.out_fd, 1 << 20)
                except OSError:
                    chunk = b""
                if not chunk:
                    return
                buf += chunk
                while len(buf) >= _HEADER.size:
                    (length,) = _HEADER.unpack_from(buf)
                    if len(buf) < _HEADER.size + length:
                        break
                    payload = bytes(buf[_HEADER.size : _HEADER.size + length])
                    del buf[: _HEADER.size + length]
                    try:
                        events.put((self, json.loads(payload)))
                    except (ValueError, UnicodeDecodeError):
                        events.put((self, _MALFORMED))
                        return
        finally:
            events.put((self, _EOF))

    def send(self, job_id: int, path: str, limits: ExtractLimits) -> None:
        data = json.dumps([job_id, path, asdict(limits)]).encode("ascii")
        view = memoryview(_HEADER.pack(len(data)) + data)
        while view:
            view = view[os.write(self.in_fd, view) :]
        self.job = (job_id, path)
        self.deadline = time.monotonic() + timeout_for(path, limits)

    def rss_mb(self) -> float | None:
        """Resident memory of the worker now (psutil), or None if it cannot be read."""
        try:
            if self._ps is None:
                import psutil

                self._ps = psutil.Process(self.proc.pid)
            return float(self._ps.memory_info().rss) / (1024 * 1024)
        except Exception:  # gone, or not permitted: the death is noticed through EOF
            return None

    def kill(self) -> int | None:
        with contextlib.suppress(OSError):
            self.proc.kill()
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        except OSError:
            pass
        try:
            returncode = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            returncode = None
        # The reader sees EOF once the process is gone; only then is its descriptor safe to close
        # (closing an fd another thread is reading from can hand the number to an unrelated file).
        if threading.current_thread() is not self.reader:
            self.reader.join(timeout=2)
        if not self.reader.is_alive() and self.proc.stdout is not None:
            with contextlib.suppress(OSError):
                self.proc.stdout.close()
        return returncode


def _memory_reason(limits: ExtractLimits, rss_mb: float) -> str:
    return (f"needed more than the {limits.memory_mb} MB memory limit ({rss_mb:.0f} MB in use when it was "
            f"stopped): the file is probably corrupt or a decompression bomb")


def _crash_reason(returncode: int | None, limits: ExtractLimits) -> str:
    if returncode is not None and returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return (
            f"extractor crashed ({name}): the file is probably corrupt or needs more than "
            f"the {limits.memory_mb} MB memory limit"
        )
    return f"extractor crashed (exit code {returncode})"


def timeout_for(path: str, limits: ExtractLimits) -> float:
    """The wall-clock limit for one file: ``timeout_s``, scaled for formats that hold many documents."""
    from .formats import format_for_suffix

    entry = format_for_suffix(os.path.splitext(path)[1])
    return limits.timeout_s * (entry.timeout_scale if entry else 1.0)


def _extracted_from_reply(raw: Any, members: bool) -> Extracted:
    text = raw["text"]
    page_starts = [int(p) for p in raw.get("page_starts") or []]
    metadata = {str(k): str(v) for k, v in (raw.get("metadata") or {}).items()}
    title = raw.get("title")
    if not isinstance(text, str) or not (title is None or isinstance(title, str)):
        raise TypeError("bad text")
    result = Extracted(
        text=text,
        title=title,
        extractor=str(raw.get("extractor") or ""),
        page_starts=page_starts,
        metadata=metadata,
    )
    for m in (raw.get("members") or []) if members else []:  # an archive's files (flat: nested ones are "a!/b")
        error = m.get("error")
        result.members.append(Member(
            name=str(m["name"]),
            result=None if m.get("result") is None else _extracted_from_reply(m["result"], members=False),
            error=None if error is None else str(error),
            skipped=bool(m.get("skipped")),
            size=int(m.get("size") or 0),
        ))
    return result


def _outcome_from_reply(path: str, data: Any) -> ExtractOutcome:
    """Rebuild an outcome from a worker's JSON reply, accepting only the expected plain types."""
    try:
        result = None
        raw = data.get("result")
        if raw is not None:
            result = _extracted_from_reply(raw, members=True)
        error = data.get("error")
        seconds = data.get("seconds")
        rss = data.get("worker_rss_mb")
        return ExtractOutcome(
            path=path,
            result=result,
            error=None if error is None else str(error),
            skipped=bool(data.get("skipped")),
            seconds=float(seconds) if isinstance(seconds, int | float) else None,
            worker_rss_mb=float(rss) if isinstance(rss, int | float) else None,
        )
    except (AttributeError, KeyError, TypeError, ValueError):
        return ExtractOutcome(path=path, error="extraction worker sent a malformed reply")


class _Pool:
    def __init__(self, limits: ExtractLimits, size: int, guard: str | None = None):
        self.limits = limits
        self.size = max(1, size)
        self.guard = guard or memory_guard()
        # every mode but rlimit needs the parent to watch memory (job: as a backstop)
        self.watch_memory = self.guard != "rlimit" and limits.memory_mb > 0
        self.workers: list[_Worker] = []
        self.events: queue.Queue[tuple[_Worker, Any]] = queue.Queue()
        self.start_failures = 0

    def _spawn(self) -> None:
        self.workers.append(_Worker(self.limits, self.guard, self.events))

    def _discard(self, worker: _Worker) -> int | None:
        if worker in self.workers:
            self.workers.remove(worker)
        return worker.kill()

    def close(self) -> None:
        for worker in list(self.workers):
            self._discard(worker)

    def _next_events(self, timeout: float) -> list[tuple[_Worker, Any]]:
        if not self.workers:
            return []
        try:
            events = [self.events.get(timeout=timeout)]
        except queue.Empty:
            return []
        while True:
            try:
                events.append(self.events.get_nowait())
            except queue.Empty:
                return events

    def run(
        self, paths: Iterator[str | os.PathLike[str]], should_stop: Callable[[], bool] | None
    ) -> Iterator[ExtractOutcome]:
        pending: deque[tuple[int, str]] = deque()
        exhausted = False
        next_id = 0
        while True:
            if should_stop is not None and should_stop():
                return
            while not exhausted and len(pending) < self.size:
                try:
                    raw = next(paths)
                except StopIteration:
                    exhausted = True
                    break
                pending.append((next_id, os.fsdecode(os.fspath(raw))))
                next_id += 1
            busy = [w for w in self.workers if w.job is not None]
            if exhausted and not pending and not busy:
                return
            # Keep as many workers as there is work for.
            wanted = min(self.size, len(busy) + len(pending))
            while len(self.workers) < wanted:
                if self.start_failures >= 3:
                    while pending:
                        _, path = pending.popleft()
                        yield ExtractOutcome(path=path, error="extraction worker could not be started")
                    break
                try:
                    self._spawn()
                except OSError:
                    self.start_failures += 1
            # Hand out work to idle, ready workers.
            for worker in list(self.workers):
                if worker.ready and worker.job is None and pending:
                    job_id, path = pending.popleft()
                    try:
                        worker.send(job_id, path, self.limits)
                    except OSError:
                        pending.appendleft((job_id, path))
                        self._discard(worker)
            # Wait for replies, deaths or deadlines.
            now = time.monotonic()
            timeout = _POLL_S
            for worker in self.workers:
                if worker.job is not None:
                    timeout = min(timeout, max(0.0, worker.deadline - now))
            done: list[ExtractOutcome] = []
            for worker, frame in self._next_events(timeout):
                if worker not in self.workers:
                    continue  # a late frame or EOF from a worker already discarded
                if frame is _EOF:
                    job = worker.job
                    was_ready = worker.ready
                    returncode = self._discard(worker)
                    if job is not None:
                        done.append(ExtractOutcome(path=job[1], error=_crash_reason(returncode, self.limits)))
                    elif not was_ready:
                        self.start_failures += 1
                elif frame is _MALFORMED:
                    job = worker.job
                    self._discard(worker)
                    if job is not None:
                        done.append(ExtractOutcome(path=job[1], error="extraction worker sent a malformed reply"))
                elif isinstance(frame, list) and frame and frame[0] == "ready":
                    worker.ready = True
                    self.start_failures = 0
                elif worker.job is not None and isinstance(frame, list) and len(frame) == 3:
                    _, path = worker.job
                    worker.job = None
                    done.append(_outcome_from_reply(path, frame[1]))
                    if frame[2]:  # the worker exits after this reply: give it no more work
                        self._discard(worker)
            now = time.monotonic()
            for worker in list(self.workers):
                if worker.job is not None and now >= worker.deadline:
                    _, path = worker.job
                    self._discard(worker)
                    seconds = timeout_for(path, self.limits)
                    done.append(ExtractOutcome(path=path, error=f"timed out after {seconds:g} s"))
                elif worker.job is not None and self.watch_memory:
                    rss = worker.rss_mb()
                    if rss is not None and rss > self.limits.memory_mb:
                        _, path = worker.job
                        self._discard(worker)
                        done.append(ExtractOutcome(path=path, error=_memory_reason(self.limits, rss)))
                elif not worker.ready and now - worker.started > _START_TIMEOUT_S:
                    self._discard(worker)
                    self.start_failures += 1
            yield from done
