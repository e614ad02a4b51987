"""Folders and settings: watched folders with counts, exclusions, the model, context length, threads,
and how the app behaves (file size limit, pause on battery, start at login). Data loads in a Job owned
by the dialog (closed early, it is never touched); saving is the window's (through the service)."""

from __future__ import annotations

import os
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from .jobs import run_job
from .results import short_path


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
        self.context_applies = QLabel()  # the window in force when it differs from the setting, and why
        self.context_applies.setWordWrap(True)
        self.context_applies.setAccessibleName("Context length in use")
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
        form.addRow(self.context_applies)
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
        run_job(self, "folders", lambda: (folder_counts(self.service), self.service.model_description(),
                                          exclusion_text(self.service), self.service.context_length_status()),
                on_done=self._fill)

    def follow_status(self, _status: dict[str, Any]) -> None:
        """The window read a new status (the service announced a change): show the new counts."""
        if self.isVisible():
            self.refresh()

    def _fill(self, data: tuple[list[dict[str, Any]], dict[str, Any], tuple[str, bool], dict[str, Any]]) -> None:
        rows, model, exclusions, context = data
        note = context.get("context_length_note")
        self.context_applies.setText(f"In use: {context['context_length']} tokens ({note})" if note else "")
        self.context_applies.setVisible(bool(note))
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
