"""Isolated extraction: every file is read in a worker process with a wall-clock timeout and a memory cap.

Workers are fresh interpreters running :mod:`.worker` (spawn semantics: nothing is forked from a parent
that may hold torch, Qt or threads, and nothing heavy is imported into them). A worker that hangs past
the timeout, crashes, or dies of the memory cap is killed and replaced; its file gets a failed outcome
with a human reason and the others go on. The generator kills its workers when it is closed early.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import struct
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .types import Extracted, ExtractionFailed, ExtractLimits, ExtractOutcome, NotADocument

_HEADER = struct.Struct(">Q")
_START_TIMEOUT_S = 60.0
_POLL_S = 0.1


def extract_in_process(path: str | os.PathLike[str], limits: ExtractLimits | None = None) -> ExtractOutcome:
    """Extract in this very process (what a worker runs). Never raises for a bad file, but offers no
    protection against hostile files: use :func:`extract_one` or :func:`extract_many` for that."""
    from .registry import run_extractor

    limits = limits or ExtractLimits()
    p = Path(path)
    name = os.fspath(path)
    try:
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


# ----------------------------------------------------------------------------------------- workers


class _Worker:
    def __init__(self, limits: ExtractLimits):
        package = __package__ or "desktop_search.core.extract"
        root = Path(__file__).resolve().parents[len(package.split("."))]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH", "")) if p)
        env.setdefault("OMP_NUM_THREADS", "1")
        stderr = None if os.environ.get("DESKTOP_SEARCH_WORKER_STDERR") else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            [sys.executable, "-m", f"{package}.worker", str(limits.memory_mb), str(os.getpid())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=env,
            close_fds=True,
            start_new_session=True,  # a Ctrl-C meant for the app is not delivered to workers
        )
        assert self.proc.stdout is not None and self.proc.stdin is not None
        self.out_fd = self.proc.stdout.fileno()
        self.in_fd = self.proc.stdin.fileno()
        self.buf = bytearray()
        self.ready = False
        self.started = time.monotonic()
        self.job: tuple[int, str] | None = None
        self.deadline = 0.0

    def send(self, job_id: int, path: str, limits: ExtractLimits) -> None:
        data = json.dumps([job_id, path, asdict(limits)]).encode("ascii")
        view = memoryview(_HEADER.pack(len(data)) + data)
        while view:
            view = view[os.write(self.in_fd, view) :]
        self.job = (job_id, path)
        self.deadline = time.monotonic() + limits.timeout_s

    def frames(self) -> Iterator[Any]:
        while len(self.buf) >= _HEADER.size:
            (length,) = _HEADER.unpack_from(self.buf)
            if len(self.buf) < _HEADER.size + length:
                return
            payload = bytes(self.buf[_HEADER.size : _HEADER.size + length])
            del self.buf[: _HEADER.size + length]
            yield json.loads(payload)

    def kill(self) -> int | None:
        try:
            self.proc.kill()
        except OSError:
            pass
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            return None


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


def _outcome_from_reply(path: str, data: Any) -> ExtractOutcome:
    """Rebuild an outcome from a worker's JSON reply, accepting only the expected plain types."""
    try:
        result = None
        raw = data.get("result")
        if raw is not None:
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
    def __init__(self, limits: ExtractLimits, size: int):
        self.limits = limits
        self.size = max(1, size)
        self.workers: list[_Worker] = []
        self.selector = selectors.DefaultSelector()
        self.start_failures = 0

    def _spawn(self) -> None:
        worker = _Worker(self.limits)
        self.workers.append(worker)
        self.selector.register(worker.out_fd, selectors.EVENT_READ, worker)

    def _discard(self, worker: _Worker) -> int | None:
        try:
            self.selector.unregister(worker.out_fd)
        except (KeyError, ValueError):
            pass
        if worker in self.workers:
            self.workers.remove(worker)
        return worker.kill()

    def close(self) -> None:
        for worker in list(self.workers):
            self._discard(worker)
        self.selector.close()

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
                self._spawn()
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
            events = self.selector.select(timeout) if self.workers else []
            done: list[ExtractOutcome] = []
            for key, _mask in events:
                worker = key.data
                try:
                    chunk = os.read(worker.out_fd, 1 << 20)
                except OSError:
                    chunk = b""
                if not chunk:
                    job = worker.job
                    was_ready = worker.ready
                    returncode = self._discard(worker)
                    if job is not None:
                        done.append(ExtractOutcome(path=job[1], error=_crash_reason(returncode, self.limits)))
                    elif not was_ready:
                        self.start_failures += 1
                    continue
                worker.buf += chunk
                try:
                    for frame in worker.frames():
                        if isinstance(frame, list) and frame and frame[0] == "ready":
                            worker.ready = True
                            self.start_failures = 0
                        elif worker.job is not None and isinstance(frame, list) and len(frame) == 3:
                            _, path = worker.job
                            worker.job = None
                            done.append(_outcome_from_reply(path, frame[1]))
                            if frame[2]:  # the worker exits after this reply: give it no more work
                                self._discard(worker)
                                break
                except (ValueError, UnicodeDecodeError):
                    job = worker.job
                    self._discard(worker)
                    if job is not None:
                        done.append(ExtractOutcome(path=job[1], error="extraction worker sent a malformed reply"))
            now = time.monotonic()
            for worker in list(self.workers):
                if worker.job is not None and now >= worker.deadline:
                    _, path = worker.job
                    self._discard(worker)
                    done.append(ExtractOutcome(path=path, error=f"timed out after {self.limits.timeout_s:g} s"))
                elif not worker.ready and now - worker.started > _START_TIMEOUT_S:
                    self._discard(worker)
                    self.start_failures += 1
            yield from done
