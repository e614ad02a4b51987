"""The start-at-login command: the .AppImage file when the app runs from one ($APPIMAGE), never the
image's temporary mount point; $APPIMAGE inherited by a program the app started does not count."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from desktop_search.gui import autostart


@pytest.fixture
def image(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An AppImage run: the image file, its mount point ($APPDIR) and the frozen app inside it."""
    file = tmp_path / "Apps" / "Desktop Search-0.1.0-x86_64.AppImage"
    file.parent.mkdir()
    file.write_bytes(b"\x7fELF")
    mount = tmp_path / ".mount_DesktoXyZ"
    (mount / "usr" / "lib" / "desktop-search").mkdir(parents=True)
    monkeypatch.setenv("APPIMAGE", str(file))
    monkeypatch.setenv("APPDIR", str(mount))
    monkeypatch.setattr(sys, "executable", str(mount / "usr" / "lib" / "desktop-search" / "desktop-search"))
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    return file


def test_from_an_appimage_the_entry_starts_the_image_file(image: Path, tmp_path: Path) -> None:
    assert autostart.launch_command() == [str(image), "--minimized"]
    command = autostart.launch_command(tmp_path / "data")
    assert command == [str(image), "--data-dir", str(tmp_path / "data"), "--minimized"]
    exec_line = next(x for x in autostart.desktop_entry(command).splitlines() if x.startswith("Exec="))
    assert exec_line == f'Exec="{image}" --data-dir {tmp_path / "data"} --minimized'
    assert ".mount_" not in exec_line


def test_appimage_is_honoured_without_appdir_only_when_frozen(image: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("APPDIR")
    assert autostart.launch_command()[0] == str(image)
    monkeypatch.setattr(sys, "frozen", False)
    assert autostart.launch_command()[:2] == [sys.executable, "-m"]


def test_an_inherited_appimage_variable_is_ignored(image: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # e.g. started from a terminal that an AppImage app opened: this executable is not in its mount
    monkeypatch.setattr(sys, "executable", str(tmp_path / "venv" / "bin" / "python"))
    monkeypatch.setattr(sys, "frozen", False)
    assert autostart.launch_command() == [sys.executable, "-m", "desktop_search", "--minimized"]
    monkeypatch.setattr(sys, "frozen", True)
    assert autostart.launch_command() == [sys.executable, "--minimized"]


def test_a_missing_image_file_or_no_appimage_keeps_the_executable(image: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    image.unlink()
    assert autostart.launch_command() == [sys.executable, "--minimized"]
    monkeypatch.delenv("APPIMAGE")
    assert autostart.launch_command() == [sys.executable, "--minimized"]
