"""What the window says about index runs: how a run ended (counts, time, why meaning search is not
there yet), a full disk (a banner, retried every minute), pausing on battery.

A mixin of MainWindow (it uses the window's controllers, status bar, banner and battery guard).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QTimer

from .status_bar import duration

if TYPE_CHECKING:
    from .window import MainWindow

    _Base = MainWindow
else:
    _Base = object

DISK_FULL_RETRY_MS = 60_000


class IndexFeedback(_Base):
    def _on_index_started(self) -> None:
        self._index_started = time.monotonic()
        self.reindex_action.setEnabled(False)

    def _index_ended(self, message: str) -> None:
        self.index_status.on_ended()
        self.reindex_action.setEnabled(True)
        self.statusBar().showMessage(message, 8000)

    def _on_index_finished(self, report: Any) -> None:
        self.banner.clear("disk-full")
        took = time.monotonic() - getattr(self, "_index_started", time.monotonic())
        msg = (f"Index up to date ({report.new} new, {report.changed} changed, {report.deleted} removed"
               f"{f', {report.failed} unreadable' if report.failed else ''}) in {duration(took)}")
        if not report.semantic and self.indexer.encode:
            if self.model_loader.state in ("downloading", "loading"):
                msg += " · search by meaning follows once the model is ready"
            else:
                msg += " · meaning search unavailable, keyword search works"
        self.last_report = report
        self._index_ended(msg)

    def _on_index_cancelled(self) -> None:
        job = self.indexer.last_job
        if job is not None and job.name == "rebuild":
            self._index_ended("Rebuild stopped; the index is as it was")
            return
        self._index_ended("Indexing stopped; it resumes where it stopped next time")

    def _on_index_failed(self, message: str) -> None:
        from desktop_search.core.service import DiskFull

        self._index_ended(message)
        self.index_status.label.setText(message)
        if isinstance(self.indexer.last_error, DiskFull) or "is full" in message:
            # nothing committed is lost; try again every minute until space returns
            self.banner.show_message("disk-full", message)
            QTimer.singleShot(DISK_FULL_RETRY_MS, self.indexer.start)

    def _pause_prefix(self) -> str:
        return "Paused on battery · " if self.battery.paused_by_battery else "Paused · "

    def pause_on_battery_setting(self) -> bool:
        return bool(self.qsettings.value("pause_on_battery", False, type=bool))

    def _on_battery_pause(self, paused: bool) -> None:
        if paused:
            self.statusBar().showMessage("On battery power: indexing is paused until the computer is plugged in",
                                         8000)
        elif not self.indexer.paused:
            self.statusBar().showMessage("Indexing resumed", 4000)
