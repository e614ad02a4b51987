"""The status bar's model part: the search model's state, and on first run its download (progress in
MB, Cancel, Download / Retry), following a ModelLoader's signals."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar, QToolButton

from .model_loader import ModelLoader


def mb(n: int) -> str:
    value = n / (1024 * 1024)
    return f"{value:.1f}" if value < 10 else f"{value:.0f}"


class DownloadStatus(QObject):
    message = Signal(str, int)  # a passing status-bar message, ms

    def __init__(self, bar: QStatusBar, loader: ModelLoader):
        super().__init__(bar)
        self.loader = loader
        self.model_label = QLabel()
        self.model_label.setAccessibleName("Search model state")
        self.download_bar = QProgressBar()
        self.download_bar.setAccessibleName("Model download progress")
        self.download_bar.setMaximumWidth(200)
        self.download_bar.setTextVisible(True)
        self.download_bar.hide()
        self.download_cancel_btn = QToolButton()
        self.download_cancel_btn.setText("Cancel download")
        self.download_cancel_btn.setAccessibleName("Cancel the model download")
        self.download_cancel_btn.setToolTip("Stop downloading the search model; what was downloaded is kept and "
                                            "the download resumes when you start it again")
        self.download_cancel_btn.clicked.connect(loader.cancel_download)
        self.download_cancel_btn.hide()
        self.download_btn = QToolButton()
        self.download_btn.setText("Download model")
        self.download_btn.setAccessibleName("Download the search model")
        self.download_btn.setToolTip("Download the search model (resumes a cancelled download)")
        self.download_btn.clicked.connect(self.start_download)
        self.download_btn.hide()
        for w in (self.model_label, self.download_bar, self.download_cancel_btn, self.download_btn):
            bar.addPermanentWidget(w)
        loader.loading.connect(lambda m: self.set_label(m))
        loader.ready.connect(self.on_ready)
        loader.unavailable.connect(self.on_unavailable)
        loader.download_started.connect(self.on_download_started)
        loader.download_progress.connect(self.on_download_progress)
        loader.download_finished.connect(self.on_download_finished)
        loader.download_cancelled.connect(self.on_download_cancelled)

    def set_label(self, text: str) -> None:
        self.model_label.setText(text)

    def start_download(self) -> None:
        self.download_btn.hide()
        self.loader.load()

    def hide_download(self) -> None:
        self.download_bar.hide()
        self.download_cancel_btn.hide()

    def on_ready(self) -> None:
        self.set_label("Meaning search ready")
        self.model_label.setToolTip("")

    def on_unavailable(self, reason: str) -> None:
        self.set_label("Keyword search only")
        self.model_label.setToolTip(f"Semantic search is unavailable: {reason}")
        self.hide_download()
        if reason.startswith("could not download"):  # a network problem: worth another try
            self.download_btn.setText("Retry download")
            self.download_btn.show()

    def on_download_started(self, model: str) -> None:
        self.download_bar.setRange(0, 0)
        self.download_bar.setFormat("")
        self.download_bar.show()
        self.download_cancel_btn.show()
        self.download_btn.hide()
        self.set_label("Downloading the search model…")
        self.model_label.setToolTip(f"Downloading {model} once; keyword search works meanwhile, "
                                    "search by meaning starts when it is done")

    def on_download_progress(self, p: object) -> None:
        total, done = getattr(p, "total_bytes", 0), getattr(p, "done_bytes", 0)
        if total:
            self.download_bar.setRange(0, 1000)
            self.download_bar.setValue(int(1000 * (getattr(p, "fraction", 0) or 0)))
            self.download_bar.setFormat(f"{mb(done)} / {mb(total)} MB")
            self.set_label(f"Downloading the search model · {mb(done)} of {mb(total)} MB")
        else:
            self.download_bar.setRange(0, 0)
            self.set_label(f"Downloading the search model · {mb(done)} MB")

    def on_download_finished(self) -> None:
        self.hide_download()
        self.set_label("Loading the search model…")
        self.message.emit("Search model downloaded", 5000)

    def on_download_cancelled(self) -> None:
        self.hide_download()
        self.download_btn.setText("Download model")
        self.download_btn.show()
        self.set_label("Keyword search only")
        self.model_label.setToolTip("The model download was cancelled. What was downloaded is kept; "
                                    "“Download model” resumes it.")
        self.message.emit("Model download cancelled; keyword search still works", 8000)
