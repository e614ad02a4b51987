"""Running Service calls off the UI thread and getting their results back onto it.

The pattern is MusicBrainz Picard's ``run_task``/``to_main``: a worker runs a plain function on a
thread pool; its result (or exception) is handed to a callback that runs on the UI thread through a
queued signal. Workers never touch widgets.
"""

from __future__ import annotations

import functools
import logging
import sys
import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal, Slot

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


class _Task(QRunnable):
    def __init__(self, fn: Callable[[], Any], on_done: Callable[[Any], None] | None,
                 on_error: Callable[[BaseException], None] | None):
        super().__init__()
        self.setAutoDelete(True)
        self.fn, self.on_done, self.on_error = fn, on_done, on_error

    def run(self) -> None:
        try:
            result = self.fn()
        except BaseException as exc:  # noqa: B036 - reported on the UI thread, never swallowed silently
            if self.on_error is not None:
                to_main(self.on_error, exc)
            else:
                log.error("background task failed:\n%s", "".join(traceback.format_exception(exc)))
            return
        if self.on_done is not None:
            to_main(self.on_done, result)


def run_task(
    fn: Callable[[], Any],
    on_done: Callable[[Any], None] | None = None,
    on_error: Callable[[BaseException], None] | None = None,
    pool: QThreadPool | None = None,
) -> None:
    """Run ``fn()`` on ``pool`` (the global pool by default); callbacks run on the UI thread."""
    (pool or QThreadPool.globalInstance()).start(_Task(fn, on_done, on_error))


def make_pool(max_threads: int, name: str = "") -> QThreadPool:
    pool = QThreadPool()
    pool.setMaxThreadCount(max_threads)
    if name:
        pool.setObjectName(name)
    return pool
