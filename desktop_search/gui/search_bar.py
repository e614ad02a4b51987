"""The search bar: the search field, the type / folder / date filters, the sort, help and the busy mark.

The filters are query syntax (``ext:``, ``dir:``, ``date:``) added to what is typed; filters alone are a
query too (they list the matching files). Widgets only: it says what to search, the window searches.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QLineEdit, QToolButton, QVBoxLayout, QWidget

from .help_popover import QueryHelpPopover

TYPE_FILTERS = [
    ("Any type", ""),
    ("PDF", "ext:pdf"),
    ("Word / OpenDocument", "ext:docx,doc,odt,rtf"),
    ("Text / Markdown", "ext:txt,md,markdown,rst"),
    ("Spreadsheets", "ext:xlsx,xls,ods,csv"),
    ("Presentations", "ext:pptx,ppt,odp"),
    ("E-mail", "ext:eml,msg,mbox"),
    ("Web pages / e-books", "ext:html,htm,epub"),
    ("Images and scans", "ext:png,jpg,jpeg,tif,tiff,webp,heic"),
]
DATE_FILTERS = ["Any time", "Today", "Past week", "Past month", "This year", "Last year"]
SORTS = [("Best match", "relevance"), ("Newest first", "date"), ("Name", "name"), ("Largest first", "size")]


def date_token(choice: str, today: dt.date | None = None) -> str:
    today = today or dt.date.today()
    if choice == "Today":
        return f"date:>{today.isoformat()}"
    if choice == "Past week":
        return f"date:>{(today - dt.timedelta(days=7)).isoformat()}"
    if choice == "Past month":
        return f"date:>{(today - dt.timedelta(days=31)).isoformat()}"
    if choice == "This year":
        return f"date:{today.year}"
    if choice == "Last year":
        return f"date:{today.year - 1}"
    return ""


class SearchField(QLineEdit):
    """Arrows move through the results, Enter opens, Esc clears: the focus can stay in the field."""

    move_requested = Signal(int)
    activated = Signal(bool)  # ctrl held

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key in (Qt.Key.Key_Down, Qt.Key.Key_Up, Qt.Key.Key_PageDown, Qt.Key.Key_PageUp):
            step = {Qt.Key.Key_Down: 1, Qt.Key.Key_Up: -1, Qt.Key.Key_PageDown: 5, Qt.Key.Key_PageUp: -5}[key]
            self.move_requested.emit(step)
            return
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.activated.emit(bool(event.modifiers() & Qt.KeyboardModifier.ControlModifier))
            return
        if key == Qt.Key.Key_Escape and self.text():
            self.clear()
            return
        super().keyPressEvent(event)


def _combo(name: str, tip: str) -> QComboBox:
    combo = QComboBox()
    combo.setAccessibleName(name)
    combo.setToolTip(tip)
    return combo


class SearchBar(QWidget):
    """Two rows: the field and the help button; the filters, the sort and the busy mark."""

    query_changed = Signal(str)  # the composed query ("" when there is nothing to search)
    sort_changed = Signal(str)  # relevance | date | name | size

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.field = SearchField()
        self.field.setPlaceholderText("Search your files by meaning or by keyword  (Ctrl+K)")
        self.field.setClearButtonEnabled(True)
        self.field.setAccessibleName("Search")
        self.field.setAccessibleDescription("Type words or a question; results appear as you type")
        font = self.field.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        self.field.setFont(font)
        self.field.setMinimumHeight(34)
        self.field.textChanged.connect(lambda _: self._emit_query())

        self.type_filter = _combo("File type filter", "Only files of this type (same as ext: in the search)")
        for label, token in TYPE_FILTERS:
            self.type_filter.addItem(label, token)
        self.folder_filter = _combo("Folder filter", "Only files in this folder (same as dir: in the search)")
        self.folder_filter.addItem("Any folder", "")
        self.date_filter = _combo("Date filter", "Only files modified in this period (same as date: in the search)")
        self.date_filter.addItems(DATE_FILTERS)
        for combo in (self.type_filter, self.folder_filter, self.date_filter):
            combo.currentIndexChanged.connect(self._on_filters_changed)
        self.sort = _combo("Sort results", "Order of the results: best match first, or by date, name or size")
        for label, key in SORTS:
            self.sort.addItem(label, key)
        self.sort.currentIndexChanged.connect(lambda _: self.sort_changed.emit(self.sort.currentData()))
        self.help_btn = QToolButton()
        self.help_btn.setText("?")
        self.help_btn.setToolTip("Search syntax (F1)")
        self.help_btn.setAccessibleName("Search syntax help")
        self.help_btn.clicked.connect(self.show_help)
        self.help_popover = QueryHelpPopover(self)
        self.spinner = QLabel("searching…")
        self.spinner.setAccessibleName("Search in progress")
        self.spinner.setVisible(False)
        self.spinner.setEnabled(False)

        row = QHBoxLayout()
        row.setContentsMargins(8, 8, 8, 4)
        row.addWidget(self.field, 1)
        row.addWidget(self.help_btn)
        filters = QHBoxLayout()
        filters.setContentsMargins(8, 0, 8, 4)
        for combo in (self.type_filter, self.folder_filter, self.date_filter):
            filters.addWidget(combo)
        filters.addStretch(1)
        filters.addWidget(self.spinner)
        filters.addWidget(QLabel("Sort:"))
        filters.addWidget(self.sort)
        self.filter_row = QWidget()
        self.filter_row.setLayout(filters)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(row)
        layout.addWidget(self.filter_row)

    def show_help(self) -> None:
        self.help_popover.show_below(self.help_btn)

    def filter_tokens(self) -> list[str]:
        tokens = []
        if self.type_filter.currentData():
            tokens.append(self.type_filter.currentData())
        folder = self.folder_filter.currentData()
        if folder:
            tokens.append(f'dir:"{folder}"' if " " in folder else f"dir:{folder}")
        date = date_token(self.date_filter.currentText())
        if date:
            tokens.append(date)
        return tokens

    def composed_query(self) -> str:
        """What is typed plus the filters; filters alone are a query (the matching files)."""
        return " ".join(p for p in [self.field.text().strip(), *self.filter_tokens()] if p)

    def set_sort(self, sort: str) -> None:
        self.sort.setCurrentIndex(max(0, self.sort.findData(sort)))

    def set_folders(self, folders: list[dict[str, Any]]) -> None:
        """The folder filter's choices (the watched folders), keeping the current one."""
        combo = self.folder_filter
        current = combo.currentData()
        combo.blockSignals(True)
        combo.clear()
        combo.addItem("Any folder", "")
        for f in folders:
            combo.addItem(os.path.basename(f["path"].rstrip(os.sep)) or f["path"], f["path"])
            combo.setItemData(combo.count() - 1, f["path"], Qt.ItemDataRole.ToolTipRole)
        combo.setCurrentIndex(max(0, combo.findData(current)))
        combo.blockSignals(False)

    def _emit_query(self) -> None:
        self.query_changed.emit(self.composed_query())

    def _on_filters_changed(self, *_: Any) -> None:
        tokens = [t for t in (self.type_filter.currentData(), self.folder_filter.currentData() and "dir:…",
                              date_token(self.date_filter.currentText())) if t]
        self.filter_row.setToolTip("Adds to the search: " + " ".join(tokens) if tokens else "")
        self._emit_query()
