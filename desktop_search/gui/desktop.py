"""The OS boundary: open a file with its default app, show it in the file manager, copy its path."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication


def open_path(path: str) -> bool:
    """Open ``path`` with the system's default application."""
    return bool(QDesktopServices.openUrl(QUrl.fromLocalFile(path)))


def show_in_folder(path: str) -> bool:
    """Open the file manager with ``path`` selected (or at least its folder open)."""
    try:
        if sys.platform == "darwin":
            subprocess.Popen(["open", "-R", path])
            return True
        if sys.platform == "win32":
            subprocess.Popen(["explorer", "/select,", os.path.normpath(path)])
            return True
        dbus = shutil.which("dbus-send")
        if dbus:
            # the freedesktop FileManager1 interface selects the file (Nautilus, Dolphin, Nemo, Thunar...)
            result = subprocess.run(
                [dbus, "--session", "--print-reply", "--dest=org.freedesktop.FileManager1",
                 "/org/freedesktop/FileManager1", "org.freedesktop.FileManager1.ShowItems",
                 f"array:string:{QUrl.fromLocalFile(path).toString()}", "string:"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=3, check=False,
            )
            if result.returncode == 0:
                return True
    except (OSError, subprocess.SubprocessError):
        pass
    return bool(QDesktopServices.openUrl(QUrl.fromLocalFile(os.path.dirname(path) or path)))


def copy_path(path: str) -> None:
    QGuiApplication.clipboard().setText(path)
