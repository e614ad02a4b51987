"""Owner-only data: the index holds the full text of private folders.

Everything under the data folder is 0700 (folders) / 0600 (files), whatever the umask says:
:func:`private_umask` makes the process create files owner-only from the moment a data folder is
opened, the app's own writers (catalog, state.json, crash logs) also set their modes explicitly,
and :func:`tighten` fixes loose modes left by older versions or copies on every start.

Windows: POSIX modes mean little there. The equivalent is an ACL on the data folder with
inheritance disabled and a single entry granting the current user full control (e.g. ``icacls DIR
/inheritance:r /grant:r "%USERNAME%":(OI)(CI)F``); the default per-user ``%LOCALAPPDATA%`` location
already is private to the account. It is not applied here (untested on this project's machines).

Crash reports: :func:`redacted_traceback` keeps exception types, files, line numbers and code but
leaves out exception messages (which may quote a query or document text) unless the person opts in
with ``DESKTOP_SEARCH_CRASH_DETAILS=1``.
"""

from __future__ import annotations

import contextlib
import glob
import os
import stat
import tempfile
import threading
import time
import traceback
from pathlib import Path
from types import TracebackType

DIR_MODE = 0o700
FILE_MODE = 0o600
DETAILS_ENV = "DESKTOP_SEARCH_CRASH_DETAILS"

_umask_lock = threading.Lock()


def _current_umask() -> int:
    try:  # Linux: read it without the set-and-restore window in which another thread sees umask 0
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    with _umask_lock:
        old = os.umask(0o077)
        os.umask(old)
    return old


def private_umask() -> None:
    """From now on this process creates files and folders owner-only (group/other bits masked)."""
    if os.name != "posix":
        return
    old = _current_umask()
    if old & 0o077 != 0o077:
        os.umask(old | 0o077)


def make_private_dir(path: Path) -> None:
    """Create ``path`` (and parents) if needed; the folder itself ends up 0700."""
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    if os.name == "posix":
        try:
            if stat.S_IMODE(path.stat().st_mode) != DIR_MODE:
                path.chmod(DIR_MODE)
        except OSError:
            pass  # read-only media: reading still works, writers say why they cannot


def write_private(path: Path, data: str | bytes) -> None:
    """Write a whole file atomically with mode 0600 from its first byte: a temp file of its own (two
    writers at once, e.g. the window and a CLI call saving state.json, never share one), flushed to
    disk, then renamed over ``path``: a reader or a power cut sees the old file or the new, never a mix
    or an empty one."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)  # 0600 already
    try:
        try:
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _sweep_stale_temps(path)


STALE_TEMP_S = 600.0  # a temp file this old is a crashed write's: a live one lives milliseconds


def _sweep_stale_temps(path: Path) -> None:
    """Remove temp files of ``path`` that a crash (power cut, kill) left behind; fresh ones may be
    another process's write in progress and stay."""
    cutoff = time.time() - STALE_TEMP_S
    for leftover in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        with contextlib.suppress(OSError):
            if leftover.stat().st_mtime < cutoff:
                leftover.unlink()


def create_private_file(path: Path) -> None:
    """Make sure ``path`` exists with mode 0600 before another library (SQLite) opens it: SQLite then
    gives its -wal and -shm files the same mode as the database file."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return
    os.close(fd)


def tighten(root: Path) -> int:
    """Set every folder under ``root`` (itself included) to 0700 and every file to 0600; returns how
    many modes changed. Symlinks are left alone (their targets are not ours); errors are ignored."""
    if os.name != "posix" or not root.is_dir():
        return 0
    changed = 0

    def fix(path: str, want: int) -> None:
        nonlocal changed
        try:
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode) or stat.S_IMODE(st.st_mode) == want:
                return
            if stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode):
                os.chmod(path, want)
                changed += 1
        except OSError:
            pass

    fix(str(root), DIR_MODE)
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            fix(os.path.join(folder, name), DIR_MODE)
        for name in files:
            fix(os.path.join(folder, name), FILE_MODE)
    return changed


def details_opted_in() -> bool:
    return os.environ.get(DETAILS_ENV, "").strip() not in ("", "0", "false", "no")


def redacted_traceback(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None,
                       include_messages: bool | None = None) -> str:
    """The traceback of ``exc`` (and its chained causes) without exception messages, which may quote a
    query or a document; with ``include_messages`` (default: the opt-in variable) the full text."""
    if include_messages is None:
        include_messages = details_opted_in()
    if include_messages:
        return "".join(traceback.format_exception(exc_type, exc, tb))
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    chain: list[BaseException] = []
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    for i, item in enumerate(reversed(chain)):
        if i:
            parts.append("\nThe above exception led to the following one:\n\n")
        parts.append("Traceback (most recent call last):\n")
        parts.extend(traceback.format_tb(item.__traceback__ if item is not exc else tb))
        name = f"{type(item).__module__}.{type(item).__qualname__}"
        parts.append(f"{name}: <message left out: it may quote your documents or queries; set "
                     f"{DETAILS_ENV}=1 to include it>\n")
    return "".join(parts)


__all__ = ["DIR_MODE", "FILE_MODE", "create_private_file", "make_private_dir", "private_umask",
           "redacted_traceback", "tighten", "write_private"]
