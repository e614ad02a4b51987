"""The main window over a real Service (keyword-only unless a test builds the tiny model)."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from gui_helpers import search
from PySide6.QtCore import Qt, QTimer, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QComboBox,
    QLineEdit,
    QListView,
    QPlainTextEdit,
    QWidget,
)

from desktop_search.core.indexer import Progress
from desktop_search.gui import desktop
from desktop_search.gui.results import HighlightsRole, PathRole, SnippetRole


def indexed(make_service: Any, docs: Path) -> Any:
    service = make_service()
    service.index([str(docs)], encode=False)
    return service


def test_typing_shows_ranked_results(qtbot: Any, make_service: Any, make_window: Any, docs: Path) -> None:
    window = make_window(indexed(make_service, docs))
    search(qtbot, window, "magma eruption")
    model = window.results_model
    top = model.index(0)
    assert os.path.basename(top.data(PathRole)) == "volcanoes.md"
    snippet, spans = top.data(SnippetRole), top.data(HighlightsRole)
    assert spans and any(snippet[s:e].lower() == "magma" for s, e in spans)
    assert "result" in window.results_panel.summary.text()
    # the first result is selected and previewed without touching the mouse
    qtbot.waitUntil(lambda: window.preview.data is not None, timeout=5000)
    assert window.preview.data.path.endswith("volcanoes.md")


def test_typing_is_debounced(qtbot: Any, make_service: Any, make_window: Any, docs: Path) -> None:
    service = indexed(make_service, docs)
    calls: list[str] = []
    real = service.search_stages

    def counting(query: str, **kw: Any) -> Any:
        calls.append(query)
        return real(query, **kw)

    service.search_stages = counting
    window = make_window(service)
    search(qtbot, window, "sourdough")
    assert calls == ["sourdough"]  # one search for seven keystrokes


def test_newer_query_cancels_older(qtbot: Any, make_service: Any, make_window: Any, docs: Path) -> None:
    service = indexed(make_service, docs)
    real = service.search_stages
    first_started, release = threading.Event(), threading.Event()
    seen_stop: list[bool] = []

    def slow_first(query: str, should_stop: Any = None, **kw: Any) -> Any:
        if query == "jupiter":
            first_started.set()
            release.wait(5)
            seen_stop.append(should_stop())
        return real(query, should_stop=should_stop, **kw)

    service.search_stages = slow_first
    window = make_window(service)
    window.search.setText("jupiter")
    qtbot.waitUntil(first_started.is_set, timeout=3000)
    window.search.setText("knitting")  # newer query while the older one is still running
    release.set()
    qtbot.waitUntil(lambda: window.results_model.query == "knitting", timeout=5000)
    assert seen_stop == [True]  # the older search was told to stop
    qtbot.waitUntil(lambda: window.searcher.stale >= 1, timeout=3000)  # and its results were dropped
    qtbot.wait(50)
    assert window.results_model.query == "knitting"
    assert os.path.basename(window.results_model.index(0).data(PathRole)) == "knitting-scarf.md"


def test_scrolling_to_the_end_loads_more_results(qtbot: Any, make_service: Any, make_window: Any,
                                                 tmp_path: Path) -> None:
    """Typing waits only for a first page; scrolling to its end appends the next results, once each."""
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(45):
        (folder / f"note-{i:02d}.txt").write_text(f"Harbour log {i}: the ferry crossed at dawn, calm water.\n")
    service = make_service()
    service.index([str(folder)], encode=False)
    window = make_window(service)
    search(qtbot, window, "ferry")
    model = window.results_model
    qtbot.waitUntil(lambda: model.rowCount() == window.searcher.limit, timeout=5000)
    assert model.canFetchMore()
    assert window.results_panel.summary.text().startswith(f"{window.searcher.limit}+ results")  # a first page, not all
    window.results.scrollToBottom()  # the view calls fetchMore at the end of the list
    qtbot.waitUntil(lambda: model.rowCount() == 45, timeout=5000)
    assert not model.canFetchMore()  # fewer came back than asked for: nothing more to fetch
    paths = [model.index(i).data(PathRole) for i in range(model.rowCount())]
    assert len(set(paths)) == 45
    assert window.results_panel.summary.text().startswith("45 results")


def test_selection_shows_preview_with_highlights(qtbot: Any, make_service: Any, make_window: Any,
                                                 docs: Path) -> None:
    window = make_window(indexed(make_service, docs))
    shown: list[str] = []
    window.preview_shown.connect(shown.append)
    search(qtbot, window, "inverter")
    qtbot.waitUntil(lambda: bool(shown), timeout=5000)
    assert shown[0].endswith("solar-panels.md")
    pane = window.preview
    assert len(pane.data.hits) >= 2
    assert len(pane.text.extraSelections()) == len(pane.data.hits)
    assert pane.current_hit_text().lower() == "inverter"
    start = pane.data.hits[pane.current][0]
    assert pane.text.textCursor().position() == start  # the view is on the current hit
    formats = [sel.format.background().color().name() for sel in pane.text.extraSelections()]
    assert len(set(formats)) == 2 and formats.count(formats[pane.current]) == 1  # current hit stands out
    assert "hit 1 of" in pane.location.text()


def test_next_hit_moves(qtbot: Any, make_service: Any, make_window: Any, docs: Path) -> None:
    window = make_window(indexed(make_service, docs))
    search(qtbot, window, "lighthouse")
    qtbot.waitUntil(lambda: window.preview.data is not None and window.preview.data.path.endswith("lighthouse.txt"),
                    timeout=5000)
    pane = window.preview
    n = len(pane.data.hits)
    assert n == 5
    assert pane.current == 0
    window.results.setFocus()
    qtbot.keyClick(window.results, Qt.Key.Key_F3)
    assert pane.current == 1
    assert "Section 2" in pane.text.textCursor().block().text()
    assert "hit 2 of 5" in pane.location.text()
    qtbot.keyClick(window.results, Qt.Key.Key_F3, Qt.KeyboardModifier.ShiftModifier)
    assert pane.current == 0
    qtbot.keyClick(window.results, Qt.Key.Key_F3, Qt.KeyboardModifier.ShiftModifier)
    assert pane.current == n - 1  # wraps around


def test_open_and_show_in_folder_reach_the_os(qtbot: Any, make_service: Any, make_window: Any, docs: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[QUrl] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", staticmethod(lambda url: opened.append(url) or True))
    ran: list[list[str]] = []
    monkeypatch.setattr(desktop.shutil, "which", lambda name: "/usr/bin/dbus-send")
    monkeypatch.setattr(desktop.subprocess, "run",
                        lambda cmd, **kw: ran.append(cmd) or subprocess.CompletedProcess(cmd, 0))
    monkeypatch.setattr(desktop.sys, "platform", "linux")
    window = make_window(indexed(make_service, docs))
    search(qtbot, window, "invoice")
    target = window.current_path()
    assert target and target.endswith("invoice-2024-031.txt")

    qtbot.keyClick(window.search, Qt.Key.Key_Return)  # Enter opens with the default app
    assert [u.toLocalFile() for u in opened] == [target]

    window.results.setFocus()
    qtbot.keyClick(window.results, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)  # Ctrl+Enter reveals
    assert len(ran) == 1 and "org.freedesktop.FileManager1.ShowItems" in ran[0]
    assert QUrl.fromLocalFile(target).toString() in " ".join(ran[0])

    window.results.doubleClicked.emit(window.results.currentIndex())
    assert len(opened) == 2

    window.copy_current_path()
    assert QGuiApplication.clipboard().text() == target


def test_show_in_folder_falls_back_to_the_folder(monkeypatch: pytest.MonkeyPatch, qtbot: Any) -> None:
    opened: list[QUrl] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", staticmethod(lambda url: opened.append(url) or True))
    monkeypatch.setattr(desktop.shutil, "which", lambda name: None)
    monkeypatch.setattr(desktop.sys, "platform", "linux")
    assert desktop.show_in_folder("/some/where/file.txt")
    assert opened[0].toLocalFile() == "/some/where"


def test_first_run_welcome_then_adding_a_folder_indexes(qtbot: Any, make_service: Any, make_window: Any,
                                                       docs: Path) -> None:
    window = make_window(make_service())
    assert window.stack.currentWidget() is window.welcome
    updates: list[Any] = []
    window.indexer.progress.connect(updates.append)
    with qtbot.waitSignal(window.indexer.finished, timeout=20000) as blocker:
        window.welcome.use_folder.emit(str(docs))  # the "Index Documents" button, pointed at our folder
    report = blocker.args[0]
    assert report.new == 8
    assert window.stack.currentWidget() is window.main_page
    phases = {p.phase for p in updates}
    assert {"extract", "done"} <= phases  # (scan reports only when it takes over half a second)
    assert any(p.total == 8 for p in updates if p.phase == "extract")
    qtbot.waitUntil(lambda: "8 files in 1 folder" in window.index_status.label.text(), timeout=5000)
    assert window.index_status.progress.isHidden() and window.index_status.pause_btn.isHidden()
    search(qtbot, window, "marathon")


def test_progress_is_shown_while_indexing(qtbot: Any, make_service: Any, make_window: Any, docs: Path) -> None:
    from desktop_search.core.indexer import Progress

    window = make_window(make_service())
    window.index_status.on_started()
    window.index_status.on_progress(Progress("extract", 120, 480, "/home/me/Documents/report.pdf", eta_s=95))
    bar = window.index_status.progress
    assert bar.isVisible() and bar.maximum() == 480 and bar.value() == 120
    assert "Reading 120 of 480 files" in window.index_status.label.text()
    assert "1 min 35 s left" in window.index_status.label.text()
    assert "report.pdf" in window.index_status.current_file.text()
    assert window.index_status.pause_btn.isVisible() and window.index_status.cancel_btn.isVisible()


def test_pause_then_cancel_and_resume(qtbot: Any, make_service: Any, make_window: Any, docs: Path) -> None:
    service = make_service()
    service.add_roots([str(docs)])
    window = make_window(service)
    window.toggle_pause()
    assert window.index_status.pause_btn.text() == "Resume"
    with qtbot.waitSignal(window.indexer.cancelled, timeout=10000):
        window.indexer.start()
        qtbot.wait(300)  # paused: nothing finishes however long we wait
        assert window.indexer.indexing
        window.index_status.cancel_btn.click()
    assert window.indexer.running is False
    assert not window.indexer.paused
    with qtbot.waitSignal(window.indexer.finished, timeout=10000):
        window.toggle_pause()
        window.indexer.start()
        window.toggle_pause()  # resume
    assert service.status()["pending"] == 8


def test_failed_view_lists_reasons_and_retries(qtbot: Any, make_service: Any, make_window: Any, docs: Path) -> None:
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4\nthis is not really a pdf\n%%EOF\n")
    (docs / "broken.docx").write_bytes(b"PK\x03\x04 not a zip")
    service = indexed(make_service, docs)
    window = make_window(service)
    window.refresh_status()
    qtbot.waitUntil(lambda: window.index_status.failed_btn.isVisible(), timeout=5000)
    assert window.index_status.failed_btn.text().startswith("2 ")
    dialog = window.show_failed()
    qtbot.waitUntil(lambda: dialog.loaded, timeout=5000)
    reasons = dialog.reasons()
    assert set(map(os.path.basename, reasons)) == {"broken.pdf", "broken.docx"}
    assert all(r.strip() for r in reasons.values())
    before = {r["path"]: r["failed_at"] for r in service.failed()}
    dialog.table.selectRow(0)
    with qtbot.waitSignal(window.indexer.finished, timeout=20000):
        dialog.retry_btn.click()
    after = {r["path"]: r["failed_at"] for r in service.failed()}
    retried = dialog.model.item(0, 0).text()
    assert after[retried] > before[retried]  # read again (and still broken)
    others = [p for p in before if p != retried]
    assert all(after[p] == before[p] for p in others)


def test_folders_dialog_counts_add_and_remove(qtbot: Any, make_service: Any, make_window: Any, docs: Path,
                                              tmp_path: Path) -> None:
    service = indexed(make_service, docs)
    other = tmp_path / "other"
    other.mkdir()
    (other / "note.txt").write_text("A short note about tulips in spring.")
    window = make_window(service)
    dialog = window.show_folders()
    qtbot.waitUntil(lambda: dialog.loaded, timeout=5000)
    assert dialog.folders.count() == 1
    assert "8 files" in dialog.folders.item(0).text()
    with qtbot.waitSignal(window.indexer.finished, timeout=20000):
        dialog.add_requested.emit(str(other))
    qtbot.waitUntil(lambda: dialog.folders.count() == 2 and "1 files" in dialog.folders.item(1).text(),
                    timeout=5000)
    dialog.folders.setCurrentRow(0)
    with qtbot.waitSignal(window.indexer.finished, timeout=20000):
        dialog.remove_btn.click()
    qtbot.waitUntil(lambda: dialog.folders.count() == 1, timeout=5000)
    assert service.roots() == [str(other)]
    assert service.status()["pending"] == 1


def test_settings_are_saved(qtbot: Any, make_service: Any, make_window: Any, tmp_path: Path,
                            tiny_model: Path) -> None:
    service = make_service()
    window = make_window(service)
    dialog = window.show_folders()
    dialog.context.setValue(1024)
    dialog.threads.setValue(2)
    dialog.local_model.setChecked(True)
    dialog.model_path.setText(str(tiny_model))
    dialog.findChild(type(dialog.add_btn), "")  # noqa: B018 - the dialog is fully built
    dialog._save()
    qtbot.waitUntil(lambda: service.reader().load_settings().context_length == 1024, timeout=5000)
    assert service.reader().load_settings().threads == 2
    # the model is the catalog's, one setting for the window and the command line (an explicit switch)
    qtbot.waitUntil(lambda: service.model_choice() == str(tiny_model), timeout=10000)
    assert window.qsettings.value("model") is None
    assert window.show_folders().model_path.text() == str(tiny_model)


def test_results_model_passes_qtmodeltester(qtmodeltester: Any, make_service: Any, docs: Path) -> None:
    from desktop_search.gui.results import ResultsModel

    service = indexed(make_service, docs)
    model = ResultsModel()
    model.set_results(service.search("the", limit=20, mode="keyword").results, "the", "keyword")
    assert model.rowCount() > 3
    qtmodeltester.check(model)
    names = model.roleNames()
    assert {bytes(v) for v in names.values()} >= {b"path", b"title", b"snippet", b"highlights", b"score"}


def test_keyboard_conventions(qtbot: Any, make_service: Any, make_window: Any, docs: Path) -> None:
    window = make_window(indexed(make_service, docs))
    search(qtbot, window, "the")
    assert window.results.currentIndex().row() == 0
    qtbot.keyClick(window.search, Qt.Key.Key_Down)  # arrows move the selection from the search field
    assert window.results.currentIndex().row() == 1
    qtbot.keyClick(window.search, Qt.Key.Key_Up)
    assert window.results.currentIndex().row() == 0
    window.results.setFocus()
    qtbot.keyClick(window.results, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    assert window.search.hasFocus() or QGuiApplication.focusObject() is window.search
    assert window.search.selectedText() == "the"
    qtbot.keyClick(window.search, Qt.Key.Key_Escape)  # Esc clears
    assert window.search.text() == ""
    qtbot.waitUntil(lambda: window.results_model.rowCount() == 0, timeout=3000)
    window.results.setFocus()
    qtbot.keyClick(window.results, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert QGuiApplication.focusObject() is window.search


def test_filters_map_onto_query_syntax(qtbot: Any, make_service: Any, make_window: Any, docs: Path) -> None:
    from desktop_search.gui.search_bar import date_token

    window = make_window(indexed(make_service, docs))
    qtbot.waitUntil(lambda: window.search_bar.folder_filter.count() == 2, timeout=5000)
    window.search.setText("the")
    window.search_bar.type_filter.setCurrentIndex(window.search_bar.type_filter.findText("Text / Markdown"))
    window.search_bar.folder_filter.setCurrentIndex(1)
    window.search_bar.date_filter.setCurrentText("This year")
    q = window.composed_query()
    assert q.startswith("the ext:txt,md") and f"dir:{docs}" in q and "date:" in q
    window.search_bar.date_filter.setCurrentText("Any time")
    window.search_bar.type_filter.setCurrentIndex(window.search_bar.type_filter.findText("PDF"))
    empty = window.results_panel.empty
    qtbot.waitUntil(lambda: "ext:pdf" in window.results_model.query or empty.isVisible(), timeout=5000)
    qtbot.waitUntil(lambda: window.results_panel.empty.isVisible(), timeout=5000)  # no PDFs among the samples
    import datetime as dt

    assert date_token("Last year", dt.date(2025, 5, 1)) == "date:2024"
    assert date_token("Past week", dt.date(2025, 5, 8)) == "date:>2025-05-01"


def test_query_help_popover(qtbot: Any, make_service: Any, make_window: Any) -> None:
    window = make_window(make_service())
    window.stack.setCurrentWidget(window.main_page)
    window.search_bar.help_btn.click()
    qtbot.waitUntil(window.search_bar.help_popover.isVisible, timeout=2000)
    text = window.search_bar.help_popover.findChild(type(window.results_panel.summary)).text()
    for token in ("ext:pdf", "dir:", "date:2024", "size:", "-draft", "exact phrase"):
        assert token in text


def test_every_control_has_an_accessible_name(qtbot: Any, make_service: Any, make_window: Any,
                                              docs: Path) -> None:
    window = make_window(indexed(make_service, docs))
    window.stack.setCurrentWidget(window.main_page)
    dialogs = [window.show_folders(), window.show_failed()]
    unnamed = []
    for top in [window, *dialogs]:
        for w in top.findChildren(QWidget):
            if not isinstance(w, QAbstractButton | QLineEdit | QComboBox | QListView | QPlainTextEdit):
                continue
            if w.objectName().startswith("qt_") or _inside(w, (QComboBox, QAbstractSpinBox, QLineEdit)):
                continue  # internals of a composite control, named by the control itself
            name = w.accessibleName() or (w.text() if isinstance(w, QAbstractButton) else "")
            if not name.strip():
                unnamed.append(f"{type(w).__name__} {w.objectName()} in {type(w.parentWidget()).__name__}")
    assert not unnamed


def _inside(w: QWidget, kinds: tuple[type, ...]) -> bool:
    parent = w.parentWidget()
    while parent is not None:
        if isinstance(parent, kinds):
            return True
        parent = parent.parentWidget()
    return False


def test_indexing_and_searching_run_off_the_ui_thread(qtbot: Any, make_service: Any, make_window: Any,
                                                      docs: Path) -> None:
    """While an index run is held on its thread, the window still searches, previews and shows progress.

    (How long the event loop may pause is measured, not asserted: tests/benchmarks/bench_ui_stall.py.)
    """
    service = indexed(make_service, docs)
    ui = threading.get_ident()
    threads: dict[str, int] = {}
    hold = threading.Event()
    real_index, real_stages = service.index, service.search_stages

    def held_index(*args: Any, **kw: Any) -> Any:
        threads["index"] = threading.get_ident()
        kw["progress"](Progress("extract", 1, 8, "held.txt"))
        hold.wait(30)
        return real_index(*args, **kw)

    def stages(*args: Any, **kw: Any) -> Any:
        threads.setdefault("search", threading.get_ident())
        return real_stages(*args, **kw)

    service.index, service.search_stages = held_index, stages
    window = make_window(service)
    window.indexer.start()
    qtbot.waitUntil(lambda: "index" in threads, timeout=10000)
    qtbot.waitUntil(lambda: "Reading 1 of 8" in window.index_status.label.text(), timeout=5000)
    search(qtbot, window, "magma")  # the run is still held: the UI thread is free
    qtbot.waitUntil(lambda: window.preview.data is not None, timeout=5000)
    assert window.indexer.indexing and not hold.is_set()
    with qtbot.waitSignal(window.indexer.finished, timeout=20000):
        hold.set()
    assert threads["index"] != ui and threads["search"] != ui


def test_run_app_shows_the_window_then_quits(qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse

    from PySide6.QtWidgets import QApplication

    from desktop_search import gui
    from desktop_search.gui.window import MainWindow

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    args = argparse.Namespace(data_dir=str(tmp_path / "appdata"), model=str(tmp_path / "missing-model"),
                              context_length=None, threads=None)
    seen: list[Any] = []

    def close_soon() -> None:
        windows = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
        if windows and windows[0].started:
            seen.append(time.monotonic())
            windows[0].quit()
        else:
            QTimer.singleShot(20, close_soon)

    QTimer.singleShot(0, close_soon)
    assert gui.run_app(args) == 0
    assert seen


def test_hybrid_ranking_replaces_keyword_results_keeping_the_selection(
        qtbot: Any, make_service: Any, make_window: Any, docs: Path, tiny_model: Path) -> None:
    service = make_service(model=str(tiny_model))
    service.index([str(docs)], encode=True)
    window = make_window(service, load_model=True)
    qtbot.waitUntil(lambda: window.searcher.semantic_ready, timeout=60000)
    assert window.download_status.model_label.text() == "Meaning search ready"
    outcomes: list[Any] = []
    window.searcher.results.connect(outcomes.append)
    search(qtbot, window, "the")
    qtbot.waitUntil(lambda: [o.mode for o in outcomes] == ["keyword", "hybrid"], timeout=20000)
    assert outcomes[0].generation == outcomes[1].generation
    assert window.results_model.mode == "hybrid"

    # select the second result, then make the ranking come again: the selection stays on that file
    window.move_selection(1)
    chosen = window.current_path()
    outcomes.clear()
    window.searcher.refresh()
    qtbot.waitUntil(lambda: [o.mode for o in outcomes] == ["keyword", "hybrid"], timeout=20000)
    assert window.current_path() == chosen


def test_changes_in_a_watched_folder_are_indexed(qtbot: Any, make_service: Any, make_window: Any,
                                                 docs: Path) -> None:
    window = make_window(make_service())
    window.monitor._debounce_s = 0.2
    with qtbot.waitSignal(window.indexer.finished, timeout=20000):
        window.welcome.use_folder.emit(str(docs))
    qtbot.waitUntil(lambda: window.monitor._observer is not None, timeout=5000)
    with qtbot.waitSignal(window.indexer.finished, timeout=30000) as blocker:
        (docs / "airship.txt").write_text("The zeppelin moored at the mast before dawn.")
    assert blocker.args[0].new == 1
    search(qtbot, window, "zeppelin")
