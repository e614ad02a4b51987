"""Non-widget logic of the window: searching as you type, indexing, loading the model.

Each controller owns the threads its work runs on and reports back through Qt signals emitted on the
UI thread, so widgets only ever see finished data.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from .tasks import make_pool, run_task, to_main

DEBOUNCE_MS = 150
RESULT_LIMIT = 20  # first page: what typing waits for (50 took twice as long to rank and build)
MORE_RESULTS = 50  # rows added each time the list is scrolled to its end
PROGRESS_INTERVAL_S = 0.1  # at most ~10 progress updates a second reach the UI


@dataclass
class SearchOutcome:
    generation: int
    query: str
    mode: str  # keyword | hybrid
    response: Any  # SearchResponse
    final: bool  # no better ranking will follow for this query
    limit: int = 0  # how many results were asked for (fewer came back: there are no more)


class SearchController(QObject):
    """Debounced, cancellable search: keyword results at once, the hybrid ranking when it is ready.

    Every change of the query bumps ``generation``; a search whose generation is no longer current stops
    at its next check (``should_stop``) and its results are dropped, so an older, slower query can never
    overwrite a newer one.
    """

    results = Signal(object)  # SearchOutcome
    more_results = Signal(object)  # SearchOutcome of a longer search for the same query (append)
    failed = Signal(int, str)  # generation, message
    cleared = Signal()
    busy_changed = Signal(bool)

    def __init__(self, service: Any, parent: QObject | None = None, debounce_ms: int = DEBOUNCE_MS,
                 limit: int = RESULT_LIMIT):
        super().__init__(parent)
        self.service = service
        self.limit = limit
        self.generation = 0
        self.semantic_ready = False
        self.query = ""
        self.stale = 0  # searches cancelled or dropped because a newer query came (for tests and stats)
        self.pool = make_pool(2, "search")
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(debounce_ms)
        self._timer.timeout.connect(self._start)
        self._running = 0

    def set_query(self, text: str) -> None:
        self.generation += 1  # cancels whatever is in flight right now, before the debounce ends
        self.query = text
        if not text.strip():
            self._timer.stop()
            self.cleared.emit()
            return
        self._timer.start()

    def refresh(self) -> None:
        """Run the current query again now (new files were indexed, or the model became ready)."""
        if self.query.strip():
            self.generation += 1
            self._timer.stop()
            self._start()

    def set_semantic_ready(self, ready: bool) -> None:
        self.semantic_ready = ready
        self.refresh()

    def _start(self) -> None:
        gen, text, hybrid = self.generation, self.query, self.semantic_ready

        def should_stop() -> bool:
            return gen != self.generation

        def work() -> None:
            modes = ("keyword", "hybrid") if hybrid else ("keyword",)
            delivered = 0
            for response in self.service.search_stages(text, limit=self.limit, modes=modes, should_stop=should_stop):
                delivered += 1
                to_main(self._deliver, SearchOutcome(gen, text, response.mode, response, delivered == len(modes)))
            if delivered < len(modes):
                to_main(self._drop)

        self._set_running(+1)
        run_task(work, on_done=lambda _: self._set_running(-1), on_error=lambda exc: self._error(gen, exc),
                 pool=self.pool)

    def load_more(self, shown: int) -> None:
        """Search the current query again for ``shown + MORE_RESULTS`` results (the final ranking only)."""
        gen, text = self.generation, self.query
        if not text.strip():
            return
        mode = "hybrid" if self.semantic_ready else "keyword"
        limit = shown + MORE_RESULTS

        def work() -> None:
            response = self.service.search(text, limit=limit, mode=mode, should_stop=lambda: gen != self.generation)
            to_main(self._deliver_more, SearchOutcome(gen, text, mode, response, True, limit))

        run_task(work, on_error=lambda exc: self._error(gen, exc, running=False), pool=self.pool)

    def _deliver_more(self, outcome: SearchOutcome) -> None:
        if outcome.generation == self.generation:
            self.more_results.emit(outcome)

    def _set_running(self, delta: int) -> None:
        was = self._running > 0
        self._running += delta
        if was != (self._running > 0):
            self.busy_changed.emit(self._running > 0)

    def _drop(self) -> None:
        self.stale += 1

    def _deliver(self, outcome: SearchOutcome) -> None:
        if outcome.generation != self.generation:
            self.stale += 1
            return
        self.results.emit(outcome)

    def _error(self, gen: int, exc: BaseException, running: bool = True) -> None:
        if running:
            self._set_running(-1)
        if gen == self.generation:
            self.failed.emit(gen, str(exc) or type(exc).__name__)

    def shutdown(self, timeout_ms: int = 3000) -> None:
        self.generation += 1
        self._timer.stop()
        self.pool.waitForDone(timeout_ms)


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


class IndexController(QObject):
    """Runs indexing jobs one after another on one background thread, with pause and cancel.

    Pause blocks the indexer at its next ``should_stop`` check (between files); cancel makes it stop
    there. Progress is throttled so the UI gets at most ~10 updates a second, plus every phase change.
    """

    started = Signal()
    progress = Signal(object)  # core.indexer.Progress
    finished = Signal(object)  # IndexReport
    cancelled = Signal()
    failed = Signal(str)
    paused_changed = Signal(bool)
    idle = Signal()  # the queue is empty
    job_done = Signal(str, object)  # name, result (non-index jobs such as removing a folder)

    def __init__(self, service: Any, encode: bool = True, parent: QObject | None = None):
        super().__init__(parent)
        self.service = service
        self.encode = encode
        self.pool = make_pool(1, "index")
        self._resume = threading.Event()
        self._resume.set()
        self._cancel = threading.Event()
        self._queue: list[tuple[str, Callable[[], Any]]] = []
        self._running: str | None = None
        self._index_queued = False
        self._changes: set[str] = set()  # what the change monitor saw, for the next incremental run
        self._changes_queued = False
        self._changes_lock = threading.Lock()  # changed() on the UI thread, the job on the index thread
        self.last_progress: Any = None
        self.last_error: BaseException | None = None

    # --- state -----------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._running is not None

    @property
    def indexing(self) -> bool:
        return self._running == "index"

    @property
    def paused(self) -> bool:
        return not self._resume.is_set()

    def _should_stop(self) -> bool:
        while not self._resume.wait(0.1):
            if self._cancel.is_set():
                break
        return self._cancel.is_set()

    # --- commands --------------------------------------------------------------------------------
    def start(self) -> None:
        """Bring the index up to date (again, after the current run if one is going)."""
        if self._index_queued:
            return
        self._index_queued = True
        self._queue.append(("index", self._index_job))
        self._next()

    def changed(self, paths: set[str] | None) -> None:
        """Index what the change monitor saw change (``None``: reconcile everything) after the current job."""
        if paths is None:
            self.start()
            return
        with self._changes_lock:
            self._changes |= paths
            if self._changes_queued:
                return
            self._changes_queued = True
        self._queue.append(("index", self._changes_job))
        self._next()

    def run_exclusive(self, name: str, fn: Callable[[], Any], cancel_current: bool = True) -> None:
        """Queue ``fn`` (e.g. removing a folder) to run on the indexing thread, stopping a run in progress."""
        if cancel_current and self.indexing:
            self.cancel()
        self._queue.insert(0, (name, fn))
        self._next()

    def pause(self) -> None:
        if self._resume.is_set():
            self._resume.clear()
            self.paused_changed.emit(True)

    def resume(self) -> None:
        if not self._resume.is_set():
            self._resume.set()
            self.paused_changed.emit(False)

    def cancel(self) -> None:
        self._cancel.set()
        self.resume()

    # --- running ---------------------------------------------------------------------------------
    def _progress_callback(self) -> Callable[[Any], None]:
        last = [0.0, ""]

        def progress(p: Any) -> None:  # on the indexing thread
            now = time.monotonic()
            if p.phase != last[1] or p.phase == "done" or now - last[0] >= PROGRESS_INTERVAL_S:
                last[0], last[1] = now, p.phase
                to_main(self._on_progress, p)

        return progress

    def _index_job(self) -> Any:
        # another process holding the writer lock is waited for here (a "wait" progress says so)
        return self.service.index(progress=self._progress_callback(), should_stop=self._should_stop,
                                  encode=self.encode)

    def _changes_job(self) -> Any:
        with self._changes_lock:
            paths, self._changes = self._changes, set()
            self._changes_queued = False
        return self.service.index_changes(paths, progress=self._progress_callback(), should_stop=self._should_stop,
                                          encode=self.encode)

    def _next(self) -> None:
        if self._running is not None:
            return
        if not self._queue:
            self.idle.emit()
            return
        name, job = self._queue.pop(0)
        if name == "index":
            self._index_queued = False
        self._running = name
        self._cancel.clear()
        if name == "index":
            self.started.emit()

        run_task(job, on_done=lambda r: self._done(name, r), on_error=lambda e: self._error(name, e), pool=self.pool)

    def _on_progress(self, p: Any) -> None:
        self.last_progress = p
        self.progress.emit(p)

    def _done(self, name: str, result: Any) -> None:
        self._running = None
        if name == "index":
            self.finished.emit(result)
        else:
            self.job_done.emit(name, result)
        self._next()

    def _error(self, name: str, exc: BaseException) -> None:
        from desktop_search.core.service import Busy, Cancelled

        self._running = None
        self.last_error = exc  # the window tells a full disk (banner, retried later) from other failures
        if isinstance(exc, Cancelled):
            self.cancelled.emit()
        elif isinstance(exc, Busy):
            self.failed.emit("another desktop-search window or command is updating the index; try again later")
        elif media_error(exc, self.service.data_dir):  # full, read-only, busy catalog, I/O: named for what it is
            self.failed.emit(str(media_error(exc, self.service.data_dir)))
        else:
            self.failed.emit(f"{name} failed: {exc or type(exc).__name__}")
        self._next()

    def shutdown(self, timeout_ms: int = 10000) -> None:
        self._queue.clear()
        self.cancel()
        self.pool.waitForDone(timeout_ms)


class ModelLoader(QObject):
    """Gets the ColBERT model ready in the background: downloads it first if needed, then loads it.

    The download (first run, default hub model) reports bytes through ``download_progress`` and stops
    at the next received chunk after :meth:`cancel_download`; its partial files are kept, so
    :meth:`load` again resumes it. Loading alone takes seconds (``from pylate import models``).
    """

    loading = Signal(str)  # message
    ready = Signal()
    unavailable = Signal(str)  # one-line reason
    download_started = Signal(str)  # model id
    download_progress = Signal(object)  # core.download.DownloadProgress
    download_finished = Signal()
    download_cancelled = Signal()

    def __init__(self, service: Any, parent: QObject | None = None):
        super().__init__(parent)
        self.service = service
        self.pool = make_pool(1, "model")
        self.state = "idle"  # idle | downloading | loading | ready | unavailable | cancelled
        self.downloaded = False  # this session downloaded the model
        self._cancel = threading.Event()

    def load(self) -> None:
        if self.state in ("loading", "downloading", "ready"):
            return
        self._cancel.clear()
        self.state = "loading"
        self.loading.emit("loading the search model…")
        run_task(self._work, on_done=self._ok, on_error=self._fail, pool=self.pool)

    def cancel_download(self) -> None:
        self._cancel.set()

    def _work(self) -> Any:  # on the model thread
        described = self.service.model_description()
        if described.get("model_state") == "not downloaded":
            to_main(self._began, str(described.get("model") or ""))
            self.service.download_model(progress=lambda p: to_main(self._progress, p),
                                        should_cancel=self._cancel.is_set)
            to_main(self._downloaded)
        return self.service.encoder()

    def _began(self, model: str) -> None:
        if self.state == "loading":
            self.state = "downloading"
            self.download_started.emit(model)

    def _progress(self, p: Any) -> None:
        if self.state == "downloading":
            self.download_progress.emit(p)

    def _downloaded(self) -> None:
        self.downloaded = True
        self.state = "loading"
        self.download_finished.emit()
        self.loading.emit("loading the search model…")

    def _ok(self, _: Any) -> None:
        self.state = "ready"
        self.ready.emit()

    def _fail(self, exc: BaseException) -> None:
        from desktop_search.core.service import DownloadCancelled

        if isinstance(exc, DownloadCancelled):
            self.state = "cancelled"
            self.download_cancelled.emit()
            return
        self.state = "unavailable"
        self.unavailable.emit(str(exc) or type(exc).__name__)

    def shutdown(self, timeout_ms: int = 30000) -> None:
        self._cancel.set()  # a download stops at its next chunk; a model load finishes
        self.pool.waitForDone(timeout_ms)
