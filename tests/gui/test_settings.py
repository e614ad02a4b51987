"""Settings: pause on battery, start at login, the file size limit."""

from __future__ import annotations

import plistlib
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from desktop_search.gui import autostart


def test_pause_on_battery_pauses_and_resumes_on_mains_power(qtbot: Any, make_service: Any, make_window: Any,
                                                            docs: Path) -> None:
    service = make_service()
    service.add_roots([str(docs)])
    window = make_window(service)
    assert not window.battery.enabled  # off by default: a first run indexes at once
    power = {"battery": True}
    window.battery.probe = lambda: power["battery"]
    dialog = window.show_folders()
    assert not dialog.pause_on_battery.isChecked()
    dialog.pause_on_battery.setChecked(True)
    dialog._save()
    assert window.qsettings.value("pause_on_battery", type=bool) is True
    assert window.battery.timer.isActive() and window.battery.timer.interval() == 30_000
    assert window.indexer.paused and window.battery.paused_by_battery  # on battery now: paused at once

    finished: list[Any] = []
    window.indexer.finished.connect(finished.append)
    window.indexer.start()
    qtbot.wait(400)
    assert window.indexer.indexing and not finished  # held at its first safe point
    assert window.index_status.label.text().startswith("Paused on battery")

    window.battery.timer.setInterval(50)  # (the poll is every 30 s; the test does not wait that long)
    power["battery"] = False  # plugged in
    qtbot.waitUntil(lambda: bool(finished), timeout=15000)
    assert not window.indexer.paused and not window.battery.paused_by_battery
    assert finished[0].new == 8

    # resuming by hand on battery wins until the next switch to battery
    power["battery"] = True
    qtbot.waitUntil(lambda: window.indexer.paused, timeout=5000)
    window.toggle_pause()
    qtbot.wait(200)
    assert not window.indexer.paused
    power["battery"] = False
    qtbot.wait(150)
    power["battery"] = True
    qtbot.waitUntil(lambda: window.indexer.paused, timeout=5000)

    # switching the setting off resumes what it paused
    dialog = window.show_folders()
    assert dialog.pause_on_battery.isChecked()
    dialog.pause_on_battery.setChecked(False)
    dialog._save()
    assert not window.indexer.paused and not window.battery.timer.isActive()


def test_unknown_power_state_counts_as_plugged_in(monkeypatch: pytest.MonkeyPatch) -> None:
    import psutil

    from desktop_search.gui import power

    monkeypatch.setattr(psutil, "sensors_battery", lambda: None)  # a desktop: no battery
    assert power.on_battery() is None
    for plugged, expected in ((False, True), (True, False), (None, None)):
        state = SimpleNamespace(percent=50, secsleft=3600, power_plugged=plugged)
        monkeypatch.setattr(psutil, "sensors_battery", lambda state=state: state)
        assert power.on_battery() is expected

    def broken() -> None:
        raise RuntimeError("no sensors here")

    monkeypatch.setattr(psutil, "sensors_battery", broken)
    assert power.on_battery() is None


def test_start_at_login_writes_and_removes_the_xdg_autostart_entry(
        qtbot: Any, make_service: Any, make_window: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    entry = tmp_path / "config" / "autostart" / "desktop-search.desktop"
    service = make_service(name="my data")
    window = make_window(service)
    dialog = window.show_folders()
    assert not dialog.start_at_login.isChecked()
    dialog.start_at_login.setChecked(True)
    dialog._save()
    text = entry.read_text()
    assert "[Desktop Entry]" in text and "Type=Application" in text and "Name=Desktop Search" in text
    exec_line = next(line for line in text.splitlines() if line.startswith("Exec="))
    assert exec_line == f'Exec={sys.executable} -m desktop_search --data-dir "{service.data_dir}" --minimized'

    dialog = window.show_folders()
    assert dialog.start_at_login.isChecked()  # the entry is the setting
    dialog.start_at_login.setChecked(False)
    dialog._save()
    assert not entry.exists() and not autostart.is_enabled()


def test_autostart_entries_for_other_platforms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    command = ["/Applications/Desktop Search.app/Contents/MacOS/desktop-search", "--data-dir", "/data/100%"]
    path = autostart.enable(command, platform="darwin")
    assert path == tmp_path / "Library" / "LaunchAgents" / "io.github.desktop-search.plist"
    plist = plistlib.loads(path.read_bytes())
    assert plist["ProgramArguments"] == command and plist["RunAtLoad"] is True
    assert autostart.is_enabled("darwin")
    autostart.disable("darwin")
    assert not autostart.is_enabled("darwin")
    # Desktop Entry quoting: spaces and $ quoted, % doubled
    assert autostart.desktop_entry(["/opt/my app/run", "$HOME", "50%"]).count(
        'Exec="/opt/my app/run" "\\$HOME" 50%%') == 1


def test_file_size_limit_is_saved_and_used(qtbot: Any, make_service: Any, make_window: Any, docs: Path) -> None:
    (docs / "big.txt").write_text("large file about zebras. " * 60_000)  # 1.5 MB
    service = make_service()
    window = make_window(service)
    dialog = window.show_folders()
    assert dialog.max_file.value() == 200  # MB, the default
    dialog.max_file.setValue(1)
    dialog._save()
    qtbot.waitUntil(lambda: service.reader().load_settings().max_file_bytes == 1024 * 1024, timeout=5000)
    with qtbot.waitSignal(window.indexer.finished, timeout=20000) as blocker:
        window.add_folders([str(docs)])
    assert blocker.args[0].failed == 1
    failed = {Path(r["path"]).name: r["reason"] for r in service.failed()}
    assert "1 MB limit" in failed["big.txt"]
    assert window.show_folders().max_file.value() == 1


@pytest.mark.parametrize("tray_available", [True, False])
def test_started_at_login_the_app_waits_in_the_tray(qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    tray_available: bool) -> None:
    """``--minimized`` (what the login entry runs) keeps the window hidden behind the tray icon, and shows
    it anyway where there is no tray, so the app is never running out of reach."""
    import argparse

    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QSystemTrayIcon

    from desktop_search.gui import create_app

    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(tmp_path / "qsettings"))
    monkeypatch.setattr(QSystemTrayIcon, "isSystemTrayAvailable", staticmethod(lambda: tray_available))
    args = argparse.Namespace(data_dir=str(tmp_path / "data"), model=str(tmp_path / "no-model"),
                              context_length=None, threads=None, minimized=True)
    _app, service, window = create_app(args)
    try:
        qtbot.waitUntil(lambda: window.started, timeout=5000)  # start-up work runs while hidden
        assert (window.tray is not None) is tray_available
        assert window.isVisible() is not tray_available
        if tray_available:
            window.tray.search_action.trigger()  # the tray's "Search…" brings the window up
            assert window.isVisible()
    finally:
        window.crash_reporter.uninstall()
        window.shutdown()
        window.close()
        service.close()
