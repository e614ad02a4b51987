"""The open segments of one data dir, their liveness, search across them and recovery checks.

Owners and threads: one SegmentStore per Service, shared by the indexing thread and every search
thread. What it serves is an immutable :class:`View` (the segments open at one catalog generation,
each with its liveness mask), swapped in whole under ``_lock``. A reader takes the current view with
:meth:`SegmentStore.acquire` and searches it holding no lock, so a refresh (catalog reads, opening new
segments) never blocks a search, and a search never blocks a refresh. ``_refresh_lock`` lets one
thread refresh at a time; the others keep serving the previous view.

Identity: a segment is its folder name (``dir``), which is never reused, as Lucene never reuses a
segment name. The catalog's integer ids are reused by SQLite once their row is deleted, so an id is only ever
looked up in the view it was read with. A segment is closed, and its folder deleted if the catalog
dropped it, only when no view holds it any more (reference counts per folder).

Liveness: passages only ever leave a segment after its commit (deleted, re-extracted, merged away,
re-encoded) and never join it, so a segment whose live count in the catalog is unchanged keeps its
mask; only the segments that changed are re-read, with one indexed query each, outside ``_lock``.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from ..catalog import Catalog
from ..model import ModelMismatch, key_name
from . import plaid_search
from .segments import (
    FlatSegment,
    PlaidSegment,
    Segment,
    SegmentDamaged,
    maxsim_all,
    open_segment,
    rank_plaid,
    verify_dir,
)


@dataclass
class Damage:
    segment_id: int
    reason: str


@dataclass
class CheckReport:
    orphans: list[str] = field(default_factory=list)  # dirs on disk no catalog row points at
    damaged: list[Damage] = field(default_factory=list)  # live segments that cannot be used
    dangling_passages: int = 0  # passages pointing at segments that are not live


@dataclass(frozen=True, eq=False)
class Entry:
    """One open segment as a view sees it."""

    id: int  # the catalog id when the view was taken (ids are reused later: never keep one)
    dir: str  # the identity
    kind: str
    state: str  # live | archived
    model_key: str
    dim: int
    segment: Segment
    live: np.ndarray  # bool per local id (archived: all False, they only serve exact evaluation)
    n_live: int

    def serves(self, model_key: str | None, dim: int) -> bool:
        """Whether this segment's vectors can answer a query of ``model_key`` (None: any) and ``dim``."""
        return self.dim == dim and (model_key is None or not self.model_key or self.model_key == model_key)


@dataclass(frozen=True, eq=False)
class View:
    """The segments open at one catalog generation. Immutable: safe to search from any thread."""

    generation: int | None
    entries: tuple[Entry, ...] = ()

    @cached_property
    def by_id(self) -> dict[int, Entry]:
        return {e.id: e for e in self.entries}

    @property
    def live(self) -> list[Entry]:
        return [e for e in self.entries if e.state == "live"]

    def serving(self, model_key: str | None, dim: int) -> list[Entry]:
        """Live segments whose vectors this query may use. Raises ModelMismatch when the index holds
        live vectors but none of this model: never a shape error, never another model's vectors."""
        live = [e for e in self.live if e.n_live]
        usable = [e for e in live if e.serves(model_key, dim)]
        if live and not usable:
            other = live[0]
            raise ModelMismatch(
                f"the index was encoded with {key_name(other.model_key)} ({other.dim}-dim vectors), not "
                f"{key_name(model_key)} ({dim}-dim): switch with `desktop-search model`, or search by keyword")
        return usable


class SegmentStore:
    """Keeps segments open between queries; a new view is built when the catalog's generation changes."""

    def __init__(self, root: Path):
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self._view = View(None)
        self._open: dict[str, Segment] = {}  # dir -> segment, while some view holds it
        self._refs: dict[str, int] = {}  # dir -> views holding it (the current one + acquired ones)
        self._doomed: set[str] = set()  # dirs the catalog dropped: deleted when their last view goes
        self.damaged: dict[str, str] = {}  # dir -> why it is left out (checked once per process)
        self._decoded: dict[str, np.ndarray] = {}  # dir -> decoded PLAID vectors, only for exact_scores
        self._lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._last_search = float("-inf")  # time.monotonic() of the last search's start (merges yield to it)

    # --- views -----------------------------------------------------------------------------------
    @property
    def view(self) -> View:
        return self._view

    @property
    def generation(self) -> int | None:
        return self._view.generation

    @property
    def segments(self) -> dict[int, Segment]:
        """Live segments of the current view by catalog id (for tests and reports)."""
        return {e.id: e.segment for e in self._view.live}

    @property
    def live(self) -> dict[int, np.ndarray]:
        return {e.id: e.live for e in self._view.live}

    @contextmanager
    def acquire(self) -> Iterator[View]:
        """The current view, its segments kept open (and on disk) until the block ends."""
        with self._lock:
            view = self._view
            for e in view.entries:
                self._refs[e.dir] += 1
        try:
            yield view
        finally:
            self._release(view)

    def searched_within(self, seconds: float) -> bool:
        """Whether a search started in this process in the last ``seconds`` (someone is typing)."""
        return time.monotonic() - self._last_search < seconds

    def _release(self, view: View) -> None:
        self._unref([e.dir for e in view.entries])

    def _unref(self, names: list[str]) -> None:
        closing: list[tuple[str, Segment | None, bool]] = []
        with self._lock:
            for name in names:
                if name not in self._refs:  # the store was closed meanwhile
                    continue
                self._refs[name] -= 1
                if self._refs[name] == 0:
                    del self._refs[name]
                    doomed = name in self._doomed
                    self._doomed.discard(name)
                    closing.append((name, self._open.pop(name, None), doomed))
        for name, seg, doomed in closing:
            self._decoded.pop(name, None)
            if seg is not None:
                seg.close()
            if doomed:
                shutil.rmtree(self.root / name, ignore_errors=True)

    def refresh(self, catalog: Catalog, force: bool = False) -> None:
        """Bring the view up to the catalog's generation (no-op when it is there already)."""
        if not force and catalog.generation() == self._view.generation:
            return
        with self._refresh_lock:
            previous = {e.dir: e for e in self._view.entries}
            with catalog.reading():  # rows, counts and local ids from one committed state
                generation = catalog.generation()
                if not force and generation == self._view.generation:
                    return
                every = catalog.segments()
                rows = [r for r in every if r["dir"] not in self.damaged]
                counts = catalog.segment_live_counts()
                reread: dict[str, str] = {}  # dir -> live local ids, for new and changed segments only
                for r in rows:
                    n = counts.get(r["id"], 0) if r["state"] == "live" else 0
                    r["n_live"] = n
                    old = previous.get(r["dir"])
                    if n and not (old is not None and (old.id, old.state, old.n_live) == (r["id"], r["state"], n)):
                        reread[r["dir"]] = catalog.segment_local_ids(r["id"])
            # opening new segments (checksums, PLAID loads) happens outside the read transaction and
            # outside _lock: searches go on with the previous view meanwhile
            pinned: list[str] = []
            entries = []
            try:
                for r in rows:
                    name = r["dir"]
                    old = previous.get(name)
                    seg = old.segment if old is not None else self._open_new(name, r["kind"], pinned)
                    if seg is None:
                        continue
                    if name in reread:
                        live = self._mask(reread[name], seg.n_passages)
                    elif r["n_live"] and old is not None:
                        live = old.live  # unchanged: passages never join a committed segment
                    else:
                        live = np.zeros(seg.n_passages, dtype=bool)
                    entries.append(Entry(r["id"], name, r["kind"], r["state"], r["model_key"] or "", int(r["dim"]),
                                         seg, live, int(live.sum())))
                wanted = {r["dir"] for r in every}
                self.damaged = {k: v for k, v in self.damaged.items() if k in wanted}
                self._swap(View(generation, tuple(entries)))
            finally:
                if pinned:
                    self._unref(pinned)

    def _open_new(self, name: str, kind: str, pinned: list[str]) -> Segment | None:
        with self._lock:
            seg = self._open.get(name)
            if seg is not None:  # still open for a view someone holds: pin it until the swap
                self._refs[name] += 1
                pinned.append(name)
                return seg
        # checksums at load: a segment whose bytes changed is never served (search says so);
        # segments are immutable, so each is hashed once per process
        problems = verify_dir(self.root / name, deep=True)
        if problems:
            self.damaged[name] = "; ".join(problems)
            return None
        try:
            seg = open_segment(self.root / name, kind)
        except SegmentDamaged as exc:
            self.damaged[name] = str(exc)
            return None
        with self._lock:  # open from now on: refs and _open stay in step
            self._open[name] = seg
            self._refs[name] = self._refs.get(name, 0) + 1
            pinned.append(name)
        return seg

    @staticmethod
    def _mask(local_ids: str, n: int) -> np.ndarray:
        mask = np.zeros(n, dtype=bool)
        if local_ids:
            ids = np.array(local_ids.split(","), dtype=np.int64)
            mask[ids[(ids >= 0) & (ids < n)]] = True
        return mask

    def _swap(self, view: View) -> None:
        with self._lock:
            for e in view.entries:
                self._refs[e.dir] = self._refs.get(e.dir, 0) + 1
            old, self._view = self._view, view
        self._release(old)

    def close(self) -> None:
        with self._lock:
            segments = list(self._open.values())
            self._open.clear()
            self._refs.clear()
            self._decoded.clear()
            self._view = View(None)
        for seg in segments:
            seg.close()

    def disk_bytes(self) -> int:
        """Bytes on disk; a file hard-linked into several segments (a shared codec, codec.py) counts once."""
        sizes = {}
        for f in self.root.rglob("*"):
            if f.is_file():
                st = f.stat()
                sizes[(st.st_dev, st.st_ino)] = st.st_size
        return sum(sizes.values())

    # --- search ----------------------------------------------------------------------------------
    def search(self, query: np.ndarray, k: int, model_key: str | None = None,
               allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Top ``k`` live passages over the segments of ``model_key``: (passage id, MaxSim score).
        ``allowed`` (passage ids): only those may be returned; the rest are masked out before the
        candidates are ranked and reranked, so a restrictive filter still gets ``k`` hits."""
        self._last_search = time.monotonic()  # a float store: atomic, and merges only read it
        hits: list[tuple[int, float]] = []
        # one BLAS thread: every product here is small (flat segments stay under flat_max_tokens), and
        # OpenBLAS's second thread spin-waits: 20 ms instead of 1-3 ms per product on a busy machine
        with self.acquire() as view, plaid_search.one_blas_thread():
            pools = []
            shared: dict[str, Any] = {}  # per codec: centroid scores and probes, computed once per query
            for e in view.serving(model_key, query.shape[1]):
                live = e.live if allowed is None else e.live & np.isin(e.segment.passage_ids, allowed)
                if not live.any():
                    continue
                if isinstance(e.segment, PlaidSegment):
                    if allowed is not None and live.sum() <= plaid_search.exact_budget(e.segment):
                        # few passages pass the filter: score them all exactly (the IVF probes could miss them)
                        docs = np.flatnonzero(live)
                        hits.extend((int(e.segment.passage_ids[d]), float(s))
                                    for d, s in zip(docs, e.segment.rerank(query, docs), strict=True))
                        continue
                    if allowed is not None and live.sum() <= e.segment.n_candidates:
                        pools.append(plaid_search.every_live(e.segment, query, live, shared))  # probes could miss them
                        continue
                    pools.append(e.segment.candidates(query, live, shared))
                    continue
                for local, score in e.segment.search(query, k, live):
                    hits.append((int(e.segment.passage_ids[local]), score))
            for pool, ranked in zip(pools, rank_plaid(pools, query, k), strict=True):
                hits.extend((int(pool.segment.passage_ids[local]), score) for local, score in ranked)
        hits.sort(key=lambda h: -h[1])
        return hits[:k]

    def exact_scores(self, query: np.ndarray, model_key: str | None = None) -> dict[int, float]:
        """Exact MaxSim of every live passage of ``model_key``: over raw vectors where a flat or
        archived segment holds them, else over the PLAID segment's decoded vectors (the vectors
        search reranks with; there is no full-precision copy by default). The reference of
        ``eval --exact``: exact scoring, of the stored vectors."""
        scores: dict[int, float] = {}
        with self.acquire() as view:
            for e in view.entries:
                if isinstance(e.segment, FlatSegment) and e.serves(model_key, query.shape[1]):
                    for pid, score in zip(e.segment.passage_ids.tolist(), e.segment.scores(query).tolist(),
                                          strict=True):
                        scores[pid] = score
            for e in view.live:
                if isinstance(e.segment, PlaidSegment) and e.n_live and e.serves(model_key, query.shape[1]):
                    decoded = self._decoded.get(e.dir)
                    if decoded is None:  # kept while the segment is open: eval scores 300 queries
                        decoded = self._decoded[e.dir] = e.segment.decoded_all()
                    all_scores = maxsim_all(decoded, e.segment.offsets, query)
                    for local in np.flatnonzero(e.live).tolist():
                        pid = int(e.segment.passage_ids[local])
                        if pid not in scores:
                            scores[pid] = float(all_scores[local])
        return scores

    def passage_vectors(self, segment_id: int, local_id: int, passage_id: int | None = None,
                        model_key: str | None = None, dim: int | None = None,
                        ) -> tuple[np.ndarray, np.ndarray] | None:
        """Token vectors (float32, unit length) and char spans of one passage, or None unless the current
        view's segment ``segment_id`` really holds ``passage_id`` at ``local_id`` and was written by
        ``model_key`` with ``dim``. A flat segment gives its raw vectors; a PLAID one decodes its codes
        (the vectors search scores with): the public way to read a passage's vectors (`similar`)."""
        with self.acquire() as view:
            e = view.by_id.get(segment_id)
            if e is None or e.state != "live" or not 0 <= local_id < e.segment.n_passages:
                return None
            if passage_id is not None and int(e.segment.passage_ids[local_id]) != passage_id:
                return None  # the catalog row was read at another generation (ids are reused)
            if dim is not None and not e.serves(model_key, dim):
                return None
            return e.segment.vectors([local_id])[0], e.segment.spans(local_id)

    # --- checks ----------------------------------------------------------------------------------
    def check(self, catalog: Catalog, deep: bool = False) -> CheckReport:
        report = CheckReport()
        rows = catalog.all_segments()
        known = {r["dir"] for r in rows}
        for child in sorted(self.root.iterdir()) if self.root.exists() else []:
            if child.name not in known:
                report.orphans.append(child.name)
        for r in rows:
            if r["state"] not in ("live", "archived"):
                continue
            path = self.root / r["dir"]
            problems = verify_dir(path, deep=deep) if path.is_dir() else ["folder is missing"]
            if not problems:
                try:
                    n = len(np.load(path / "passage_ids.npy", mmap_mode="r"))
                    if n != r["n_passages"]:
                        problems.append("passage count differs from the catalog")
                except (OSError, ValueError) as exc:
                    problems.append(f"unreadable passage ids ({type(exc).__name__})")
            if problems:
                report.damaged.append(Damage(r["id"], "; ".join(problems)))
        report.dangling_passages = catalog.dangling_passages()
        return report

    def remove_orphans(self, names: list[str]) -> None:
        """Delete segment folders the catalog no longer knows; one a view still holds goes when it is released."""
        now = []
        with self._lock:
            for name in names:
                if name in self._refs:
                    self._doomed.add(name)
                else:
                    now.append(name)
        for name in now:
            shutil.rmtree(self.root / name, ignore_errors=True)
