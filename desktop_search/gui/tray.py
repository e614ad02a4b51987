"""The tray icon: Search…, Pause / resume indexing, Quit; its tooltip follows the indexing status."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QMenu, QSystemTrayIcon, QWidget

from .theme import app_icon

TITLE = "Desktop Search"


class Tray(QSystemTrayIcon):
    def __init__(self, parent: QWidget, *, show: Callable[[], None], toggle_pause: Callable[[], None],
                 quit: Callable[[], None]):
        super().__init__(app_icon(), parent)
        self.setToolTip(TITLE)
        menu = QMenu(parent)
        self.search_action = menu.addAction("Search…", show)
        menu.addAction("Pause / resume indexing", toggle_pause)
        menu.addSeparator()
        self.quit_action = menu.addAction("Quit", quit)
        self.menu = menu
        self.setContextMenu(menu)
        self.activated.connect(lambda reason: show() if reason == QSystemTrayIcon.ActivationReason.Trigger else None)
        self._told_about_closing = False

    def show_status(self, text: str) -> None:
        self.setToolTip(f"{TITLE} — {text}" if text else TITLE)

    def tell_about_closing(self) -> None:
        """Once: closing the window keeps the index current from here."""
        if not self._told_about_closing:
            self._told_about_closing = True
            self.showMessage(TITLE, "Still keeping your index up to date here. "
                             "Choose Quit from this icon's menu to stop.",
                             QSystemTrayIcon.MessageIcon.Information, 5000)
