"""Which result the preview pane shows, and when: loaded in a Job on the one-thread preview pool, the
newest request wins, and the preview of a first, keyword-only ranking waits for the ranking by meaning
(or PREVIEW_HOLD_MS): loading it meanwhile competes with the semantic search for the CPU and is
usually replaced.

Threads: UI thread only; ``load_preview`` runs in the job.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from .jobs import Job
from .preview import PreviewData, PreviewPane, load_preview
from .tasks import make_pool

PREVIEW_HOLD_MS = 400  # longest wait for the ranking by meaning before previewing the keyword top hit


class PreviewCoordinator(QObject):
    shown = Signal(str)  # path

    def __init__(self, service: Any, pane: PreviewPane, parent: QObject | None = None):
        super().__init__(parent)
        self.service = service
        self.pane = pane
        self.pool = make_pool(1, "preview")
        self._token = 0
        self._shown_for: tuple[str, str] | None = None  # (path, query) in the pane or on its way
        self._pending: tuple[Any, str] | None = None  # (result, query) held for the final ranking
        self._fallback = QTimer(self, singleShot=True, interval=PREVIEW_HOLD_MS)
        self._fallback.timeout.connect(self.load_pending)
        self._job: Job | None = None

    def select(self, result: Any, query: str, *, hold: bool = False) -> None:
        """Preview ``result`` for ``query``; ``hold``: a better ranking follows, wait for it."""
        if hold:
            self._pending = (result, query)
            return
        self._pending = None
        if self._shown_for == (result.path, query) and self.pane.data is not None:
            return  # same file, same query: keep the reader's place
        self._shown_for = (result.path, query)
        self._token += 1
        token = self._token
        self.pane.show_loading(result.path)
        if self._job is not None:
            self._job.cancel()
        self._job = Job("preview", lambda _ctx: load_preview(self.service, result, query), self)
        self._job.on_success(lambda data: self._show(token, data))
        self._job.on_failure(lambda exc: self._show(token, PreviewData(result.path, "", error=str(exc))))
        self._job.run_in_background(self.pool)

    def ranking_arrived(self, final: bool) -> None:
        if final:
            self.load_pending()
        elif self._pending is not None:
            self._fallback.start()

    def load_pending(self) -> None:
        self._fallback.stop()
        if self._pending is not None:
            result, query = self._pending
            self.select(result, query)

    def clear(self, message: str | None = None) -> None:
        self._pending = None
        self._shown_for = None
        self._token += 1
        if message is None:
            self.pane.clear()
        else:
            self.pane.clear(message)

    def _show(self, token: int, data: PreviewData) -> None:
        if token != self._token:
            return
        self.pane.show_data(data)
        self.shown.emit(data.path)

    def shutdown(self, timeout_ms: int = 3000) -> None:
        self._fallback.stop()
        self.pool.waitForDone(timeout_ms)
