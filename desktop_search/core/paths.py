"""File paths as stored in SQLite.

SQLite text must be valid UTF-8, but POSIX file names are bytes. Names that are valid UTF-8 are
stored as they are; others as NUL (never part of a real path) + the raw bytes read as Latin-1, so
the mapping is exact both ways.
"""

from __future__ import annotations

import os


def to_db(path: str) -> str:
    try:
        path.encode("utf-8")
        return path
    except UnicodeEncodeError:
        return "\x00" + os.fsencode(path).decode("latin-1")


def from_db(value: str) -> str:
    if value.startswith("\x00"):
        return os.fsdecode(value[1:].encode("latin-1"))
    return value


def display(path: str) -> str:
    """A printable form (undecodable bytes shown as U+FFFD)."""
    return os.fsencode(path).decode("utf-8", errors="replace")


def exact_form(path: str) -> dict[str, str]:
    """``{"path_bytes_b64": …}`` (the path's exact bytes, base64) when its display form is lossy, else
    nothing: JSON output keeps ``path`` readable and lets a program open the very file."""
    import base64

    raw = os.fsencode(path)
    try:
        raw.decode("utf-8")
        return {}
    except UnicodeDecodeError:
        return {"path_bytes_b64": base64.b64encode(raw).decode("ascii")}


def under(path: str, root: str) -> bool:
    """``path`` is ``root`` or lies inside it (by name; nothing is read from disk)."""
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)
