"""The first-run page: what the app does, what will happen, and a one-click start with Documents."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from .results import short_path
from .theme import app_icon


class WelcomePage(QWidget):
    """First run: what the app does, what will happen, and a one-click start with Documents."""

    use_folder = Signal(str)
    choose_folder = Signal()

    def __init__(self, documents: str | None, parent: QWidget | None = None):
        super().__init__(parent)
        self.documents = documents
        icon = QLabel()
        icon.setPixmap(app_icon().pixmap(QSize(96, 96)))
        icon.setAlignment(Qt.AlignmentFlag.AlignCenter)
        title = QLabel("Find your files by what they mean")
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.8)
        font.setBold(True)
        title.setFont(font)
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        body = QLabel(
            "<p>Desktop Search reads the documents in the folders you choose — PDFs, Word and OpenDocument "
            "files, e-mails, web pages, text and Markdown — and builds a search index <b>on this computer</b>. "
            "Nothing is uploaded.</p>"
            "<p><b>What happens next:</b></p><ol>"
            "<li>The text of each file is read; keyword search works within seconds.</li>"
            "<li>A small language model (downloaded once, about 130 MB, unless you choose a local one in "
            "Settings) encodes the text so you can search by meaning. The download shows its progress at the "
            "bottom of the window and can be cancelled and resumed later; keyword search works meanwhile. "
            "Encoding runs in the background and can be paused.</li>"
            "<li>Files that cannot be read are listed with the reason, so nothing fails silently.</li></ol>"
        )
        body.setWordWrap(True)
        body.setTextFormat(Qt.TextFormat.RichText)
        body.setMaximumWidth(620)
        self.start_btn = QPushButton(f"Index {short_path(documents)}" if documents else "Choose a folder to index…")
        self.start_btn.setDefault(True)
        self.start_btn.setAccessibleName("Index the Documents folder" if documents else "Choose a folder to index")
        self.start_btn.clicked.connect(self._start)
        self.other_btn = QPushButton("Choose other folders…")
        self.other_btn.setAccessibleName("Choose other folders to index")
        self.other_btn.clicked.connect(self.choose_folder.emit)
        self.other_btn.setVisible(bool(documents))
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.start_btn)
        buttons.addWidget(self.other_btn)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(icon)
        layout.addWidget(title)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(body)
        row.addStretch(1)
        layout.addLayout(row)
        layout.addLayout(buttons)
        layout.addStretch(2)

    def _start(self) -> None:
        if self.documents:
            self.use_folder.emit(self.documents)
        else:
            self.choose_folder.emit()
