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
from pathlib import Path
from typing import Any

from filelock import FileLock
from filelock import Timeout as LockTimeout

from . import paths as P
from .catalog import Catalog, CatalogError, Writer
from .config import DEFAULT_MODEL, MODEL_ENV, Settings, default_data_dir, resolve_data_dir
from .download import DownloadCancelled
from .encoder import Encoder, choose_device
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
from .members import split_member
from .model import (
    ModelLocation,
    ModelMismatch,
    ModelUnavailable,
    find_model,
    key_name,
    load_colbert,
    looks_like_hub_id,
    model_key,
    resolve_model,
)
from .paths import display, exact_form
from .privacy import FILE_MODE, make_private_dir, private_umask, redacted_traceback, tighten, write_private
from .query import STOPWORDS, QueryError, parse_query
from .repair import Repair, rebuild_catalog
from .scan import root_state, skip_counts
from .search import Searcher, SearchResponse
from .similar import find_similar, parse_target  # noqa: F401  (parse_target: the CLI's PATH[:PAGE])
from .watcher import watch


class Service(LiveIndex, Repair):
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
        # everything the person chose, so that rebuilding a damaged catalog forgets none of it
        state = self.writer.call(lambda c: {
            "roots": c.roots(),
            "excludes": c.roots("exclude"),
            "settings": c.load_settings().as_dict(),
            "exclusions": c.exclusions(),
            "gitignore": bool(c.get_setting(GITIGNORE_SETTING, False)),
            "model": c.get_setting("model"),
        })
        write_private(self.data_dir / STATE, json.dumps(state, indent=1))  # 0600, atomic

    # --- model -----------------------------------------------------------------------------------
    def model_choice(self) -> str | None:
        """The model in force: ``--model`` / DESKTOP_SEARCH_MODEL for this run, else the one the catalog
        records (set by :meth:`switch_model`), else None (the default model)."""
        return self._model_option or os.environ.get(MODEL_ENV) or self.reader().get_setting("model") or None

    def model_location(self, allow_download: bool | None = None) -> ModelLocation:
        if self._location is None:
            allow = self._allow_download if allow_download is None else allow_download
            choice = self.model_choice()
            self._location = resolve_model(choice, self.data_dir, allow_download=allow,
                                           progress=self._progress_message)
            self._resolved_choice = choice
        return self._location

    def _follow_catalog_model(self) -> None:
        """(Under _model_lock.) When the index's model was switched elsewhere (the CLI, another window)
        and no one-run override is in force, forget the loaded one: the next use loads the catalog's."""
        if self._location is None or self._model_option or os.environ.get(MODEL_ENV):
            return
        if self.model_choice() != self._resolved_choice:
            self._location, self._encoder, self._model_error = None, None, None

    def model_state(self) -> dict[str, Any]:
        """The chosen model, the model the index's vectors are of, and how many files wait for encoding."""
        c = self.reader()
        index_key = c.get_setting("model_key")
        key = self._model_key() or index_key or ""
        return {"model": self.model_choice() or DEFAULT_MODEL,
                "index_model": key_name(index_key) if index_key else None,
                "files_to_encode": c.files_to_reencode(key)}

    def adopt_model(self, choice: str) -> bool:
        """Record ``choice`` as the index's model unless the catalog names one already (older windows
        kept it in their own settings); nothing is re-encoded. Returns whether it was recorded."""

        def adopt(c: Catalog) -> bool:
            if c.get_setting("model") is not None:
                return False
            c.set_setting("model", choice)
            return True

        adopted = bool(self.writer.call(adopt))
        if adopted:
            self._save_state()
        return adopted

    def switch_model(self, choice: str | None) -> dict[str, Any]:
        """Make ``choice`` (hub id or model folder; None: the default) this index's model, recorded in
        the catalog for the window and the command line alike. Files whose vectors another model made
        wait for encoding again; their old vectors stay searchable by the old model until the new ones
        replace them, and are never served to the new one. Returns the model and how many files the
        next index run encodes."""
        if choice and not looks_like_hub_id(choice):
            choice = str(Path(choice).expanduser().absolute())
        location = resolve_model(choice, self.data_dir, allow_download=self._allow_download,
                                 progress=self._progress_message)
        key = model_key(location)
        stored = None if choice in (None, DEFAULT_MODEL) else choice
        with self._exclusive():
            files = self.writer.call(lambda c: c.switch_model(stored, key))
        with self._model_lock:  # the next encoder() call loads the new model
            self._model_option = None
            self._location = location
            self._resolved_choice = self.model_choice()
            self._encoder = None
            self._model_error = None
        self._save_state()
        return {"model": location.name, "files_to_encode": int(files)}

    def encoder(self) -> Encoder | None:
        """The loaded encoder, loading it on first use; raises ModelUnavailable with a one-line reason."""
        with self._model_lock:
            self._follow_catalog_model()
            if self._encoder is not None:
                return self._encoder
            if self._model_error is not None:
                raise ModelUnavailable(self._model_error)
            try:
                location = self.model_location()
                device = choose_device(self.settings.device)  # int8 layers run on the CPU only
                model = load_colbert(location, self.settings.effective_threads(),
                                     quantize=self.settings.quantize and device.name == "cpu")
                self._encoder = Encoder(model, self.settings.context_length, key=model_key(location), device=device)
            except ModelUnavailable as exc:
                self._model_error = str(exc)
                raise
            return self._encoder

    def device_description(self) -> dict[str, Any]:
        """``device``: where the model encodes (the loaded encoder's, else where it would load), the
        ``device_setting`` asked for, and ``device_note`` when they differ (one line, else None)."""
        encoder = self._encoder
        if encoder is not None:
            name, note = encoder.device, encoder.device_note
        else:
            choice = choose_device(self.settings.device)
            name, note = choice.name, choice.note
        return {"device": name, "device_setting": self.settings.device, "device_note": note}

    def _model_key(self) -> str | None:
        """The key of the model in force, found without loading it (None: not on disk yet)."""
        if self._location is None:
            try:
                self.model_location(allow_download=False)
            except ModelUnavailable:
                return None
        return model_key(self._location) if self._location else None

    def model_description(self) -> dict[str, Any]:
        try:
            location, model_id = find_model(self.model_choice(), self.data_dir)
        except ModelUnavailable as exc:
            return {"model": self.model_choice(), "model_state": "invalid", "model_error": str(exc)}
        if location is None:
            return {"model": model_id, "model_state": "not downloaded"}
        return {"model": location.name, "model_path": str(location.path), "model_state": "ready"}

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

    # --- reports ---------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        c = self.reader()
        counts = c.counts()
        vector_bytes = self.store.disk_bytes()
        index_key = c.get_setting("model_key")
        catalog_bytes = sum(
            f.stat().st_size for f in self.data_dir.glob(CATALOG + "*") if f.is_file()
        )
        out: dict[str, Any] = {
            "data_dir": str(self.data_dir),
            "roots": [P.display(r) for r in self.roots()],
            "folders": self.root_states(),  # each watched folder: ok | offline | unreadable | not a folder
            **counts,
            "index_bytes": catalog_bytes + vector_bytes,
            "vector_bytes": vector_bytes,
            **c.segment_stats(),  # counted in the catalog: no segment is loaded to report
            **self.model_description(),
            "index_model": key_name(index_key) if index_key else None,  # the model the vectors are of
            # the length in force: the encoder may have cut the setting to fit the memory at hand
            "context_length": self._encoder.context_length if self._encoder else self.settings.context_length,
            "context_length_note": getattr(self._encoder, "context_note", None),
            "threads": self.settings.effective_threads(),
            # text recognition (issue 15): the setting, whether runs use it now, files/pages read by it
            "ocr": self.settings.ocr,
            "ocr_active": self.settings.ocr_active(),
            **c.ocr_counts(),
            **self.device_description(),
        }
        # files met and not read, per reason: "not a document", "excluded", "symbolic link"... (issue 15)
        out["skipped_by_reason"] = skip_counts(c.skipped_reasons())
        out["skipped"] = sum(out["skipped_by_reason"].values())
        return out

    def skipped(self) -> list[dict[str, Any]]:
        """Files the index met and does not read, each with its reason (``{"path", "reason", "size",
        "failed_at"}``, by path); the counts per reason are in :meth:`status`."""
        return [{**r, "path": P.display(P.from_db(r["path"]))} for r in self.reader().skipped()]

    @staticmethod
    def open_target(path: str) -> str:
        """The file to open for a result's ``path``: the archive on disk for a member of one
        (``a.zip!/docs/x.txt`` -> ``a.zip``; nested ones too), else ``path`` itself."""
        found = split_member(path)
        return found[0] if found else path

    def failed(self) -> list[dict[str, Any]]:
        """Failed files: ``path`` for display, plus ``path_bytes_b64`` (the exact bytes) when the name
        is not valid UTF-8 and the display form could not open it."""
        out = []
        for r in self.reader().failures():
            path = P.from_db(r["path"])
            out.append({**r, "path": P.display(path), **P.exact_form(path)})
        return out

    def retry_failed(self, paths: list[str] | None = None) -> int:
        """Forget failures (all, or those of ``paths``) so the next index run reads those files again."""

        def forget(c: Catalog) -> int:
            with c.transaction():
                # a failed archive member is read again with its archive (core/members.py)
                c.reread_archives_of_failed_members(None if paths is None else [P.to_db(p) for p in paths])
                if paths is None:
                    return c.forget_failures()
                return sum(c.forget_failure(P.to_db(p)) for p in paths)

        return self.writer.call(forget)

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

    def folder_counts(self) -> list[dict[str, Any]]:
        """Every watched folder with its indexed, waiting (keyword-only so far) and failed file counts."""
        c = self.reader()
        out = []
        for root in self.roots():
            state, detail = root_state(root)
            out.append({"path": root, **c.counts_under(root), "exists": os.path.exists(root), "state": state,
                        "detail": detail})
        return out

    def document_text(self, file_id: int) -> tuple[str, list[int], dict[int, int]]:
        """The indexed text of a file: (text, page start offsets, passage id → char offset)."""
        rows = self.reader().document_passages(file_id)
        page_starts: list[int] = []
        for r in rows:
            while r["page"] is not None and len(page_starts) < r["page"]:
                page_starts.append(r["char_start"])
        return "".join(r["text"] for r in rows), page_starts, {r["id"]: r["char_start"] for r in rows}

    def extract(self, path: str) -> ExtractOutcome:
        return extract_file(path, self.settings)

    def ocr_pages(self, file_id: int) -> int:
        """How many pages of an indexed file's text came from OCR (0: none); the preview marks such text."""
        return self.reader().ocr_pages_of(file_id)

    # --- model download (the window's first run) -------------------------------------------------
    def download_model(
        self, progress: Callable[[Any], None] | None = None, should_cancel: Callable[[], bool] | None = None
    ) -> ModelLocation:
        """Fetch the configured hub model now, whatever ``allow_download`` says, with byte progress.

        ``progress`` gets a ``core.download.DownloadProgress``; ``should_cancel`` returning true raises
        ``core.download.DownloadCancelled`` (the partial files are kept and resumed next time). After a
        success the next ``encoder()`` call loads the model, even if an earlier call failed because it
        was not downloaded yet.
        """
        from .model import download_model as fetch

        choice = self.model_choice()
        location, model_id = find_model(choice, self.data_dir)
        if location is None:
            location = fetch(model_id, self.data_dir, self._progress_message, on_bytes=progress,
                             should_cancel=should_cancel)
        with self._model_lock:
            self._location = location
            self._resolved_choice = choice
            self._model_error = None
        return location


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
    "adopt_model": ("model",), "doctor": ("files",),
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
