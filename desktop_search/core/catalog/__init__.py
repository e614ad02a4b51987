"""The catalog: SQLite (through sqlite-utils, WAL) is the source of truth, and this package is the one
data-access layer: every SQL statement of the program lives here.

Tables: roots, files, passages (+ FTS5), failures, segments, settings, exclusions. ``schema.py`` holds
the migrations, ``connection.py`` opens a catalog, and :class:`Catalog` gathers the named queries by
topic (``keyword``, ``terms``, ``files``, ``preferences``, ``vectors``). Every write goes through one
:class:`Writer` thread; readers open their own connections (one per thread, never shared).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from ..errors import CatalogDamaged, CatalogError, DiskFull, ReadOnly
from .connection import BUSY_TIMEOUT_S, connect, integrity_problems, sqlite_utils
from .files import FileRecords
from .keyword import KeywordQueries
from .members import ArchiveMembers
from .preferences import Preferences
from .schema import MIGRATIONS, SCHEMA_VERSION
from .terms import TermStatistics
from .vectors import VectorRecords

__all__ = [
    "BUSY_TIMEOUT_S", "MIGRATIONS", "SCHEMA_VERSION", "Catalog", "CatalogDamaged", "CatalogError", "DiskFull",
    "ReadOnly", "Writer", "connect", "integrity_problems", "sqlite_utils",
]

T = TypeVar("T")


class Catalog(KeywordQueries, TermStatistics, FileRecords, Preferences, VectorRecords, ArchiveMembers):
    """One connection with every named query. Writes must run on the writer thread."""


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
