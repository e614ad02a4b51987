"""Secondary windows: query-syntax help, folders and settings, failed files, and the first-run welcome."""

from __future__ import annotations

import os
from typing import Any

from PySide6.QtCore import QPoint, QSize, Qt, Signal
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from .results import short_path
from .tasks import run_task
from .theme import app_icon

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
<tr><td><code>title:budget</code>, <code>name:report</code></td><td>in the document title / file name</td></tr>
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


def folder_counts(service: Any) -> list[dict[str, Any]]:
    """Runs on a worker: every watched folder with its indexed, waiting and failed file counts."""
    return service.folder_counts()


def exclusion_text(service: Any) -> tuple[str, bool]:
    """Runs on a worker: the global exclusion patterns as the field shows them, and the .gitignore option."""
    patterns = [e.pattern for e in service.exclusions() if not e.folder]
    return ", ".join(patterns), service.gitignore()


def describe_counts(row: dict[str, Any]) -> str:
    parts = [f"{row['indexed'] + row['pending']:,} files"]
    if row["pending"]:
        parts.append(f"{row['pending']:,} keyword-only so far")
    if row["failed"]:
        parts.append(f"{row['failed']:,} unreadable")
    state = row.get("state", "ok" if row["exists"] else "offline")
    if state != "ok":  # offline (unplugged: its files stay), unreadable, not a folder
        parts.append(f"{state}: {row.get('detail') or 'folder missing'}")
    return f"{short_path(row['path'])}   —   {', '.join(parts)}"


class FoldersDialog(QDialog):
    """Watched folders with counts, the model / context length / threads settings, and how the app behaves
    (file size limit, pause on battery, start at login)."""

    add_requested = Signal(str)
    remove_requested = Signal(str)
    settings_saved = Signal(dict)

    def __init__(self, service: Any, model_option: str | None, parent: QWidget | None = None, *,
                 pause_on_battery: bool = False, start_at_login: bool = False):
        super().__init__(parent)
        self.service = service
        self.setWindowTitle("Folders and settings")
        self.setAccessibleName("Folders and settings")
        self.resize(720, 640)

        self.folders = QListWidget()
        self.folders.setAccessibleName("Watched folders")
        self.folders.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.add_btn = QPushButton("Add folder…")
        self.add_btn.setAccessibleName("Add folder")
        self.add_btn.clicked.connect(self._choose)
        self.remove_btn = QPushButton("Remove")
        self.remove_btn.setAccessibleName("Remove the selected folder")
        self.remove_btn.clicked.connect(self._remove)
        self.remove_btn.setEnabled(False)
        self.folders.currentRowChanged.connect(lambda row: self.remove_btn.setEnabled(row >= 0))
        folder_box = QGroupBox("Watched folders")
        fl = QVBoxLayout(folder_box)
        fl.addWidget(QLabel("Files in these folders (and their subfolders) are indexed and kept up to date."))
        fl.addWidget(self.folders, 1)
        row = QHBoxLayout()
        row.addWidget(self.add_btn)
        row.addWidget(self.remove_btn)
        row.addStretch(1)
        fl.addLayout(row)
        self.exclusions = QLineEdit()
        self.exclusions.setAccessibleName("Leave out")
        self.exclusions.setPlaceholderText("patterns, comma-separated, e.g. *.log, build/, drafts/")
        self.exclusions.setToolTip("Files and folders matching these .gitignore-style patterns are not indexed; "
                                   "hidden files and caches are left out by default")
        self.gitignore = QCheckBox("Also leave out what .gitignore files list")
        self.gitignore.setAccessibleName("Honour .gitignore files")
        xrow = QHBoxLayout()
        xrow.addWidget(QLabel("Leave out:"))
        xrow.addWidget(self.exclusions, 1)
        fl.addLayout(xrow)
        fl.addWidget(self.gitignore)
        self._loaded_exclusions: tuple[str, bool] | None = None

        self.default_model = QRadioButton("Default model (downloaded once, about 130 MB)")
        self.default_model.setAccessibleName("Use the default model")
        self.local_model = QRadioButton("Model folder on this computer:")
        self.local_model.setAccessibleName("Use a model folder")
        self.model_path = QLineEdit(model_option or "")
        self.model_path.setAccessibleName("Model folder")
        self.model_path.setPlaceholderText("a PyLate / ColBERT model folder")
        browse = QPushButton("Browse…")
        browse.setAccessibleName("Browse for a model folder")
        browse.clicked.connect(self._browse_model)
        (self.local_model if model_option else self.default_model).setChecked(True)
        self.model_state = QLabel()
        self.model_state.setWordWrap(True)
        self.model_state.setAccessibleName("Model state")
        self.context = QSpinBox()
        self.context.setRange(128, 32768)
        self.context.setSingleStep(256)
        self.context.setSuffix(" tokens")
        self.context.setAccessibleName("Context length")
        self.context.setValue(service.settings.context_length)
        self.threads = QSpinBox()
        self.threads.setRange(0, 256)
        self.threads.setSpecialValueText("all cores")
        self.threads.setAccessibleName("Encoding threads")
        self.threads.setValue(service.settings.threads)
        settings_box = QGroupBox("Search model")
        form = QFormLayout(settings_box)
        form.addRow(self.default_model)
        mrow = QHBoxLayout()
        mrow.addWidget(self.local_model)
        mrow.addWidget(self.model_path, 1)
        mrow.addWidget(browse)
        form.addRow(mrow)
        form.addRow(self.model_state)
        form.addRow("Context length:", self.context)
        form.addRow("Threads:", self.threads)
        note = QLabel("Context length and thread changes apply the next time the app starts. A new model "
                      "re-encodes your files in the background; meaning search covers those done so far.")
        note.setWordWrap(True)
        note.setEnabled(False)
        form.addRow(note)

        self.max_file = QSpinBox()
        self.max_file.setRange(1, 100_000)
        self.max_file.setSuffix(" MB")
        self.max_file.setAccessibleName("Largest file to index")
        self.max_file.setToolTip("Larger files are listed as not read, with the reason")
        self.max_file.setValue(max(1, service.settings.max_file_bytes // (1024 * 1024)))
        self.pause_on_battery = QCheckBox("Pause indexing while the computer runs on battery")
        self.pause_on_battery.setAccessibleName("Pause indexing on battery power")
        self.pause_on_battery.setToolTip("Indexing resumes by itself on mains power (checked every 30 seconds)")
        self.pause_on_battery.setChecked(pause_on_battery)
        self.start_at_login = QCheckBox("Start Desktop Search when I log in")
        self.start_at_login.setAccessibleName("Start at login")
        self.start_at_login.setToolTip("Keeps the index up to date from the moment you log in")
        self.start_at_login.setChecked(start_at_login)
        behaviour = QGroupBox("Indexing")
        bform = QFormLayout(behaviour)
        bform.addRow("Skip files larger than:", self.max_file)
        bform.addRow(self.pause_on_battery)
        bform.addRow(self.start_at_login)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Close)
        buttons.accepted.connect(self._save)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(folder_box, 1)
        layout.addWidget(settings_box)
        layout.addWidget(behaviour)
        layout.addWidget(buttons)
        self.loaded = False
        self.refresh()

    def refresh(self) -> None:
        run_task(lambda: (folder_counts(self.service), self.service.model_description(), exclusion_text(self.service)),
                 on_done=self._fill)

    def _fill(self, data: tuple[list[dict[str, Any]], dict[str, Any], tuple[str, bool]]) -> None:
        rows, model, exclusions = data
        if self._loaded_exclusions is None:  # once: a refresh never overwrites what is being typed
            self._loaded_exclusions = exclusions
            self.exclusions.setText(exclusions[0])
            self.gitignore.setChecked(exclusions[1])
        current = self.folders.currentItem().data(Qt.ItemDataRole.UserRole) if self.folders.currentItem() else None
        self.folders.clear()
        for r in rows:
            item = QListWidgetItem(describe_counts(r))
            item.setData(Qt.ItemDataRole.UserRole, r["path"])
            item.setToolTip(r["path"])
            self.folders.addItem(item)
            if r["path"] == current:
                self.folders.setCurrentItem(item)
        if not rows:
            self.folders.addItem(QListWidgetItem("No folders yet — add one to start."))
            self.folders.item(0).setFlags(Qt.ItemFlag.NoItemFlags)
        state = model.get("model_state", "")
        text = {"ready": f"Model ready: {model.get('model')}",
                "not downloaded": f"{model.get('model')} will be downloaded when indexing starts",
                "invalid": f"Model problem: {model.get('model_error')}"}.get(state, state)
        self.model_state.setText(text)
        self.loaded = True

    def _choose(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Add a folder to index", os.path.expanduser("~"))
        if path:
            self.add_requested.emit(path)

    def _remove(self) -> None:
        item = self.folders.currentItem()
        if item is not None and item.data(Qt.ItemDataRole.UserRole):
            self.remove_requested.emit(item.data(Qt.ItemDataRole.UserRole))

    def _browse_model(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Choose a model folder", self.model_path.text() or "")
        if path:
            self.model_path.setText(path)
            self.local_model.setChecked(True)

    def values(self) -> dict[str, Any]:
        model = self.model_path.text().strip() if self.local_model.isChecked() else ""
        return {"model": model or None, "context_length": self.context.value(), "threads": self.threads.value(),
                "max_file_bytes": self.max_file.value() * 1024 * 1024,
                "pause_on_battery": self.pause_on_battery.isChecked(),
                "start_at_login": self.start_at_login.isChecked(), **self._exclusion_values()}

    def _exclusion_values(self) -> dict[str, Any]:
        """The global patterns and the .gitignore option, only when they were loaded and then changed."""
        if self._loaded_exclusions is None:
            return {}
        now = (self.exclusions.text(), self.gitignore.isChecked())
        if now == self._loaded_exclusions:
            return {}
        return {"exclusions": [p.strip() for p in now[0].split(",") if p.strip()], "gitignore": now[1]}

    def _save(self) -> None:
        self.settings_saved.emit(self.values())
        self.accept()


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
        run_task(self.service.failed, on_done=self._fill)

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
