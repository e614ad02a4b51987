"""Turning fused files into results: rows read in a few batched queries, each file's best passages
grouped under it (best first) with a snippet and highlights, the relevance floor marked, and, when
asked, the explanation. Nothing here touches the disk but the catalog and the in-memory segments:
files under a watched folder that is offline or unreadable are left out by the caller's
``hidden`` test (one check per watched folder per search, not one per result).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .. import paths as P
from ..catalog import Catalog
from ..encoder import QueryVectors
from ..highlight import keyword_spans, semantic_spans, snippet
from ..index import SegmentStore
from ..query import STOPWORDS, ParsedQuery, fts_words, words_regex
from .explain import explain as explain_passage
from .fusion import Fused
from .results import PassageResult, SearchResult

SEMANTIC_HIGHLIGHTS = 10  # results whose first passage also gets the words matched by meaning
PASSAGES_PER_FILE = 3


@dataclass
class Options:
    limit: int
    snippets: bool = True
    explain: bool = False
    floor: float = 0.5
    hidden: Callable[[str], bool] = lambda _path: False
    literal_cache: dict[int, tuple[str, list[list[int]]]] = field(default_factory=dict)  # across stages


def build(c: Catalog, store: SegmentStore, fused: list[Fused], q: ParsedQuery, qv: QueryVectors | None,
          opts: Options, best_score: float | None = None) -> list[SearchResult]:
    """The first ``opts.limit`` fused files still catalogued and not hidden. ``best_score``: the score
    the floor is relative to (default: the first file's)."""
    results: list[SearchResult] = []
    pos = 0
    top = best_score if best_score is not None else (fused[0].score if fused else 0.0)
    cut = top * opts.floor
    while len(results) < opts.limit and pos < len(fused):
        chunk = fused[pos : pos + opts.limit - len(results) + 8]  # a few spare for files gone since indexing
        pos += len(chunk)
        files = c.result_files([f.file_id for f in chunk])
        picks = {f.file_id: _passage_ids(f) for f in chunk}
        rows = c.result_passages([pid for pids in picks.values() for pid, _ in pids]) if opts.snippets or \
            opts.explain else {}
        if not rows:
            rows = c.result_passages([f.hit.passage_id for f in chunk if f.hit and f.hit.passage_id])
        for f in chunk:
            row = files.get(f.file_id)
            if row is None:
                continue
            path = P.from_db(row[1])
            if opts.hidden(path):
                continue
            hit_pid = f.hit.passage_id if f.hit else 0
            result = SearchResult(path=path, score=f.score, title=row[2], page=None, snippet="", highlights=[],
                                  file_id=f.file_id, passage_id=hit_pid, size=row[3], mtime=row[4], ext=row[5],
                                  weak=f.score < cut)
            first = rows.get(hit_pid)
            if first is not None:
                result.page = first[2]
            if opts.snippets or opts.explain:
                _passages(result, f, picks[f.file_id], rows, q, qv, store, opts, len(results))
            results.append(result)
            if len(results) >= opts.limit:
                break
    return results


def _passage_ids(f: Fused) -> list[tuple[int, float]]:
    best = f.best_passages(PASSAGES_PER_FILE)
    if f.hit is not None and f.hit.passage_id and all(pid != f.hit.passage_id for pid, _ in best):
        best = [(f.hit.passage_id, f.passages.get(f.hit.passage_id, 0.0)), *best[: PASSAGES_PER_FILE - 1]]
    return best


def _passages(result: SearchResult, f: Fused, picks: list[tuple[int, float]], rows: dict, q: ParsedQuery,
              qv: QueryVectors | None, store: SegmentStore, opts: Options, rank: int) -> None:
    for i, (pid, score) in enumerate(picks):
        row = rows.get(pid)
        if row is None:
            continue
        text = row[1]
        literal = _literal_spans(text, q)
        # which words matched by meaning costs a decompression per passage: the first passage of the first
        # page of results, or every result's first passage when an explanation is asked for
        semantic = qv is not None and i == 0 and (opts.explain or (rank < SEMANTIC_HIGHLIGHTS and not result.weak))
        vectors = _vectors(store, row, pid, qv) if semantic and qv is not None else None
        spans: list[tuple[int, int]] = []
        if i == 0 and opts.explain:
            result.explain, spans = explain_passage(q, text, qv, vectors, f.parts, result.weak, pid, row[2])
        elif vectors is not None and not result.weak:
            content = [(s, e) if q.semantic_text[s:e].lower() not in STOPWORDS else (0, 0)
                       for s, e in qv.spans] if qv is not None else []
            spans = semantic_spans(qv.vectors, content, np.asarray(vectors[0], np.float32), vectors[1], text,
                                   ignore=STOPWORDS) if qv is not None else []
        if vectors is not None and qv is not None:
            _matched(result, q, qv, vectors, text)
        if spans:
            snip, marks = snippet(text, literal + spans)
        elif pid in opts.literal_cache:
            snip, marks = opts.literal_cache[pid]
        else:
            snip, marks = snippet(text, literal)
            opts.literal_cache[pid] = (snip, marks)
        result.passages.append(PassageResult(pid, row[2], score, snip, marks))
    if result.passages:
        result.snippet, result.highlights = result.passages[0].snippet, result.passages[0].highlights


def _literal_spans(text: str, q: ParsedQuery) -> list[tuple[int, int]]:
    spans = keyword_spans(text, list(q.phrases))
    pattern = words_regex(tuple(fts_words(q.words)), frozenset(q.prefixes))
    if pattern is not None:
        spans += [m.span() for m in pattern.finditer(text)]
    return spans


def _vectors(store: SegmentStore, row: tuple, pid: int, qv: QueryVectors) -> tuple[np.ndarray, np.ndarray] | None:
    segment_id, local_id = row[3], row[4]
    if not segment_id:
        return None
    return store.passage_vectors(segment_id, local_id or 0, pid, qv.model_key or None, qv.vectors.shape[1])


def _matched(result: SearchResult, q: ParsedQuery, qv: QueryVectors, vectors: tuple[np.ndarray, np.ndarray],
             text: str) -> None:
    """query token -> the doc text it matched best (the window's tooltip)."""
    doc = np.asarray(vectors[0], np.float32)
    if not len(doc):
        return
    best = (qv.vectors @ doc.T).argmax(axis=1)
    for qi, (s, e) in enumerate(qv.spans[: len(best)]):
        if e > s:
            ds, de = vectors[1][int(best[qi])]
            result.matched[q.semantic_text[s:e]] = text[int(ds) : int(de)]
