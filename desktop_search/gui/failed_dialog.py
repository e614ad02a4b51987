"""Files that could not be read, with the reason, and a way to try them again; and the files left out
on purpose (not a document, excluded, a symbolic link out of the folder, too large), with the reason,
when the service lists them (nothing met is left out silently)."""

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
    QTabWidget,
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
        self.model, self.table = _table(self, "Failed files and reasons")
        self.skipped_model, self.skipped_table = _table(self, "Files left out and why")
        self.lists_skipped = callable(getattr(service, "skipped", None))
        self.tabs = QTabWidget()
        self.tabs.setAccessibleName("Files not in the index")
        self.tabs.addTab(self.table, "Could not be read")
        if self.lists_skipped:
            self.tabs.addTab(self.skipped_table, "Left out")
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
        layout.addWidget(self.tabs, 1)
        layout.addLayout(row)
        self.loaded = False
        self.refresh()

    def refresh(self) -> None:
        def read() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:  # on a worker
            return self.service.failed(), (self.service.skipped() if self.lists_skipped else [])

        run_job(self, "failed files", read, on_done=self._fill)

    def _fill(self, data: tuple[list[dict[str, Any]], list[dict[str, Any]]]) -> None:
        rows, skipped = data
        _fill_table(self.model, rows)
        _fill_table(self.skipped_model, skipped)
        if self.lists_skipped:
            self.tabs.setTabText(1, f"Left out ({len(skipped):,})")
        self.tabs.setTabText(0, f"Could not be read ({len(rows):,})")
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


def _table(parent: QWidget, name: str) -> tuple[QStandardItemModel, QTableView]:
    model = QStandardItemModel(0, 2, parent)
    model.setHorizontalHeaderLabels(["File", "Reason"])
    table = QTableView()
    table.setAccessibleName(name)
    table.setModel(model)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.verticalHeader().hide()
    table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
    table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
    return model, table


def _fill_table(model: QStandardItemModel, rows: list[dict[str, Any]]) -> None:
    model.removeRows(0, model.rowCount())
    for r in rows:
        path_item = QStandardItem(r["path"])
        path_item.setToolTip(r["path"])
        reason = QStandardItem(r["reason"])
        reason.setToolTip(r["reason"])
        model.appendRow([path_item, reason])
