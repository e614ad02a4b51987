"""The catalog: SQLite (through sqlite-utils, WAL) is the source of truth.

Tables: roots, files, passages (+ FTS5), failures, segments, settings. ``PRAGMA user_version`` holds
the schema version; :data:`MIGRATIONS` brings older catalogs forward. Every write goes through one
:class:`Writer` thread; readers open their own connections.
"""

from __future__ import annotations

import json
import queue
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar


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

from .config import Settings  # noqa: E402

T = TypeVar("T")

SCHEMA_VERSION = 1


class CatalogError(Exception):
    """The catalog cannot be used (damaged, locked, or from a newer version)."""


def _migrate_1(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS roots (
            id INTEGER PRIMARY KEY,
            path TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL DEFAULT 'include',  -- include | exclude
            added_at REAL NOT NULL
        );
        CREATE TABLE IF NOT EXISTS files (
            id INTEGER PRIMARY KEY,
            path TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            ext TEXT NOT NULL DEFAULT '',
            size INTEGER NOT NULL,
            mtime REAL NOT NULL,
            hash TEXT NOT NULL,
            state TEXT NOT NULL,               -- extracted (keyword only) | indexed (vectors too)
            title TEXT,
            extractor TEXT,
            pages INTEGER NOT NULL DEFAULT 0,
            chars INTEGER NOT NULL DEFAULT 0,
            updated_at REAL NOT NULL
        );
        CREATE INDEX IF NOT EXISTS files_state ON files(state);
        CREATE INDEX IF NOT EXISTS files_hash ON files(hash);
        CREATE TABLE IF NOT EXISTS passages (
            id INTEGER PRIMARY KEY,
            file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            char_start INTEGER NOT NULL,
            char_end INTEGER NOT NULL,
            page INTEGER,
            text TEXT NOT NULL,
            segment_id INTEGER,                -- NULL: vectors not yet encoded (or to be re-encoded)
            local_id INTEGER
        );
        CREATE INDEX IF NOT EXISTS passages_file ON passages(file_id, seq);
        CREATE INDEX IF NOT EXISTS passages_segment ON passages(segment_id, local_id);
        CREATE VIRTUAL TABLE IF NOT EXISTS passages_fts USING fts5(
            text, content='passages', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
        );
        CREATE TRIGGER IF NOT EXISTS passages_ai AFTER INSERT ON passages BEGIN
            INSERT INTO passages_fts(rowid, text) VALUES (new.id, new.text);
        END;
        CREATE TRIGGER IF NOT EXISTS passages_ad AFTER DELETE ON passages BEGIN
            INSERT INTO passages_fts(passages_fts, rowid, text) VALUES ('delete', old.id, old.text);
        END;
        CREATE VIRTUAL TABLE IF NOT EXISTS names_fts USING fts5(
            name, content='files', content_rowid='id',
            tokenize="unicode61 remove_diacritics 2 tokenchars ''"
        );
        CREATE TRIGGER IF NOT EXISTS files_ai AFTER INSERT ON files BEGIN
            INSERT INTO names_fts(rowid, name) VALUES (new.id, new.name);
        END;
        CREATE TRIGGER IF NOT EXISTS files_ad AFTER DELETE ON files BEGIN
            INSERT INTO names_fts(names_fts, rowid, name) VALUES ('delete', old.id, old.name);
        END;
        CREATE TRIGGER IF NOT EXISTS files_au AFTER UPDATE OF name ON files BEGIN
            INSERT INTO names_fts(names_fts, rowid, name) VALUES ('delete', old.id, old.name);
            INSERT INTO names_fts(rowid, name) VALUES (new.id, new.name);
        END;
        CREATE TABLE IF NOT EXISTS failures (
            path TEXT PRIMARY KEY,
            size INTEGER NOT NULL,
            mtime REAL NOT NULL,
            reason TEXT NOT NULL,
            skipped INTEGER NOT NULL DEFAULT 0,  -- 1: not a document (binary), not shown as a failure
            failed_at REAL NOT NULL
        );
        CREATE TABLE IF NOT EXISTS segments (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,                -- flat (exact MaxSim) | plaid
            dir TEXT NOT NULL UNIQUE,          -- relative to the segments folder
            model_key TEXT NOT NULL,
            dim INTEGER NOT NULL,
            n_passages INTEGER NOT NULL,
            n_tokens INTEGER NOT NULL,
            state TEXT NOT NULL,               -- live | archived (raw vectors kept for exact eval)
            created_at REAL NOT NULL
        );
        """
    )


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_migrate_1]


def connect(path: Path, *, create: bool) -> sqlite_utils.Database:
    """Open the catalog, creating or migrating it; raise CatalogError if it is unusable."""
    if not create and not path.exists():
        raise CatalogError(f"no catalog at {path}")
    try:
        conn = sqlite3.connect(str(path), timeout=30, check_same_thread=False, isolation_level=None)
        db = sqlite_utils.Database(conn)
        db.execute("PRAGMA foreign_keys = ON")
        db.execute("PRAGMA busy_timeout = 30000")
        mode = db.execute("PRAGMA journal_mode").fetchone()[0]
        if mode != "wal":
            db.enable_wal()
        db.execute("PRAGMA synchronous = NORMAL")
        version = db.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise CatalogError(f"catalog {path} is damaged ({exc})") from exc
    if version > SCHEMA_VERSION:
        raise CatalogError(
            f"catalog {path} was written by a newer desktop-search (schema {version} > {SCHEMA_VERSION})"
        )
    if version < SCHEMA_VERSION:
        for step in range(version, SCHEMA_VERSION):
            with _transaction(db):
                MIGRATIONS[step](db)
                db.execute(f"PRAGMA user_version = {step + 1}")
    return db


@contextmanager
def _transaction(db: sqlite_utils.Database) -> Iterator[None]:
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def integrity_problems(db: sqlite_utils.Database) -> list[str]:
    rows = [r[0] for r in db.execute("PRAGMA quick_check").fetchall()]
    return [] if rows == ["ok"] else rows


class Catalog:
    """Read and write helpers over one connection. Writes must run on the writer thread."""

    def __init__(self, path: Path, *, create: bool = True):
        self.path = path
        self.db = connect(path, create=create)

    def close(self) -> None:
        self.db.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with _transaction(self.db):
            yield

    def query(self, sql: str, params: Iterable[Any] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        cursor = self.db.execute(sql, params)
        cols = [c[0] for c in cursor.description or []]
        return [dict(zip(cols, row, strict=True)) for row in cursor.fetchall()]  # type: ignore[misc]

    def scalar(self, sql: str, params: Iterable[Any] = ()) -> Any:
        row = self.db.execute(sql, params).fetchone()
        return row[0] if row else None

    # settings ---------------------------------------------------------------------------------------
    def get_setting(self, key: str, default: Any = None) -> Any:
        row = self.db.execute("SELECT value FROM settings WHERE key = ?", [key]).fetchone()
        return json.loads(row[0]) if row else default

    def set_setting(self, key: str, value: Any) -> None:
        self.db.execute(
            "INSERT INTO settings(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [key, json.dumps(value)],
        )

    def load_settings(self) -> Settings:
        stored = self.get_setting("settings", {}) or {}
        return Settings.from_mapping(stored)

    def save_settings(self, settings: Settings) -> None:
        self.set_setting("settings", settings.as_dict())

    # roots ------------------------------------------------------------------------------------------
    def roots(self, kind: str = "include") -> list[str]:
        return [r[0] for r in self.db.execute("SELECT path FROM roots WHERE kind = ? ORDER BY path", [kind])]

    def add_root(self, path: str, kind: str = "include") -> None:
        self.db.execute(
            "INSERT INTO roots(path, kind, added_at) VALUES (?, ?, ?) "
            "ON CONFLICT(path) DO UPDATE SET kind = excluded.kind",
            [path, kind, time.time()],
        )

    def remove_root(self, path: str) -> None:
        self.db.execute("DELETE FROM roots WHERE path = ?", [path])

    def bump_generation(self) -> None:
        """Readers reload segment liveness when this changes."""
        self.set_setting("index_generation", int(self.get_setting("index_generation", 0)) + 1)

    # counts -----------------------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        states = dict(self.db.execute("SELECT state, COUNT(*) FROM files GROUP BY state").fetchall())
        return {
            "indexed": int(states.get("indexed", 0)),
            "pending": int(states.get("extracted", 0)),
            "failed": int(self.scalar("SELECT COUNT(*) FROM failures WHERE skipped = 0") or 0),
            "passages": int(self.scalar("SELECT COUNT(*) FROM passages") or 0),
        }


class Writer:
    """The one thread that owns all catalog writes. ``call`` runs a function there and waits for it."""

    def __init__(self, path: Path):
        self._queue: queue.Queue[tuple[Callable[[Catalog], Any], Future[Any]] | None] = queue.Queue()
        self._ready: Future[Catalog] = Future()
        self._thread = threading.Thread(target=self._run, args=(path,), name="catalog-writer", daemon=True)
        self._thread.start()
        self.catalog = self._ready.result()

    def _run(self, path: Path) -> None:
        try:
            catalog = Catalog(path)
        except BaseException as exc:
            self._ready.set_exception(exc)
            return
        self._ready.set_result(catalog)
        while True:
            item = self._queue.get()
            if item is None:
                break
            fn, future = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(catalog))
            except BaseException as exc:
                future.set_exception(exc)
        catalog.close()

    def submit(self, fn: Callable[[Catalog], T]) -> Future[T]:
        future: Future[T] = Future()
        self._queue.put((fn, future))
        return future

    def call(self, fn: Callable[[Catalog], T]) -> T:
        if threading.current_thread() is self._thread:
            return fn(self.catalog)
        return self.submit(fn).result()

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
