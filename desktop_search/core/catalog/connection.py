"""Opening the catalog: SQLite in WAL mode through sqlite-utils, read-only on media we cannot write,
migrated on open, with transactions that never stay open after an error."""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path


def _import_sqlite_utils():  # type: ignore[no-untyped-def]
    """sqlite-utils imports pandas when it is installed (it is, via PyLate's deps): 1-5 s of start-up
    for features we never use. Hide pandas during that one import; it stays importable for others."""
    hidden = "pandas" not in sys.modules
    if hidden:
        sys.modules["pandas"] = None  # type: ignore[assignment]
    try:
        import sqlite_utils as module
    finally:
        if hidden:
            del sys.modules["pandas"]
    return module


sqlite_utils = _import_sqlite_utils()

# the error kinds live in errors.py (damaged vs busy, full, read-only, I/O); CatalogError is their base
from ..cjk import index_text  # noqa: E402
from ..errors import CatalogError, describe, writable  # noqa: E402
from ..privacy import create_private_file  # noqa: E402
from .schema import MIGRATIONS, SCHEMA_VERSION  # noqa: E402

BUSY_TIMEOUT_S = 30.0  # how long a write waits for another connection's lock before "busy"


def _open_read_only(path: Path) -> sqlite3.Connection:
    """A catalog in a folder we cannot write: ``mode=ro`` reads the WAL too when its -shm is there;
    without it SQLite cannot set up WAL reading, so ``immutable=1`` reads the main file alone."""
    from urllib.parse import quote

    uri = "file:" + quote(str(path.absolute()))
    try:
        conn = sqlite3.connect(uri + "?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S, check_same_thread=False,
                               isolation_level=None)
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.OperationalError:
        return sqlite3.connect(uri + "?immutable=1", uri=True, check_same_thread=False, isolation_level=None)


def connect(path: Path, *, create: bool, read_only: bool | None = None) -> sqlite_utils.Database:
    """Open the catalog, creating or migrating it; raise CatalogError (errors.py names which kind) if it
    is unusable. In a folder that cannot be written (``read_only`` None: found out here) it is opened
    read-only and never written: searching works, writes fail as ``errors.ReadOnly``."""
    if not create and not path.exists():
        raise CatalogError(f"no catalog at {path}")
    if read_only is None:
        read_only = not writable(path.parent)
    if read_only and not path.exists():
        raise describe(PermissionError(13, "read-only", str(path)), path.parent)
    try:
        if read_only:
            conn = _open_read_only(path)
        else:
            if create:
                create_private_file(path)  # 0600 from the start; SQLite gives -wal/-shm the same mode
            conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S, check_same_thread=False, isolation_level=None)
        # the full-text indexes see CJK runs as bigrams through this function (schema migration 5)
        conn.create_function("ds_fts_text", 1, index_text, deterministic=True)
        db = sqlite_utils.Database(conn)
        db.execute("PRAGMA foreign_keys = ON")
        db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        mode = db.execute("PRAGMA journal_mode").fetchone()[0]
        if mode != "wal" and not read_only:
            db.enable_wal()
        if not read_only:
            db.execute("PRAGMA synchronous = NORMAL")
        version = db.execute("PRAGMA user_version").fetchone()[0]
    except (sqlite3.Error, OSError) as exc:
        # only corruption is "damaged": locked, full, read-only and I/O errors say so (errors.classify)
        raise describe(exc, path) from exc
    if version > SCHEMA_VERSION:
        raise CatalogError(
            f"catalog {path} was written by a newer desktop-search (schema {version} > {SCHEMA_VERSION})"
        )
    if version < SCHEMA_VERSION:
        if read_only:
            raise describe(PermissionError(13, "read-only", str(path)), path.parent)
        try:
            for step in range(version, SCHEMA_VERSION):
                with _transaction(db):
                    MIGRATIONS[step](db)
                    db.execute(f"PRAGMA user_version = {step + 1}")
        except (sqlite3.Error, OSError) as exc:
            raise describe(exc, path) from exc
    return db


def _rollback(db: sqlite_utils.Database) -> None:
    """Leave no transaction open: SQLite may already have rolled back (a full disk does), and a
    ROLLBACK that fails must not hide the error that led here."""
    if db.conn.in_transaction:
        with suppress(sqlite3.Error):
            db.execute("ROLLBACK")


@contextmanager
def _transaction(db: sqlite_utils.Database) -> Iterator[None]:
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
        db.execute("COMMIT")  # a failed COMMIT (full disk, I/O) is rolled back below, not left open
    except BaseException:
        _rollback(db)
        raise


def integrity_problems(db: sqlite_utils.Database) -> list[str]:
    rows = [r[0] for r in db.execute("PRAGMA quick_check").fetchall()]
    return [] if rows == ["ok"] else rows
