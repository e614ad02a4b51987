"""Files that could not be read, with the reason, and a way to try them again."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from .jobs import run_job


class FailedDialog(QDialog):
    """Files that could not be read, with the reason, and a way to try them again."""

    retry_requested = Signal(list)

    def __init__(self, service: Any, parent: QWidget | None = None):
        super().__init__(parent)
        self.service = service
        self.setWindowTitle("Files that could not be read")
        self.setAccessibleName("Failed files")
        self.resize(820, 420)
        self.model = QStandardItemModel(0, 2, self)
        self.model.setHorizontalHeaderLabels(["File", "Reason"])
        self.table = QTableView()
        self.table.setAccessibleName("Failed files and reasons")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.summary = QLabel("loading…")
        self.summary.setAccessibleName("Failed files summary")
        self.retry_btn = QPushButton("Retry selected")
        self.retry_btn.setAccessibleName("Retry the selected files")
        self.retry_btn.clicked.connect(self._retry_selected)
        self.retry_all_btn = QPushButton("Retry all")
        self.retry_all_btn.setAccessibleName("Retry all failed files")
        self.retry_all_btn.clicked.connect(lambda: self.retry_requested.emit(self.paths()))
        close = QPushButton("Close")
        close.clicked.connect(self.accept)
        row = QHBoxLayout()
        row.addWidget(self.summary, 1)
        row.addWidget(self.retry_btn)
        row.addWidget(self.retry_all_btn)
        row.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addLayout(row)
        self.loaded = False
        self.refresh()

    def refresh(self) -> None:
        run_job(self, "failed files", self.service.failed, on_done=self._fill)

    def _fill(self, rows: list[dict[str, Any]]) -> None:
        self.model.removeRows(0, self.model.rowCount())
        for r in rows:
            path_item = QStandardItem(r["path"])
            path_item.setToolTip(r["path"])
            reason = QStandardItem(r["reason"])
            reason.setToolTip(r["reason"])
            self.model.appendRow([path_item, reason])
        self.summary.setText(f"{len(rows):,} file(s) could not be read" if rows else "Every file could be read.")
        self.retry_btn.setEnabled(bool(rows))
        self.retry_all_btn.setEnabled(bool(rows))
        self.loaded = True

    def paths(self) -> list[str]:
        return [self.model.item(i, 0).text() for i in range(self.model.rowCount())]

    def reasons(self) -> dict[str, str]:
        return {self.model.item(i, 0).text(): self.model.item(i, 1).text() for i in range(self.model.rowCount())}

    def _retry_selected(self) -> None:
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        paths = [self.model.item(r, 0).text() for r in rows]
        if paths:
            self.retry_requested.emit(paths)
