"""The tray icon (quick search, keep indexing when the window closes) and the crash dialog."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QMessageBox, QPushButton, QSystemTrayIcon

from desktop_search.gui import crash


@pytest.fixture
def with_tray(monkeypatch: pytest.MonkeyPatch) -> None:
    # the offscreen platform has no tray; the window asks Qt, so Qt is told there is one
    monkeypatch.setattr(QSystemTrayIcon, "isSystemTrayAvailable", staticmethod(lambda: True))


def test_tray_search_raises_the_window_with_the_field_focused(qtbot: Any, make_service: Any, make_window: Any,
                                                              docs: Path, with_tray: None) -> None:
    service = make_service()
    service.index([str(docs)], encode=False)
    window = make_window(service, tray=True)
    assert window.tray is not None
    texts = [a.text() for a in window.tray.menu.actions() if a.text()]
    assert texts[0] == "Search…" and texts[-1] == "Quit"
    window.search.setText("magma")
    window.hide()
    window.tray.search_action.trigger()
    assert window.isVisible()
    qtbot.waitUntil(lambda: QGuiApplication.focusObject() is window.search, timeout=3000)
    assert window.search.selectedText() == "magma"  # typing replaces the last query


def test_closing_with_a_tray_keeps_indexing_and_quit_ends(qtbot: Any, make_service: Any, make_window: Any,
                                                          docs: Path, with_tray: None) -> None:
    service = make_service()
    window = make_window(service, tray=True)
    shut: list[bool] = []
    real_shutdown = window.shutdown
    window.shutdown = lambda: shut.append(True) or real_shutdown()
    messages: list[str] = []
    window.tray.showMessage = lambda title, text, *a: messages.append(text)
    window.tray.show()
    assert window.tray.isVisible()

    window.close()  # the window's close button
    assert not window.isVisible() and not shut
    assert messages and "Quit" in messages[0]
    with qtbot.waitSignal(window.indexer.finished, timeout=20000) as blocker:  # still indexing, from the tray
        window.add_folders([str(docs)])
    assert blocker.args[0].new == 8
    window.close()
    assert len(messages) == 1  # told once

    window.tray.quit_action.trigger()
    assert shut == [True]
    assert not window.tray.isVisible()


def test_without_a_tray_closing_the_window_quits(qtbot: Any, make_service: Any, make_window: Any) -> None:
    window = make_window(make_service(), tray=True)  # offscreen: no tray available
    assert window.tray is None
    shut: list[bool] = []
    real_shutdown = window.shutdown
    window.shutdown = lambda: shut.append(True) or real_shutdown()
    window.close()
    assert shut == [True]


@pytest.fixture
def dialogs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, str, str]]:
    shown: list[tuple[Any, str, str]] = []

    def critical(parent: Any, title: str, text: str, *_: Any) -> QMessageBox.StandardButton:
        shown.append((parent, title, text))
        return QMessageBox.StandardButton.Ok

    monkeypatch.setattr(QMessageBox, "critical", staticmethod(critical))
    return shown


def test_an_exception_in_a_slot_is_logged_and_shown(qtbot: Any, make_service: Any, make_window: Any,
                                                    dialogs: list[tuple[Any, str, str]]) -> None:
    service = make_service()
    window = make_window(service)
    reporter = crash.CrashReporter(service.data_dir / "logs", parent=window).install()
    try:
        def faulty_slot() -> None:
            raise ValueError("the flux capacitor is empty")

        button = QPushButton("Go")
        button.clicked.connect(faulty_slot)
        button.click()
        qtbot.waitUntil(lambda: bool(dialogs), timeout=3000)
    finally:
        reporter.uninstall()
    logs = list((service.data_dir / "logs").glob("crash-*.log"))
    assert len(logs) == 1
    text = logs[0].read_text()
    assert "ValueError" in text and "faulty_slot" in text and "Traceback" in text
    # messages may quote documents or queries: left out unless opted in (the source line stays)
    assert "ValueError: the flux capacitor is empty" not in text
    assert oct(logs[0].stat().st_mode & 0o777) == oct(0o600) and (service.data_dir / "logs").stat().st_mode & 0o077 == 0
    parent, title, message = dialogs[0]
    assert parent is window and "unexpected error" in title
    assert "ValueError: the flux capacitor is empty" in message and str(logs[0]) in message
    assert "Traceback" not in message  # short: the details are in the file
    assert window.isVisible()  # and the app goes on


def test_exceptions_in_ui_callbacks_and_threads_are_reported(qtbot: Any, make_service: Any, make_window: Any,
                                                             dialogs: list[tuple[Any, str, str]]) -> None:
    from desktop_search.gui.tasks import to_main

    service = make_service()
    window = make_window(service)
    reporter = crash.CrashReporter(service.data_dir / "logs", parent=window).install()
    try:
        def callback() -> None:
            raise KeyError("missing-result")

        to_main(callback)  # a bug in a run_task callback
        qtbot.waitUntil(lambda: len(dialogs) == 1, timeout=3000)

        def worker() -> None:
            raise RuntimeError("worker thread failed")

        thread = threading.Thread(target=worker, name="helper")
        thread.start()
        thread.join()
        qtbot.waitUntil(lambda: len(dialogs) == 2, timeout=3000)  # the dialog comes on the UI thread
    finally:
        reporter.uninstall()
    assert "KeyError" in dialogs[0][2] and "RuntimeError: worker thread failed" in dialogs[1][2]
    texts = [p.read_text() for p in reporter.reported]
    assert any("thread helper" in t and "RuntimeError" in t and "RuntimeError: worker thread failed" not in t
               for t in texts)
    import sys

    assert sys.excepthook is not reporter._sys_hook and threading.excepthook is not reporter._thread_hook


def test_crash_log_needs_no_window_and_survives_a_read_only_log_dir(tmp_path: Path,
                                                                    dialogs: list[tuple[Any, str, str]]) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    reporter = crash.CrashReporter(blocker / "logs")  # cannot be created
    try:
        raise OSError("disk on fire")
    except OSError as exc:
        assert reporter.report(type(exc), exc, exc.__traceback__) is None
    assert dialogs and "could not be saved" in dialogs[0][2]
