"""More like this (issue 13): files found by a file's, or one page's, own token vectors.

The source passages' stored ColBERT vectors are the query (no re-encoding, no model needed): each
source passage is searched like a query (PLAID candidates, exact MaxSim for flat segments) and its
MaxSim scores are divided by its token count, so a passage matched by itself scores about 1.0. A file's
score is the mean over the source passages of its best passage's score (a file like the whole source
beats one like a single paragraph of it); the source file comes first. Up to
:data:`MAX_SOURCE_PASSAGES` passages, spread evenly over the file (or page), are used.

Threads: :func:`find_similar` runs on the caller's thread with that thread's catalog reader; the
segment store is shared and safe to search from any thread (see index/store.py). Nothing here keeps
state between calls.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from . import paths as P
from .catalog import Catalog
from .highlight import semantic_spans, snippet
from .index import SegmentStore
from .members import on_disk
from .query import STOPWORDS, QueryError
from .search import SearchResponse, SearchResult

MAX_SOURCE_PASSAGES = 8
HITS_PER_PASSAGE = 50  # passages each source passage asks the index for (several may share a file)


class SimilarError(QueryError):
    """The source cannot be used (not indexed, no such page, no vectors yet): one line."""


@dataclass
class SourcePassage:
    passage_id: int
    vectors: np.ndarray  # (tokens, dim), float32
    spans: np.ndarray  # char span of each token in the passage text
    model_key: str


def parse_target(target: str) -> tuple[str, int | None]:
    """``PATH`` or ``PATH:PAGE``. A path that exists as written wins (names may contain colons)."""
    if os.path.exists(target):
        return target, None
    path, sep, page = target.rpartition(":")
    if sep and page.isdigit() and path:
        return path, int(page)
    return target, None


def _spread(items: Sequence[int], n: int) -> list[int]:
    if len(items) <= n:
        return list(items)
    return [items[round(i * (len(items) - 1) / (n - 1))] for i in range(n)]


def source_passages(c: Catalog, store: SegmentStore, path: str, page: int | None,
                    passage_id: int | None = None) -> tuple[int, list[SourcePassage]]:
    """The file id of ``path`` and the stored vectors of (up to MAX_SOURCE_PASSAGES of) its passages,
    of those on ``page``, or of the one passage ``passage_id`` (a result's passage). Raises SimilarError
    with the reason when there are none."""
    path = os.path.abspath(os.path.expanduser(path))  # as the index stores it (service.add_roots)
    shown = P.display(path)
    file_id = c.file_id(path)
    if file_id is None:
        raise SimilarError(f"not in the index: {shown}")
    rows = [r for r in c.document_passages(file_id) if r["text"].strip()]
    if passage_id is not None:
        rows = [r for r in rows if r["id"] == passage_id]
        if not rows:
            raise SimilarError(f"{shown} has no passage {passage_id} (re-indexed since?)")
    if page is not None:
        rows = [r for r in rows if r["page"] == page]
        if not rows:
            raise SimilarError(f"{shown} has no text on page {page}")
    if not rows:
        raise SimilarError(f"{shown} has no text to compare")
    store.refresh(c)
    located = c.result_passages(_spread([r["id"] for r in rows], MAX_SOURCE_PASSAGES))
    out: list[SourcePassage] = []
    with store.acquire() as view:
        for pid, (_, _, _, segment_id, local_id) in sorted(located.items()):
            entry = view.by_id.get(segment_id) if segment_id else None
            if entry is None or entry.state != "live" or local_id is None:
                continue
            if not 0 <= local_id < entry.segment.n_passages or int(entry.segment.passage_ids[local_id]) != pid:
                continue  # read at another catalog generation (ids are reused)
            vectors = np.asarray(entry.segment.vectors([local_id])[0], np.float32)
            if len(vectors):
                out.append(SourcePassage(pid, vectors, entry.segment.spans(local_id), entry.model_key))
    if not out:
        raise SimilarError(f"{shown} has no vectors yet: run `desktop-search index` (not --keyword-only) first")
    return file_id, out


def find_similar(c: Catalog, store: SegmentStore, path: str, page: int | None = None, limit: int = 10,
                 snippets: bool = True, passage_id: int | None = None) -> SearchResponse:
    """Files most like ``path`` (or its ``page``, or one of its passages), the source first, as a
    :class:`SearchResponse` (mode ``similar``; ``score``: 1.0 is the source itself, 0 nothing in common)."""
    started = time.perf_counter()
    source_id, sources = source_passages(c, store, path, page, passage_id)
    per_file: dict[int, float] = {}  # file id -> sum over sources of its best passage's score
    best_passage: dict[int, tuple[float, int, int]] = {}  # file id -> (score, passage id, source index)
    for si, src in enumerate(sources):
        hits = store.search(src.vectors, HITS_PER_PASSAGE, src.model_key or None)
        owners = c.passage_file_ids([pid for pid, _ in hits], "1", []) if hits else {}
        best_here: dict[int, float] = {}
        for pid, score in hits:
            fid = owners.get(pid)
            if fid is None:
                continue
            value = score / len(src.vectors)
            if value > best_here.get(fid, -1.0):
                best_here[fid] = value
            if value > best_passage.get(fid, (-1.0, 0, 0))[0]:
                best_passage[fid] = (value, pid, si)
        for fid, value in best_here.items():
            per_file[fid] = per_file.get(fid, 0.0) + value
    scores = {fid: total / len(sources) for fid, total in per_file.items()}
    order = sorted(scores, key=lambda fid: (fid != source_id, -scores[fid]))
    results = _results(c, store, order, scores, best_passage, sources, limit, snippets)
    label = f"similar:{P.display(path)}" + (f":{page}" if page is not None else "")
    return SearchResponse(label, "similar", (time.perf_counter() - started) * 1000, results)


def _results(c: Catalog, store: SegmentStore, order: list[int], scores: dict[int, float],
             best_passage: dict[int, tuple[float, int, int]], sources: list[SourcePassage], limit: int,
             snippets: bool) -> list[SearchResult]:
    results: list[SearchResult] = []
    pos = 0
    while len(results) < limit and pos < len(order):
        chunk = order[pos : pos + limit - len(results) + 8]  # a few spare for files gone since indexing
        pos += len(chunk)
        files = c.result_files(chunk)
        passages = c.result_passages([best_passage[fid][1] for fid in chunk if fid in best_passage])
        for fid in chunk:
            row = files.get(fid)
            if row is None:
                continue
            path = P.from_db(row[1])
            if not on_disk(path):  # never show a file that is gone (an archive member: its archive)
                continue
            _, pid, si = best_passage[fid]
            result = SearchResult(path=path, score=scores[fid], title=row[2], page=None, snippet="", highlights=[],
                                  file_id=fid, passage_id=pid, size=row[3], mtime=row[4], ext=row[5])
            prow = passages.get(pid)
            if prow is not None:
                result.page = prow[2]
                if snippets:
                    _snippet(store, result, prow[1], prow[3], prow[4], sources[si])
            results.append(result)
            if len(results) >= limit:
                break
    return results


def _snippet(store: SegmentStore, result: SearchResult, text: str, segment_id: int | None, local_id: int | None,
             source: SourcePassage) -> None:
    """The passage's window around the words that the source's tokens matched most strongly."""
    spans: list[tuple[int, int]] = []
    if segment_id:
        got = store.passage_vectors(segment_id, local_id or 0, result.passage_id, source.model_key or None,
                                    source.vectors.shape[1])
        if got is not None:
            doc, doc_spans = got
            query_spans = [(int(s), int(e)) for s, e in np.asarray(source.spans).reshape(-1, 2)]
            spans = semantic_spans(source.vectors, query_spans, np.asarray(doc, np.float32), doc_spans, text,
                                   min_ratio=0.95, ignore=STOPWORDS)
    result.snippet, result.highlights = snippet(text, spans)
