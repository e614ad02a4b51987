"""The one façade the CLI and the GUI call: open a data dir, index, search, report, repair.

Owners and threads: catalog writes go through ``writer`` (one thread); each thread that reads gets its
own connection from :meth:`Service.reader`, closed when that thread ends; the segment store and the
encoder are shared by the indexing thread and every search thread (their modules say how); the model
in force is the catalog's (``switch_model``), overridden for one run by ``--model``.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any

from filelock import FileLock
from filelock import Timeout as LockTimeout

from . import paths as P
from .catalog import Catalog, CatalogError, Writer
from .config import Settings, default_data_dir, resolve_data_dir
from .download import DownloadCancelled
from .encoder import Encoder
from .encoder.light_query import LightQueryEncoder
from .errors import CatalogBusy, CatalogDamaged, DiskFull, ReadOnly, describe, writable
from .evaluate import EvalError, run_eval
from .events import Change, ChangeEvents, announce
from .exclusions import GITIGNORE_SETTING, PatternError  # noqa: F401 (PatternError: re-exported for the CLI)
from .extract import ExtractLimits, ExtractOutcome, extract_one
from .highlight import keyword_spans, merge_spans
from .index import SegmentStore
from .indexer import Cancelled, Indexer, IndexReport, Progress
from .layout import CATALOG, STATE, WRITE_LOCK, Busy
from .live import LiveIndex
from .model import (
    ModelLocation,
    ModelMismatch,
    ModelUnavailable,
    find_model,
)
from .model_owner import ModelOwner
from .paths import display, exact_form
from .privacy import FILE_MODE, make_private_dir, private_umask, redacted_traceback, tighten, write_private
from .query import STOPWORDS, QueryError, parse_query
from .repair import Repair, rebuild_catalog
from .reports import Reports
from .search import Searcher, SearchResponse
from .similar import find_similar, parse_target  # noqa: F401  (parse_target: the CLI's PATH[:PAGE])
from .watcher import watch


class Service(LiveIndex, Repair, ModelOwner, Reports):
    def __init__(
        self,
        data_dir: str | os.PathLike[str] | None = None,
        model: str | None = None,
        context_length: int | None = None,
        threads: int | None = None,
        allow_download: bool = True,
        progress: Callable[[str], None] | None = None,
    ):
        self.data_dir = resolve_data_dir(data_dir)
        # the index holds the text of private files: this process creates everything owner-only
        # from here on, and loose modes left by older versions or copies are tightened (privacy.py)
        private_umask()
        try:
            make_private_dir(self.data_dir)
        except OSError as exc:
            raise CatalogError(f"cannot create data folder {self.data_dir}: {exc.strerror}") from exc
        self.catalog_path = self.data_dir / CATALOG
        self.read_only = not writable(self.data_dir)  # read-only media: search works, writers refuse
        if not self.read_only:
            tighten(self.data_dir)
        self.writer = Writer(self.catalog_path)
        # why writers must refuse: read-only media, or a disk too full to open the catalog for writing
        self.read_only_reason: CatalogError | None = self.writer.catalog.read_only_reason
        self.read_only = self.read_only or self.writer.catalog.read_only
        self.settings: Settings = self.writer.catalog.load_settings()
        if context_length:
            self.settings.context_length = context_length
        if threads:
            self.settings.threads = threads
        self.store = SegmentStore(self.data_dir / "segments")
        self._model_option = model
        self._allow_download = allow_download
        self._progress_message = progress
        self._encoder: Encoder | None = None
        self._location: ModelLocation | None = None
        self._model_error: str | None = None
        self._resolved_choice: str | None = None  # the model_choice() that _location was resolved from
        self._model_lock = threading.Lock()
        # reader connections: one per thread, closed when the thread ends (its thread-local slot is
        # freed) or when the service closes; nothing else holds them, so retired pool threads leave none
        self._readers = threading.local()
        self._reader_slots: weakref.WeakSet[_ReaderSlot] = weakref.WeakSet()
        self._lock = FileLock(str(self.data_dir / WRITE_LOCK), mode=0o600)
        self.changes = ChangeEvents()  # one "what changed" event for every view (events.py; ANNOUNCED below)

    # --- plumbing --------------------------------------------------------------------------------
    def reader(self) -> Catalog:
        """This thread's read connection. Use it on this thread only; it closes when the thread ends."""
        slot = getattr(self._readers, "slot", None)
        if slot is None:
            slot = _ReaderSlot(Catalog(self.catalog_path, create=False))
            self._readers.slot = slot
            self._reader_slots.add(slot)
        return slot.catalog

    def open_readers(self) -> int:
        """Reader connections open now (one per thread that read and has not ended)."""
        return len(self._reader_slots)

    def close(self) -> None:
        if getattr(self, "_extract_pool", None) is not None:
            self._extract_pool.close()
        self.store.close()
        for slot in list(self._reader_slots):
            slot.close()
        self.writer.close()

    def __enter__(self) -> Service:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _exclusive(self, should_stop: Callable[[], bool] | None = None,
                   progress: Callable[[Progress], None] | None = None) -> Iterator[None]:
        """The writer lock of this data folder. Another process holding it (a CLI `index` next to
        `watch` or the window) is waited for, with a message; ``should_stop`` ends the wait (Cancelled)."""
        try:
            self._lock.acquire(timeout=0.5)
        except LockTimeout:
            message = f"waiting for another desktop-search process… (it is updating {self.data_dir})"
            if progress is not None:
                progress(Progress("wait", message=message))
            elif self._progress_message is not None:
                self._progress_message(message)
            while True:
                if should_stop is not None and should_stop():
                    raise Cancelled() from None
                try:
                    self._lock.acquire(timeout=0.5)
                    break
                except LockTimeout:
                    continue
        try:
            yield
        finally:
            self._lock.release()

    def _save_state(self) -> None:
        # everything the person chose, so that rebuilding a damaged catalog forgets none of it. Read and
        # written on the writer thread, one save after another: two saves at once (the window saves the
        # exclusions on its index thread and the settings on its settings thread) shared one temp file,
        # so one os.replace failed (ENOENT, the exclusions job failed and no index run followed), and an
        # older snapshot could be written last
        def save(c: Catalog) -> None:
            state = {
                "roots": c.roots(),
                "excludes": c.roots("exclude"),
                "settings": c.load_settings().as_dict(),
                "exclusions": c.exclusions(),
                "gitignore": bool(c.get_setting(GITIGNORE_SETTING, False)),
                "model": c.get_setting("model"),
            }
            write_private(self.data_dir / STATE, json.dumps(state, indent=1))  # 0600, atomic

        self.writer.call(save)

    # --- indexing --------------------------------------------------------------------------------
    def add_roots(self, paths: list[str], kind: str = "include") -> list[str]:
        added = []
        for raw in paths:
            path = os.path.abspath(os.path.expanduser(raw))
            if not os.path.exists(path):
                raise FileNotFoundError(f"no such file or folder: {P.display(path)}")
            self.writer.call(lambda c, p=path: c.add_root(P.to_db(p), kind))
            added.append(path)
        self._save_state()
        return added

    def roots(self) -> list[str]:
        return [P.from_db(r) for r in self.writer.call(lambda c: c.roots())]

    def indexer(
        self, progress: Callable[[Progress], None] | None = None, should_stop: Callable[[], bool] | None = None
    ) -> Indexer:
        return Indexer(self.data_dir, self.writer, self.reader(), self.store, self.settings, self._use_encoder,
                       self._model_key, progress, should_stop)

    def index(
        self,
        paths: list[str] | None = None,
        progress: Callable[[Progress], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        encode: bool = True,
    ) -> IndexReport:
        with self._exclusive(should_stop, progress), self._model_in_use():
            if paths:
                self.add_roots(paths)
            return self.indexer(progress, should_stop).run(self.roots(), encode=encode, rules=self.rules())

    def remove(self, paths: list[str]) -> int:
        """Stop watching ``paths`` and drop their files; returns how many files were dropped."""
        with self._exclusive():
            targets = [os.path.abspath(os.path.expanduser(p)) for p in paths]
            known = set(self.roots())
            unknown = [t for t in targets if t not in known]
            if unknown:
                raise FileNotFoundError(f"not a watched folder: {P.display(unknown[0])}")

            def apply(c: Catalog) -> int:
                dropped = 0
                remaining = [P.from_db(r) for r in c.roots() if P.from_db(r) not in targets]
                with c.transaction():
                    for t in targets:
                        c.remove_root(P.to_db(t))
                    rows = c.file_rows()
                    doomed = [
                        r["id"] for r in rows
                        if any(P.under(P.from_db(r["path"]), t) for t in targets)
                        and not any(P.under(P.from_db(r["path"]), k) for k in remaining)
                    ]
                    c.delete_files(doomed)
                    for path in c.failure_paths():
                        if any(P.under(P.from_db(path), t) for t in targets):
                            c.forget_failure(path)
                    dropped = len(doomed)
                    c.bump_generation()
                return dropped

            dropped = self.writer.call(apply)
            self._save_state()
            return dropped

    # --- search ----------------------------------------------------------------------------------
    def searcher(self) -> Searcher:
        return Searcher(self.reader, self.store, self._encoder_or_none)

    def _encoder_or_none(self) -> Encoder | LightQueryEncoder | None:
        return self._query_encoder()

    def search(self, query: str, limit: int = 10, mode: str = "hybrid", snippets: bool = True,
               should_stop: Callable[[], bool] | None = None, sort: str = "relevance",
               explain: bool = False) -> SearchResponse:
        """``sort``: relevance | date (newest first) | name | size (largest first). ``explain``: each
        result carries which document words each query word matched and how strongly."""
        return self.searcher().search(query, limit=limit, mode=mode, snippets=snippets, should_stop=should_stop,
                                      sort=sort, explain=explain)

    def search_stages(self, query: str, limit: int = 10, modes: Sequence[str] = ("keyword", "hybrid"),
                      should_stop: Callable[[], bool] | None = None,
                      sort: str = "relevance", explain: bool = False) -> Iterator[SearchResponse]:
        """Responses for several modes of one query, cheapest first, sharing their common work."""
        return self.searcher().stages(query, limit=limit, modes=modes, should_stop=should_stop, sort=sort,
                                      explain=explain)

    def similar(self, path: str, page: int | None = None, limit: int = 10, snippets: bool = True,
                passage_id: int | None = None) -> SearchResponse:
        """More like this: files ranked by the stored token vectors of ``path`` (or of its ``page``, or of
        one of its passages: a result's ``passage_id``) used as the query, no model needed. The source
        file is first (score about 1.0). Same response shape as :meth:`search`, ``mode`` "similar", each
        result's ``snippet`` the passage most like the source with the words that matched most strongly
        highlighted. Raises QueryError (one line) when the file is not indexed, has no such page or
        passage, or no vectors yet. Any thread (its own reader)."""
        return find_similar(self.reader(), self.store, path, page, limit, snippets, passage_id)

    def save_settings(self, settings: Settings) -> None:
        self.writer.call(lambda c: c.save_settings(settings))
        self._save_state()

    def update_settings(self, **values: Any) -> Settings:
        """Save a copy of the settings with ``values`` changed, then put it in force: a run in progress
        keeps the object it started with (never mutated under it), the next run reads the new one."""
        from dataclasses import replace

        new = replace(self.settings, **values)
        self.save_settings(new)
        self.settings = new
        return new

    def extract(self, path: str) -> ExtractOutcome:
        return extract_file(path, self.settings)


class _ReaderSlot:
    """One thread's reader connection, kept only in that thread's thread-local storage: when the thread
    ends the slot is freed and the connection closed (Service.close closes the rest)."""

    __slots__ = ("catalog", "__weakref__")

    def __init__(self, catalog: Catalog):
        self.catalog = catalog

    def close(self) -> None:
        with contextlib.suppress(Exception):  # closed already, or the interpreter is shutting down
            self.catalog.close()

    def __del__(self) -> None:
        self.close()


def extract_file(path: str, settings: Settings | None = None) -> ExtractOutcome:
    s = settings or Settings()
    limits = ExtractLimits(max_file_bytes=s.max_file_bytes, max_text_chars=s.max_text_chars,
                           timeout_s=s.extract_timeout_s, memory_mb=s.extract_memory_mb, ocr=s.ocr_active())
    return extract_one(path, limits)




# which service call changes what: each announces a Change on ``service.changes`` when it returns or
# fails (events.py); an index run also announces "files" once its new files are keyword-searchable
ANNOUNCED = {
    "add_roots": ("folders",), "remove": ("folders", "files", "failures"),
    "index": ("files", "failures"), "index_changes": ("files", "failures"), "encode_pending": ("files",),
    "retry_failed": ("failures",), "save_settings": ("settings",), "switch_model": ("model", "files"),
    "adopt_model": ("model",), "doctor": ("files",), "rebuild": ("files",),
    "exclude": ("settings",), "include": ("settings",), "set_exclusions": ("settings",),
    "set_gitignore": ("settings",),
}
announce(Service, ANNOUNCED)

__all__ = ["Busy", "CatalogBusy", "CatalogDamaged", "CatalogError", "DiskFull", "ModelMismatch", "ModelUnavailable",
           "ReadOnly",
           "Service", "asdict", "describe", "extract_file", "rebuild_catalog",
           # the CLI and the window reach the core only through this module (tests/unit/test_layering.py):
           # the types, errors, constants and small pure helpers they use are re-exported here
           "FILE_MODE", "STOPWORDS", "Cancelled", "Change", "DownloadCancelled", "EvalError", "PatternError",
           "QueryError",
           "default_data_dir", "display", "exact_form", "find_model", "keyword_spans", "make_private_dir",
           "merge_spans", "parse_query", "redacted_traceback", "resolve_data_dir", "run_eval", "watch"]
