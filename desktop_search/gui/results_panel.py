"""The results side of the window: the summary line, the list of result cards (a "less relevant"
divider above weak results), the empty-state text, and the list's context menu (Open, Show in folder,
Copy path, Find similar)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QItemSelectionModel, QModelIndex, QObject, Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QLabel, QListView, QMenu, QVBoxLayout, QWidget

from .results import ResultDelegate, ResultsModel
from .search_controller import SearchOutcome

KINDS = {"hybrid": "by meaning and keyword", "semantic": "by meaning", "similar": "similar by meaning"}


class ResultsPanel(QWidget):
    current_changed = Signal(object, bool)  # the selected result, hold (a better ranking follows)
    open_requested = Signal()
    reveal_requested = Signal()
    copy_requested = Signal()
    similar_requested = Signal(str, object)  # path, page (None: the whole file)
    typed = Signal(str)  # printable keys typed in the list go on in the search field

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = ResultsModel(self)
        self.view = QListView()
        self.view.setModel(self.model)
        self.view.setItemDelegate(ResultDelegate(self.view))
        self.view.setAccessibleName("Results")
        self.view.setAccessibleDescription("Matching files, best first")
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setUniformItemSizes(False)  # the first weak result is taller: the divider above it
        self.view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.activated.connect(lambda _: self.open_requested.emit())
        self.view.doubleClicked.connect(lambda _: self.open_requested.emit())
        self.view.selectionModel().currentChanged.connect(self._on_current_changed)
        self.view.installEventFilter(self)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._menu)
        self.can_find_similar = False  # the service offers "similar" (set by the window)
        self.menu: QMenu | None = None  # the last context menu (tests look at it)
        self.summary = QLabel()
        self.summary.setAccessibleName("Search summary")
        self.summary.setWordWrap(True)
        self.summary.setContentsMargins(8, 0, 8, 0)
        self.empty = QLabel()
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.empty.setEnabled(False)
        self.empty.setAccessibleName("No results")
        self.empty.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.summary)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.empty, 1)
        self._tail = ""  # what the summary says after the count: kind of ranking, time, notice
        self._auto = False

    # --- showing results -------------------------------------------------------------------------
    def show_outcome(self, outcome: SearchOutcome, typed: str, limit: int) -> None:
        """A ranking for the current query: keep the selected file selected, else select the first."""
        response = outcome.response
        keep = self.current_path()
        more = outcome.final and outcome.mode != "similar" and len(response.results) >= limit
        self.model.set_results(response.results, outcome.query, outcome.mode, more_possible=more)
        row = self.model.row_of(keep) if keep else -1
        if row < 0 and self.model.rowCount() and keep is None:
            row = 0
        if row >= 0:
            self._auto = not outcome.final
            try:
                self.select_row(row)
            finally:
                self._auto = False
        n = len(response.results)
        kind = KINDS.get(outcome.mode, outcome.mode)
        if outcome.mode == "keyword":
            kind = "keyword matches" + ("" if outcome.final else " (ranking by meaning…)")
        self._tail = f" · {kind} · {response.took_ms:.0f} ms"
        if response.notice and response.notice != "cancelled":
            self._tail += f" · {response.notice}"
        self._show_summary()
        self.view.setVisible(n > 0)
        self.empty.setVisible(n == 0)
        if n == 0:
            what = outcome.query if outcome.mode == "similar" else f"“{typed}”" if typed else "these filters"
            self.empty.setText(f"No files match {what}." + ("" if outcome.final else "\nStill looking by meaning…")
                               + ("\nTry other words, or fewer filters." if outcome.final else ""))

    def append_outcome(self, outcome: SearchOutcome) -> None:
        more = len(outcome.response.results) >= outcome.limit
        self.model.append_results(outcome.response.results, outcome.query, more)
        self._show_summary()

    def clear(self) -> None:
        self.model.clear()
        self.summary.clear()
        self.empty.hide()
        self.view.show()

    def show_problem(self, message: str) -> None:
        self.summary.setText(f"Search problem: {message}")

    def _show_summary(self) -> None:
        n = self.model.rowCount()
        more = "+" if self.model.more_possible else ""  # a first page: scrolling brings more
        weak = self.model.weak_count()
        less = f" ({weak} less relevant)" if weak else ""
        self.summary.setText(f"{n}{more} result{'s' if n != 1 or more else ''}{less}{self._tail}")

    # --- selection -------------------------------------------------------------------------------
    def current_result(self) -> Any:
        index = self.view.currentIndex()
        return self.model.result(index.row()) if index.isValid() else None

    def current_path(self) -> str | None:
        r = self.current_result()
        return r.path if r is not None else None

    def select_row(self, row: int) -> None:
        index = self.model.index(row)
        self.view.selectionModel().setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self.view.scrollTo(index)

    def move_selection(self, step: int) -> None:
        n = self.model.rowCount()
        if n:
            row = self.view.currentIndex().row()
            self.select_row(0 if row < 0 else max(0, min(n - 1, row + step)))

    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        result = self.model.result(current.row()) if current.isValid() else None
        if result is not None:
            self.current_changed.emit(result, self._auto)

    # --- menu and keys ---------------------------------------------------------------------------
    def build_menu(self, result: Any) -> QMenu:
        menu = QMenu(self)
        menu.addAction("Open", self.open_requested.emit)
        menu.addAction("Show in folder", self.reveal_requested.emit)
        menu.addAction("Copy path", self.copy_requested.emit)
        if self.can_find_similar:
            menu.addSeparator()
            menu.addAction("Find similar files", lambda: self.similar_requested.emit(result.path, None))
            if result.page:
                menu.addAction(f"Find similar to page {result.page}",
                               lambda: self.similar_requested.emit(result.path, result.page))
        self.menu = menu
        return menu

    def _menu(self, pos: Any) -> None:
        index = self.view.indexAt(pos)
        if not index.isValid():
            return
        self.view.setCurrentIndex(index)
        self.build_menu(self.model.result(index.row())).exec(self.view.viewport().mapToGlobal(pos))

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if obj is self.view and event.type() == QEvent.Type.KeyPress:
            key = event.key()  # type: ignore[attr-defined]
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                if event.modifiers() & Qt.KeyboardModifier.ControlModifier:  # type: ignore[attr-defined]
                    self.reveal_requested.emit()
                else:
                    self.open_requested.emit()
                return True
            text = event.text()  # type: ignore[attr-defined]
            if text and text.isprintable() and not event.modifiers() & ~Qt.KeyboardModifier.ShiftModifier:  # type: ignore[attr-defined]
                self.typed.emit(text)
                return True
        return super().eventFilter(obj, event)
