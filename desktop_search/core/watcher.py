"""Keep the index current: watchdog events become debounced incremental index runs.

At start the index is reconciled with the disk (files changed while the app was closed); after
that, any event under a watched folder schedules a run once things have been quiet for a moment.
Moves need no special case: the indexer recognises a moved file by its content hash.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

from .indexer import Cancelled, IndexReport, Progress


class _Changed:
    def __init__(self, ignore: list[str]):
        self.event = threading.Event()
        self.ignore = ignore

    def dispatch(self, event: Any) -> None:
        path = os.fsdecode(getattr(event, "src_path", "") or "")
        if any(path.startswith(i) for i in self.ignore):
            return
        self.event.set()


def watch(
    service: Any,
    stop: threading.Event,
    progress: Callable[[Progress], None] | None = None,
    debounce_s: float = 2.0,
    on_report: Callable[[IndexReport], None] | None = None,
) -> None:
    from watchdog.observers import Observer

    def run_index() -> None:
        try:
            report = service.index(progress=progress, should_stop=stop.is_set)
        except Cancelled:
            return
        if on_report:
            on_report(report)

    changed = _Changed([str(service.data_dir)])
    observer = Observer()
    for root in service.roots():
        if os.path.isdir(root):
            observer.schedule(changed, root, recursive=True)
    observer.start()
    try:
        run_index()  # startup reconcile
        while not stop.is_set():
            if not changed.event.wait(0.5):
                continue
            while changed.event.is_set():  # wait for a quiet moment: saves come in bursts
                changed.event.clear()
                if stop.wait(debounce_s):
                    return
            run_index()
    finally:
        observer.stop()
        observer.join()
