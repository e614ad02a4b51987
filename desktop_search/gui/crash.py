"""Unexpected exceptions in the window: written to ``<data dir>/logs/`` and shown in a short dialog.

:class:`CrashReporter` replaces ``sys.excepthook`` (exceptions that escape a slot or a UI callback end
there) and ``threading.excepthook`` (plain Python threads). Each incident gets its own log file with
the traceback; the dialog says what happened in one line and where the details are. The app keeps
running: one faulty action should not take the index down with it.

Privacy: the log folder is 0700 and each log 0600, and exception messages (which may quote a query or
document text) are left out of the log and stderr unless the person opts in with
``DESKTOP_SEARCH_CRASH_DETAILS=1`` (core/privacy.py); the dialog on screen still shows the message.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import platform
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from PySide6.QtWidgets import QMessageBox, QWidget

from desktop_search.core.service import FILE_MODE, make_private_dir, redacted_traceback

KEEP_LOGS = 50  # older crash logs are deleted


def _app_version() -> str:
    try:
        from importlib.metadata import version

        return version("desktop-search")
    except Exception:
        return "unknown"


class CrashReporter:
    def __init__(self, log_dir: str | os.PathLike[str], parent: QWidget | Callable[[], QWidget | None] | None = None):
        self.log_dir = Path(log_dir)
        self._parent = parent
        self._installed = False
        self._previous_sys: Any = None
        self._previous_thread: Any = None
        self._showing = False
        self.reported: list[Path] = []  # log files written this session
        self.include_messages: bool | None = None  # None: DESKTOP_SEARCH_CRASH_DETAILS decides
        self.lock = threading.Lock()

    # --- hooks -----------------------------------------------------------------------------------
    def install(self) -> CrashReporter:
        if not self._installed:
            self._previous_sys, self._previous_thread = sys.excepthook, threading.excepthook
            sys.excepthook = self._sys_hook
            threading.excepthook = self._thread_hook
            self._installed = True
        return self

    def uninstall(self) -> None:
        if self._installed:
            if sys.excepthook == self._sys_hook:
                sys.excepthook = self._previous_sys
            if threading.excepthook == self._thread_hook:
                threading.excepthook = self._previous_thread
            self._installed = False

    def _sys_hook(self, exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            self._previous_sys(exc_type, exc, tb)
            return
        self.report(exc_type, exc, tb, threading.current_thread().name)

    def _thread_hook(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        thread = args.thread.name if args.thread is not None else "?"
        self.report(args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback, thread)

    # --- reporting -------------------------------------------------------------------------------
    def report(self, exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None,
               thread: str = "") -> Path | None:
        """Log the exception (and print it on stderr); show the dialog on the UI thread. Never raises."""
        text = redacted_traceback(exc_type, exc, tb, self.include_messages)
        with contextlib.suppress(Exception):
            sys.stderr.write(text)
        path = None
        try:
            path = self._write(text, thread)
        except OSError as err:  # a full or read-only disk must not turn one error into two
            with contextlib.suppress(Exception):
                sys.stderr.write(f"could not write the crash log: {err}\n")
        summary = f"{exc_type.__name__}: {exc}".strip().rstrip(":")
        if len(summary) > 300:
            summary = summary[:300] + "…"
        if threading.current_thread() is threading.main_thread():
            self._show(summary, path)
        else:
            try:
                from .tasks import to_main

                to_main(self._show, summary, path)
            except RuntimeError:  # no dispatcher (no window): the log and stderr have it
                pass
        return path

    def _write(self, text: str, thread: str) -> Path:
        make_private_dir(self.log_dir)
        now = dt.datetime.now()
        with self.lock:
            path = self.log_dir / f"crash-{now:%Y%m%d-%H%M%S}-{os.getpid()}.log"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
            with open(fd, "a", encoding="utf-8") as out:
                stamp = now.isoformat(timespec="seconds")
                out.write(f"Desktop Search {_app_version()} — unexpected error at {stamp}\n")
                out.write(f"Python {platform.python_version()} on {platform.platform()}; thread {thread}\n\n")
                out.write(text)
                out.write("\n")
            self.reported.append(path)
            self._prune()
        return path

    def _prune(self) -> None:
        logs = sorted(self.log_dir.glob("crash-*.log"))
        for old in logs[:-KEEP_LOGS]:
            with contextlib.suppress(OSError):
                old.unlink()

    def _parent_widget(self) -> QWidget | None:
        parent = self._parent
        if callable(parent) and not isinstance(parent, QWidget):
            parent = parent()
        try:
            return parent if parent is not None and parent.isVisible() else None
        except RuntimeError:  # the window is already deleted
            return None

    def _show(self, summary: str, path: Path | None) -> None:
        if self._showing:  # one dialog at a time; every incident still has its log
            return
        self._showing = True
        where = (f"The details were saved to:\n{path}\n\nPlease include that file if you report the problem."
                 if path is not None else "The details could not be saved (see the terminal output).")
        try:
            QMessageBox.critical(self._parent_widget(), "Desktop Search — unexpected error",
                                 f"Something went wrong, but Desktop Search is still running.\n\n{summary}\n\n{where}")
        finally:
            self._showing = False
