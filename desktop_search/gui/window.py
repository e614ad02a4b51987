"""The main window: assembles the search bar, the results, the preview, the status bar and the tray,
and wires them to the controllers (searching, indexing, the model) and to the service's one
"what changed" event, which it bridges to the ``service_changed`` signal on the UI thread.

Threads: everything here runs on the UI thread; work runs in Jobs (jobs.py) and the controllers.
"""

from __future__ import annotations

import gc
import os
import threading
from typing import Any

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QApplication,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QStackedWidget,
    QSystemTrayIcon,
    QVBoxLayout,
    QWidget,
)

from . import desktop
from .banner import Banner
from .download_status import DownloadStatus
from .folder_commands import FolderCommands
from .index_controller import IndexController
from .index_feedback import IndexFeedback
from .jobs import run_job
from .menus import build_menus, build_shortcuts
from .model_loader import ModelLoader
from .power import BatteryGuard
from .preview import PreviewPane
from .preview_coordinator import PreviewCoordinator
from .results_panel import ResultsPanel
from .search_bar import SearchBar
from .search_controller import SearchController, SearchOutcome
from .status_bar import IndexStatus
from .tasks import global_pool, init_dispatcher
from .theme import app_icon
from .tray import Tray
from .welcome import WelcomePage

CHANGE_COALESCE_MS = 50  # changes announced within this long refresh the views once
SEARCH_KINDS = ("files", "folders", "model")  # changes that make the shown results stale


class MainWindow(FolderCommands, IndexFeedback, QMainWindow):
    preview_shown = Signal(str)  # path
    status_refreshed = Signal(dict)
    files_changed = Signal(object)  # changed paths (None: all) from the monitor's thread, on the UI thread
    service_changed = Signal(object)  # core Change from whichever thread made it, on the UI thread

    def __init__(self, service: Any, *, encode: bool = True, index_on_start: bool = True,
                 load_model: bool = True, model_option: str | None = None, settings: QSettings | None = None,
                 tray: bool = True):
        super().__init__()
        init_dispatcher()
        self.service = service
        self.model_option = model_option
        self.qsettings = settings or QSettings("desktop-search", "desktop-search")
        self.setWindowTitle("Desktop Search")
        self.setWindowIcon(app_icon())
        self.resize(1200, 760)
        self._status: dict[str, Any] = {}
        self._closing = False
        self._load_model = load_model
        self._index_on_start = index_on_start
        self.started = False

        self.searcher = SearchController(service, self)
        self.indexer = IndexController(service, encode=encode, parent=self)
        self.model_loader = ModelLoader(service, self)
        # watched folders: the paths a burst of changes touched become one incremental index run
        self.monitor = service.change_monitor(self.files_changed.emit)
        # the monitor is (re)started on worker threads (watch_folders) and stopped here at shutdown: one at a
        # time under this lock (a stop during a start joined an observer thread not started yet, and two
        # starts at once each made an observer), and none after shutdown
        self._monitor_lock = threading.Lock()
        self.files_changed.connect(self.indexer.changed)
        # the service says what changed (from any thread); views refresh once per burst
        self._pending_change: Any = None
        self._change_timer = QTimer(self, singleShot=True, interval=CHANGE_COALESCE_MS)
        self._change_timer.timeout.connect(self._apply_change)
        self.service_changed.connect(self._on_service_changed)
        self._unsubscribe = service.changes.subscribe(self.service_changed.emit)
        # the model is unloaded after the idle time in the settings (10 minutes): idle memory
        self._idle_timer = QTimer(self, interval=60_000)
        self._idle_timer.timeout.connect(lambda: run_job(self, "release idle", self._release_idle))
        self._idle_timer.start()

        self._build_main_page()
        self._build_status_bar()
        build_menus(self)
        build_shortcuts(self)
        self.welcome = WelcomePage(self._documents_folder())
        self.welcome.use_folder.connect(lambda p: self.add_folders([p]))
        self.welcome.choose_folder.connect(self.choose_folder)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.main_page)
        self.stack.addWidget(self.welcome)
        self.setCentralWidget(self.stack)
        self._connect()

        self.tray: Tray | None = None
        if tray and QSystemTrayIcon.isSystemTrayAvailable():
            self.tray = Tray(self, show=self.show_and_focus, toggle_pause=self.index_status.toggle_pause,
                             quit=self.quit)
            self.index_status.text_changed.connect(self.tray.show_status)
            self.tray.show()
        QTimer.singleShot(0, self._startup)

    # --- building --------------------------------------------------------------------------------
    def _build_main_page(self) -> None:
        self.search_bar = SearchBar()
        self.search = self.search_bar.field  # the parts the rest of the window (and its tests) use most
        self.results_panel = ResultsPanel()
        self.results_panel.can_find_similar = self.searcher.can_find_similar()
        self.results, self.results_model = self.results_panel.view, self.results_panel.model
        self.preview = PreviewPane()
        self.preview.similar_btn.setVisible(self.results_panel.can_find_similar)
        self.previews = PreviewCoordinator(self.service, self.preview, self)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.results_panel)
        self.splitter.addWidget(self.preview)
        self.splitter.setStretchFactor(0, 5)
        self.splitter.setStretchFactor(1, 4)
        self.splitter.setChildrenCollapsible(False)
        self.main_page = QWidget()
        layout = QVBoxLayout(self.main_page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.search_bar)
        self.banner = Banner(self.main_page)  # damage found at start-up (Repair), a full disk
        layout.addWidget(self.banner)
        layout.addWidget(self.splitter, 1)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.index_status = IndexStatus(bar, self.indexer, paused_prefix=self._pause_prefix)
        self.index_status.failed_clicked.connect(self.show_failed)
        self.download_status = DownloadStatus(bar, self.model_loader)
        self.download_status.message.connect(bar.showMessage)

    def _connect(self) -> None:
        bar, panel, s = self.search_bar, self.results_panel, self.searcher
        bar.query_changed.connect(s.set_query)
        bar.sort_changed.connect(s.set_sort)
        self.search.move_requested.connect(panel.move_selection)
        self.search.activated.connect(lambda ctrl: self.reveal_current() if ctrl else self.open_current())
        panel.open_requested.connect(self.open_current)
        panel.reveal_requested.connect(self.reveal_current)
        panel.copy_requested.connect(self.copy_current_path)
        panel.similar_requested.connect(self.find_similar)
        panel.typed.connect(self._typed_in_list)
        panel.current_changed.connect(lambda r, hold: self.previews.select(r, self.results_model.query, hold=hold))
        self.preview.open_requested.connect(self.open_current)
        self.preview.reveal_requested.connect(self.reveal_current)
        self.preview.copy_requested.connect(self.copy_current_path)
        self.preview.similar_requested.connect(self.find_similar)
        self.previews.shown.connect(self.preview_shown)
        self.results_model.more_requested.connect(s.load_more)
        s.results.connect(self._on_results)
        s.more_results.connect(panel.append_outcome)
        s.failed.connect(lambda _, message: panel.show_problem(message))
        s.cleared.connect(self._on_cleared)
        s.busy_changed.connect(bar.spinner.setVisible)
        self.indexer.started.connect(self._on_index_started)
        self.indexer.finished.connect(self._on_index_finished)
        self.indexer.cancelled.connect(self._on_index_cancelled)
        self.indexer.failed.connect(self._on_index_failed)
        self.battery = BatteryGuard(self.indexer, enabled=self.pause_on_battery_setting(), parent=self)
        self.battery.changed.connect(self._on_battery_pause)
        self.model_loader.ready.connect(self._on_model_ready)

    # --- what changed ----------------------------------------------------------------------------
    def _on_service_changed(self, change: Any) -> None:
        self._pending_change = change if self._pending_change is None else self._pending_change | change
        self._change_timer.start()

    def _apply_change(self) -> None:
        change, self._pending_change = self._pending_change, None
        if change is None or self._closing:
            return
        self.refresh_status()
        if change.touches(*SEARCH_KINDS):
            self.searcher.refresh()

    # --- startup and status ----------------------------------------------------------------------
    def _startup(self) -> None:
        run_job(self, "first status", self._read_first_status, on_done=self._on_first_status,
                on_error=self._on_status_error)

    def _read_status(self) -> dict[str, Any]:  # on a worker
        status = self.service.status()
        status["folders"] = self.service.folder_counts()
        return status

    def _read_first_status(self) -> dict[str, Any]:  # on a worker
        status = self._read_status()
        status["damaged_parts"] = self.service.damaged_parts()  # checksums checked as segments load
        return status

    def _on_status_error(self, exc: BaseException) -> None:
        self.index_status.label.setText(f"Could not read the index: {exc}")

    def _on_first_status(self, status: dict[str, Any]) -> None:
        self._apply_status(status)
        if status.get("damaged_parts"):
            self.banner.show_message(
                "damaged", f"{len(status['damaged_parts'])} part(s) of the index are damaged and left out of "
                "search by meaning.", "Repair", self.repair)
        has_roots = bool(status.get("folders"))
        self.stack.setCurrentWidget(self.main_page if has_roots else self.welcome)
        if has_roots:
            if self._load_model and status.get("model_state") in ("ready", "not downloaded"):
                self.model_loader.load()
            elif status.get("model_state") == "invalid":
                self.download_status.on_unavailable(status.get("model_error") or "invalid model")
            if self._index_on_start:
                self.indexer.start()
                self.watch_folders()
            self.focus_search()
        else:
            self.download_status.set_label("")
        gc.freeze()  # what start-up loaded lives as long as the app: keep it out of every collection
        self.started = True

    def refresh_status(self) -> None:
        run_job(self, "status", self._read_status, on_done=self._apply_status, on_error=self._on_status_error)

    def _apply_status(self, status: dict[str, Any]) -> None:
        self._status = status
        self.search_bar.set_folders(status.get("folders", []))
        self.index_status.show_counts(status)
        self.status_refreshed.emit(status)

    def _on_model_ready(self) -> None:
        # torch, transformers and Qt leave ~a million long-lived objects; a full collection walked them
        # all, 110-270 ms on the searching thread every ~8 queries (the p95 of search as you type).
        # Frozen, they are skipped by every later collection.
        gc.freeze()
        self.searcher.set_semantic_ready(True)
        if self.model_loader.downloaded and self.indexer.encode:
            self.indexer.start()  # encode what was indexed keyword-only while the model downloaded

    # --- searching -------------------------------------------------------------------------------
    def composed_query(self) -> str:
        return self.search_bar.composed_query()

    def _on_cleared(self) -> None:
        self.results_panel.clear()
        self.previews.clear()

    def _on_results(self, outcome: SearchOutcome) -> None:
        had = self.results_panel.current_path()
        self.results_panel.show_outcome(outcome, self.search.text().strip(), self.searcher.limit)
        if not self.results_model.rowCount():
            self.previews.clear("No result selected.")
        elif had and self.results_panel.current_result() is None:
            self.previews.clear()
        self.previews.ranking_arrived(outcome.final)

    def find_similar(self, path: str, page: int | None = None) -> None:
        """Files like ``path`` (or its passage on ``page``) by its own vectors, replacing the results."""
        self.searcher.find_similar(path, page)

    def current_result(self) -> Any:
        return self.results_panel.current_result()

    def current_path(self) -> str | None:
        return self.results_panel.current_path()

    def move_selection(self, step: int) -> None:
        self.results_panel.move_selection(step)

    def _typed_in_list(self, text: str) -> None:
        self.search.setFocus()  # typing in the list goes on in the search field
        self.search.setText(self.search.text() + text)

    # --- actions ---------------------------------------------------------------------------------
    def open_current(self) -> None:
        path = self.current_path()
        if path and not desktop.open_path(self._openable(path)):
            self.statusBar().showMessage(f"No application could open {path}", 5000)

    def _openable(self, path: str) -> str:
        """What opening a result opens: the file, or for a member of an archive the archive itself."""
        where = getattr(self.service, "open_target", None)
        return where(path) if callable(where) else path

    def reveal_current(self) -> None:
        path = self.current_path()
        if path:
            desktop.show_in_folder(self._openable(path))

    def copy_current_path(self) -> None:
        path = self.current_path()
        if path:
            desktop.copy_path(path)
            self.statusBar().showMessage("Path copied", 2000)

    def focus_search(self) -> None:
        if self.stack.currentWidget() is not self.main_page:
            return
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    def escape(self) -> None:
        if self.search.text():
            self.search.clear()
        self.search.setFocus()

    def show_and_focus(self) -> None:
        self.showNormal()
        self.raise_()
        self.activateWindow()
        self.focus_search()

    def show_query_help(self) -> None:
        self.search_bar.show_help()

    def _release_idle(self) -> None:  # on a worker thread
        self.service.release_model_if_idle()
        self.service.release_idle_workers()

    def toggle_pause(self) -> None:
        self.index_status.toggle_pause()

    # --- misc ------------------------------------------------------------------------------------
    def _warn(self, title: str, exc: BaseException) -> None:
        self.statusBar().showMessage(f"{title}: {exc}", 10000)
        if not self.started:
            return
        box = QMessageBox(QMessageBox.Icon.Warning, title, str(exc), QMessageBox.StandardButton.Ok, self)
        box.setModal(False)
        box.show()

    def about(self) -> None:
        QMessageBox.about(self, "About Desktop Search",
                          "Desktop Search finds files on this computer by meaning.\n"
                          "Everything runs locally: ColBERT model, PLAID index, SQLite catalog.")

    @staticmethod
    def _documents_folder() -> str | None:
        from PySide6.QtCore import QStandardPaths

        docs = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
        return docs if docs and os.path.isdir(docs) else None

    def quit(self) -> None:
        self._closing = True
        self.close()
        if self.tray is not None:  # the window may have been hidden in the tray: end the event loop too
            QApplication.quit()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.tray is not None and self.tray.isVisible() and not self._closing:
            # closing the window keeps the index current from the tray; Quit in its menu ends the app
            event.ignore()
            self.hide()
            self.tray.tell_about_closing()
            return
        self.shutdown()
        super().closeEvent(event)
        if self.tray is not None:
            self.tray.hide()

    def shutdown(self) -> None:
        """Stop background work (indexing stops at its next safe point)."""
        self._closing = True
        self._unsubscribe()
        self._change_timer.stop()
        self.battery.set_enabled(False)
        self._idle_timer.stop()
        with self._monitor_lock:  # waits for a start in progress (watch_folders) to finish first
            self.monitor.stop()
        self.searcher.shutdown()
        self.indexer.shutdown()
        self.previews.shutdown()
        self.model_loader.shutdown(1000)
        global_pool().waitForDone(3000)
