"""The window's menus (File, Edit, Help) and keyboard shortcuts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence, QShortcut

if TYPE_CHECKING:
    from .window import MainWindow


def build_menus(w: MainWindow) -> None:
    file_menu = w.menuBar().addMenu("&File")
    w.add_action = QAction("&Add folder…", w, triggered=w.choose_folder)
    w.settings_action = QAction("&Folders and settings…", w, triggered=w.show_folders)
    w.settings_action.setShortcut(QKeySequence.StandardKey.Preferences)
    w.failed_action = QAction("Files that could not be &read…", w, triggered=w.show_failed)
    w.reindex_action = QAction("&Update index now", w, triggered=w.indexer.start)
    w.reindex_action.setShortcut(QKeySequence("F5"))
    w.rebuild_action = QAction("Re&build index", w, triggered=w.rebuild_index)
    w.rebuild_action.setStatusTip("Re-code every vector on a codec trained on all of them (after much new data); "
                                  "searches go on, Stop leaves the index as it was")
    quit_action = QAction("&Quit", w, triggered=w.quit)
    quit_action.setShortcut(QKeySequence.StandardKey.Quit)
    for a in (w.add_action, w.settings_action, w.failed_action, w.reindex_action, w.rebuild_action):
        file_menu.addAction(a)
    file_menu.addSeparator()
    file_menu.addAction(quit_action)
    edit = w.menuBar().addMenu("&Edit")
    w.open_action = QAction("&Open", w, triggered=w.open_current)
    w.reveal_action = QAction("Show in &folder", w, triggered=w.reveal_current)
    w.reveal_action.setShortcut(QKeySequence("Ctrl+Return"))
    w.copy_action = QAction("&Copy path", w, triggered=w.copy_current_path)
    w.copy_action.setShortcut(QKeySequence("Ctrl+Shift+C"))
    w.next_action = QAction("&Next hit", w, triggered=w.preview.next_hit)
    w.next_action.setShortcut(QKeySequence("F3"))
    w.prev_action = QAction("&Previous hit", w, triggered=w.preview.previous_hit)
    w.prev_action.setShortcut(QKeySequence("Shift+F3"))
    for a in (w.open_action, w.reveal_action, w.copy_action, w.next_action, w.prev_action):
        a.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        edit.addAction(a)
    help_menu = w.menuBar().addMenu("&Help")
    help_menu.addAction(QAction("Search &syntax", w, triggered=w.search_bar.show_help,
                                shortcut=QKeySequence(QKeySequence.StandardKey.HelpContents)))
    help_menu.addAction(QAction("&About", w, triggered=w.about))


def build_shortcuts(w: MainWindow) -> None:
    for seq in ("Ctrl+K", "Ctrl+F", "Ctrl+L"):
        QShortcut(QKeySequence(seq), w, activated=w.focus_search)
    QShortcut(QKeySequence("Ctrl+Enter"), w, activated=w.reveal_current)
    QShortcut(QKeySequence(Qt.Key.Key_Escape), w, activated=w.escape)
