"""The results list: a model with named roles and a delegate that draws one result as a card."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QByteArray,
    QFileInfo,
    QModelIndex,
    QPersistentModelIndex,
    QPointF,
    QRect,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPalette, QTextCharFormat, QTextLayout
from PySide6.QtWidgets import QFileIconProvider, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from .preview import Utf16Offsets

PathRole = Qt.ItemDataRole.UserRole + 1
TitleRole = Qt.ItemDataRole.UserRole + 2
FolderRole = Qt.ItemDataRole.UserRole + 3
PageRole = Qt.ItemDataRole.UserRole + 4
DateRole = Qt.ItemDataRole.UserRole + 5
SizeRole = Qt.ItemDataRole.UserRole + 6
SnippetRole = Qt.ItemDataRole.UserRole + 7
HighlightsRole = Qt.ItemDataRole.UserRole + 8
ScoreRole = Qt.ItemDataRole.UserRole + 9
RelevanceRole = Qt.ItemDataRole.UserRole + 10  # score relative to the best result, 0..1
ExtRole = Qt.ItemDataRole.UserRole + 11
ResultRole = Qt.ItemDataRole.UserRole + 12  # the core SearchResult itself
WeakRole = Qt.ItemDataRole.UserRole + 13  # below the relevance floor: shown under a "less relevant" divider
DividerRole = Qt.ItemDataRole.UserRole + 14  # the first weak result: the divider is drawn above it
PassagesRole = Qt.ItemDataRole.UserRole + 15  # the file's matching passages, best first

ROLE_NAMES = {
    PathRole: b"path", TitleRole: b"title", FolderRole: b"folder", PageRole: b"page", DateRole: b"date",
    SizeRole: b"size", SnippetRole: b"snippet", HighlightsRole: b"highlights", ScoreRole: b"score",
    RelevanceRole: b"relevance", ExtRole: b"ext", ResultRole: b"result", WeakRole: b"weak",
    DividerRole: b"divider", PassagesRole: b"passages",
}
LESS_RELEVANT = "Less relevant"

Index = QModelIndex | QPersistentModelIndex


def short_path(path: str) -> str:
    """``~/Documents/x`` for paths in the home folder (the full path is in the tooltip)."""
    home = os.path.expanduser("~").rstrip(os.sep)
    if home and (path == home or path.startswith(home + os.sep)):
        return "~" + path[len(home):]
    return path


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def human_date(ts: float, now: float | None = None) -> str:
    if not ts:
        return ""
    when = dt.datetime.fromtimestamp(ts)
    today = dt.datetime.fromtimestamp(now) if now else dt.datetime.now()
    if when.date() == today.date():
        return when.strftime("today %H:%M")
    if when.year == today.year:
        return when.strftime("%d %b")
    return when.strftime("%d %b %Y")


def display_title(result: Any) -> str:
    name = os.path.basename(result.path)
    title = (result.title or "").strip()
    return title if title and title.lower() != os.path.splitext(name)[0].lower() else name


def mark_colors(palette: QPalette) -> tuple[str, str]:
    """Highlight colours that read well on both light and dark palettes."""
    dark = palette.color(QPalette.ColorRole.Base).lightness() < 128
    return ("#806010", "#ffffff") if dark else ("#ffe27a", "#000000")


class ResultsModel(QAbstractListModel):
    more_requested = Signal(int)  # rows shown: the view scrolled to the end of a page

    def __init__(self, parent: Any = None):
        super().__init__(parent)
        self._results: list[Any] = []
        self._best = 1.0
        self.query = ""
        self.mode = ""
        # paging: the first page is small (it is what search-as-you-type waits for); scrolling to its end
        # asks for more through Qt's fetchMore, answered by append_results
        self.more_possible = False
        self._fetching = False

    def set_results(self, results: list[Any], query: str = "", mode: str = "", more_possible: bool = False) -> None:
        self.beginResetModel()
        self._results = list(results)
        self._best = max((r.score for r in self._results), default=1.0) or 1.0
        self.query, self.mode = query, mode
        self.more_possible, self._fetching = more_possible, False
        self.endResetModel()

    def append_results(self, results: list[Any], query: str, more_possible: bool) -> int:
        """Add the results of a longer search for the same query that are not shown yet; returns how many."""
        if query != self.query:
            return 0
        shown = {r.path for r in self._results}
        new = [r for r in results if r.path not in shown]
        if new:
            self.beginInsertRows(QModelIndex(), len(self._results), len(self._results) + len(new) - 1)
            self._results.extend(new)
            self.endInsertRows()
        self.more_possible, self._fetching = more_possible and bool(new), False
        return len(new)

    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:  # noqa: B008 - Qt's own default
        return not parent.isValid() and self.more_possible and not self._fetching

    def fetchMore(self, parent: Index = QModelIndex()) -> None:  # noqa: B008 - Qt's own default
        if self.canFetchMore(parent):
            self._fetching = True
            self.more_requested.emit(len(self._results))

    def clear(self) -> None:
        self.set_results([])

    def weak_count(self) -> int:
        return sum(1 for r in self._results if getattr(r, "weak", False))

    def first_weak_row(self) -> int:
        """The row above which the "less relevant" divider goes (-1: none, or every result is weak)."""
        for i, r in enumerate(self._results):
            if getattr(r, "weak", False):
                return i if i > 0 else -1
        return -1

    def result(self, row: int) -> Any:
        return self._results[row] if 0 <= row < len(self._results) else None

    def row_of(self, path: str) -> int:
        for i, r in enumerate(self._results):
            if r.path == path:
                return i
        return -1

    # Qt API --------------------------------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's own default
        return 0 if parent.isValid() else len(self._results)

    def roleNames(self) -> dict[int, QByteArray]:
        names = dict(super().roleNames())
        names.update({k: QByteArray(v) for k, v in ROLE_NAMES.items()})
        return names

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._results):
            return None
        r = self._results[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, TitleRole):
            return display_title(r)
        if role == Qt.ItemDataRole.ToolTipRole:
            return r.path
        if role == Qt.ItemDataRole.AccessibleTextRole:
            page = f", page {r.page}" if r.page else ""
            return f"{display_title(r)}, in {os.path.dirname(r.path)}{page}: {r.snippet}"
        if role == PathRole:
            return r.path
        if role == FolderRole:
            return os.path.dirname(r.path)
        if role == PageRole:
            return r.page
        if role == DateRole:
            return r.mtime
        if role == SizeRole:
            return r.size
        if role == SnippetRole:
            return r.snippet
        if role == HighlightsRole:
            return r.highlights
        if role == ScoreRole:
            return float(r.score)
        if role == RelevanceRole:
            return max(0.0, min(1.0, float(r.score) / self._best)) if self._best > 0 else 0.0
        if role == ExtRole:
            return r.ext
        if role == ResultRole:
            return r
        if role == WeakRole:
            return bool(getattr(r, "weak", False))
        if role == DividerRole:
            return index.row() > 0 and bool(getattr(r, "weak", False)) and not getattr(
                self._results[index.row() - 1], "weak", False)
        if role == PassagesRole:
            return list(getattr(r, "passages", None) or [])
        return None


class ResultDelegate(QStyledItemDelegate):
    """Icon, title, folder · page · date · size, snippet with the matched words marked, relevance bar."""

    PAD = 8
    ICON = 32

    def __init__(self, parent: Any = None):
        super().__init__(parent)
        self._icons: dict[str, QIcon] = {}
        self._layouts: dict[tuple[Any, ...], QTextLayout] = {}
        self._provider: QFileIconProvider | None = None

    def icon_for(self, path: str, ext: str) -> QIcon:
        key = ext or "?"
        if key not in self._icons:
            if self._provider is None:
                self._provider = QFileIconProvider()
            icon = self._provider.icon(QFileInfo(path))
            if icon.isNull():
                icon = self._provider.icon(QFileIconProvider.IconType.File)
            self._icons[key] = icon
        return self._icons[key]

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        fm = option.fontMetrics
        divider = self.divider_height(fm.lineSpacing()) if index.data(DividerRole) else 0
        return QSize(400, self.PAD * 2 + fm.lineSpacing() * 4 + 4 + divider)

    @staticmethod
    def divider_height(line: int) -> int:
        return line + 8

    def _paint_divider(self, painter: QPainter, opt: QStyleOptionViewItem) -> QRect:
        """The "less relevant" line above the first weak result; returns the card's rect below it."""
        line = opt.fontMetrics.lineSpacing()
        h = self.divider_height(line)
        band = QRect(opt.rect.left(), opt.rect.top(), opt.rect.width(), h)
        painter.save()
        color = opt.palette.color(QPalette.ColorRole.Text)
        color.setAlphaF(0.55)
        painter.setPen(color)
        text_w = opt.fontMetrics.horizontalAdvance(LESS_RELEVANT)
        painter.drawText(band.adjusted(self.PAD, 0, 0, 0), Qt.AlignmentFlag.AlignVCenter, LESS_RELEVANT)
        y = band.center().y()
        painter.drawLine(band.left() + self.PAD * 2 + text_w, y, band.right() - self.PAD, y)
        painter.restore()
        return opt.rect.adjusted(0, h, 0, 0)

    def _snippet_layout(self, text: str, spans: list[Any], font: QFont, width: int, palette: QPalette) -> QTextLayout:
        """Two laid-out lines of the snippet with the matched words marked. QTextLayout with format
        ranges instead of an HTML QTextDocument: several times cheaper, and painting competes with the
        search threads for the CPU. Cached, because rows repaint on every hover and selection change."""
        bg, fg = mark_colors(palette)
        key = (text, tuple(tuple(s) for s in spans), width, font.key(), bg)
        layout = self._layouts.get(key)
        if layout is not None:
            return layout
        layout = QTextLayout(text, font)
        mark = QTextCharFormat()
        mark.setBackground(QColor(bg))
        mark.setForeground(QColor(fg))
        mark.setFontWeight(QFont.Weight.DemiBold)
        formats = []
        to16 = Utf16Offsets(text)  # Qt counts UTF-16 units, Python code points
        for start, end in spans:
            start16, end16 = to16(int(start)), to16(int(end))
            if end16 > start16:
                fr = QTextLayout.FormatRange()
                fr.start, fr.length, fr.format = start16, end16 - start16, mark
                formats.append(fr)
        layout.setFormats(formats)
        layout.beginLayout()
        y = 0.0
        for _ in range(2):
            line = layout.createLine()
            if not line.isValid():
                break
            line.setLineWidth(width)
            line.setPosition(QPointF(0, y))
            y += line.height()
        layout.endLayout()
        if len(self._layouts) >= 256:
            self._layouts.pop(next(iter(self._layouts)))
        self._layouts[key] = layout
        return layout

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        if index.data(DividerRole):
            opt.rect = self._paint_divider(painter, opt)
        style = opt.widget.style() if opt.widget else None
        painter.save()
        # background and selection follow the system style
        opt.text = ""
        opt.icon = QIcon()
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        active = bool(opt.state & QStyle.StateFlag.State_Active)
        group = QPalette.ColorGroup.Active if active else QPalette.ColorGroup.Inactive
        fg = opt.palette.color(group, QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text)
        weak = bool(index.data(WeakRole))
        if weak and not selected:  # below the relevance floor: drawn quieter
            fg.setAlphaF(0.75)
        dim = QColor(fg)
        dim.setAlphaF(0.7 if not weak else 0.55)
        rect = opt.rect.adjusted(self.PAD, self.PAD, -self.PAD, -self.PAD)
        fm = opt.fontMetrics
        line = fm.lineSpacing()

        path = index.data(PathRole) or ""
        icon = self.icon_for(path, index.data(ExtRole) or "")
        icon.paint(painter, QRect(rect.left(), rect.top(), self.ICON, self.ICON))
        text_left = rect.left() + self.ICON + self.PAD
        bar_w = 48
        text_w = max(50, rect.right() - text_left - bar_w - self.PAD)

        title_font = QFont(opt.font)  # a copy: opt.font is shared with the snippet below
        title_font.setBold(True)
        painter.setFont(title_font)
        painter.setPen(fg)
        title = painter.fontMetrics().elidedText(index.data(TitleRole) or "", Qt.TextElideMode.ElideRight, text_w)
        painter.drawText(QRect(text_left, rect.top(), text_w, line), Qt.AlignmentFlag.AlignVCenter, title)

        painter.setFont(option.font)
        painter.setPen(dim)
        meta = [short_path(index.data(FolderRole) or "")]
        if index.data(PageRole):
            meta.append(f"page {index.data(PageRole)}")
        passages = len(index.data(PassagesRole) or [])
        if passages > 1:
            meta.append(f"{passages} passages")
        if index.data(DateRole):
            meta.append(human_date(index.data(DateRole)))
        if index.data(SizeRole) is not None:
            meta.append(human_size(int(index.data(SizeRole) or 0)))
        meta_text = fm.elidedText("  ·  ".join(meta), Qt.TextElideMode.ElideMiddle, text_w)
        painter.drawText(QRect(text_left, rect.top() + line, text_w, line), Qt.AlignmentFlag.AlignVCenter, meta_text)

        snippet = index.data(SnippetRole) or ""
        if snippet:
            painter.setPen(fg)
            layout = self._snippet_layout(snippet, index.data(HighlightsRole) or [], opt.font, text_w, opt.palette)
            painter.setClipRect(QRect(text_left, rect.top() + 2 * line + 2, text_w, line * 2))
            layout.draw(painter, QPointF(text_left, rect.top() + 2 * line + 2))
            painter.setClipping(False)

        # relevance: a small bar at the right, relative to the best result
        relevance = float(index.data(RelevanceRole) or 0.0)
        bar = QRect(rect.right() - bar_w, rect.top() + line // 2 - 3, bar_w, 6)
        track = QColor(fg)
        track.setAlphaF(0.15)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(track)
        painter.drawRoundedRect(bar, 3, 3)
        fill = QColor(opt.palette.color(QPalette.ColorRole.Highlight) if not selected else fg)
        painter.setBrush(fill)
        painter.drawRoundedRect(QRect(bar.left(), bar.top(), max(6, int(bar_w * relevance)), 6), 3, 3)
        painter.restore()
