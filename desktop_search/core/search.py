"""Keyword (file names + FTS5 BM25, porter-stemmed) and semantic (ColBERT) retrieval, rank fusion,
sorting. The query language itself (parser, FTS5 expressions) is in :mod:`.query`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import paths as P
from .catalog import Catalog
from .encoder import Encoder, QueryVectors
from .highlight import keyword_spans, semantic_spans, snippet
from .index import SegmentStore
from .members import on_disk
from .model import ModelMismatch
from .query import (  # noqa: F401  (the parser lived here: gui and tests import it from search)
    FIELDS,
    SORTS,
    STOPWORDS,
    ParsedQuery,
    QueryError,
    field_match,
    fts_term,
    fts_words,
    parse_query,
    word_pattern,
    word_terms,
    words_regex,
)

MODES = ("hybrid", "semantic", "keyword")
SEMANTIC_WEIGHT, KEYWORD_WEIGHT, NAME_WEIGHT = 0.6, 0.4, 0.3
SEMANTIC_HIGHLIGHTS = 10  # results that also get the words matched by meaning (the rest: literal words)


def _coverage_of(q: ParsedQuery, words: list[str]) -> Callable[[str], float]:
    """A function giving the share of the query's words (``a OR b`` counting as one) that occur in a
    text, inflections included as the stemmed index finds them (patterns compiled once)."""
    if not words:
        return lambda text: 1.0
    index = {w.lower(): i for i, w in enumerate(words)}
    slots: dict[int, int] = {}  # word index -> slot (alternatives share one)
    for group in q.alternatives:
        members = [index[q.words[i].lower()] for i in group if q.words[i].lower() in index]
        for m in members:
            slots[m] = members[0]
    patterns = [
        (slots.get(i, i), re.compile(word_pattern(w, w in q.prefixes), re.IGNORECASE)) for i, w in enumerate(words)
    ]
    n_slots = len({s for s, _ in patterns})

    def coverage(text: str) -> float:
        return len({s for s, p in patterns if p.search(text)}) / n_slots

    return coverage


@dataclass
class Hit:
    file_id: int
    passage_id: int
    score: float
    weight: float = 1.0  # how much of the query this hit covers (keyword hits matching one word of five count less)


@dataclass
class SearchResult:
    path: str
    score: float
    title: str | None
    page: int | None
    snippet: str
    highlights: list[list[int]]
    file_id: int = 0
    passage_id: int = 0
    size: int = 0
    mtime: float = 0.0
    ext: str = ""
    matched: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "path": self.path, "score": round(self.score, 6), "title": self.title, "page": self.page,
            "snippet": self.snippet, "highlights": self.highlights, "size": self.size, "mtime": self.mtime,
        }


@dataclass
class SearchResponse:
    query: str
    mode: str
    took_ms: float
    results: list[SearchResult]
    notice: str | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "query": self.query, "took_ms": round(self.took_ms, 2), "mode": self.mode,
            "results": [r.as_json() for r in self.results],
        }
        if self.notice:
            out["notice"] = self.notice
        return out


class Searcher:
    def __init__(
        self, catalog: Callable[[], Catalog], store: SegmentStore, encoder: Callable[[], Encoder | None]
    ):
        self._catalog = catalog
        self.store = store
        self._encoder = encoder

    # --- filters ---------------------------------------------------------------------------------
    @staticmethod
    def _file_filter_sql(q: ParsedQuery) -> tuple[str, list[Any]]:
        clauses, params = [], []
        if q.exts:
            clauses.append(f"f.ext IN ({','.join('?' * len(q.exts))})")
            params.extend(q.exts)
        for d in q.dirs:
            clauses.append("instr(lower(f.path), lower(?)) > 0")
            params.append(d)
        bounds = (("f.mtime >= ?", q.after), ("f.mtime < ?", q.before), ("f.size >= ?", q.min_size),
                  ("f.size <= ?", q.max_size))
        for clause, value in bounds:
            if value is not None:
                clauses.append(clause)
                params.append(value)
        return (" AND ".join(clauses) or "1"), params

    def _phrase_files(self, c: Catalog, q: ParsedQuery) -> tuple[set[int] | None, set[int]]:
        """Files that must appear (every phrase or OR-group of phrases, every title:/name: field) and
        files left out (-word, -"phrase")."""
        required: set[int] | None = None
        for group in q.required_phrase_groups():
            ids = c.text_file_ids(" OR ".join(fts_term(p) for p in group))
            required = ids if required is None else required & ids
        for fld, text, prefix in q.fields:
            expr = field_match(fld, text, prefix)
            ids = c.name_file_ids(expr) if expr else set()
            required = ids if required is None else required & ids
        excluded: set[int] = set()
        for word in q.excluded:  # quoted strings: FTS5 tokenizes inside them, so phrases stay phrases
            excluded |= c.text_file_ids(fts_term(word))
        return required, excluded

    # --- keyword ---------------------------------------------------------------------------------
    def keyword(self, c: Catalog, q: ParsedQuery, limit: int) -> list[Hit]:
        terms = word_terms(q) if q.words else []
        parts = []
        if terms:
            parts.append("(" + " OR ".join(terms) + ")")
        parts.extend("(" + " OR ".join(fts_term(p) for p in g) + ")" for g in q.required_phrase_groups())
        if not parts:
            return []
        match = " AND ".join(parts)
        for word in q.excluded:
            match += " NOT " + fts_term(word)
        where, params = self._file_filter_sql(q)
        inner = limit * (40 if q.has_filters else 10)
        rows = c.passage_hits(match, where, params, inner, limit)
        coverage = _coverage_of(q, fts_words(q.words))
        return [Hit(r[0], r[1], -float(r[2]), coverage(r[3])) for r in rows]

    def names(self, c: Catalog, q: ParsedQuery, limit: int) -> list[Hit]:
        """File names and document titles matching the words (no prefix unless written ``word*``:
        ``house`` is not houseplants)."""
        terms = word_terms(q) if q.words else []
        if not terms:
            return []
        where, params = self._file_filter_sql(q)
        rows = c.name_hits("{name title} : (" + " OR ".join(terms) + ")", where, params, limit)
        coverage = _coverage_of(q, fts_words(q.words))
        return [Hit(r[0], r[2] or 0, -float(r[1]), coverage(r[3])) for r in rows]

    def listing(self, c: Catalog, q: ParsedQuery, sort: str, limit: int, among: set[int] | None) -> list[Hit]:
        """A query of filters only: the matching files (``among`` those, when title:/name: narrowed
        them) in ``sort`` order (relevance: newest first)."""
        where, params = self._file_filter_sql(q)
        rows = c.filtered_files(where, params, "date" if sort == "relevance" else sort, limit * 4 + 8, among)
        return [Hit(fid, pid or 0, 0.0) for fid, pid in rows]

    # --- semantic --------------------------------------------------------------------------------
    def semantic(self, c: Catalog, q: ParsedQuery, qv: QueryVectors, limit: int) -> list[Hit]:
        self.store.refresh(c)
        k = limit * (8 if q.has_filters else 3)
        # only vectors of the query's own model (ModelMismatch when the index holds none of them)
        hits = self.store.search(qv.vectors, k, qv.model_key or None)
        if not hits:
            return []
        ids = [h[0] for h in hits]
        where, params = self._file_filter_sql(q)
        rows = c.passage_file_ids(ids, where, params)
        best: dict[int, Hit] = {}
        for pid, score in hits:
            fid = rows.get(pid)
            if fid is not None and fid not in best:
                best[fid] = Hit(fid, pid, score)
        return sorted(best.values(), key=lambda h: -h.score)

    # --- all together ----------------------------------------------------------------------------
    def search(
        self, text: str, limit: int = 10, mode: str = "hybrid", snippets: bool = True,
        should_stop: Callable[[], bool] | None = None, sort: str = "relevance",
    ) -> SearchResponse:
        for response in self.stages(text, limit, (mode,), snippets, should_stop, sort):
            return response
        return SearchResponse(text, mode, 0.0, [], "cancelled")

    def stages(
        self, text: str, limit: int = 10, modes: Sequence[str] = ("keyword", "hybrid"), snippets: bool = True,
        should_stop: Callable[[], bool] | None = None, sort: str = "relevance",
    ) -> Iterator[SearchResponse]:
        """One response per mode, in order, sharing the work they have in common: the window shows the
        keyword ranking at once and replaces it with the hybrid one. Stops early, yielding nothing more,
        once ``should_stop()`` is true. (Encoding the query on a second thread during the keyword stage
        was measured slower for both: 2x on each, from GIL hand-offs between SQLite and PyLate.)
        ``sort``: relevance, or the best matches re-ordered by date (newest first), name or size
        (largest first). A query of filters only lists the matching files, newest first by default."""
        for mode in modes:
            if mode not in MODES:
                raise QueryError(f"unknown mode {mode!r} (use {', '.join(MODES)})")
        if sort not in SORTS:
            raise QueryError(f"unknown sort {sort!r} (use {', '.join(SORTS)})")
        started = time.perf_counter()
        q = parse_query(text)
        c = self._catalog()
        pool = max(limit * 3, 30)
        keyword_hits: list[tuple[float, list[Hit]]] | None = None
        semantic_hits: list[Hit] | None = None
        phrase_filter: tuple[set[int] | None, set[int]] | None = None
        qv: QueryVectors | None = None
        unavailable = None
        mismatch: str | None = None  # the index's vectors are another model's: keyword ranking only
        literal_snippets: dict[int, tuple[str, list[list[int]]]] = {}
        for mode in modes:
            if should_stop and should_stop():
                return
            rankings: list[tuple[float, list[Hit]]] = []
            notice = None
            if q.filter_only:
                if keyword_hits is None:
                    phrase_filter = self._phrase_files(c, q) if (q.excluded or q.fields) else (None, set())
                    keyword_hits = [(1.0, self.listing(c, q, sort, limit, phrase_filter[0]))]
                rankings += keyword_hits
            elif mode in ("hybrid", "keyword"):
                if keyword_hits is None:
                    keyword_hits = [(KEYWORD_WEIGHT, self.keyword(c, q, pool)),
                                    (NAME_WEIGHT, self.names(c, q, pool))]
                rankings += keyword_hits
            semantic_qv = None
            if mode in ("hybrid", "semantic") and q.semantic_text.strip() and not q.filter_only:
                if qv is None and unavailable is None:
                    qv, unavailable = self._encode(q)
                if qv is not None and semantic_hits is None and mismatch is None:
                    try:
                        semantic_hits = self.semantic(c, q, qv, pool)
                    except ModelMismatch as exc:
                        if mode == "semantic":
                            raise  # asked for meaning only: refused, one line
                        mismatch = f"ranked by keyword only: {exc}"
                if qv is None:
                    notice = unavailable
                elif mismatch is not None:
                    notice = mismatch
                elif semantic_hits is not None:
                    rankings.append((SEMANTIC_WEIGHT, semantic_hits))
                    semantic_qv = qv
                    if self.store.damaged:  # left out at load (checksum or unreadable): say so
                        notice = (f"{len(self.store.damaged)} damaged index segment(s) left out of the ranking "
                                  "by meaning; run `desktop-search doctor --repair`")
            if phrase_filter is None:
                phrase_filter = (self._phrase_files(c, q) if (q.phrases or q.excluded or q.fields)
                                 else (None, set()))
            required, excluded = phrase_filter
            fused = [
                (fid, entry) for fid, entry in self._fuse(rankings, "keyword" if q.filter_only else mode)
                if fid not in excluded and (required is None or fid in required)
            ]
            if sort != "relevance" and fused and not q.filter_only:
                order = {fid: i for i, (fid, _) in enumerate(c.filtered_files("1", [], sort, len(fused),
                                                                                [fid for fid, _ in fused]))}
                fused.sort(key=lambda kv: order.get(kv[0], len(order)))
            results = self._results(c, fused, limit, q, semantic_qv, snippets, literal_snippets)
            yield SearchResponse(text, mode, (time.perf_counter() - started) * 1000, results, notice)

    def _encode(self, q: ParsedQuery) -> tuple[QueryVectors | None, str | None]:
        try:
            encoder = self._encoder()
        except Exception as exc:  # no model: keyword results still come back
            return None, f"semantic search unavailable: {exc}"
        if encoder is None:
            return None, "semantic search unavailable: no model"
        return encoder.encode_query(q.semantic_text), None

    @staticmethod
    def _fuse(rankings: list[tuple[float, list[Hit]]], mode: str) -> list[tuple[int, tuple[float, Hit]]]:
        """Hybrid: a convex mix of scores normalised by each list's best, keyword scores scaled by how
        much of the query they cover. Unlike plain reciprocal-rank fusion this keeps the semantic
        model's confidence gaps, and a file matching every query word still rises to the top."""
        fused: dict[int, list[Any]] = {}
        if mode != "hybrid":
            for _, hits in rankings:
                for h in hits:
                    fused.setdefault(h.file_id, [h.score, h])
            return [(fid, (v[0], v[1])) for fid, v in fused.items()]
        for weight, hits in rankings:
            if not hits:
                continue
            top = max(h.score for h in hits)
            low = min(0.0, min(h.score for h in hits))
            span = (top - low) or 1.0
            for h in hits:
                value = weight * h.weight * (h.score - low) / span
                entry = fused.setdefault(h.file_id, [0.0, h, 0.0])
                entry[0] += value
                if value > entry[2]:  # show the passage of the strongest signal
                    entry[1], entry[2] = h, value
        return sorted(((fid, (v[0], v[1])) for fid, v in fused.items()), key=lambda kv: -kv[1][0])

    def _results(
        self, c: Catalog, fused: list[tuple[int, tuple[float, Hit]]], limit: int, q: ParsedQuery,
        qv: QueryVectors | None, snippets: bool, literal: dict[int, tuple[str, list[list[int]]]] | None = None,
    ) -> list[SearchResult]:
        """The first ``limit`` fused hits whose files still exist, rows read in a few batched queries.
        ``literal`` keeps snippets with only the literal words marked, by passage, across stages."""
        literal = {} if literal is None else literal
        terms = list(q.phrases)  # the words are marked by words_regex (word forms, prefixes)
        results: list[SearchResult] = []
        pos = 0
        while len(results) < limit and pos < len(fused):
            chunk = fused[pos : pos + limit - len(results) + 8]  # a few spare for files gone since indexing
            pos += len(chunk)
            file_ids = [fid for fid, _ in chunk]
            files = c.result_files(file_ids)
            passage_ids = [hit.passage_id for _, (_, hit) in chunk if hit.passage_id]
            passages = c.result_passages(passage_ids)
            for fid, (score, hit) in chunk:
                row = files.get(fid)
                if row is None:
                    continue
                path = P.from_db(row[1])
                if not on_disk(path):  # never show a file that is gone (an archive member: its archive)
                    continue
                result = SearchResult(path=path, score=score, title=row[2], page=None, snippet="", highlights=[],
                                      file_id=fid, passage_id=hit.passage_id, size=row[3], mtime=row[4], ext=row[5])
                prow = passages.get(hit.passage_id)
                if prow is not None:
                    result.page = prow[2]
                    if snippets:
                        # which words matched by meaning costs a decompression per passage: first page only
                        semantic = qv if len(results) < SEMANTIC_HIGHLIGHTS else None
                        if semantic is None and hit.passage_id in literal:
                            result.snippet, result.highlights = literal[hit.passage_id]
                        else:
                            self._snippet(result, prow[1], prow[3], prow[4], terms, q, semantic)
                            if semantic is None:
                                literal[hit.passage_id] = (result.snippet, result.highlights)
                results.append(result)
                if len(results) >= limit:
                    break
        return results

    def _snippet(
        self, result: SearchResult, text: str, segment_id: int | None, local_id: int | None, terms: list[str],
        q: ParsedQuery, qv: QueryVectors | None,
    ) -> None:
        spans = keyword_spans(text, terms)
        pattern = words_regex(tuple(fts_words(q.words)), frozenset(q.prefixes))
        if pattern is not None:
            spans += [m.span() for m in pattern.finditer(text)]
        if qv is not None and segment_id:
            got = self.store.passage_vectors(segment_id, local_id or 0, result.passage_id, qv.model_key or None,
                                             qv.vectors.shape[1])
            if got is not None:
                vectors, token_spans = got
                content = [
                    (s, e) if q.semantic_text[s:e].lower() not in STOPWORDS else (0, 0) for s, e in qv.spans
                ]
                doc = np.asarray(vectors, np.float32)
                spans += semantic_spans(qv.vectors, content, doc, token_spans, text, ignore=STOPWORDS)
                if len(doc):
                    best = (qv.vectors @ doc.T).argmax(axis=1)  # the doc token each query token matched
                    for qi, (s, e) in enumerate(qv.spans[: len(best)]):
                        if e > s:
                            ds, de = token_spans[int(best[qi])]
                            result.matched[q.semantic_text[s:e]] = text[int(ds) : int(de)]
        result.snippet, result.highlights = snippet(text, spans)


def display_path(path: str) -> str:
    return P.display(path)
