"""The search of one query: parse, retrieve (keyword, names, semantic), fuse, sort, assemble.

A :class:`Searcher` is made per call by the service and used on one thread (the caller's: the
window's search worker or the CLI); it reads through its own catalog reader connection and the shared
segment store.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence

from .. import paths as P
from ..catalog import Catalog
from ..encoder import Encoder, QueryVectors
from ..index import SegmentStore
from ..members import on_disk
from ..model import ModelMismatch
from ..query import SORTS, ParsedQuery, QueryError, parse_query
from ..scan import ROOT_NOT_FOLDER, ROOT_OK, root_state
from . import filerank, keyword, semantic
from .assemble import Options, build
from .filters import FileFilter, allowed_passages, restriction
from .fusion import DEFAULT, KEYWORD, NAMES, SEMANTIC, Fused, Fusion, fuse
from .results import Hit, SearchResponse

MODES = ("hybrid", "semantic", "keyword")


def hidden_paths(roots: Sequence[str]) -> Callable[[str], bool]:
    """A test for paths that search must not show right now: those under a watched folder that is
    offline or unreadable (their index is kept for when the drive is back), and those under a watched
    folder that has become a file. One stat per watched folder per search, none per result: deleted
    files leave the catalog through the watcher and the start-up reconcile."""
    gone: list[tuple[str, bool]] = []  # (root, the root itself still shows)
    for root in roots:
        state, _ = root_state(root)
        if state != ROOT_OK:
            gone.append((root, state == ROOT_NOT_FOLDER and os.path.isfile(root)))
    if not gone:
        return lambda _path: False

    def hidden(path: str) -> bool:
        return any(P.under(path, root) and not (keep_root and path == root) for root, keep_root in gone)

    return hidden


class Searcher:
    def __init__(
        self, catalog: Callable[[], Catalog], store: SegmentStore, encoder: Callable[[], Encoder | None],
        fusion: Fusion = DEFAULT,
    ):
        self._catalog = catalog
        self.store = store
        self._encoder = encoder
        self.fusion = fusion

    def search(
        self, text: str, limit: int = 10, mode: str = "hybrid", snippets: bool = True,
        should_stop: Callable[[], bool] | None = None, sort: str = "relevance", explain: bool = False,
    ) -> SearchResponse:
        for response in self.stages(text, limit, (mode,), snippets, should_stop, sort, explain, verify=True):
            return response
        return SearchResponse(text, mode, 0.0, [], "cancelled")

    def stages(
        self, text: str, limit: int = 10, modes: Sequence[str] = ("keyword", "hybrid"), snippets: bool = True,
        should_stop: Callable[[], bool] | None = None, sort: str = "relevance", explain: bool = False,
        verify: bool = False,
    ) -> Iterator[SearchResponse]:
        """One response per mode, in order, sharing the work they have in common: the window shows the
        keyword ranking at once and replaces it with the hybrid one. Stops early, yielding nothing more,
        once ``should_stop()`` is true. ``sort``: relevance, or the best matches re-ordered by date
        (newest first), name or size (largest first). A query of filters only lists the matching files,
        newest first by default. ``explain``: each result carries its explanation (see :mod:`.explain`)."""
        for mode in modes:
            if mode not in MODES:
                raise QueryError(f"unknown mode {mode!r} (use {', '.join(MODES)})")
        if sort not in SORTS:
            raise QueryError(f"unknown sort {sort!r} (use {', '.join(SORTS)})")
        started = time.perf_counter()
        q = parse_query(text)
        c = self._catalog()
        filt = FileFilter.of(q)
        limits = restriction(c, q)
        pool = max(limit * 3, 30)
        hidden = hidden_paths([P.from_db(r) for r in c.roots()])
        if verify:  # a one-shot search (CLI, eval): no watcher may be running, so look at what is shown
            offline = hidden
            hidden = lambda path: offline(path) or not on_disk(path)  # noqa: E731
        opts = Options(limit, snippets, explain, self.fusion.floor, hidden)
        keyword_lists: list[tuple[str, list[Hit]]] | None = None
        ranking = filerank.FileRanking()  # the keyword list's scores of every passage holding a query word
        semantic_hits: list[Hit] | None = None
        qv: QueryVectors | None = None
        unavailable: str | None = None
        mismatch: str | None = None  # the index's vectors are another model's: keyword ranking only
        for mode in modes:
            if should_stop and should_stop():
                return
            notice = None
            if q.filter_only:
                listed = keyword.listing(c, filt, sort, limit, limits.required)
                fused = [Fused(h.file_id, 1.0, h, {}, {h.passage_id: 1.0} if h.passage_id else {})
                         for h in listed if h.file_id not in limits.excluded]
                results = build(c, self.store, fused, q, None, opts)
                yield SearchResponse(text, mode, (time.perf_counter() - started) * 1000, results, notice)
                continue
            lists: list[tuple[str, list[Hit]]] = []
            if mode in ("hybrid", "keyword"):
                if keyword_lists is None:
                    ranking = filerank.rank(c, q, filt, pool, self.fusion.coverage != 0)
                    keyword_lists = [(KEYWORD, ranking.hits), (NAMES, keyword.names(c, q, filt, pool))]
                lists += keyword_lists
            semantic_qv = None
            if mode in ("hybrid", "semantic") and q.semantic_text.strip():
                if qv is None and unavailable is None:
                    qv, unavailable = self._encode(q)
                if qv is not None and semantic_hits is None and mismatch is None:
                    try:
                        semantic_hits = semantic.passages(c, self.store, qv, pool * 3,
                                                          allowed_passages(c, filt, limits))
                    except ModelMismatch as exc:
                        if mode == "semantic":
                            raise  # asked for meaning only: refused, one line
                        mismatch = f"ranked by keyword only: {exc}"
                if qv is None:
                    notice = unavailable
                elif mismatch is not None:
                    notice = mismatch
                elif semantic_hits is not None:
                    lists.append((SEMANTIC, semantic_hits))
                    semantic_qv = qv
                    if self.store.damaged:  # left out at load (checksum or unreadable): say so
                        notice = (f"{len(self.store.damaged)} damaged index segment(s) left out of the ranking "
                                  "by meaning; run `desktop-search doctor --repair`")
            fused = [f for f in fuse(lists, self.fusion) if limits.allows(f.file_id)]
            if (snippets or explain) and keyword_lists is not None and mode != "semantic":
                self._more_keyword_passages(c, q, fused[: limit + 8], ranking)
            best = fused[0].score if fused else None
            if sort != "relevance" and fused:
                order = {fid: i for i, (fid, _) in enumerate(c.filtered_files("1", [], sort, len(fused),
                                                                                [f.file_id for f in fused]))}
                fused.sort(key=lambda f: order.get(f.file_id, len(order)))
            results = build(c, self.store, fused, q, semantic_qv, opts, best)
            yield SearchResponse(text, mode, (time.perf_counter() - started) * 1000, results, notice)

    def _more_keyword_passages(self, c: Catalog, q: ParsedQuery, shown: list[Fused],
                               ranking: filerank.FileRanking) -> None:
        """Other passages of the files about to be shown that match the words, scored as the keyword
        list scored its hits (file-level BM25, :mod:`.filerank`), so each file can list several (best first)."""
        if not shown or not ranking.hits:
            return
        scores = [h.score for h in ranking.hits]
        top, low = max(scores), min(scores)
        span = (top - low) or 1.0
        weight = self.fusion.weight(KEYWORD)
        by_id = {f.file_id: f for f in shown}
        for h in keyword.more_passages(c, q, list(by_id), 3, self.fusion.coverage != 0):
            f = by_id[h.file_id]
            score = ranking.scores.get(h.passage_id)
            if h.passage_id not in f.passages and score is not None:
                value = weight * max(0.0, min(1.0, (score - low) / span)) * h.weight ** self.fusion.coverage
                f.passages[h.passage_id] = value

    def _encode(self, q: ParsedQuery) -> tuple[QueryVectors | None, str | None]:
        try:
            encoder = self._encoder()
        except Exception as exc:  # no model: keyword results still come back
            return None, f"semantic search unavailable: {exc}"
        if encoder is None:
            return None, "semantic search unavailable: no model"
        return encoder.encode_query(q.semantic_text), None
