"""The catalog: SQLite (through sqlite-utils, WAL) is the source of truth.

Its length is deliberate: the one data-access layer, every SQL statement of the program lives here.

Tables: roots, files, passages (+ FTS5), failures, segments, settings. ``PRAGMA user_version`` holds
the schema version; :data:`MIGRATIONS` brings older catalogs forward. Every write goes through one
:class:`Writer` thread; readers open their own connections.
"""

from __future__ import annotations

import json
import os
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

SCHEMA_VERSION = 3


# the error kinds live in errors.py (damaged vs busy, full, read-only, I/O); CatalogError is their base
from .errors import CatalogDamaged, CatalogError, DiskFull, ReadOnly, classify, describe, writable  # noqa: E402
from .privacy import create_private_file  # noqa: E402

BUSY_TIMEOUT_S = 30.0  # how long a write waits for another connection's lock before "busy"


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


def _migrate_2_exclusions(db: sqlite_utils.Database) -> None:
    """Exclusion patterns (.gitignore syntax) per watched folder ('' = every folder), with the defaults."""
    from .exclusions import DEFAULT_PATTERNS

    db.executescript(
        """
        CREATE TABLE IF NOT EXISTS exclusions (
            id INTEGER PRIMARY KEY,
            folder TEXT NOT NULL DEFAULT '',   -- '' = under every watched folder
            pattern TEXT NOT NULL,
            is_default INTEGER NOT NULL DEFAULT 0,
            added_at REAL NOT NULL,
            UNIQUE(folder, pattern)
        );
        """
    )
    now = time.time()
    db.conn.executemany(
        "INSERT OR IGNORE INTO exclusions(folder, pattern, is_default, added_at) VALUES ('', ?, 1, ?)",
        [(p, now) for p in DEFAULT_PATTERNS],
    )


def _migrate_3_stemmed_fts(db: sqlite_utils.Database) -> None:
    """Keyword search by word stem (porter: `study` finds `studies`), accents and case still folded;
    titles searchable as a names_fts column (`title:`). Both full-text indexes are rebuilt from their
    content tables."""
    db.executescript(
        """
        DROP TRIGGER IF EXISTS passages_ai;
        DROP TRIGGER IF EXISTS passages_ad;
        DROP TABLE IF EXISTS passages_fts;
        CREATE VIRTUAL TABLE passages_fts USING fts5(
            text, content='passages', content_rowid='id', tokenize='porter unicode61 remove_diacritics 2'
        );
        CREATE TRIGGER passages_ai AFTER INSERT ON passages BEGIN
            INSERT INTO passages_fts(rowid, text) VALUES (new.id, new.text);
        END;
        CREATE TRIGGER passages_ad AFTER DELETE ON passages BEGIN
            INSERT INTO passages_fts(passages_fts, rowid, text) VALUES ('delete', old.id, old.text);
        END;
        INSERT INTO passages_fts(passages_fts) VALUES ('rebuild');
        DROP TRIGGER IF EXISTS files_ai;
        DROP TRIGGER IF EXISTS files_ad;
        DROP TRIGGER IF EXISTS files_au;
        DROP TABLE IF EXISTS names_fts;
        CREATE VIRTUAL TABLE names_fts USING fts5(
            name, title, content='files', content_rowid='id',
            tokenize="unicode61 remove_diacritics 2 tokenchars ''"
        );
        CREATE TRIGGER files_ai AFTER INSERT ON files BEGIN
            INSERT INTO names_fts(rowid, name, title) VALUES (new.id, new.name, new.title);
        END;
        CREATE TRIGGER files_ad AFTER DELETE ON files BEGIN
            INSERT INTO names_fts(names_fts, rowid, name, title) VALUES ('delete', old.id, old.name, old.title);
        END;
        CREATE TRIGGER files_au AFTER UPDATE OF name, title ON files BEGIN
            INSERT INTO names_fts(names_fts, rowid, name, title) VALUES ('delete', old.id, old.name, old.title);
            INSERT INTO names_fts(rowid, name, title) VALUES (new.id, new.name, new.title);
        END;
        INSERT INTO names_fts(names_fts) VALUES ('rebuild');
        """
    )


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    _migrate_1, _migrate_2_exclusions, _migrate_3_stemmed_fts,
]


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
        try:
            db.execute("ROLLBACK")
        except sqlite3.Error:
            pass


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


class Catalog:
    """Read and write helpers over one connection. Writes must run on the writer thread."""

    def __init__(self, path: Path, *, create: bool = True):
        self.path = path
        self.read_only = not writable(path.parent)  # read-only media: searching still works
        # why writes cannot happen (errors.ReadOnly or DiskFull), for writers' one-line refusal
        self.read_only_reason: CatalogError | None = (
            describe(PermissionError(13, "read-only", str(path)), path.parent) if self.read_only else None)
        try:
            self.db = connect(path, create=create, read_only=self.read_only)
        except DiskFull as exc:
            if not path.exists():
                raise
            # a full disk cannot take the -shm file a WAL reader needs: read the committed state
            # read-only (searching works) until space returns
            self.db = connect(path, create=False, read_only=True)
            self.read_only, self.read_only_reason = True, exc

    def close(self) -> None:
        self.db.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with _transaction(self.db):
            yield

    def check_writable(self) -> None:
        """Take the write lock and let it go: raises (busy, read-only, full) before a repair touches
        anything, rather than halfway through it."""
        with _transaction(self.db):
            pass

    def quick_check(self) -> list[str]:
        """Problems SQLite's integrity check finds (empty: the catalog is sound)."""
        return integrity_problems(self.db)

    def segment_dirs(self, segment_ids: list[int]) -> dict[int, str]:
        """Folder name (under segments/) of each of ``segment_ids`` the catalog knows."""
        if not segment_ids:
            return {}
        marks = ",".join("?" * len(segment_ids))
        return dict(self.db.execute(f"SELECT id, dir FROM segments WHERE id IN ({marks})", segment_ids).fetchall())

    def fts_problem(self) -> str | None:
        """What FTS5's own integrity check says about the passages' full-text index (None: sound)."""
        try:
            self.db.execute("INSERT INTO passages_fts(passages_fts, rank) VALUES ('integrity-check', 1)")
        except sqlite3.DatabaseError as exc:
            kind = classify(exc, self.path)
            if kind is ReadOnly:
                return None  # the check is a write to SQLite; read-only media cannot run it
            if kind is CatalogDamaged:
                return str(exc)
            raise
        return None

    def rebuild_fts(self) -> None:
        self.db.execute("INSERT INTO passages_fts(passages_fts) VALUES ('rebuild')")

    # --- keyword search: core/query.py builds the MATCH expressions, core/search.py the filter clause ---
    def passage_hits(self, match: str, where: str, params: list[Any], inner: int,
                     limit: int) -> list[tuple[int, int, float, str]]:
        """(file id, best passage id, BM25, its text) per file, best first, among the ``inner`` best
        passages matching the FTS5 expression, of files passing ``where`` (alias f)."""
        return self.db.execute(
            f"""WITH hits AS (
                  SELECT rowid AS pid, bm25(passages_fts) AS score FROM passages_fts
                  WHERE passages_fts MATCH ? ORDER BY score LIMIT ?)
                SELECT p.file_id, p.id, MIN(h.score) AS best, p.text
                FROM hits h JOIN passages p ON p.id = h.pid JOIN files f ON f.id = p.file_id
                WHERE {where} GROUP BY p.file_id ORDER BY best LIMIT ?""",
            [match, inner, *params, limit],
        ).fetchall()

    def name_hits(self, match: str, where: str, params: list[Any], limit: int) -> list[tuple[int, float, int, str]]:
        """(file id, BM25, first passage id, name and title) of files whose names_fts row matches, best first."""
        return self.db.execute(
            f"""SELECT f.id, bm25(names_fts) AS score,
                       (SELECT id FROM passages WHERE file_id = f.id ORDER BY seq LIMIT 1),
                       f.name || ' ' || coalesce(f.title, '')
                FROM names_fts JOIN files f ON f.id = names_fts.rowid
                WHERE names_fts MATCH ? AND {where} ORDER BY score LIMIT ?""",
            [match, *params, limit],
        ).fetchall()

    def text_file_ids(self, match: str) -> set[int]:
        """Files with a passage matching the FTS5 expression."""
        return {r[0] for r in self.db.execute(
            "SELECT DISTINCT p.file_id FROM passages_fts JOIN passages p ON p.id = passages_fts.rowid "
            "WHERE passages_fts MATCH ?", [match])}

    def name_file_ids(self, match: str) -> set[int]:
        """Files whose name/title (names_fts) match the FTS5 expression."""
        return {r[0] for r in self.db.execute("SELECT rowid FROM names_fts WHERE names_fts MATCH ?", [match])}

    def passage_file_ids(self, passage_ids: list[int], where: str, params: list[Any]) -> dict[int, int]:
        """Passage id → file id of those of ``passage_ids`` (not empty) whose file passes ``where`` (alias f)."""
        return dict(self.db.execute(
            f"SELECT p.id, p.file_id FROM passages p JOIN files f ON f.id = p.file_id "
            f"WHERE p.id IN ({','.join('?' * len(passage_ids))}) AND {where}",
            [*passage_ids, *params],
        ).fetchall())

    def result_files(self, file_ids: list[int]) -> dict[int, tuple[int, str, str | None, int, float, str]]:
        """(id, stored path, title, size, mtime, ext) of each of ``file_ids`` (not empty) still catalogued, by id."""
        return {row[0]: row for row in self.db.execute(
            f"SELECT id, path, title, size, mtime, ext FROM files WHERE id IN ({','.join('?' * len(file_ids))})",
            file_ids)}

    def result_passages(self, passage_ids: list[int]) -> dict[int, tuple[int, str, int | None, int | None, int | None]]:
        """(id, text, page, segment id, local id) of each of ``passage_ids`` still catalogued, by id."""
        if not passage_ids:
            return {}
        return {row[0]: row for row in self.db.execute(
            f"SELECT id, text, page, segment_id, local_id FROM passages "
            f"WHERE id IN ({','.join('?' * len(passage_ids))})", passage_ids)}

    SORT_ORDER = {"date": "f.mtime DESC", "name": "f.name COLLATE NOCASE ASC", "size": "f.size DESC"}

    def filtered_files(self, where: str, params: list[Any], sort: str, limit: int,
                       ids: Iterable[int] | None = None) -> list[tuple[int, int]]:
        """(file id, first passage id) of the files passing ``where`` (alias f), optionally among
        ``ids``, in ``sort`` order (date: newest first, name: A-Z, size: largest first)."""
        clause, extra = where, list(params)
        if ids is not None:
            id_list = list(ids)
            if not id_list:
                return []
            clause += f" AND f.id IN ({','.join('?' * len(id_list))})"
            extra += id_list
        order = self.SORT_ORDER.get(sort, self.SORT_ORDER["date"])
        return self.db.execute(
            f"""SELECT f.id, (SELECT id FROM passages WHERE file_id = f.id ORDER BY seq LIMIT 1)
                FROM files f WHERE {clause} ORDER BY {order}, f.id LIMIT ?""",
            [*extra, limit],
        ).fetchall()

    def file_paths(self) -> list[str]:
        """Every catalogued file path, as stored (see paths.from_db)."""
        return [r[0] for r in self.db.execute("SELECT path FROM files")]

    def file_id(self, path: str) -> int | None:
        """The catalog id of the file at ``path`` (a file-system path, not the stored form), or None."""
        from . import paths as P

        return self.scalar("SELECT id FROM files WHERE path = ?", [P.to_db(path)])

    def file_rows(self) -> list[dict[str, Any]]:
        """``{"id", "path"}`` of every catalogued file (path as stored, see paths.from_db)."""
        return self.query("SELECT id, path FROM files")

    def failure_paths(self) -> list[str]:
        """The stored path of every failure, skipped non-documents included."""
        return [r["path"] for r in self.query("SELECT path FROM failures")]

    def forget_failure(self, path: str) -> int:
        """Drop the failure of ``path`` (stored form); returns how many rows went (0 or 1). Runs inside the
        caller's open transaction."""
        return int(self.db.execute("DELETE FROM failures WHERE path = ?", [path]).rowcount)

    def forget_failures(self) -> int:
        """Drop every failure (not the skipped non-documents); returns how many. Runs inside the caller's
        open transaction."""
        return int(self.db.execute("DELETE FROM failures WHERE skipped = 0").rowcount)

    def document_passages(self, file_id: int) -> list[dict[str, Any]]:
        """``{"id", "char_start", "page", "text"}`` of one file's passages, in order."""
        return self.query("SELECT id, char_start, page, text FROM passages WHERE file_id = ? ORDER BY seq", [file_id])

    def failures(self) -> list[dict[str, Any]]:
        """Files that could not be read (not the skipped non-documents), by path."""
        return self.query("SELECT path, reason, size, failed_at FROM failures WHERE skipped = 0 ORDER BY path")

    def record_failures(self, entries: list[tuple[str, str]]) -> None:
        """(stored path, reason) of things that could not be read, e.g. whole folders."""
        now = time.time()
        with self.transaction():
            self.db.conn.executemany(
                "INSERT OR REPLACE INTO failures(path, size, mtime, reason, skipped, failed_at) "
                "VALUES (?, 0, 0, ?, 0, ?)",
                [(path, reason, now) for path, reason in entries],
            )

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

    # exclusions (patterns; see core/exclusions.py) ------------------------------------------------------
    def exclusions(self) -> list[tuple[str, str, bool]]:
        """(folder, pattern, is a default) rows; folder '' = every watched folder."""
        rows = self.db.execute("SELECT folder, pattern, is_default FROM exclusions ORDER BY folder, id").fetchall()
        return [(r[0], r[1], bool(r[2])) for r in rows]

    def add_exclusion(self, folder: str, pattern: str) -> bool:
        cursor = self.db.execute(
            "INSERT OR IGNORE INTO exclusions(folder, pattern, is_default, added_at) VALUES (?, ?, 0, ?)",
            [folder, pattern, time.time()],
        )
        return cursor.rowcount > 0

    def remove_exclusion(self, folder: str, pattern: str) -> bool:
        cursor = self.db.execute("DELETE FROM exclusions WHERE folder = ? AND pattern = ?", [folder, pattern])
        return cursor.rowcount > 0

    def replace_exclusions(self, rows: list[tuple[str, str, bool]]) -> None:
        """Make the patterns exactly ``rows`` ((folder, pattern, is a default), as :meth:`exclusions` gives):
        a rebuilt catalog gets the person's patterns back, removed defaults staying removed."""
        self.db.execute("DELETE FROM exclusions")
        self.db.conn.executemany(
            "INSERT OR IGNORE INTO exclusions(folder, pattern, is_default, added_at) VALUES (?, ?, ?, ?)",
            [(folder, pattern, int(default), time.time()) for folder, pattern, default in rows],
        )

    # the scanner's view of the files table -------------------------------------------------------------
    @staticmethod
    def _scope_clause(scopes: list[str] | None) -> tuple[str, list[Any]]:
        """WHERE clause for paths equal to or under any of ``scopes`` (stored paths, see core/paths.py):
        two ranges each, since a child whose name is not UTF-8 is stored in the NUL-prefixed form."""
        if scopes is None:
            return "", []
        from . import paths as P

        terms: list[str] = []
        params: list[Any] = []
        for scope in scopes:
            forms = {P.to_db(scope), "\x00" + os.fsencode(scope).decode("latin-1")}
            for form in forms:
                lower = form.rstrip("/") + "/"
                terms.append("(path = ? OR (path >= ? AND path < ?))")
                params += [form, lower, lower[:-1] + chr(ord("/") + 1)]
        return " WHERE " + " OR ".join(terms) if terms else " WHERE 0", params

    def _scoped(self, sql: str, scopes: list[str] | None) -> list[Any]:
        if scopes is None:
            return self.db.execute(sql).fetchall()
        rows: dict[Any, Any] = {}
        for start in range(0, len(scopes), 100):  # SQLite limits the depth of an OR chain
            where, params = self._scope_clause(scopes[start : start + 100])
            for row in self.db.execute(sql + where, params).fetchall():
                rows[row[0]] = row
        return list(rows.values())

    def known_files(self, scopes: list[str] | None = None) -> list[tuple[int, str, int, float, str]]:
        """(id, stored path, size, mtime, hash) of every file, or of those under ``scopes``."""
        return self._scoped("SELECT id, path, size, mtime, hash FROM files", scopes)

    def known_failures(self, scopes: list[str] | None = None) -> list[tuple[str, int, float]]:
        return self._scoped("SELECT path, size, mtime FROM failures", scopes)

    def apply_scan(self, moves: list[tuple[int, str, str, str]], touch: list[tuple[int, float]],
                   deleted_ids: list[int], vanished_failures: list[str]) -> None:
        """One transaction: moved files keep their row (and vectors) under the new path, touched files
        get their new mtime, deleted files go with their passages (hidden from search at once)."""
        with self.transaction():
            now = time.time()
            self.db.conn.executemany(
                "UPDATE files SET path = ?, name = ?, ext = ?, updated_at = ? WHERE id = ?",
                [(path, name, ext, now, fid) for fid, path, name, ext in moves],
            )
            self.db.conn.executemany("UPDATE files SET mtime = ? WHERE id = ?", [(m, f) for f, m in touch])
            self.delete_files(deleted_ids)
            self.db.conn.executemany("DELETE FROM failures WHERE path = ?", [(p,) for p in vanished_failures])
            if deleted_ids:
                self.bump_generation()

    def counts_under(self, folder: str) -> dict[str, int]:
        """Indexed, waiting (keyword-only so far) and failed files under ``folder`` (a watched folder)."""
        where, params = self._scope_clause([folder])
        states = dict(self.db.execute(f"SELECT state, COUNT(*) FROM files{where} GROUP BY state", params).fetchall())
        terms = where.removeprefix(" WHERE ")
        failed = self.db.execute(f"SELECT COUNT(*) FROM failures WHERE skipped = 0 AND ({terms})", params).fetchone()[0]
        return {"indexed": int(states.get("indexed", 0)), "pending": int(states.get("extracted", 0)),
                "failed": int(failed or 0)}

    def delete_files(self, ids: list[int]) -> None:
        """Drop the files ``ids`` with their passages, 500 at a time. Runs inside the caller's open transaction."""
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            self.db.execute(f"DELETE FROM passages WHERE file_id IN ({marks})", chunk)
            self.db.execute(f"DELETE FROM files WHERE id IN ({marks})", chunk)

    # counts -----------------------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        states = dict(self.db.execute("SELECT state, COUNT(*) FROM files GROUP BY state").fetchall())
        return {
            "indexed": int(states.get("indexed", 0)),
            "pending": int(states.get("extracted", 0)),
            "failed": int(self.scalar("SELECT COUNT(*) FROM failures WHERE skipped = 0") or 0),
            "passages": int(self.scalar("SELECT COUNT(*) FROM passages") or 0),
        }

    # segments: identity, liveness, model (index/store.py) -------------------------------------------
    SEGMENT_COLUMNS = "id, kind, dir, state, model_key, dim, n_passages, n_tokens"

    @contextmanager
    def reading(self) -> Iterator[None]:
        """One read transaction: the statements inside see one committed state (WAL snapshot)."""
        if self.db.conn.in_transaction:
            yield
            return
        self.db.execute("BEGIN")
        try:
            yield
        finally:
            self.db.execute("COMMIT")

    def generation(self) -> int:
        """Bumped by every commit that changes what search sees (see bump_generation)."""
        return int(self.get_setting("index_generation", 0))

    def segments(self, states: tuple[str, ...] = ("live", "archived")) -> list[dict[str, Any]]:
        marks = ",".join("?" * len(states))
        return self.query(f"SELECT {self.SEGMENT_COLUMNS} FROM segments WHERE state IN ({marks}) ORDER BY id",
                          list(states))

    def all_segments(self) -> list[dict[str, Any]]:
        return self.query(f"SELECT {self.SEGMENT_COLUMNS} FROM segments ORDER BY id")

    def segment_live_counts(self) -> dict[int, int]:
        """Passages pointing at each segment (an index-only scan of passages_segment)."""
        return dict(self.db.execute(
            "SELECT segment_id, COUNT(*) FROM passages WHERE segment_id > 0 GROUP BY segment_id").fetchall())

    def segment_local_ids(self, segment_id: int) -> str:
        """The live local ids of one segment as one comma-separated string (numpy parses it in C:
        several times faster than a row per id through Python)."""
        return str(self.scalar("SELECT group_concat(local_id) FROM passages WHERE segment_id = ?",
                               [segment_id]) or "")

    def dangling_passages(self) -> int:
        """Passages pointing at a segment that is not live."""
        return int(self.scalar(
            "SELECT COUNT(*) FROM passages WHERE segment_id > 0 AND segment_id NOT IN "
            "(SELECT id FROM segments WHERE state = 'live')") or 0)

    def segment_stats(self) -> dict[str, int]:
        """For status: live segments by kind and the vectors they store (dead ones included until merged)."""
        rows = self.db.execute(
            "SELECT kind, COUNT(*), COALESCE(SUM(n_tokens), 0) FROM segments WHERE state = 'live' GROUP BY kind"
        ).fetchall()
        by_kind = {kind: (int(n), int(tokens)) for kind, n, tokens in rows}
        return {
            "segments": sum(n for n, _ in by_kind.values()),
            "plaid_segments": by_kind.get("plaid", (0, 0))[0],
            "flat_segments": by_kind.get("flat", (0, 0))[0],
            "vectors": sum(t for _, t in by_kind.values()),
        }

    def drop_empty_segments(self) -> int:
        """Forget live segments no passage points at any more (re-encoded for a new model, or every
        passage deleted); their folders become orphans, deleted once no reader holds them."""
        with self.transaction():
            n = self.db.execute(
                "DELETE FROM segments WHERE state = 'live' AND NOT EXISTS "
                "(SELECT 1 FROM passages WHERE passages.segment_id = segments.id)").rowcount
            if n:
                self.bump_generation()
        return int(n)

    def passage_order(self) -> dict[int, tuple[str, int]]:
        """(file path, seq) of every passage that has vectors: merges order passages by content."""
        return {pid: (path, seq) for pid, path, seq in self.db.execute(
            "SELECT p.id, f.path, p.seq FROM passages p JOIN files f ON f.id = p.file_id WHERE p.segment_id > 0")}

    def passage_paths(self) -> dict[int, str]:
        """The file path (as stored, see paths.from_db) of every passage, by passage id."""
        return dict(self.db.execute("SELECT p.id, f.path FROM passages p JOIN files f ON f.id = p.file_id"))

    def commit_merge(self, name: str, kind: str, model_key: str, dim: int, passage_ids: list[int], n_tokens: int,
                     source_ids: list[int], archive_ids: list[int]) -> int:
        """Make the merged segment ``name`` live in place of ``source_ids`` (``archive_ids`` among them are
        kept as archived, the others forgotten); returns its id. Only passages still pointing at a
        source move: one that died meanwhile stays dead."""
        with self.transaction():
            new_id = self.db.execute(
                "INSERT INTO segments(kind, dir, model_key, dim, n_passages, n_tokens, state, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, 'live', ?)",
                [kind, name, model_key, dim, len(passage_ids), n_tokens, time.time()],
            ).lastrowid
            marks = ",".join("?" * len(source_ids))
            self.db.conn.executemany(
                f"UPDATE passages SET segment_id = ?, local_id = ? WHERE id = ? AND segment_id IN ({marks})",
                [(new_id, local, pid, *source_ids) for local, pid in enumerate(passage_ids)],
            )
            for sid in source_ids:
                if sid in archive_ids:
                    self.db.execute("UPDATE segments SET state = 'archived' WHERE id = ?", [sid])
                else:
                    self.db.execute("DELETE FROM segments WHERE id = ?", [sid])
            self.bump_generation()
        return int(new_id or 0)

    # the indexer's writes: each runs inside the indexer's open transaction (Indexer._store_extracted,
    # _encode_batch, repair), which decides what commits together -------------------------------------
    def requeue_segments(self, segment_ids: list[int]) -> None:
        """Forget ``segment_ids`` (damaged); every passage pointing at a segment that is not live waits
        for encoding again, and so do its files. Runs inside the caller's open transaction."""
        for sid in segment_ids:
            self.db.execute("DELETE FROM segments WHERE id = ?", [sid])
        dangling = "segment_id > 0 AND segment_id NOT IN (SELECT id FROM segments WHERE state = 'live')"
        self.db.execute(
            f"UPDATE files SET state = 'extracted' WHERE id IN (SELECT file_id FROM passages WHERE {dangling})"
        )
        self.db.execute(f"UPDATE passages SET segment_id = NULL, local_id = NULL WHERE {dangling}")
        self.bump_generation()

    def drop_passages(self, file_id: int) -> None:
        """Delete one file's passages (its row stays). Runs inside the caller's open transaction."""
        self.db.execute("DELETE FROM passages WHERE file_id = ?", [file_id])

    def drop_file(self, file_id: int) -> None:
        """Delete one file's row (its passages first: :meth:`drop_passages`). Runs inside the caller's
        open transaction."""
        self.db.execute("DELETE FROM files WHERE id = ?", [file_id])

    def record_failure(self, path: str, size: int, mtime: float, reason: str, skipped: bool, failed_at: float) -> None:
        """Remember that ``path`` (stored form) could not be read (``skipped``: not a document), replacing
        an older failure of it. Runs inside the caller's open transaction."""
        self.db.execute(
            "INSERT OR REPLACE INTO failures(path, size, mtime, reason, skipped, failed_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [path, size, mtime, reason, int(skipped), failed_at],
        )

    def add_file(self, values: dict[str, Any]) -> int:
        """Insert a files row from column → value; returns its id. Runs inside the caller's open transaction."""
        cols = ",".join(values)
        cursor = self.db.execute(
            f"INSERT INTO files({cols}) VALUES ({','.join('?' * len(values))})", list(values.values())
        )
        return int(cursor.lastrowid or 0)

    def update_file(self, file_id: int, values: dict[str, Any]) -> None:
        """Set the columns of one files row from column → value. Runs inside the caller's open transaction."""
        sets = ",".join(f"{k} = ?" for k in values)
        self.db.execute(f"UPDATE files SET {sets} WHERE id = ?", [*values.values(), file_id])

    def add_passages(self, rows: list[tuple[int, int, int, int, int | None, str, int | None]]) -> None:
        """Insert passages: (file id, seq, char start, char end, page, text, segment id: None = waits for
        vectors, 0 = none needed). Runs inside the caller's open transaction."""
        self.db.conn.executemany(
            "INSERT INTO passages(file_id, seq, char_start, char_end, page, text, segment_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows,
        )

    def mark_indexed(self, file_id: int) -> None:
        """One file needs no vectors (no passages): indexed at once. Runs inside the caller's open transaction."""
        self.db.execute("UPDATE files SET state = 'indexed' WHERE id = ?", [file_id])

    def files_waiting_for_encoding(self) -> list[dict[str, Any]]:
        """``{"id", "path", "chars", "updated_at"}`` of the files with passages waiting for vectors, by id."""
        return self.query("SELECT id, path, chars, updated_at FROM files WHERE state = 'extracted' ORDER BY id")

    def passages_to_encode(self, file_ids: list[int]) -> list[dict[str, Any]]:
        """``{"id", "file_id", "char_start", "char_end", "text"}`` of the passages of ``file_ids``, by file and seq."""
        marks = ",".join("?" * len(file_ids))
        return self.query(
            f"SELECT id, file_id, char_start, char_end, text FROM passages WHERE file_id IN ({marks}) "
            "ORDER BY file_id, seq",
            file_ids,
        )

    def add_flat_segment(self, name: str, model_key: str, dim: int, n_passages: int, n_tokens: int) -> int:
        """Record the new live flat segment in folder ``name``; returns its id. Runs inside the caller's
        open transaction."""
        return int(self.db.execute(
            "INSERT INTO segments(kind, dir, model_key, dim, n_passages, n_tokens, state, created_at) "
            "VALUES ('flat', ?, ?, ?, ?, ?, 'live', ?)",
            [name, model_key, dim, n_passages, n_tokens, time.time()],
        ).lastrowid or 0)

    def assign_vectors(self, segment_id: int, passage_ids: list[int]) -> None:
        """Point ``passage_ids`` at their vectors: local id i of ``segment_id`` is ``passage_ids[i]``. Runs
        inside the caller's open transaction."""
        self.db.conn.executemany(
            "UPDATE passages SET segment_id = ?, local_id = ? WHERE id = ?",
            [(segment_id, local, pid) for local, pid in enumerate(passage_ids)],
        )

    def mark_without_vectors(self, passage_ids: list[int]) -> None:
        """Passages the encoder gave no vectors (segment id 0: nothing to wait for). Runs inside the
        caller's open transaction."""
        self.db.conn.executemany("UPDATE passages SET segment_id = 0 WHERE id = ?", [(p,) for p in passage_ids])

    def mark_encoded(self, file_ids: list[int]) -> None:
        """Of ``file_ids``, those still waiting whose passages all have vectors now become indexed (a file
        may have changed meanwhile). Runs inside the caller's open transaction."""
        marks = ",".join("?" * len(file_ids))
        self.db.execute(
            f"UPDATE files SET state = 'indexed' WHERE id IN ({marks}) AND state = 'extracted' AND NOT EXISTS "
            "(SELECT 1 FROM passages WHERE passages.file_id = files.id AND passages.segment_id IS NULL)",
            file_ids,
        )

    def files_to_reencode(self, model_key: str) -> int:
        """Files whose vectors (some or all) were made by another model than ``model_key``, plus the
        files waiting for vectors at all."""
        other = int(self.scalar(
            "SELECT COUNT(DISTINCT p.file_id) FROM passages p JOIN segments s ON s.id = p.segment_id "
            "JOIN files f ON f.id = p.file_id WHERE s.model_key != ? AND f.state = 'indexed'", [model_key]) or 0)
        return other + int(self.scalar("SELECT COUNT(*) FROM files WHERE state = 'extracted'") or 0)

    def switch_model(self, choice: str | None, model_key: str) -> int:
        """Make ``model_key`` the index's model (``choice``: the id or folder it was chosen by, None for
        the default). Files with vectors of another model wait for encoding again; their old vectors
        stay where they are (searchable by the old model) until the new ones replace them. Returns
        how many files will be encoded."""
        with self.transaction():
            self.set_setting("model", choice)
            self.set_setting("model_key", model_key)
            self.db.execute(
                "UPDATE files SET state = 'extracted' WHERE state = 'indexed' AND id IN "
                "(SELECT p.file_id FROM passages p JOIN segments s ON s.id = p.segment_id WHERE s.model_key != ?)",
                [model_key])
            # switching back before the re-encoding finished: files whose vectors are all of this model again
            self.db.execute(
                "UPDATE files SET state = 'indexed' WHERE state = 'extracted' AND NOT EXISTS "
                "(SELECT 1 FROM passages p LEFT JOIN segments s ON s.id = p.segment_id WHERE p.file_id = files.id "
                "AND (p.segment_id IS NULL OR (p.segment_id > 0 AND (s.id IS NULL OR s.model_key != ?))))",
                [model_key])
            self.bump_generation()
            return int(self.scalar("SELECT COUNT(*) FROM files WHERE state = 'extracted'") or 0)


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
