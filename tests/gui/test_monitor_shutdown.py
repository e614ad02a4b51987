"""Closing the window while the change monitor is being started (watch_folders runs on a worker): the
stop waits for the start to finish instead of joining an observer thread that has not started yet
(RuntimeError in closeEvent, seen as a teardown error in the GUI tests), and no start happens after it."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

WAIT_S = 60.0  # bounded: a lost handshake fails, never hangs


class WatchedLock:
    """The window's monitor lock, telling when a second thread waits for it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.contended = threading.Event()

    def __enter__(self) -> None:
        if not self.lock.acquire(blocking=False):
            self.contended.set()
            self.lock.acquire()

    def __exit__(self, *exc: object) -> None:
        self.lock.release()


def test_closing_while_the_monitor_starts_waits_for_it(qtbot: Any, make_service: Any, make_window: Any,
                                                       docs: Path) -> None:
    from desktop_search.gui.tasks import global_pool

    service = make_service()
    service.add_roots([str(docs)])
    window = make_window(service)
    monitor = window.monitor
    real_schedule = monitor._schedule
    scheduling, release = threading.Event(), threading.Event()

    def slow_schedule(root: str) -> bool:  # the observer exists and is not started while watches are added
        scheduling.set()
        release.wait(WAIT_S)
        return real_schedule(root)

    monitor._schedule = slow_schedule
    lock = window._monitor_lock = WatchedLock()
    helper = threading.Thread(target=lambda: lock.contended.wait(WAIT_S) and release.set(), daemon=True)
    helper.start()
    try:
        window.watch_folders()
        assert scheduling.wait(WAIT_S), "the monitor never started"
        window.shutdown()  # the start in progress ends first (the helper lets it go once the stop waits)
        assert lock.contended.is_set()
        assert monitor._observer is None and monitor._thread is None
        window.watch_folders()  # a start asked for after the window closed does nothing
        assert global_pool().waitForDone(int(WAIT_S * 1000))
        assert monitor._observer is None
    finally:
        release.set()
        helper.join(WAIT_S)
