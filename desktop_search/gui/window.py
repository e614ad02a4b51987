"""The main window: search field and filters, results, preview, status and indexing controls."""

from __future__ import annotations

import datetime as dt
import gc
import os
import time
from typing import Any

from PySide6.QtCore import QEvent, QItemSelectionModel, QModelIndex, QObject, QSettings, Qt, QThreadPool, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QSplitter,
    QStackedWidget,
    QSystemTrayIcon,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from . import autostart, desktop
from .banner import Banner
from .controllers import IndexController, ModelLoader, SearchController, SearchOutcome
from .dialogs import FailedDialog, FoldersDialog, QueryHelpPopover, WelcomePage, folder_counts
from .power import BatteryGuard
from .preview import PreviewData, PreviewPane, load_preview
from .results import ResultDelegate, ResultsModel
from .tasks import init_dispatcher, make_pool, run_task
from .theme import app_icon

TYPE_FILTERS = [
    ("Any type", ""),
    ("PDF", "ext:pdf"),
    ("Word / OpenDocument", "ext:docx,doc,odt,rtf"),
    ("Text / Markdown", "ext:txt,md,markdown,rst"),
    ("Spreadsheets", "ext:xlsx,xls,ods,csv"),
    ("Presentations", "ext:pptx,odp"),
    ("E-mail", "ext:eml,msg,mbox"),
    ("Web pages / e-books", "ext:html,htm,epub"),
]
PREVIEW_HOLD_MS = 400  # longest wait for the ranking by meaning before previewing the keyword top hit
DATE_FILTERS = ["Any time", "Today", "Past week", "Past month", "This year", "Last year"]
PHASES = {"scan": "Looking for files", "extract": "Reading", "encode": "Encoding for meaning",
          "compact": "Optimising the index", "done": "Up to date"}


def date_token(choice: str, today: dt.date | None = None) -> str:
    today = today or dt.date.today()
    if choice == "Today":
        return f"date:>{today.isoformat()}"
    if choice == "Past week":
        return f"date:>{(today - dt.timedelta(days=7)).isoformat()}"
    if choice == "Past month":
        return f"date:>{(today - dt.timedelta(days=31)).isoformat()}"
    if choice == "This year":
        return f"date:{today.year}"
    if choice == "Last year":
        return f"date:{today.year - 1}"
    return ""


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    if h:
        return f"{h} h {m:02d} min"
    if m:
        return f"{m} min {s:02d} s"
    return f"{s} s"


def _mb(n: int) -> str:
    value = n / (1024 * 1024)
    return f"{value:.1f}" if value < 10 else f"{value:.0f}"


class SearchField(QLineEdit):
    """Arrows move through the results, Enter opens, Esc clears: the focus can stay in the field."""

    move_requested = Signal(int)
    activated = Signal(bool)  # ctrl held

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key in (Qt.Key.Key_Down, Qt.Key.Key_Up, Qt.Key.Key_PageDown, Qt.Key.Key_PageUp):
            step = {Qt.Key.Key_Down: 1, Qt.Key.Key_Up: -1, Qt.Key.Key_PageDown: 5, Qt.Key.Key_PageUp: -5}[key]
            self.move_requested.emit(step)
            return
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.activated.emit(bool(event.modifiers() & Qt.KeyboardModifier.ControlModifier))
            return
        if key == Qt.Key.Key_Escape and self.text():
            self.clear()
            return
        super().keyPressEvent(event)


class MainWindow(QMainWindow):
    preview_shown = Signal(str)  # path
    status_refreshed = Signal(dict)
    files_changed = Signal(object)  # changed paths (None: all) from the monitor's thread, on the UI thread

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
        self._preview_pool = make_pool(1, "preview")
        self._preview_token = 0
        self._summary_tail = ""  # what the summary says after the count: kind of ranking, time, notice
        # the preview of a first, keyword-only ranking waits for the ranking by meaning (or this long):
        # loading it meanwhile competes with the semantic search for the CPU and is usually replaced
        self._preview_pending = False
        self._auto_selecting = False
        self._preview_fallback = QTimer(self, singleShot=True, interval=PREVIEW_HOLD_MS)
        self._preview_fallback.timeout.connect(self._load_pending_preview)
        self._status: dict[str, Any] = {}
        self._closing = False
        self._told_about_tray = False

        self.searcher = SearchController(service, self)
        self.indexer = IndexController(service, encode=encode, parent=self)
        self.model_loader = ModelLoader(service, self)
        # watched folders: the paths a burst of changes touched become one incremental index run
        self.monitor = service.change_monitor(self.files_changed.emit)
        self.files_changed.connect(self.indexer.changed)
        # the model is unloaded after the idle time in the settings (10 minutes): idle memory
        self._idle_timer = QTimer(self, interval=60_000)
        self._idle_timer.timeout.connect(lambda: run_task(self._release_idle))
        self._idle_timer.start()
        self._load_model = load_model

        self._build_search_bar()
        self._build_results()
        self._build_status_bar()
        self._build_menus()
        self._build_shortcuts()

        self.welcome = WelcomePage(self._documents_folder())
        self.welcome.use_folder.connect(lambda p: self.add_folders([p]))
        self.welcome.choose_folder.connect(self.choose_folder)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.main_page)
        self.stack.addWidget(self.welcome)
        self.setCentralWidget(self.stack)

        self.searcher.results.connect(self._on_results)
        self.searcher.more_results.connect(self._on_more_results)
        self.results_model.more_requested.connect(self.searcher.load_more)
        self.searcher.failed.connect(self._on_search_failed)
        self.searcher.cleared.connect(self._on_cleared)
        self.searcher.busy_changed.connect(lambda busy: self.spinner.setVisible(busy))
        self.indexer.started.connect(self._on_index_started)
        self.indexer.progress.connect(self._on_progress)
        self.indexer.finished.connect(self._on_index_finished)
        self.indexer.cancelled.connect(self._on_index_cancelled)
        self.indexer.failed.connect(self._on_index_failed)
        self.indexer.paused_changed.connect(self._on_paused)
        self.indexer.job_done.connect(lambda name, _: self.refresh_status())
        self.battery = BatteryGuard(self.indexer, enabled=self.pause_on_battery_setting(), parent=self)
        self.battery.changed.connect(self._on_battery_pause)
        self.model_loader.loading.connect(lambda m: self._set_model_label(m, busy=True))
        self.model_loader.ready.connect(self._on_model_ready)
        self.model_loader.unavailable.connect(self._on_model_unavailable)
        self.model_loader.download_started.connect(self._on_download_started)
        self.model_loader.download_progress.connect(self._on_download_progress)
        self.model_loader.download_finished.connect(self._on_download_finished)
        self.model_loader.download_cancelled.connect(self._on_download_cancelled)

        self.tray: QSystemTrayIcon | None = None
        if tray and QSystemTrayIcon.isSystemTrayAvailable():
            self._build_tray()

        self._index_on_start = index_on_start
        self.started = False
        QTimer.singleShot(0, self._startup)

    # --- building --------------------------------------------------------------------------------
    def _build_search_bar(self) -> None:
        self.search = SearchField()
        self.search.setPlaceholderText("Search your files by meaning or by keyword  (Ctrl+K)")
        self.search.setClearButtonEnabled(True)
        self.search.setAccessibleName("Search")
        self.search.setAccessibleDescription("Type words or a question; results appear as you type")
        font = self.search.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        self.search.setFont(font)
        self.search.setMinimumHeight(34)
        self.search.textChanged.connect(self._on_text_changed)
        self.search.move_requested.connect(self.move_selection)
        self.search.activated.connect(lambda ctrl: self.reveal_current() if ctrl else self.open_current())

        self.type_filter = QComboBox()
        for label, token in TYPE_FILTERS:
            self.type_filter.addItem(label, token)
        self.type_filter.setAccessibleName("File type filter")
        self.type_filter.setToolTip("Only files of this type (same as ext: in the search)")
        self.folder_filter = QComboBox()
        self.folder_filter.addItem("Any folder", "")
        self.folder_filter.setAccessibleName("Folder filter")
        self.folder_filter.setToolTip("Only files in this folder (same as dir: in the search)")
        self.date_filter = QComboBox()
        self.date_filter.addItems(DATE_FILTERS)
        self.date_filter.setAccessibleName("Date filter")
        self.date_filter.setToolTip("Only files modified in this period (same as date: in the search)")
        for combo in (self.type_filter, self.folder_filter, self.date_filter):
            combo.currentIndexChanged.connect(self._on_filters_changed)
        self.help_btn = QToolButton()
        self.help_btn.setText("?")
        self.help_btn.setToolTip("Search syntax (F1)")
        self.help_btn.setAccessibleName("Search syntax help")
        self.help_btn.clicked.connect(self.show_query_help)
        self.help_popover = QueryHelpPopover(self)

        self.spinner = QLabel("searching…")
        self.spinner.setAccessibleName("Search in progress")
        self.spinner.setVisible(False)
        self.spinner.setEnabled(False)

        self.search_bar = QWidget()
        row = QHBoxLayout(self.search_bar)
        row.setContentsMargins(8, 8, 8, 4)
        row.addWidget(self.search, 1)
        row.addWidget(self.help_btn)
        filters = QHBoxLayout()
        filters.setContentsMargins(8, 0, 8, 4)
        filters.addWidget(self.type_filter)
        filters.addWidget(self.folder_filter)
        filters.addWidget(self.date_filter)
        filters.addStretch(1)
        filters.addWidget(self.spinner)
        self.filter_bar = QWidget()
        self.filter_bar.setLayout(filters)

    def _build_results(self) -> None:
        self.results_model = ResultsModel(self)
        self.results = QListView()
        self.results.setModel(self.results_model)
        self.results.setItemDelegate(ResultDelegate(self.results))
        self.results.setAccessibleName("Results")
        self.results.setAccessibleDescription("Matching files, best first")
        self.results.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.results.setUniformItemSizes(True)
        self.results.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.results.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.results.activated.connect(lambda _: self.open_current())
        self.results.doubleClicked.connect(lambda _: self.open_current())
        self.results.selectionModel().currentChanged.connect(self._on_current_changed)
        self.results.installEventFilter(self)
        self.results.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.results.customContextMenuRequested.connect(self._result_menu)
        self.summary = QLabel()
        self.summary.setAccessibleName("Search summary")
        self.summary.setWordWrap(True)
        self.summary.setContentsMargins(8, 0, 8, 0)
        self.empty = QLabel()
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.empty.setEnabled(False)
        self.empty.setAccessibleName("No results")
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(self.summary)
        ll.addWidget(self.results, 1)
        ll.addWidget(self.empty, 1)
        self.empty.hide()

        self.preview = PreviewPane()
        self.preview.open_requested.connect(self.open_current)
        self.preview.reveal_requested.connect(self.reveal_current)
        self.preview.copy_requested.connect(self.copy_current_path)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.preview)
        self.splitter.setStretchFactor(0, 5)
        self.splitter.setStretchFactor(1, 4)
        self.splitter.setChildrenCollapsible(False)

        self.main_page = QWidget()
        layout = QVBoxLayout(self.main_page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.search_bar)
        layout.addWidget(self.filter_bar)
        self.banner = Banner(self.main_page)  # damage found at start-up (Repair), a full disk
        layout.addWidget(self.banner)
        layout.addWidget(self.splitter, 1)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.status_label = QLabel()
        self.status_label.setAccessibleName("Index status")
        self.progress = QProgressBar()
        self.progress.setAccessibleName("Indexing progress")
        self.progress.setMaximumWidth(220)
        self.progress.setTextVisible(True)
        self.progress.hide()
        self.current_file = QLabel()
        self.current_file.setAccessibleName("File being indexed")
        self.current_file.setMinimumWidth(50)
        self.pause_btn = QToolButton()
        self.pause_btn.setText("Pause")
        self.pause_btn.setAccessibleName("Pause indexing")
        self.pause_btn.clicked.connect(self.toggle_pause)
        self.pause_btn.hide()
        self.cancel_btn = QToolButton()
        self.cancel_btn.setText("Stop")
        self.cancel_btn.setAccessibleName("Stop indexing")
        self.cancel_btn.setToolTip("Stop indexing; what is done so far is kept and the rest resumes next time")
        self.cancel_btn.clicked.connect(self.indexer.cancel)
        self.cancel_btn.hide()
        self.failed_btn = QToolButton()
        self.failed_btn.setAutoRaise(True)
        self.failed_btn.setAccessibleName("Show files that could not be read")
        self.failed_btn.clicked.connect(self.show_failed)
        self.failed_btn.hide()
        self.model_label = QLabel()
        self.model_label.setAccessibleName("Search model state")
        # first run: the default model downloads here while keyword search already works
        self.download_bar = QProgressBar()
        self.download_bar.setAccessibleName("Model download progress")
        self.download_bar.setMaximumWidth(200)
        self.download_bar.setTextVisible(True)
        self.download_bar.hide()
        self.download_cancel_btn = QToolButton()
        self.download_cancel_btn.setText("Cancel download")
        self.download_cancel_btn.setAccessibleName("Cancel the model download")
        self.download_cancel_btn.setToolTip("Stop downloading the search model; what was downloaded is kept and "
                                            "the download resumes when you start it again")
        self.download_cancel_btn.clicked.connect(self.model_loader.cancel_download)
        self.download_cancel_btn.hide()
        self.download_btn = QToolButton()
        self.download_btn.setText("Download model")
        self.download_btn.setAccessibleName("Download the search model")
        self.download_btn.setToolTip("Download the search model (resumes a cancelled download)")
        self.download_btn.clicked.connect(self.start_model_download)
        self.download_btn.hide()
        bar.addWidget(self.status_label)
        bar.addWidget(self.progress)
        bar.addWidget(self.current_file, 1)
        bar.addPermanentWidget(self.pause_btn)
        bar.addPermanentWidget(self.cancel_btn)
        bar.addPermanentWidget(self.failed_btn)
        bar.addPermanentWidget(self.model_label)
        bar.addPermanentWidget(self.download_bar)
        bar.addPermanentWidget(self.download_cancel_btn)
        bar.addPermanentWidget(self.download_btn)

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.add_action = QAction("&Add folder…", self, triggered=self.choose_folder)
        self.settings_action = QAction("&Folders and settings…", self, triggered=self.show_folders)
        self.settings_action.setShortcut(QKeySequence.StandardKey.Preferences)
        self.failed_action = QAction("Files that could not be &read…", self, triggered=self.show_failed)
        self.reindex_action = QAction("&Update index now", self, triggered=self.indexer.start)
        self.reindex_action.setShortcut(QKeySequence("F5"))
        quit_action = QAction("&Quit", self, triggered=self.quit)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        for a in (self.add_action, self.settings_action, self.failed_action, self.reindex_action):
            file_menu.addAction(a)
        file_menu.addSeparator()
        file_menu.addAction(quit_action)
        edit = self.menuBar().addMenu("&Edit")
        self.open_action = QAction("&Open", self, triggered=self.open_current)
        self.reveal_action = QAction("Show in &folder", self, triggered=self.reveal_current)
        self.reveal_action.setShortcut(QKeySequence("Ctrl+Return"))
        self.copy_action = QAction("&Copy path", self, triggered=self.copy_current_path)
        self.copy_action.setShortcut(QKeySequence("Ctrl+Shift+C"))
        self.next_action = QAction("&Next hit", self, triggered=self.preview.next_hit)
        self.next_action.setShortcut(QKeySequence("F3"))
        self.prev_action = QAction("&Previous hit", self, triggered=self.preview.previous_hit)
        self.prev_action.setShortcut(QKeySequence("Shift+F3"))
        for a in (self.open_action, self.reveal_action, self.copy_action, self.next_action, self.prev_action):
            a.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            edit.addAction(a)
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction(QAction("Search &syntax", self, triggered=self.show_query_help,
                                    shortcut=QKeySequence(QKeySequence.StandardKey.HelpContents)))
        help_menu.addAction(QAction("&About", self, triggered=self._about))

    def _build_shortcuts(self) -> None:
        for seq in ("Ctrl+K", "Ctrl+F", "Ctrl+L"):
            QShortcut(QKeySequence(seq), self, activated=self.focus_search)
        QShortcut(QKeySequence("Ctrl+Enter"), self, activated=self.reveal_current)
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self, activated=self._escape)

    def _build_tray(self) -> None:
        self.tray = QSystemTrayIcon(app_icon(), self)
        self.tray.setToolTip("Desktop Search")
        menu = QMenu(self)
        self.tray_search_action = menu.addAction("Search…", self.show_and_focus)
        menu.addAction("Pause / resume indexing", self.toggle_pause)
        menu.addSeparator()
        self.tray_quit_action = menu.addAction("Quit", self.quit)
        self.tray_menu = menu
        self.tray.setContextMenu(menu)
        self.tray.activated.connect(lambda reason: self.show_and_focus()
                                    if reason == QSystemTrayIcon.ActivationReason.Trigger else None)
        self.tray.show()

    # --- startup and status ----------------------------------------------------------------------
    def _startup(self) -> None:
        run_task(self._read_first_status, on_done=self._on_first_status, on_error=self._on_status_error)

    def _read_status(self) -> dict[str, Any]:
        status = self.service.status()
        status["folders"] = folder_counts(self.service)
        return status

    def _read_first_status(self) -> dict[str, Any]:
        status = self._read_status()
        status["damaged_parts"] = self.service.damaged_parts()  # checksums checked as segments load
        return status

    def _offer_repair(self, damaged: dict[str, str]) -> None:
        self.banner.show_message(
            "damaged", f"{len(damaged)} part(s) of the index are damaged and left out of search by meaning.",
            "Repair", self._repair)

    def _repair(self) -> None:
        def done(name: str, result: Any) -> None:
            if name != "repair":
                return
            self.indexer.job_done.disconnect(done)
            if result.get("consistent"):
                self.banner.clear("damaged")
                self.statusBar().showMessage("Index repaired", 8000)
            else:
                self.banner.show_message("damaged", "Repair did not finish: " + "; ".join(result.get("remaining", [])))
            self.searcher.refresh()

        self.indexer.job_done.connect(done)
        self.indexer.run_exclusive("repair", lambda: self.service.doctor(repair=True))

    def _on_status_error(self, exc: BaseException) -> None:
        self.status_label.setText(f"Could not read the index: {exc}")

    def _on_first_status(self, status: dict[str, Any]) -> None:
        self._apply_status(status)
        if status.get("damaged_parts"):
            self._offer_repair(status["damaged_parts"])
        has_roots = bool(status.get("folders"))
        self.stack.setCurrentWidget(self.main_page if has_roots else self.welcome)
        if has_roots:
            if self._load_model and status.get("model_state") in ("ready", "not downloaded"):
                self.model_loader.load()
            elif status.get("model_state") == "invalid":
                self._on_model_unavailable(status.get("model_error") or "invalid model")
            if self._index_on_start:
                self.indexer.start()
                self._watch_folders()
            self.focus_search()
        else:
            self._set_model_label("")
        gc.freeze()  # what start-up loaded lives as long as the app: keep it out of every collection
        self.started = True

    def refresh_status(self) -> None:
        run_task(self._read_status, on_done=self._apply_status, on_error=self._on_status_error)

    def _apply_status(self, status: dict[str, Any]) -> None:
        self._status = status
        folders = status.get("folders", [])
        current = self.folder_filter.currentData()
        self.folder_filter.blockSignals(True)
        self.folder_filter.clear()
        self.folder_filter.addItem("Any folder", "")
        for f in folders:
            self.folder_filter.addItem(os.path.basename(f["path"].rstrip(os.sep)) or f["path"], f["path"])
            self.folder_filter.setItemData(self.folder_filter.count() - 1, f["path"], Qt.ItemDataRole.ToolTipRole)
        i = self.folder_filter.findData(current)
        self.folder_filter.setCurrentIndex(max(0, i))
        self.folder_filter.blockSignals(False)
        if not self.indexer.indexing:
            files = status.get("indexed", 0) + status.get("pending", 0)
            text = f"{files:,} files in {len(folders)} folder(s)"
            if status.get("pending"):
                text += f" · {status['pending']:,} keyword-only so far"
            self.status_label.setText(text)
        failed = int(status.get("failed", 0))
        self.failed_btn.setText(f"{failed:,} could not be read")
        self.failed_btn.setVisible(failed > 0)
        self.status_refreshed.emit(status)

    def _set_model_label(self, text: str, busy: bool = False) -> None:
        self.model_label.setText(text)

    def _on_model_ready(self) -> None:
        # torch, transformers and Qt leave ~a million long-lived objects; a full collection walked them
        # all, 110-270 ms on the searching thread every ~8 queries (the p95 of search as you type).
        # Frozen, they are skipped by every later collection.
        gc.freeze()
        self._set_model_label("Meaning search ready")
        self.model_label.setToolTip("")
        self.searcher.set_semantic_ready(True)
        if self.model_loader.downloaded and self.indexer.encode:
            self.indexer.start()  # encode what was indexed keyword-only while the model downloaded

    def _on_model_unavailable(self, reason: str) -> None:
        self._set_model_label("Keyword search only")
        self.model_label.setToolTip(f"Semantic search is unavailable: {reason}")
        self._hide_download()
        if reason.startswith("could not download"):  # a network problem: worth another try
            self.download_btn.setText("Retry download")
            self.download_btn.show()

    # --- first-run model download ----------------------------------------------------------------
    def start_model_download(self) -> None:
        self.download_btn.hide()
        self.model_loader.load()

    def _hide_download(self) -> None:
        self.download_bar.hide()
        self.download_cancel_btn.hide()

    def _on_download_started(self, model: str) -> None:
        self.download_bar.setRange(0, 0)
        self.download_bar.setFormat("")
        self.download_bar.show()
        self.download_cancel_btn.show()
        self.download_btn.hide()
        self._set_model_label("Downloading the search model…")
        self.model_label.setToolTip(f"Downloading {model} once; keyword search works meanwhile, "
                                    "search by meaning starts when it is done")

    def _on_download_progress(self, p: Any) -> None:
        if p.total_bytes:
            self.download_bar.setRange(0, 1000)
            self.download_bar.setValue(int(1000 * (p.fraction or 0)))
            self.download_bar.setFormat(f"{_mb(p.done_bytes)} / {_mb(p.total_bytes)} MB")
            self._set_model_label(f"Downloading the search model · {_mb(p.done_bytes)} of {_mb(p.total_bytes)} MB")
        else:
            self.download_bar.setRange(0, 0)
            self._set_model_label(f"Downloading the search model · {_mb(p.done_bytes)} MB")

    def _on_download_finished(self) -> None:
        self._hide_download()
        self._set_model_label("Loading the search model…")
        self.statusBar().showMessage("Search model downloaded", 5000)

    def _on_download_cancelled(self) -> None:
        self._hide_download()
        self.download_btn.setText("Download model")
        self.download_btn.show()
        self._set_model_label("Keyword search only")
        self.model_label.setToolTip("The model download was cancelled. What was downloaded is kept; "
                                    "“Download model” resumes it.")
        self.statusBar().showMessage("Model download cancelled; keyword search still works", 8000)

    # --- searching -------------------------------------------------------------------------------
    def composed_query(self) -> str:
        parts = [self.search.text().strip()]
        if self.type_filter.currentData():
            parts.append(self.type_filter.currentData())
        folder = self.folder_filter.currentData()
        if folder:
            parts.append(f'dir:"{folder}"' if " " in folder else f"dir:{folder}")
        date = date_token(self.date_filter.currentText())
        if date:
            parts.append(date)
        return " ".join(p for p in parts if p)

    def _on_text_changed(self, _: str) -> None:
        self.searcher.set_query(self.composed_query() if self.search.text().strip() else "")

    def _on_filters_changed(self, *_: Any) -> None:
        tokens = [t for t in (self.type_filter.currentData(), self.folder_filter.currentData() and "dir:…",
                              date_token(self.date_filter.currentText())) if t]
        self.filter_bar.setToolTip("Adds to the search: " + " ".join(tokens) if tokens else "")
        if self.search.text().strip():
            self.searcher.set_query(self.composed_query())

    def _on_cleared(self) -> None:
        self.results_model.clear()
        self.summary.clear()
        self.empty.hide()
        self.results.show()
        self.preview.clear()

    def _on_results(self, outcome: SearchOutcome) -> None:
        response = outcome.response
        keep = self.current_path()
        more = outcome.final and len(response.results) >= self.searcher.limit
        self.results_model.set_results(response.results, outcome.query, outcome.mode, more_possible=more)
        row = self.results_model.row_of(keep) if keep else -1
        if row < 0 and self.results_model.rowCount() and keep is None:
            row = 0
        if row >= 0:
            index = self.results_model.index(row)
            flags = QItemSelectionModel.SelectionFlag.ClearAndSelect
            self._auto_selecting = not outcome.final
            try:
                self.results.selectionModel().setCurrentIndex(index, flags)
            finally:
                self._auto_selecting = False
            self.results.scrollTo(index)
        elif keep:
            self.preview.clear()
        if outcome.final:
            self._load_pending_preview()
        elif self._preview_pending:
            self._preview_fallback.start()
        n = len(response.results)
        kind = {"keyword": "keyword matches" + ("" if outcome.final else " (ranking by meaning…)"),
                "hybrid": "by meaning and keyword", "semantic": "by meaning"}.get(outcome.mode, outcome.mode)
        tail = f" · {kind} · {response.took_ms:.0f} ms"
        if response.notice and response.notice != "cancelled":
            tail += f" · {response.notice}"
        self._summary_tail = tail
        self._show_summary()
        has = n > 0
        self.results.setVisible(has)
        self.empty.setVisible(not has)
        if not has:
            self.empty.setText(f"No files match “{self.search.text().strip()}”."
                               + ("" if outcome.final else "\nStill looking by meaning…")
                               + ("\nTry other words, or fewer filters." if outcome.final else ""))
            self.preview.clear("No result selected.")

    def _on_more_results(self, outcome: SearchOutcome) -> None:
        more = len(outcome.response.results) >= outcome.limit
        self.results_model.append_results(outcome.response.results, outcome.query, more)
        self._show_summary()

    def _show_summary(self) -> None:
        n = self.results_model.rowCount()
        more = "+" if self.results_model.more_possible else ""  # a first page: scrolling brings more
        self.summary.setText(f"{n}{more} result{'s' if n != 1 or more else ''}{self._summary_tail}")

    def _on_search_failed(self, _: int, message: str) -> None:
        self.summary.setText(f"Search problem: {message}")

    def current_result(self) -> Any:
        index = self.results.currentIndex()
        return self.results_model.result(index.row()) if index.isValid() else None

    def current_path(self) -> str | None:
        r = self.current_result()
        return r.path if r is not None else None

    def move_selection(self, step: int) -> None:
        n = self.results_model.rowCount()
        if not n:
            return
        row = self.results.currentIndex().row()
        row = 0 if row < 0 else max(0, min(n - 1, row + step))
        index = self.results_model.index(row)
        self.results.selectionModel().setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self.results.scrollTo(index)

    # --- preview ---------------------------------------------------------------------------------
    def _load_pending_preview(self) -> None:
        self._preview_fallback.stop()
        if self._preview_pending:
            self._preview_pending = False
            self._on_current_changed(self.results.currentIndex(), QModelIndex())

    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        result = self.results_model.result(current.row()) if current.isValid() else None
        if result is None:
            return
        self._preview_pending = self._auto_selecting
        if self._auto_selecting:
            return
        query = self.results_model.query
        if self.preview.data and self.preview.data.path == result.path and getattr(self, "_preview_query", "") == query:
            return  # same file, same query: keep the reader's place
        self._preview_query = query
        self._preview_token += 1
        token = self._preview_token
        self.preview.show_loading(result.path)
        run_task(lambda: load_preview(self.service, result, query),
                 on_done=lambda data: self._show_preview(token, data),
                 on_error=lambda exc: self._show_preview(token, PreviewData(result.path, "", error=str(exc))),
                 pool=self._preview_pool)

    def _show_preview(self, token: int, data: PreviewData) -> None:
        if token != self._preview_token:
            return
        self.preview.show_data(data)
        self.preview_shown.emit(data.path)

    # --- actions ---------------------------------------------------------------------------------
    def open_current(self) -> None:
        path = self.current_path()
        if path:
            if not desktop.open_path(path):
                self.statusBar().showMessage(f"No application could open {path}", 5000)

    def reveal_current(self) -> None:
        path = self.current_path()
        if path:
            desktop.show_in_folder(path)

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

    def _escape(self) -> None:
        if self.search.text():
            self.search.clear()
        self.search.setFocus()

    def show_and_focus(self) -> None:
        self.showNormal()
        self.raise_()
        self.activateWindow()
        self.focus_search()

    def show_query_help(self) -> None:
        self.help_popover.show_below(self.help_btn)

    def _result_menu(self, pos: Any) -> None:
        if not self.results.indexAt(pos).isValid():
            return
        menu = QMenu(self)
        menu.addAction("Open", self.open_current)
        menu.addAction("Show in folder", self.reveal_current)
        menu.addAction("Copy path", self.copy_current_path)
        menu.exec(self.results.viewport().mapToGlobal(pos))

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if obj is self.results and event.type() == QEvent.Type.KeyPress:
            key = event.key()  # type: ignore[attr-defined]
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                if event.modifiers() & Qt.KeyboardModifier.ControlModifier:  # type: ignore[attr-defined]
                    self.reveal_current()
                else:
                    self.open_current()
                return True
            text = event.text()  # type: ignore[attr-defined]
            if text and text.isprintable() and not event.modifiers() & ~Qt.KeyboardModifier.ShiftModifier:  # type: ignore[attr-defined]
                self.search.setFocus()  # typing in the list goes on in the search field
                self.search.setText(self.search.text() + text)
                return True
        return super().eventFilter(obj, event)

    # --- folders and indexing --------------------------------------------------------------------
    def choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Choose a folder to index", os.path.expanduser("~"))
        if path:
            self.add_folders([path])

    def add_folders(self, paths: list[str]) -> None:
        """Watch ``paths`` and start indexing them (adding the roots runs off the UI thread too)."""
        self.stack.setCurrentWidget(self.main_page)
        self.status_label.setText("Adding folder…")

        def added(_: Any) -> None:
            self.refresh_status()
            if self._load_model:
                self.model_loader.load()
            self.indexer.start()
            self._watch_folders()
            self.focus_search()

        run_task(lambda: self.service.add_roots(paths), on_done=added,
                 on_error=lambda exc: self._warn("Could not add the folder", exc))

    def _release_idle(self) -> None:  # on a worker thread
        self.service.release_model_if_idle()
        self.service.release_idle_workers()

    def _watch_folders(self) -> None:
        def start() -> None:  # off the UI thread: a watch per subfolder takes a while on big trees
            self.monitor.rules = self.service.rules()
            self.monitor.start(self.service.roots())

        run_task(start)

    def remove_folder(self, path: str) -> None:
        self.indexer.run_exclusive("remove", lambda: self.service.remove([path]))
        self._watch_folders()
        self.indexer.start()  # the cancelled run (if any) picks up where it stopped

    def retry_failed(self, paths: list[str]) -> None:
        self.indexer.run_exclusive("retry", lambda: self.service.retry_failed(paths), cancel_current=False)
        self.indexer.start()

    def save_settings(self, values: dict[str, Any]) -> None:
        model = values.get("model") or None
        if model != self.service.model_choice():  # an explicit switch, recorded in the catalog
            self.switch_model(model)
        if "pause_on_battery" in values:
            self.qsettings.setValue("pause_on_battery", bool(values["pause_on_battery"]))
            self.battery.set_enabled(bool(values["pause_on_battery"]))
        if "start_at_login" in values and bool(values["start_at_login"]) != autostart.is_enabled():
            try:
                autostart.set_enabled(bool(values["start_at_login"]), autostart.launch_command(self.service.data_dir))
            except OSError as exc:
                self._warn("Could not change the start at login setting", exc)
        settings = self.service.settings
        settings.context_length = int(values["context_length"])
        settings.threads = int(values["threads"])
        if values.get("max_file_bytes"):
            settings.max_file_bytes = int(values["max_file_bytes"])  # the next index run reads with it
        if "exclusions" in values:
            self.set_exclusions(values["exclusions"], bool(values.get("gitignore")))
        run_task(lambda: self.service.save_settings(settings),
                 on_done=lambda _: self.statusBar().showMessage("Settings saved; they apply at the next start", 5000),
                 on_error=lambda exc: self._warn("Could not save the settings", exc))

    def switch_model(self, model: str | None) -> None:
        """Make ``model`` (a folder; None: the default) the index's model; files encoded by another
        model are re-encoded in the background (meaning search covers the ones done so far)."""

        def switched(result: dict[str, Any]) -> None:
            self.statusBar().showMessage(
                f"Model is now {result['model']}: {result['files_to_encode']:,} file(s) will be re-encoded", 15000)
            self.refresh_status()
            if self._load_model:
                self.model_loader.load()
            self.indexer.start()

        run_task(lambda: self.service.switch_model(model), on_done=switched,
                 on_error=lambda exc: self._warn("Could not switch the model", exc))

    def set_exclusions(self, patterns: list[str], gitignore: bool) -> None:
        """New global exclusion patterns: stored, then a full reconcile drops what they leave out and reads
        what they let in; the watcher restarts with the new rules."""
        def apply() -> None:
            self.service.set_exclusions(patterns)
            self.service.set_gitignore(gitignore)

        def applied(name: str, _: Any) -> None:
            if name == "exclusions":
                self.indexer.job_done.disconnect(applied)
                self._watch_folders()
                self.indexer.start()

        self.indexer.job_done.connect(applied)
        self.indexer.run_exclusive("exclusions", apply)

    def show_folders(self) -> FoldersDialog:
        dialog = FoldersDialog(self.service, self.service.model_choice(), self,
                               pause_on_battery=self.pause_on_battery_setting(), start_at_login=autostart.is_enabled())
        dialog.add_requested.connect(lambda p: self.add_folders([p]))
        dialog.remove_requested.connect(self.remove_folder)
        dialog.settings_saved.connect(self.save_settings)
        self.status_refreshed.connect(lambda _: dialog.refresh() if dialog.isVisible() else None)
        self.folders_dialog = dialog
        dialog.show()
        return dialog

    def show_failed(self) -> FailedDialog:
        dialog = FailedDialog(self.service, self)
        dialog.retry_requested.connect(self.retry_failed)
        dialog.retry_requested.connect(lambda _: dialog.accept())
        self.failed_dialog = dialog
        dialog.show()
        return dialog

    def toggle_pause(self) -> None:
        if self.indexer.paused:
            self.indexer.resume()
        else:
            self.indexer.pause()

    def _on_index_started(self) -> None:
        self._index_started = time.monotonic()
        self.status_label.setText((self._pause_prefix() if self.indexer.paused else "") + "Indexing…")
        self.progress.setRange(0, 0)
        self.progress.show()
        self.pause_btn.show()
        self.cancel_btn.show()
        self.reindex_action.setEnabled(False)

    def _on_progress(self, p: Any) -> None:
        phase = PHASES.get(p.phase, p.phase)
        if p.phase == "done":
            return
        if p.total:
            self.progress.setRange(0, p.total)
            self.progress.setValue(p.done)
            self.progress.setFormat(f"{p.done:,} / {p.total:,}")
            text = f"{phase} {p.done:,} of {p.total:,} files"
        else:
            self.progress.setRange(0, 0)
            text = f"{phase}… {p.done:,} files found" if p.phase == "scan" else f"{phase}…"
        if p.eta_s is not None and p.eta_s > 1:
            text += f" · about {_duration(p.eta_s)} left"
        if self.indexer.paused:
            text = self._pause_prefix() + text
        self.status_label.setText(text)
        current = p.current or p.message or ""
        self.current_file.setText(self.current_file.fontMetrics().elidedText(
            current, Qt.TextElideMode.ElideMiddle, max(120, self.current_file.width())))
        self.current_file.setToolTip(current)
        if self.tray is not None:
            self.tray.setToolTip(f"Desktop Search — {text}")
        if p.phase == "encode" and getattr(self, "_last_phase", "") == "extract":
            self.searcher.refresh()  # the new files are keyword-searchable now
        self._last_phase = p.phase

    def _index_ended(self, message: str) -> None:
        self.progress.hide()
        self.pause_btn.hide()
        self.cancel_btn.hide()
        self.current_file.clear()
        self.reindex_action.setEnabled(True)
        self._last_phase = ""
        if self.tray is not None:
            self.tray.setToolTip("Desktop Search")
        self.statusBar().showMessage(message, 8000)
        self.refresh_status()
        self.searcher.refresh()

    def _on_index_finished(self, report: Any) -> None:
        self.banner.clear("disk-full")
        took = time.monotonic() - getattr(self, "_index_started", time.monotonic())
        msg = (f"Index up to date ({report.new} new, {report.changed} changed, {report.deleted} removed"
               f"{f', {report.failed} unreadable' if report.failed else ''}) in {_duration(took)}")
        if not report.semantic and self.indexer.encode:
            if self.model_loader.state in ("downloading", "loading"):
                msg += " · search by meaning follows once the model is ready"
            else:
                msg += " · meaning search unavailable, keyword search works"
        self.last_report = report
        self._index_ended(msg)

    def _on_index_cancelled(self) -> None:
        self._index_ended("Indexing stopped; it resumes where it stopped next time")

    def _on_index_failed(self, message: str) -> None:
        self._index_ended(message)
        self.status_label.setText(message)
        from desktop_search.core.service import DiskFull

        if isinstance(self.indexer.last_error, DiskFull) or "is full" in message:
            # nothing committed is lost; try again every minute until space returns
            self.banner.show_message("disk-full", message)
            QTimer.singleShot(60_000, self.indexer.start)

    def _on_paused(self, paused: bool) -> None:
        self.pause_btn.setText("Resume" if paused else "Pause")
        self.pause_btn.setAccessibleName("Resume indexing" if paused else "Pause indexing")
        text = self.status_label.text().removeprefix("Paused on battery · ").removeprefix("Paused · ")
        self.status_label.setText((self._pause_prefix() if paused else "") + text)

    def _pause_prefix(self) -> str:
        return "Paused on battery · " if self.battery.paused_by_battery else "Paused · "

    def pause_on_battery_setting(self) -> bool:
        return bool(self.qsettings.value("pause_on_battery", False, type=bool))

    def _on_battery_pause(self, paused: bool) -> None:
        if paused:
            self.statusBar().showMessage("On battery power: indexing is paused until the computer is plugged in",
                                         8000)
        elif not self.indexer.paused:
            self.statusBar().showMessage("Indexing resumed", 4000)

    # --- misc ------------------------------------------------------------------------------------
    def _warn(self, title: str, exc: BaseException) -> None:
        self.statusBar().showMessage(f"{title}: {exc}", 10000)
        if not self.started:
            return
        box = QMessageBox(QMessageBox.Icon.Warning, title, str(exc), QMessageBox.StandardButton.Ok, self)
        box.setModal(False)
        box.show()

    def _about(self) -> None:
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
            if not self._told_about_tray:
                self._told_about_tray = True
                self.tray.showMessage("Desktop Search", "Still keeping your index up to date here. "
                                      "Choose Quit from this icon's menu to stop.",
                                      QSystemTrayIcon.MessageIcon.Information, 5000)
            return
        self.shutdown()
        super().closeEvent(event)
        if self.tray is not None:
            self.tray.hide()

    def shutdown(self) -> None:
        """Stop background work (indexing stops at its next safe point)."""
        self.battery.set_enabled(False)
        self._idle_timer.stop()
        self.monitor.stop()
        self.searcher.shutdown()
        self.indexer.shutdown()
        self._preview_pool.waitForDone(3000)
        self.model_loader.shutdown(1000)
        QThreadPool.globalInstance().waitForDone(3000)
