"""The status bar's indexing part: what the index holds, the run in progress (phase, count, time left,
the file being read), Pause / Stop, and how many files could not be read.

It follows an IndexController's signals and the status the window reads; it starts nothing itself
except through the controller's pause, resume and cancel.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar, QToolButton

from .index_controller import IndexController

PHASES = {"scan": "Looking for files", "extract": "Reading", "encode": "Encoding for meaning",
          "compact": "Optimising the index", "rebuild": "Rebuilding the index", "done": "Up to date"}


def duration(seconds: float) -> str:
    seconds = int(seconds)
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    if h:
        return f"{h} h {m:02d} min"
    if m:
        return f"{m} min {s:02d} s"
    return f"{s} s"


def _button(text: str, name: str, tip: str = "") -> QToolButton:
    b = QToolButton()
    b.setText(text)
    b.setAccessibleName(name)
    if tip:
        b.setToolTip(tip)
    b.hide()
    return b


class IndexStatus(QObject):
    """The widgets are added to ``bar``; ``text_changed`` carries the line the tray shows as its tooltip."""

    text_changed = Signal(str)
    failed_clicked = Signal()

    def __init__(self, bar: QStatusBar, indexer: IndexController, paused_prefix: Any = None):
        super().__init__(bar)
        self.indexer = indexer
        self.paused_prefix = paused_prefix or (lambda: "Paused · ")
        self.label = QLabel()
        self.label.setAccessibleName("Index status")
        self.progress = QProgressBar()
        self.progress.setAccessibleName("Indexing progress")
        self.progress.setMaximumWidth(220)
        self.progress.setTextVisible(True)
        self.progress.hide()
        self.current_file = QLabel()
        self.current_file.setAccessibleName("File being indexed")
        self.current_file.setMinimumWidth(50)
        self.pause_btn = _button("Pause", "Pause indexing")
        self.pause_btn.clicked.connect(self.toggle_pause)
        self.cancel_btn = _button("Stop", "Stop indexing",
                                  "Stop indexing; what is done so far is kept and the rest resumes next time")
        self.cancel_btn.clicked.connect(indexer.cancel)
        self.failed_btn = _button("", "Show files that could not be read")
        self.failed_btn.setAutoRaise(True)
        self.failed_btn.clicked.connect(self.failed_clicked)
        bar.addWidget(self.label)
        bar.addWidget(self.progress)
        bar.addWidget(self.current_file, 1)
        for b in (self.pause_btn, self.cancel_btn, self.failed_btn):
            bar.addPermanentWidget(b)
        indexer.started.connect(self.on_started)
        indexer.progress.connect(self.on_progress)
        indexer.paused_changed.connect(self.on_paused)

    def toggle_pause(self) -> None:
        if self.indexer.paused:
            self.indexer.resume()
        else:
            self.indexer.pause()

    def _prefix(self) -> str:
        return self.paused_prefix() if self.indexer.paused else ""

    def on_started(self) -> None:
        self.label.setText(self._prefix() + "Indexing…")
        self.progress.setRange(0, 0)
        self.progress.show()
        self.pause_btn.show()
        self.cancel_btn.show()

    def on_progress(self, p: Any) -> None:
        if p.phase == "done":
            return
        phase = PHASES.get(p.phase, p.phase)
        if p.total:
            self.progress.setRange(0, p.total)
            self.progress.setValue(p.done)
            self.progress.setFormat(f"{p.done:,} / {p.total:,}")
            text = f"{phase} {p.done:,} of {p.total:,} files"
        else:
            self.progress.setRange(0, 0)
            text = f"{phase}… {p.done:,} files found" if p.phase == "scan" else f"{phase}…"
        if p.eta_s is not None and p.eta_s > 1:
            text += f" · about {duration(p.eta_s)} left"
        text = self._prefix() + text
        self.label.setText(text)
        current = p.current or p.message or ""
        self.current_file.setText(self.current_file.fontMetrics().elidedText(
            current, Qt.TextElideMode.ElideMiddle, max(120, self.current_file.width())))
        self.current_file.setToolTip(current)
        self.text_changed.emit(text)

    def on_ended(self) -> None:
        self.progress.hide()
        self.pause_btn.hide()
        self.cancel_btn.hide()
        self.current_file.clear()
        self.text_changed.emit("")

    def on_paused(self, paused: bool) -> None:
        self.pause_btn.setText("Resume" if paused else "Pause")
        self.pause_btn.setAccessibleName("Resume indexing" if paused else "Pause indexing")
        text = self.label.text().removeprefix("Paused on battery · ").removeprefix("Paused · ")
        self.label.setText((self.paused_prefix() if paused else "") + text)

    def show_counts(self, status: dict[str, Any]) -> None:
        """What the index holds (unless a run is reporting), and the failed-files button."""
        if not self.indexer.indexing:
            files = status.get("indexed", 0) + status.get("pending", 0)
            text = f"{files:,} files in {len(status.get('folders', []))} folder(s)"
            if status.get("pending"):
                text += f" · {status['pending']:,} keyword-only so far"
            self.label.setText(text)
        failed, skipped = int(status.get("failed", 0)), int(status.get("skipped", 0) or 0)
        parts = [f"{failed:,} could not be read"] if failed else []
        if skipped:  # left out on purpose (not documents, excluded, links out of the folder): listed too
            parts.append(f"{skipped:,} left out")
        self.failed_btn.setText(" · ".join(parts))
        self.failed_btn.setVisible(bool(parts))
