"""Running Service calls off the UI thread and getting their results back onto it.

The pattern is MusicBrainz Picard's ``run_task``/``to_main``: a worker runs a plain function on a
pool of Python threads (``Pool``); its result (or exception) is handed to a callback that runs on
the UI thread through a queued signal. Workers never touch widgets.
"""

from __future__ import annotations

import functools
import logging
import os
import queue
import sys
import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal, Slot

log = logging.getLogger(__name__)


class _Dispatcher(QObject):
    """Lives on the UI thread; a queued signal carries callables to it from any thread."""

    _call = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self._call.connect(self._run, Qt.ConnectionType.QueuedConnection)

    @Slot(object)
    def _run(self, fn: Callable[[], Any]) -> None:
        try:
            fn()
        except Exception:  # a bug in a callback must not take the event loop down: report it (crash.py)
            sys.excepthook(*sys.exc_info())


_dispatcher: _Dispatcher | None = None
_dispatcher_lock = threading.Lock()


def init_dispatcher() -> None:
    """Create the dispatcher; call once on the UI thread after the QApplication exists."""
    global _dispatcher
    with _dispatcher_lock:
        if _dispatcher is None:
            _dispatcher = _Dispatcher()


def to_main(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Run ``fn(*args, **kwargs)`` on the UI thread, soon (never synchronously)."""
    if _dispatcher is None:
        raise RuntimeError("init_dispatcher() was not called on the UI thread")
    _dispatcher._call.emit(functools.partial(fn, *args, **kwargs))


class Pool:
    """Up to ``max_threads`` Python worker threads fed from one queue; an idle thread ends after
    ``expiry_s``.

    Python threads, not a QThreadPool: a Qt pool thread has no Python thread state of its own, so
    each task's state (and every ``threading.local``, such as the service's reader connection) was
    torn down when the task returned — a new SQLite connection per search, and finalizers run while
    the thread state was being cleared (a segfault once the catalog registered a Python SQL function).
    Here a worker keeps its state, and its reader connection, until it ends.

    Threads: ``start`` and ``waitForDone`` from any thread; the counters are guarded by ``_lock``.
    """

    def __init__(self, max_threads: int, name: str = "worker", expiry_s: float = 30.0):
        self.name = name
        self.max_threads = max(1, max_threads)
        self.expiry_s = expiry_s
        self._queue: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._done = threading.Condition(self._lock)
        self._threads = 0
        self._idle = 0
        self._pending = 0  # queued or running
        self._serial = 0

    def start(self, fn: Callable[[], None]) -> None:
        with self._lock:  # queued under the lock: an idle thread retiring now sees it and stays
            self._pending += 1
            self._queue.put(fn)
            if self._idle > 0 or self._threads >= self.max_threads:
                return
            self._threads += 1
            self._serial += 1
            name = f"{self.name}-{self._serial}"
        threading.Thread(target=self._work, name=name, daemon=True).start()

    def _work(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
            try:
                fn = self._queue.get(timeout=self.expiry_s)
            except queue.Empty:
                with self._lock:
                    self._idle -= 1
                    if self._queue.empty():  # nothing queued meanwhile: this thread retires
                        self._threads -= 1
                        return
                continue
            with self._lock:
                self._idle -= 1
            try:
                fn()
            finally:
                del fn  # drop the task (and what it holds) before waiting idle
                with self._lock:
                    self._pending -= 1
                    if self._pending == 0:
                        self._done.notify_all()

    def waitForDone(self, timeout_ms: int = -1) -> bool:  # noqa: N802 - the QThreadPool name it replaces
        with self._lock:
            return self._done.wait_for(lambda: self._pending == 0, None if timeout_ms < 0 else timeout_ms / 1000)

    def active(self) -> int:
        with self._lock:
            return self._pending


def _call(fn: Callable[[], Any], on_done: Callable[[Any], None] | None,
          on_error: Callable[[BaseException], None] | None) -> None:
    try:
        result = fn()
    except BaseException as exc:  # noqa: B036 - reported on the UI thread, never swallowed silently
        if on_error is not None:
            to_main(on_error, exc)
        else:
            log.error("background task failed:\n%s", "".join(traceback.format_exception(exc)))
        return
    if on_done is not None:
        to_main(on_done, result)


_global_pool: Pool | None = None


def global_pool() -> Pool:
    """The pool for one-off tasks (status reads, dialogs' data, adding folders)."""
    global _global_pool
    with _dispatcher_lock:
        if _global_pool is None:
            _global_pool = Pool(max(4, os.cpu_count() or 1), "task")
        return _global_pool


def run_task(
    fn: Callable[[], Any],
    on_done: Callable[[Any], None] | None = None,
    on_error: Callable[[BaseException], None] | None = None,
    pool: Pool | None = None,
) -> None:
    """Run ``fn()`` on ``pool`` (the global pool by default); callbacks run on the UI thread."""
    (pool or global_pool()).start(lambda: _call(fn, on_done, on_error))


def make_pool(max_threads: int, name: str = "") -> Pool:
    return Pool(max_threads, name or "worker")
