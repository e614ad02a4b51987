"""Indexing and other index-changing work, one job at a time on the index thread (a JobQueue).

"Bring the index up to date" is one job key ("index"): asked for again while one waits, it is queued
once. What the change monitor saw is gathered for one "changes" job. Removing a folder, retrying
failed files, new exclusions and repairs go first ("urgent"), stopping a run in progress where asked.
A rebuild of the index (``rebuild``) queues like an index run, with progress and Stop.
Refreshing views is not done here: the service announces what changed (core/events.py).

Threads: the controller lives on the UI thread; ``changed()`` is called there too (the window bridges
the monitor), and the gathered paths are taken by the job on the index thread under ``_changes_lock``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from .jobs import Job, JobContext, JobQueue


def media_error(exc: BaseException | None, where: Any = None) -> Exception | None:
    """The one-line CatalogError (full, read-only, busy, I/O) that ``exc`` stands for, or None."""
    import errno
    import sqlite3

    from desktop_search.core.service import CatalogError, describe

    if isinstance(exc, CatalogError):
        return exc
    if isinstance(exc, sqlite3.Error) or (
            isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO)):
        return describe(exc, where)
    return None


def _is_cancelled(exc: BaseException) -> bool:
    from desktop_search.core.service import Cancelled

    return isinstance(exc, Cancelled)


class IndexController(QObject):
    """Index runs and exclusive jobs on one background thread, with pause and cancel."""

    started = Signal()  # an index run started
    progress = Signal(object)  # core.indexer.Progress
    finished = Signal(object)  # IndexReport
    cancelled = Signal()
    failed = Signal(str)
    paused_changed = Signal(bool)
    idle = Signal()  # the queue is empty
    job_done = Signal(str, object)  # name, result (jobs other than index runs, e.g. removing a folder)

    def __init__(self, service: Any, encode: bool = True, parent: QObject | None = None):
        super().__init__(parent)
        self.service = service
        self.encode = encode
        self.queue = JobQueue("index", self)
        self.queue.job_started.connect(self._job_started)
        self.queue.job_ended.connect(self._job_ended)
        self.queue.paused_changed.connect(self.paused_changed)
        self.queue.idle.connect(self.idle)
        self._changes: set[str] = set()  # what the change monitor saw, for the next "changes" job
        self._changes_lock = threading.Lock()
        self.last_error: BaseException | None = None
        self.last_job: Job | None = None  # the job whose end was signalled last (its name tells a rebuild)

    # --- state -----------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.queue.current is not None

    @property
    def indexing(self) -> bool:
        job = self.queue.current
        return job is not None and job.key in ("index", "changes", "rebuild")

    @property
    def paused(self) -> bool:
        return self.queue.paused

    # --- commands --------------------------------------------------------------------------------
    def start(self) -> Job:
        """Bring the index up to date (again, after the current run if one is going)."""
        return self.queue.add(self._job("index", self._index))

    def rebuild(self) -> Job:
        """Rebuild the index (Service.rebuild: searches go on; Stop leaves it as it was) after the current job."""
        job = Job("rebuild", lambda ctx: self.service.rebuild(progress=ctx.report, should_stop=ctx.should_stop),
                  self, key="rebuild", is_cancel=_is_cancelled)
        job.on_progress(self.progress.emit)
        return self.queue.add(job)

    def changed(self, paths: set[str] | None) -> None:
        """Index what the change monitor saw change (``None``: reconcile everything) after the current job."""
        if paths is None:
            self.start()
            return
        with self._changes_lock:
            self._changes |= paths
        self.queue.add(self._job("changes", self._index_changes))

    def run_exclusive(self, name: str, fn: Callable[[], Any], cancel_current: bool = True) -> Job:
        """Run ``fn`` (e.g. removing a folder) next on the index thread, stopping a run in progress."""
        if cancel_current and self.indexing:
            self.cancel()
        return self.queue.add(Job(name, lambda _ctx: fn(), self, is_cancel=_is_cancelled), urgent=True)

    def pause(self) -> None:
        self.queue.pause()

    def resume(self) -> None:
        self.queue.resume()

    def cancel(self) -> None:
        self.queue.cancel_current()

    # --- the jobs (on the index thread) ----------------------------------------------------------
    def _job(self, key: str, fn: Callable[[JobContext], Any]) -> Job:
        job = Job("index", fn, self, key=key, is_cancel=_is_cancelled)
        job.on_progress(self.progress.emit)
        return job

    def _index(self, ctx: JobContext) -> Any:
        # another process holding the writer lock is waited for here (a "wait" progress says so)
        return self.service.index(progress=ctx.report, should_stop=ctx.should_stop, encode=self.encode)

    def _index_changes(self, ctx: JobContext) -> Any:
        with self._changes_lock:
            paths, self._changes = self._changes, set()
        return self.service.index_changes(paths, progress=ctx.report, should_stop=ctx.should_stop,
                                          encode=self.encode)

    # --- results (on the UI thread) --------------------------------------------------------------
    def _job_started(self, job: Job) -> None:
        if job.name in ("index", "rebuild"):  # the status bar shows their progress, Pause and Stop
            self.started.emit()

    def _job_ended(self, job: Job) -> None:
        self.last_job = job
        if job.state == "done":
            if job.name == "index":
                self.finished.emit(job.result)
            else:
                self.job_done.emit(job.name, job.result)
            return
        exc = job.error
        self.last_error = exc  # the window tells a full disk (banner, retried later) from other failures
        if job.state == "cancelled":
            self.cancelled.emit()
            return
        from desktop_search.core.service import Busy

        if isinstance(exc, Busy):
            self.failed.emit("another desktop-search window or command is updating the index; try again later")
        elif media_error(exc, self.service.data_dir):  # full, read-only, busy catalog, I/O: named for what it is
            self.failed.emit(str(media_error(exc, self.service.data_dir)))
        else:
            self.failed.emit(f"{job.name} failed: {exc or type(exc).__name__}")

    def shutdown(self, timeout_ms: int = 10000) -> None:
        self.queue.shutdown(timeout_ms)
