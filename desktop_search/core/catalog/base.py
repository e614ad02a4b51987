"""One connection to the catalog with its transactions and checks; the topical mixins build on it."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import CatalogDamaged, CatalogError, DiskFull, ReadOnly, classify, describe, writable
from .connection import _transaction, connect, integrity_problems, sqlite_utils


class CatalogBase:
    """Read and write helpers over one connection. Writes must run on the writer thread."""

    db: sqlite_utils.Database

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

    def query(self, sql: str, params: Iterable[Any] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        cursor = self.db.execute(sql, params)
        cols = [c[0] for c in cursor.description or []]
        return [dict(zip(cols, row, strict=True)) for row in cursor.fetchall()]  # type: ignore[misc]

    def scalar(self, sql: str, params: Iterable[Any] = ()) -> Any:
        row = self.db.execute(sql, params).fetchone()
        return row[0] if row else None

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
