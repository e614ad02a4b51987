"""The service's live-index side: incremental runs of changed paths, exclusion patterns, the states of
watched folders, the kept extraction worker and the model's idle release.

A mixin of :class:`core.service.Service` (it uses the writer, the write lock and the model lock the
service sets up), kept apart so service.py stays the façade. Threads: any caller; catalog writes go
through the service's writer thread; ``_usage_lock`` guards only the count of model users and is
never held while a model loads.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from . import paths as P
from .catalog import Catalog
from .encoder import Encoder
from .encoder.light_query import LightQueryEncoder, load_light_query_encoder
from .exclusions import GITIGNORE_SETTING, GLOBAL, Exclusion, PatternError, Rules, check_pattern
from .extract import KeptPool
from .indexer import Indexer, IndexReport, Progress
from .memory import release_memory
from .model import ModelUnavailable, model_key
from .scan import root_state
from .watcher import ChangeMonitor

if TYPE_CHECKING:
    from .catalog import Writer
    from .config import Settings


class LiveIndex:
    # set up by Service.__init__
    writer: Writer
    settings: Settings
    _encoder: Encoder | None
    _model_error: str | None
    _model_lock: threading.Lock
    _light_query: tuple[str, LightQueryEncoder | None]

    def index_changes(
        self,
        paths: Iterable[str] | None,
        progress: Callable[[Progress], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        encode: bool = True,
    ) -> IndexReport:
        """Index only ``paths`` (what the watcher saw change); ``None`` reconciles everything."""
        if paths is None:
            return self.index(progress=progress, should_stop=should_stop, encode=encode)
        with self._exclusive(should_stop, progress), self._model_in_use():
            rules = self.rules()
            indexer = self.indexer(progress, should_stop)
            indexer.kept_pool = self._kept_extract_pool(indexer)
            return indexer.run_changes(paths, self.roots(), rules, encode=encode)

    def _kept_extract_pool(self, indexer: Indexer) -> KeptPool:
        """One extraction worker kept between incremental runs (closed after a minute unused)."""
        limits = indexer._limits()
        pool = getattr(self, "_extract_pool", None)
        if pool is None or pool.limits != limits:
            if pool is not None:
                pool.close()
            pool = self._extract_pool = KeptPool(limits, workers=1)
        return pool

    def release_idle_workers(self, idle_s: float = 60.0) -> bool:
        """Stop the kept extraction worker when no incremental run used it for ``idle_s``."""
        pool = getattr(self, "_extract_pool", None)
        return pool is not None and pool.close_if_idle(idle_s)  # a closed pool restarts its worker on use

    def encode_pending(self, progress: Callable[[Progress], None] | None = None,
                       should_stop: Callable[[], bool] | None = None,
                       yield_to: Callable[[], bool] | None = None, quiet_s: float = 0.0) -> IndexReport:
        """Encode the files that are keyword-searchable but have no vectors yet; ``yield_to`` (asked between
        committed batches) lets newer changes go first (Cancelled)."""
        if not self.reader().counts().get("pending"):
            return IndexReport()
        with self._exclusive(should_stop, progress), self._model_in_use():
            return self.indexer(progress, should_stop).encode_pending(yield_to=yield_to, quiet_s=quiet_s)

    def rules(self) -> Rules:
        """What the scanner and the watcher leave out, as stored in the catalog now."""
        roots, excluded, rows, gitignore = self.writer.call(lambda c: (
            c.roots(), c.roots("exclude"), c.exclusions(), c.get_setting(GITIGNORE_SETTING, False)))
        return Rules([P.from_db(r) for r in roots],
                      [Exclusion(P.from_db(f) if f else GLOBAL, p, d) for f, p, d in rows],
                      gitignore=bool(gitignore), data_dir=self.data_dir,
                      excluded_paths=[P.from_db(r) for r in excluded])

    def watch_config(self) -> tuple[Any, ...]:
        """What a running watcher must restart on when it changes: folders, exclusions, .gitignore."""
        return self.writer.call(lambda c: (
            tuple(P.from_db(r) for r in c.roots()), tuple(c.exclusions()), c.roots("exclude"),
            bool(c.get_setting(GITIGNORE_SETTING, False))))

    def change_monitor(self, on_change: Callable[[set[str] | None], None], **options: Any) -> ChangeMonitor:
        """A watcher for this index (not started: call ``start(service.roots())``)."""
        return ChangeMonitor(on_change, rules=self.rules(), **options)

    def exclusions(self) -> list[Exclusion]:
        return self.rules().exclusions

    def gitignore(self) -> bool:
        return bool(self.writer.call(lambda c: c.get_setting(GITIGNORE_SETTING, False)))

    def _exclusion_folder(self, folder: str | None) -> str:
        if not folder:
            return GLOBAL
        path = os.path.abspath(os.path.expanduser(folder))
        if path not in self.roots():
            raise FileNotFoundError(f"not a watched folder: {P.display(path)}")
        return P.to_db(path)

    def exclude(self, patterns: Iterable[str], folder: str | None = None) -> int:
        """Add exclusion patterns (global, or for one watched folder); returns how many were new.
        The next index run (or the running watcher) drops the files they now leave out."""
        checked = [check_pattern(p) for p in patterns]
        where = self._exclusion_folder(folder)
        added = self.writer.call(lambda c: sum(c.add_exclusion(where, p) for p in checked))
        self._save_state()
        return int(added)

    def include(self, patterns: Iterable[str], folder: str | None = None) -> int:
        """Remove exclusion patterns (defaults too); returns how many were removed; unknown ones raise."""
        where = self._exclusion_folder(folder)
        wanted = [p.strip() for p in patterns]
        known = {(f, p) for f, p, _ in self.writer.call(lambda c: c.exclusions())}
        missing = [p for p in wanted if (where, p) not in known]
        if missing:
            scope = f" for {P.display(P.from_db(where))}" if where else ""
            raise PatternError(f"no exclusion {missing[0]!r}{scope} (see `desktop-search exclusions`)")
        removed = self.writer.call(lambda c: sum(c.remove_exclusion(where, p) for p in wanted))
        self._save_state()
        return int(removed)

    def set_exclusions(self, patterns: Iterable[str], folder: str | None = None) -> None:
        """Replace the patterns of ``folder`` (or the global ones) with ``patterns`` (the window's field)."""
        checked = [check_pattern(p) for p in patterns if p.strip()]
        where = self._exclusion_folder(folder)

        def apply(c: Catalog) -> None:
            with c.transaction():
                for f, p, _ in c.exclusions():
                    if f == where and p not in checked:
                        c.remove_exclusion(f, p)
                for p in checked:
                    c.add_exclusion(where, p)

        self.writer.call(apply)
        self._save_state()

    def set_gitignore(self, enabled: bool) -> None:
        self.writer.call(lambda c: c.set_setting(GITIGNORE_SETTING, bool(enabled)))
        self._save_state()

    def root_states(self) -> list[dict[str, Any]]:
        """Every watched folder with its state: ok | offline | unreadable | not a folder, and why."""
        out = []
        for root in self.roots():
            state, detail = root_state(root)
            out.append({"path": P.display(root), "state": state, "detail": detail})
        return out

    _usage_lock = threading.Lock()  # the users count; never held while a model loads

    @contextmanager
    def _model_in_use(self) -> Iterator[None]:
        with self._usage_lock:
            self._model_users = getattr(self, "_model_users", 0) + 1
        try:
            yield
        finally:
            with self._usage_lock:
                self._model_users -= 1
                self._model_used = time.monotonic()

    def prepare_model(self) -> bool:
        """True when encoding can start now (the model is loaded, or known to be unavailable); otherwise
        start loading it on a background thread and return False, so the watcher goes on indexing
        changes by keyword during the seconds a load takes."""
        if self._encoder is not None or self._model_error is not None:
            return True
        if getattr(self, "_load_failed", False):
            self._load_failed = False
            return True  # the encode run loads it itself and reports why it fails
        loader = getattr(self, "_loader", None)
        if loader is None or not loader.is_alive():
            def load() -> None:
                try:
                    self._use_encoder()
                except Exception:  # ModelUnavailable is kept in _model_error; anything else, once
                    self._load_failed = self._model_error is None

            self._loader = threading.Thread(target=load, name="model-load", daemon=True)
            self._loader.start()
        return False

    def load_query_model(self) -> Encoder | LightQueryEncoder | None:
        """Make search by meaning ready (the window's start-up): the NumPy query encoder when the model
        allows it, so a window that only searches never imports PyTorch; else the PyTorch encoder. Raises
        ModelUnavailable with a one-line reason. Index runs still load PyTorch for documents."""
        return self._query_encoder()

    def _query_encoder(self) -> Encoder | LightQueryEncoder | None:
        """What encodes a query: the loaded PyTorch encoder when there is one (an index run or a query
        loaded it), else the NumPy one (encoder/light_query.py) that needs no PyTorch, so a window that
        only searches never pays PyTorch's ~830 MB; else (a model it cannot reproduce) the PyTorch one,
        loaded now. Cached per model key; a model switch loads the new one's."""
        with self._model_lock:
            self._follow_catalog_model()  # type: ignore[attr-defined]  (a switch made elsewhere)
            if self._encoder is not None:
                return self._encoder
            try:
                location = self.model_location()  # type: ignore[attr-defined]
            except ModelUnavailable:
                location = None
            if location is not None and self._encoder is None:
                key = model_key(location)
                cached = getattr(self, "_light_query", None)
                if cached is None or cached[0] != key:
                    cached = (key, load_light_query_encoder(location.path, key=key))
                    self._light_query = cached
                if cached[1] is not None:
                    return cached[1]
        return self._use_encoder()

    def _use_encoder(self) -> Encoder | None:
        self._model_used = time.monotonic()
        encoder = self.encoder()
        self._model_used = time.monotonic()  # a load takes seconds: the idle time starts after it
        return encoder

    def release_model_if_idle(self, idle_s: float | None = None) -> bool:
        """Unload the model when nothing used it for ``idle_s`` (default: the setting, 10 minutes) and no
        index run holds it; the next query or index run loads it again. Returns whether it was released.
        Under the model lock, so it never races a load; a query that already holds the encoder keeps
        its own reference until it ends."""
        idle = self.settings.model_idle_minutes * 60.0 if idle_s is None else idle_s
        if not self._model_lock.acquire(blocking=False):
            return False  # loading right now: not idle
        try:
            with self._usage_lock:
                if self._encoder is None or getattr(self, "_model_users", 0) > 0:
                    return False
                used = getattr(self, "_model_used", None)
                if used is None:  # loaded directly (the window's loader): the idle time starts now
                    self._model_used = time.monotonic()
                    return False
                if time.monotonic() - used < idle:
                    return False
                self._encoder = None
        finally:
            self._model_lock.release()
        release_memory()
        return True
