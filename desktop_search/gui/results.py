"""The results list: a model with named roles and a delegate that draws one result as a card."""

from __future__ import annotations

import datetime as dt
import html
import os
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QByteArray,
    QFileInfo,
    QModelIndex,
    QPersistentModelIndex,
    QRect,
    QSize,
    Qt,
)
from PySide6.QtGui import QAbstractTextDocumentLayout, QColor, QFont, QIcon, QPainter, QPalette, QTextDocument
from PySide6.QtWidgets import QFileIconProvider, QStyle, QStyledItemDelegate, QStyleOptionViewItem

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

ROLE_NAMES = {
    PathRole: b"path", TitleRole: b"title", FolderRole: b"folder", PageRole: b"page", DateRole: b"date",
    SizeRole: b"size", SnippetRole: b"snippet", HighlightsRole: b"highlights", ScoreRole: b"score",
    RelevanceRole: b"relevance", ExtRole: b"ext", ResultRole: b"result",
}

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


def highlighted_html(text: str, spans: list[list[int]] | list[tuple[int, int]], mark_bg: str, mark_fg: str) -> str:
    """``text`` as HTML with every span wrapped in a bold, tinted <span>."""
    out, pos = [], 0
    for start, end in sorted((int(s), int(e)) for s, e in spans):
        if start < pos or end <= start:
            continue
        out.append(html.escape(text[pos:start]))
        out.append(f'<span style="background-color:{mark_bg}; color:{mark_fg}; font-weight:600">'
                   f"{html.escape(text[start:end])}</span>")
        pos = end
    out.append(html.escape(text[pos:]))
    return "".join(out)


def mark_colors(palette: QPalette) -> tuple[str, str]:
    """Highlight colours that read well on both light and dark palettes."""
    dark = palette.color(QPalette.ColorRole.Base).lightness() < 128
    return ("#806010", "#ffffff") if dark else ("#ffe27a", "#000000")


class ResultsModel(QAbstractListModel):
    def __init__(self, parent: Any = None):
        super().__init__(parent)
        self._results: list[Any] = []
        self._best = 1.0
        self.query = ""
        self.mode = ""

    def set_results(self, results: list[Any], query: str = "", mode: str = "") -> None:
        self.beginResetModel()
        self._results = list(results)
        self._best = max((r.score for r in self._results), default=1.0) or 1.0
        self.query, self.mode = query, mode
        self.endResetModel()

    def clear(self) -> None:
        self.set_results([])

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
        return None


class ResultDelegate(QStyledItemDelegate):
    """Icon, title, folder · page · date · size, snippet with the matched words marked, relevance bar."""

    PAD = 8
    ICON = 32

    def __init__(self, parent: Any = None):
        super().__init__(parent)
        self._icons: dict[str, QIcon] = {}
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
        return QSize(400, self.PAD * 2 + fm.lineSpacing() * 4 + 4)

    def _doc(self, text_html: str, width: int, option: QStyleOptionViewItem) -> QTextDocument:
        doc = QTextDocument()
        doc.setDefaultFont(option.font)
        doc.setDocumentMargin(0)
        doc.setTextWidth(width)
        doc.setHtml(text_html)
        return doc

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
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
        dim = QColor(fg)
        dim.setAlphaF(0.7)
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
        if index.data(DateRole):
            meta.append(human_date(index.data(DateRole)))
        if index.data(SizeRole) is not None:
            meta.append(human_size(int(index.data(SizeRole) or 0)))
        meta_text = fm.elidedText("  ·  ".join(meta), Qt.TextElideMode.ElideMiddle, text_w)
        painter.drawText(QRect(text_left, rect.top() + line, text_w, line), Qt.AlignmentFlag.AlignVCenter, meta_text)

        snippet = index.data(SnippetRole) or ""
        if snippet:
            bg, mark_fg = mark_colors(opt.palette)
            color = fg.name()
            body = highlighted_html(snippet, index.data(HighlightsRole) or [], bg, mark_fg)
            doc = self._doc(f'<div style="color:{color}">{body}</div>', text_w, opt)
            painter.translate(text_left, rect.top() + 2 * line + 2)
            clip = QRect(0, 0, text_w, line * 2)
            painter.setClipRect(clip)
            ctx = QAbstractTextDocumentLayout.PaintContext()
            ctx.clip = clip
            doc.documentLayout().draw(painter, ctx)
            painter.setClipping(False)
            painter.translate(-text_left, -(rect.top() + 2 * line + 2))

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
