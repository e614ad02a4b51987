"""The query-syntax help: a small popup below the search bar's "?" button (also F1)."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QFrame, QLabel, QVBoxLayout, QWidget

QUERY_HELP = """
<h3 style="margin:0 0 6px 0">Search syntax</h3>
<table cellspacing="0" cellpadding="3">
<tr><td><code>solar panels</code></td><td>files about these words, by meaning and by keyword</td></tr>
<tr><td><code>"exact phrase"</code></td>
    <td>only files containing the phrase (<code>"cat"</code>: the word exactly)</td></tr>
<tr><td><code>-draft</code>, <code>-"old plan"</code></td>
    <td>leave out files containing <i>draft</i> or the phrase</td></tr>
<tr><td><code>cat OR dog</code></td><td>either word</td></tr>
<tr><td><code>photo*</code></td><td>words starting with <i>photo</i> (no prefix otherwise)</td></tr>
<tr><td><code>title:budget</code>, <code>author:smith</code>, <code>name:report</code></td>
    <td>in the document title / author / file name (plain words search these too)</td></tr>
<tr><td><code>-author:smith</code>, <code>-title:draft</code></td>
    <td>leave out files with it in that field (not in their text)</td></tr>
<tr><td><code>ext:pdf</code>, <code>ext:md,txt</code></td><td>only these file types</td></tr>
<tr><td><code>dir:Projects</code></td><td>only files whose folder path contains <i>Projects</i></td></tr>
<tr><td><code>date:2024</code>, <code>date:2024-01..2024-06</code>, <code>date:&gt;2024-03-01</code></td>
    <td>modified in that year, range, or after/before a day</td></tr>
<tr><td><code>size:&gt;1M</code>, <code>size:&lt;200k</code></td><td>larger or smaller than a size</td></tr>
<tr><td><code>ext:pdf</code> alone</td><td>filters alone list the matching files, newest first</td></tr>
</table>
<p style="margin-top:6px">Keys: <b>Ctrl+K</b> search · <b>↑/↓</b> move · <b>Enter</b> open ·
<b>Ctrl+Enter</b> show in folder · <b>F3</b>/<b>Shift+F3</b> next/previous hit · <b>Esc</b> clear</p>
"""


class QueryHelpPopover(QFrame):
    """A small popup (closes on click outside or Esc) explaining the query syntax."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent, Qt.WindowType.Popup)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAccessibleName("Search syntax help")
        label = QLabel(QUERY_HELP)
        label.setTextFormat(Qt.TextFormat.RichText)
        label.setWordWrap(True)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.addWidget(label)
        self.setMinimumWidth(520)

    def show_below(self, widget: QWidget) -> None:
        self.adjustSize()
        pos = widget.mapToGlobal(QPoint(widget.width() - self.width(), widget.height()))
        self.move(pos)
        self.show()
