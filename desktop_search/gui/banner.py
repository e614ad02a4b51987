"""A one-line banner above the results: damage found at start-up (with a Repair button), a full disk
that stopped indexing. Hidden until something needs saying; one message at a time."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget


class Banner(QFrame):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("banner")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAccessibleName("Notice")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.action = QPushButton()
        self.action.setAccessibleName("Notice action")
        self.close_btn = QPushButton("Dismiss")
        self.close_btn.setAccessibleName("Dismiss notice")
        self.close_btn.setFlat(True)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.action)
        layout.addWidget(self.close_btn)
        self.close_btn.clicked.connect(self.hide)
        self.action.clicked.connect(self._act)
        self._callback: Callable[[], None] | None = None
        self.kind = ""
        self.hide()

    def show_message(self, kind: str, text: str, action: str | None = None,
                     callback: Callable[[], None] | None = None) -> None:
        """Show ``text``; with ``action``, a button that runs ``callback``. ``kind`` names the message
        (e.g. "damaged", "disk-full") so it can be taken back with :meth:`clear`."""
        self.kind = kind
        self.label.setText(text)
        self._callback = callback
        self.action.setVisible(bool(action))
        self.action.setEnabled(True)
        self.action.setText(action or "")
        self.action.setAccessibleName(action or "Notice action")
        self.show()

    def clear(self, kind: str | None = None) -> None:
        if kind is None or kind == self.kind:
            self.kind = ""
            self.hide()

    def _act(self) -> None:
        if self._callback is not None:
            self.action.setEnabled(False)  # one repair at a time
            self._callback()
