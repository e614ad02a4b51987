"""Keep the index current: watchdog events become debounced incremental index runs.

At start the index is reconciled with the disk (files changed while the app was closed); after
that, any event under a watched folder schedules a run once things have been quiet for a moment.
Moves need no special case: the indexer recognises a moved file by its content hash.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from typing import Any

from .indexer import Cancelled, IndexReport, Progress


class ChangeMonitor:
    """Calls ``on_change`` (on its own thread) once watched folders have been quiet for ``debounce_s``
    after a change. Used by ``watch`` below and by the window, which runs the index job itself."""

    def __init__(self, on_change: Callable[[], None], ignore: Iterable[str] = (), debounce_s: float = 2.0):
        self._on_change = on_change
        self._ignore = [str(i) for i in ignore]
        self._debounce_s = debounce_s
        self._changed = threading.Event()
        self._stop = threading.Event()
        self._observer: Any = None
        self._thread: threading.Thread | None = None

    def dispatch(self, event: Any) -> None:  # watchdog's handler interface
        path = os.fsdecode(getattr(event, "src_path", "") or "")
        if not any(path.startswith(i) for i in self._ignore):
            self._changed.set()

    def start(self, roots: Iterable[str]) -> None:
        from watchdog.observers import Observer

        self.stop()
        self._stop.clear()
        self._observer = Observer()
        for root in roots:
            if os.path.isdir(root):
                self._observer.schedule(self, root, recursive=True)
        self._observer.start()
        self._thread = threading.Thread(target=self._loop, name="change-monitor", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            if not self._changed.wait(0.5):
                continue
            while self._changed.is_set():  # wait for a quiet moment: saves come in bursts
                self._changed.clear()
                if self._stop.wait(self._debounce_s):
                    return
            self._on_change()

    def stop(self) -> None:
        self._stop.set()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join()
            self._observer = None
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        self._thread = None


def watch(
    service: Any,
    stop: threading.Event,
    progress: Callable[[Progress], None] | None = None,
    debounce_s: float = 2.0,
    on_report: Callable[[IndexReport], None] | None = None,
) -> None:
    """Headless: reconcile, then re-index after every burst of changes until ``stop`` is set."""
    pending = threading.Event()
    pending.set()  # startup reconcile
    monitor = ChangeMonitor(pending.set, ignore=[str(service.data_dir)], debounce_s=debounce_s)
    monitor.start(service.roots())
    try:
        while not stop.is_set():
            if not pending.wait(0.5):
                continue
            pending.clear()
            try:
                report = service.index(progress=progress, should_stop=stop.is_set)
            except Cancelled:
                return
            if on_report:
                on_report(report)
    finally:
        monitor.stop()
