"""The window's one background-job pattern (after Anki's QueryOp/CollectionOp and Vorta's job manager).

A :class:`Job` has a parent, progress, cancel and a result. Its function runs on a worker thread with a
:class:`JobContext` (``should_stop``, ``report``); everything else (signals, callbacks) happens on the
UI thread. When the parent QObject is destroyed before the job ends, its callbacks are not called: a
dialog closed while its data loads is never touched again.

A :class:`JobQueue` runs jobs one after another on one thread (the index thread): jobs with a ``key``
are coalesced while they wait (asking twice for "bring the index up to date" queues it once), urgent
jobs go first, and pause/resume holds the running job at its next ``should_stop`` check.

Threads: Job and JobQueue objects belong to the UI thread; only ``JobContext`` (its events and the
throttled ``report``) is used from the worker.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal
from shiboken6 import Shiboken

from .tasks import Pool, run_task, to_main

PROGRESS_INTERVAL_S = 0.1  # at most ~10 progress updates a second reach the UI, plus every phase change


class JobContext:
    """What a job's function sees on its worker thread."""

    def __init__(self, job: Job, resume: threading.Event):
        self._job = job
        self._resume = resume
        self.cancel_event = threading.Event()
        self._last = (0.0, "")

    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def should_stop(self) -> bool:
        """True when the job was cancelled; while paused, waits here (the job's safe point)."""
        while not self._resume.wait(0.1):
            if self.cancel_event.is_set():
                break
        return self.cancel_event.is_set()

    def report(self, progress: Any) -> None:
        """Hand ``progress`` to the UI thread (throttled; a change of ``progress.phase`` always passes)."""
        now, phase = time.monotonic(), str(getattr(progress, "phase", ""))
        last_t, last_phase = self._last
        if phase != last_phase or phase == "done" or now - last_t >= PROGRESS_INTERVAL_S:
            self._last = (now, phase)
            to_main(self._job._report, progress)


class Job(QObject):
    """One piece of background work. States: waiting → running → done | failed | cancelled."""

    progress = Signal(object)
    succeeded = Signal(object)  # result
    failed = Signal(object)  # the exception
    cancelled = Signal()
    ended = Signal()  # after any of the three above; always (bookkeeping: the queue), even with the parent gone

    def __init__(self, name: str, fn: Callable[[JobContext], Any], parent: QObject | None = None, *,
                 key: str | None = None, is_cancel: Callable[[BaseException], bool] | None = None):
        super().__init__(None)  # not a Qt child: the job must outlive a parent that is closing
        self.name = name
        self.key = key
        self.fn = fn
        self.owner = parent
        self.state = "waiting"
        self.result: Any = None
        self.error: BaseException | None = None
        self._is_cancel = is_cancel or (lambda _exc: False)
        self._resume = threading.Event()
        self._resume.set()
        self.context = JobContext(self, self._resume)

    # --- fluent set-up (Anki's op.success(...).failure(...).run_in_background()) -----------------
    def on_success(self, fn: Callable[[Any], None]) -> Job:
        self.succeeded.connect(fn)
        return self

    def on_failure(self, fn: Callable[[BaseException], None]) -> Job:
        self.failed.connect(fn)
        return self

    def on_progress(self, fn: Callable[[Any], None]) -> Job:
        self.progress.connect(fn)
        return self

    def run_in_background(self, pool: Pool | None = None, resume: threading.Event | None = None) -> Job:
        if resume is not None:
            self.context._resume = resume
        self.state = "running"
        _alive.add(self)  # kept until it ends: callers need not hold it
        run_task(lambda: self.fn(self.context), on_done=self._done, on_error=self._error, pool=pool)
        return self

    def cancel(self) -> None:
        self.context.cancel_event.set()
        if self.state == "waiting":
            self.state = "cancelled"

    @property
    def running(self) -> bool:
        return self.state == "running"

    # --- on the UI thread ------------------------------------------------------------------------
    def _owner_gone(self) -> bool:
        return self.owner is not None and not Shiboken.isValid(self.owner)

    def _report(self, progress: Any) -> None:
        if self.state == "running" and not self._owner_gone():
            self.progress.emit(progress)

    def _done(self, result: Any) -> None:
        self.state, self.result = "done", result
        if not self._owner_gone():
            self.succeeded.emit(result)
        self._end()

    def _error(self, exc: BaseException) -> None:
        self.error = exc
        cancelled = self._is_cancel(exc)
        self.state = "cancelled" if cancelled else "failed"
        if not self._owner_gone():
            if cancelled:
                self.cancelled.emit()
            else:
                self.failed.emit(exc)
        self._end()

    def _end(self) -> None:
        self.ended.emit()
        _alive.discard(self)


_alive: set[Job] = set()  # jobs in flight (UI thread only)


def run_job(parent: QObject | None, name: str, fn: Callable[[], Any],
            on_done: Callable[[Any], None] | None = None,
            on_error: Callable[[BaseException], None] | None = None,
            pool: Pool | None = None) -> Job:
    """A one-off job (a QueryOp): ``fn()`` on a worker, ``on_done``/``on_error`` on the UI thread,
    neither called once ``parent`` is gone."""
    job = Job(name, lambda _ctx: fn(), parent)
    if on_done is not None:
        job.on_success(on_done)
    if on_error is not None:
        job.on_failure(on_error)
    return job.run_in_background(pool)


class JobQueue(QObject):
    """Jobs one after another on one thread, with coalescing keys, urgent jobs, pause and cancel."""

    job_started = Signal(object)  # Job
    job_ended = Signal(object)  # Job (look at its state, result, error)
    paused_changed = Signal(bool)
    idle = Signal()  # nothing running, nothing waiting

    def __init__(self, name: str, parent: QObject | None = None):
        super().__init__(parent)
        from .tasks import make_pool

        self.pool = make_pool(1, name)
        self._waiting: list[Job] = []
        self.current: Job | None = None
        self._resume = threading.Event()  # shared by every job of the queue: a pause outlives one job
        self._resume.set()
        self._closed = False

    @property
    def paused(self) -> bool:
        return not self._resume.is_set()

    def waiting(self) -> list[Job]:
        return list(self._waiting)

    def has_waiting(self, key: str) -> bool:
        return any(j.key == key for j in self._waiting)

    def add(self, job: Job, *, urgent: bool = False) -> Job:
        """Queue ``job`` (first if ``urgent``); a job whose key already waits is dropped for that one,
        which is returned instead."""
        if self._closed:
            job.cancel()
            return job
        if job.key is not None:
            for waiting in self._waiting:
                if waiting.key == job.key and waiting.state == "waiting":  # not one cancelled meanwhile
                    return waiting
        if urgent:
            self._waiting.insert(0, job)
        else:
            self._waiting.append(job)
        self._next()
        return job

    def pause(self) -> None:
        if self._resume.is_set():
            self._resume.clear()
            self.paused_changed.emit(True)

    def resume(self) -> None:
        if not self._resume.is_set():
            self._resume.set()
            self.paused_changed.emit(False)

    def cancel_current(self) -> None:
        if self.current is not None:
            self.current.cancel()
        self.resume()  # a paused job must reach its safe point to stop

    def _next(self) -> None:
        if self.current is not None:
            return
        while self._waiting and self._waiting[0].state == "cancelled":
            self._waiting.pop(0)
        if not self._waiting:
            self.idle.emit()
            return
        job = self.current = self._waiting.pop(0)
        job.ended.connect(lambda j=job: self._ended(j))
        self.job_started.emit(job)
        job.run_in_background(self.pool, resume=self._resume)

    def _ended(self, job: Job) -> None:
        if self.current is job:
            self.current = None
        self.job_ended.emit(job)
        self._next()

    def shutdown(self, timeout_ms: int = 10000) -> None:
        self._closed = True
        for job in self._waiting:
            job.cancel()
        self._waiting.clear()
        self.cancel_current()
        self.pool.waitForDone(timeout_ms)
