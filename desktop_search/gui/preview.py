"""The preview pane: the text of the selected file, every hit marked, next/previous hit, page numbers."""

from __future__ import annotations

import bisect
import os
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPalette, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QTextEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from .explanations import explanation_of, strong_matches

MAX_PREVIEW_CHARS = 2_000_000
MAX_HITS = 5000
PASSAGE_SPAN = 1200  # about one passage (Settings.passage_chars): a hit this close after its start is in it


@dataclass
class PreviewData:
    path: str
    text: str
    page_starts: list[int] = field(default_factory=list)  # char offset where page i+1 starts
    hits: list[tuple[int, int]] = field(default_factory=list)
    current: int = -1  # the hit to show first (in the best passage)
    anchor: int = 0  # where the best passage starts (scrolled to when there is no hit)
    truncated: bool = False
    source: str = "index"  # index | file
    error: str | None = None
    explain: list[str] = field(default_factory=list)  # one line per query word: what it matched, how strongly
    passages: list[tuple[str, int, int | None]] = field(default_factory=list)  # (label, char offset, page), best first
    ocr: bool = False  # the text (or some pages of it) came from OCR: marked next to the title


def hit_terms(query: str, matched: dict[str, str] | None = None) -> list[str]:
    """The words to mark: query words and phrases (not function words), and the document words that
    the model matched to them."""
    from desktop_search.core.service import STOPWORDS, QueryError, parse_query

    try:
        q = parse_query(query)
    except QueryError:
        return []
    words = [w for w in q.words if w.lower() not in STOPWORDS] or list(q.words)
    terms = list(q.phrases) + words
    for doc_word in (matched or {}).values():
        w = doc_word.strip()
        if len(w) >= 3 and any(ch.isalnum() for ch in w) and w.lower() not in STOPWORDS:
            terms.append(w)
    seen: set[str] = set()
    return [t for t in terms if not (t.lower() in seen or seen.add(t.lower()))]  # type: ignore[func-returns-value]


def load_preview(service: Any, result: Any, query: str) -> PreviewData:
    """Runs on a worker thread: indexed passages if the catalog has them, else a fresh extraction."""
    from desktop_search.core.service import keyword_spans, merge_spans

    path = result.path
    text, page_starts, anchor, source = "", [], 0, "index"
    file_id = result.file_id or service.reader().file_id(path)
    indexed = service.document_text(file_id) if file_id else ("", [], {})
    passages: list[tuple[str, int, int | None]] = []
    ocr = False
    if indexed[0]:
        text, page_starts, offsets = indexed
        ocr = bool(service.ocr_pages(file_id))
        anchor = offsets.get(result.passage_id, 0)
        for i, p in enumerate(getattr(result, "passages", None) or []):
            if p.passage_id in offsets:
                where = f"page {p.page}" if p.page else f"passage {i + 1}"
                passages.append((f"{i + 1}. {where}", offsets[p.passage_id], p.page))
    else:
        outcome = service.extract(path)
        if outcome.result is None:
            return PreviewData(path, "", error=outcome.error or "could not read this file")
        text, page_starts, source = outcome.result.text, list(outcome.result.page_starts), "file"
        ocr = "ocr_pages" in outcome.result.metadata
    truncated = len(text) > MAX_PREVIEW_CHARS
    if truncated:
        text = text[:MAX_PREVIEW_CHARS]
    # QPlainTextEdit would turn these into something else; replacing them keeps offsets exact
    text = text.replace("\r", " ").replace("\x00", " ")
    hits = merge_spans(keyword_spans(text, hit_terms(query, strong_matches(result))))[:MAX_HITS]
    current = -1
    if hits:
        starts = [s for s, _ in hits]
        current = min(bisect.bisect_left(starts, anchor), len(hits) - 1)
    explain = explanation_of(result)
    if getattr(result, "weak", False):
        explain.insert(0, "Less relevant: below the relevance floor, its matches by meaning are not marked")
    return PreviewData(path, text, page_starts, hits, current, anchor, truncated, source, explain=explain,
                       passages=[p for p in passages if p[1] <= len(text)], ocr=ocr)


class Utf16Offsets:
    """Python counts code points, Qt counts UTF-16 units: map offsets when the text has astral chars."""

    def __init__(self, text: str):
        self.astral = [i for i, ch in enumerate(text) if ord(ch) > 0xFFFF] if not text.isascii() else []

    def __call__(self, pos: int) -> int:
        return pos + bisect.bisect_left(self.astral, pos) if self.astral else pos

    def back(self, pos16: int) -> int:
        if not self.astral:
            return pos16
        lo, hi = 0, pos16
        while lo < hi:  # smallest p with to16(p) >= pos16
            mid = (lo + hi) // 2
            if self(mid) < pos16:
                lo = mid + 1
            else:
                hi = mid
        return lo


class PreviewPane(QWidget):
    open_requested = Signal()
    reveal_requested = Signal()
    copy_requested = Signal()
    similar_requested = Signal(str, object)  # path, page (None: the whole file)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.data: PreviewData | None = None
        self.current = -1
        self._map = Utf16Offsets("")
        self.title = QLabel()
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = self.title.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.1)
        self.title.setFont(font)
        self.title.setAccessibleName("Previewed file")
        self.location = QLabel()
        self.location.setAccessibleName("Page and hit position")
        self.prev_btn = self._button("◀", "Previous hit (Shift+F3)", "Previous hit", self.previous_hit)
        self.next_btn = self._button("▶", "Next hit (F3)", "Next hit", self.next_hit)
        self.open_btn = self._button("Open", "Open with the default app (Enter)", "Open file", self.open_requested.emit)
        self.reveal_btn = self._button("Show in folder", "Show in the file manager (Ctrl+Enter)", "Show in folder",
                                       self.reveal_requested.emit)
        self.copy_btn = self._button("Copy path", "Copy the full path (Ctrl+Shift+C)", "Copy path",
                                     self.copy_requested.emit)
        self.similar_btn = self._button("Find similar", "Files like this one, or like the passage chosen at the "
                                        "left, by meaning", "Find similar files", self._similar)
        self.similar_btn.setVisible(False)  # shown when the service can find similar files
        self.passages = QComboBox()
        self.passages.setAccessibleName("Matching passages")
        self.passages.setToolTip("The file's best matching passages, best first: choose one to go to it")
        self.passages.activated.connect(self.go_to_passage)
        self.passages.hide()
        self.explain = QLabel()
        self.explain.setAccessibleName("Why this file matched")
        self.explain.setWordWrap(True)
        self.explain.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.explain.hide()
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setAccessibleName("Preview")
        self.text.setAccessibleDescription("Text of the selected file with the matched words marked")
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                                          | Qt.TextInteractionFlag.TextSelectableByKeyboard)
        self.text.verticalScrollBar().valueChanged.connect(self._update_location)
        self.placeholder = QLabel("Select a result to see its text here.")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setWordWrap(True)
        self.placeholder.setEnabled(False)

        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        for b in (self.prev_btn, self.next_btn):
            top.addWidget(b)
        actions = QHBoxLayout()
        actions.addWidget(self.location, 1)
        actions.addWidget(self.passages)
        for b in (self.open_btn, self.reveal_btn, self.copy_btn, self.similar_btn):
            actions.addWidget(b)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addLayout(actions)
        layout.addWidget(self.explain)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.placeholder, 1)
        self.clear()

    def _button(self, text: str, tip: str, name: str, slot: Any) -> QToolButton:
        b = QToolButton()
        b.setText(text)
        b.setToolTip(tip)
        b.setAccessibleName(name)
        b.setAutoRaise(True)
        b.clicked.connect(slot)
        return b

    # --- content ---------------------------------------------------------------------------------
    def clear(self, message: str = "Select a result to see its text here.") -> None:
        self.data = None
        self.current = -1
        self.title.clear()
        self.location.clear()
        self.text.clear()
        self.text.hide()
        self.placeholder.setText(message)
        self.placeholder.show()
        self.explain.clear()
        self.explain.hide()
        self.passages.clear()
        self.passages.hide()
        for b in (self.prev_btn, self.next_btn, self.open_btn, self.reveal_btn, self.copy_btn, self.similar_btn):
            b.setEnabled(False)

    def show_loading(self, path: str) -> None:
        self.title.setText(os.path.basename(path))
        self.title.setToolTip(path)
        self.location.setText("loading…")

    def show_data(self, data: PreviewData) -> None:
        self.data = data
        self.title.setText(os.path.basename(data.path) + ("  · text from OCR" if data.ocr else ""))
        self.title.setToolTip(data.path)
        for b in (self.open_btn, self.reveal_btn, self.copy_btn, self.similar_btn):
            b.setEnabled(True)
        self.explain.setText("Why it matched: " + ";  ".join(data.explain) if data.explain else "")
        self.explain.setVisible(bool(data.explain))
        self.passages.clear()
        for label, offset, page in data.passages:
            self.passages.addItem(label, (offset, page))
        self.passages.setVisible(len(data.passages) > 1)
        if data.error:
            self.text.hide()
            self.placeholder.setText(f"No preview: {data.error}")
            self.placeholder.show()
            self.location.clear()
            self.prev_btn.setEnabled(False)
            self.next_btn.setEnabled(False)
            return
        self.placeholder.hide()
        self.text.show()
        self._map = Utf16Offsets(data.text)
        self.text.setPlainText(data.text)
        self.prev_btn.setEnabled(len(data.hits) > 1)
        self.next_btn.setEnabled(len(data.hits) > 1)
        if data.hits:
            self.go_to_hit(max(0, data.current))
        else:
            self.current = -1
            self._apply_selections()
            self._scroll_to(data.anchor)

    def go_to_passage(self, i: int) -> None:
        """Scroll to the ``i``-th best passage, on its first hit if one lies inside it."""
        if not self.data or not 0 <= i < len(self.data.passages):
            return
        offset = self.data.passages[i][1]
        starts = [s for s, _ in self.data.hits]
        j = bisect.bisect_left(starts, offset)
        if j < len(starts) and starts[j] < offset + PASSAGE_SPAN:
            self.go_to_hit(j)
        else:
            self._scroll_to(offset)

    def _similar(self) -> None:
        if self.data is None:
            return
        page = self.passages.currentData()[1] if self.passages.isVisible() and self.passages.currentData() else None
        self.similar_requested.emit(self.data.path, page)

    # --- hits ------------------------------------------------------------------------------------
    def next_hit(self) -> None:
        if self.data and self.data.hits:
            self.go_to_hit((self.current + 1) % len(self.data.hits))

    def previous_hit(self) -> None:
        if self.data and self.data.hits:
            self.go_to_hit((self.current - 1) % len(self.data.hits))

    def go_to_hit(self, i: int) -> None:
        assert self.data is not None
        self.current = i
        self._apply_selections()
        start, end = self.data.hits[i]
        cursor = QTextCursor(self.text.document())
        cursor.setPosition(self._map(start))  # no selection: the current hit's own colour must show
        self.text.setTextCursor(cursor)
        self.text.centerCursor()
        self._update_location()

    def current_hit_text(self) -> str:
        if not self.data or self.current < 0:
            return ""
        s, e = self.data.hits[self.current]
        return self.data.text[s:e]

    def _apply_selections(self) -> None:
        assert self.data is not None
        dark = self.palette().color(QPalette.ColorRole.Base).lightness() < 128
        normal = QTextCharFormat()
        normal.setBackground(QColor("#806010" if dark else "#ffe27a"))
        normal.setForeground(QColor("#ffffff" if dark else "#000000"))
        strong = QTextCharFormat(normal)
        strong.setBackground(QColor("#d9480f" if dark else "#ff9632"))
        strong.setFontWeight(QFont.Weight.Bold)
        selections = []
        doc = self.text.document()
        for i, (s, e) in enumerate(self.data.hits):
            sel = QTextEdit.ExtraSelection()
            cursor = QTextCursor(doc)
            cursor.setPosition(self._map(s))
            cursor.setPosition(self._map(e), QTextCursor.MoveMode.KeepAnchor)
            sel.cursor = cursor
            sel.format = strong if i == self.current else normal
            selections.append(sel)
        self.text.setExtraSelections(selections)

    def _scroll_to(self, pos: int) -> None:
        cursor = QTextCursor(self.text.document())
        cursor.setPosition(self._map(pos))
        self.text.setTextCursor(cursor)
        self.text.centerCursor()
        self._update_location()

    def page_at(self, pos: int) -> int | None:
        if not self.data or not self.data.page_starts:
            return None
        return max(1, bisect.bisect_right(self.data.page_starts, pos))

    def visible_page(self) -> int | None:
        if not self.data:
            return None
        if self.text.viewport().rect().intersects(self.text.cursorRect()):
            return self.page_at(self._map.back(self.text.textCursor().position()))
        top = self.text.cursorForPosition(QPoint(2, 2)).position()
        return self.page_at(self._map.back(top))

    def _update_location(self, *_: Any) -> None:
        if not self.data:
            return
        parts = []
        page = self.visible_page()
        if page:
            parts.append(f"page {page} of {len(self.data.page_starts)}")
        n = len(self.data.hits)
        if n:
            parts.append(f"hit {self.current + 1} of {n}" if self.current >= 0 else f"{n} hits")
        else:
            parts.append("no literal matches (found by meaning)")
        if self.data.truncated:
            parts.append(f"showing the first {MAX_PREVIEW_CHARS:,} characters")
        if self.data.source == "file":
            parts.append("read from the file")
        self.location.setText("  ·  ".join(parts))
