"""Getting the ColBERT model ready in the background (a Job on the model thread): download it first if
needed, with byte progress and cancel, then load it.

Threads: the loader lives on the UI thread; the job calls the service on the model thread and hands
download progress back through ``to_main``.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal

from .jobs import Job, JobContext
from .tasks import make_pool, to_main


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
        self.job: Job | None = None

    def load(self) -> None:
        if self.state in ("loading", "downloading", "ready"):
            return
        self.state = "loading"
        self.loading.emit("loading the search model…")
        self.job = Job("load model", self._work, self).on_success(self._ok).on_failure(self._fail)
        self.job.run_in_background(self.pool)

    def cancel_download(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def _work(self, ctx: JobContext) -> Any:  # on the model thread
        described = self.service.model_description()
        if described.get("model_state") == "not downloaded":
            to_main(self._began, str(described.get("model") or ""))
            self.service.download_model(progress=lambda p: to_main(self._progress, p),
                                        should_cancel=ctx.cancelled)
            to_main(self._downloaded)
        return self.service.load_query_model()  # no PyTorch when the NumPy query encoder fits the model

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
        self.cancel_download()  # a download stops at its next chunk; a model load finishes
        self.pool.waitForDone(timeout_ms)
