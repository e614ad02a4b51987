"""What went wrong with the catalog or the data folder, named for what it is.

Only real corruption is *damage* (the one case `doctor --repair` may rebuild from). A catalog that
is locked, on a full disk, on read-only media or behind an I/O error is healthy: repairing it would
destroy good data, so each gets its own exception and a one-line message saying what to do.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import sqlite3
from pathlib import Path

# SQLite primary result codes (extended codes carry them in the low byte)
SQLITE_PERM, SQLITE_BUSY, SQLITE_LOCKED, SQLITE_READONLY = 3, 5, 6, 8
SQLITE_IOERR, SQLITE_CORRUPT, SQLITE_FULL, SQLITE_CANTOPEN, SQLITE_NOTADB = 10, 11, 13, 14, 26

LOW_SPACE_BYTES = 1 << 20  # an I/O error with less free space than this is a full disk


class CatalogError(Exception):
    """The catalog cannot be used (damaged, locked, full, read-only, or from a newer version)."""


class CatalogDamaged(CatalogError):
    """Real corruption: the integrity check failed, or the file is not a database / is malformed."""


class CatalogBusy(CatalogError):
    """Another connection holds the catalog's lock; nothing is wrong with it."""


class DiskFull(CatalogError):
    """No space left for the catalog or the segments; everything committed is intact."""


class ReadOnly(CatalogError):
    """The data folder (or the catalog file) cannot be written; reading still works."""


class CatalogIOError(CatalogError):
    """The operating system reported an I/O error: hardware or file system trouble, not corruption."""


def _primary(exc: sqlite3.Error) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return None if code is None else int(code) & 0xFF


def _low_space(where: Path | None) -> bool:
    if where is None:
        return False
    probe = where if where.is_dir() else where.parent
    try:
        return shutil.disk_usage(probe).free < LOW_SPACE_BYTES
    except OSError:
        return False


def classify(exc: BaseException, where: Path | None = None) -> type[CatalogError]:
    """The exception class a low-level error stands for. ``where`` (the catalog or data folder) lets
    an I/O error on a nearly full disk count as a full disk (SQLite reports some ENOSPC as IOERR)."""
    if isinstance(exc, CatalogError):
        return type(exc)
    if isinstance(exc, OSError) and not isinstance(exc, sqlite3.Error):
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return DiskFull
        if exc.errno == errno.EROFS or isinstance(exc, PermissionError):
            return ReadOnly
        return CatalogIOError
    if not isinstance(exc, sqlite3.Error):
        return CatalogError
    code = _primary(exc)
    text = str(exc).lower()
    if code in (SQLITE_BUSY, SQLITE_LOCKED) or "locked" in text or "busy" in text:
        return CatalogBusy
    if code == SQLITE_FULL or "disk is full" in text:
        return DiskFull
    if code in (SQLITE_READONLY, SQLITE_PERM) or "readonly" in text or "read-only" in text:
        return ReadOnly
    if code in (SQLITE_CORRUPT, SQLITE_NOTADB) or "malformed" in text or "not a database" in text:
        return CatalogDamaged
    if code == SQLITE_IOERR or "i/o error" in text:
        return DiskFull if _low_space(where) else CatalogIOError
    if code == SQLITE_CANTOPEN:
        return ReadOnly if where is not None and not writable(where) else CatalogIOError
    return CatalogError


def describe(exc: BaseException, where: Path | None = None) -> CatalogError:
    """A one-line CatalogError (subclass) for ``exc``, saying what happened and what to do."""
    if isinstance(exc, CatalogError):
        return exc
    kind = classify(exc, where)
    place = f" ({where})" if where is not None else ""
    detail = getattr(exc, "strerror", None) or str(exc)
    if kind is CatalogBusy:
        return CatalogBusy(f"the catalog{place} is busy: another program holds its lock; try again when it is done")
    if kind is DiskFull:
        return DiskFull(f"the disk holding the index{place} is full: free some space and run the command again "
                        "(everything indexed so far is kept)")
    if kind is ReadOnly:
        return ReadOnly(f"the data folder{place} is read-only: searching works, updating the index does not")
    if kind is CatalogDamaged:
        return CatalogDamaged(f"catalog{place} is damaged ({detail})")
    if kind is CatalogIOError:
        return CatalogIOError(f"the disk reported an I/O error{place} ({detail}); check the disk, then try again")
    return CatalogError(f"catalog{place}: {detail}")


def writable(path: Path) -> bool:
    """Whether new files can be made in the folder ``path`` (or next to the file ``path``).

    ``os.access`` says yes to root even on a folder without write permission, and nothing tells a
    read-only mount apart except trying, so this creates and removes a probe file."""
    folder = path if path.is_dir() else path.parent
    probe = folder / f".write-probe-{os.getpid()}"
    try:
        fd = os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return True
    except OSError as exc:
        # a full disk can still take an empty file; anything else means read-only for us
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(probe)
    return True
