"""Query parsing, keyword (file names + FTS5 BM25) and semantic (ColBERT) retrieval, rank fusion.

Query syntax (Recoll-like): words, ``"exact phrases"`` (hard filter), ``-excluded``, ``ext:pdf``,
``dir:Projects``, ``date:2024``, ``date:2024-01..2024-06``, ``date:>2024-03-01``, ``size:>1M``, ``size:<200k``.
"""

from __future__ import annotations

import datetime as dt
import os
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
from .model import ModelMismatch

MODES = ("hybrid", "semantic", "keyword")
# Function words carry no topic: they are dropped from keyword matching and highlights (unless the whole
# query is made of them), as Recoll and every web engine do.
STOPWORDS = frozenset(
    "a about above after again against all am an and any are as at be because been before being below between "
    "both but by can did do does doing down during each few for from further had has have having he her here "
    "hers herself him himself his how i if in into is it its itself just me more most my myself no nor not now "
    "of off on once only or other our ours ourselves out over own same she should so some such than that the "
    "their theirs them themselves then there these they this those through to too under until up very was we "
    "were what when where which while who whom why will with you your yours yourself yourselves".split()
)
SEMANTIC_WEIGHT, KEYWORD_WEIGHT, NAME_WEIGHT = 0.6, 0.4, 0.3
SEMANTIC_HIGHLIGHTS = 10  # results that also get the words matched by meaning (the rest: literal words)


class QueryError(ValueError):
    pass


@dataclass
class ParsedQuery:
    raw: str
    words: list[str] = field(default_factory=list)
    phrases: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    exts: list[str] = field(default_factory=list)
    dirs: list[str] = field(default_factory=list)
    after: float | None = None
    before: float | None = None
    min_size: int | None = None
    max_size: int | None = None
    prefix_last: bool = False

    @property
    def semantic_text(self) -> str:
        return " ".join(self.words + self.phrases)

    @property
    def has_filters(self) -> bool:
        return bool(self.exts or self.dirs or self.after or self.before or self.min_size or self.max_size
                    or self.phrases or self.excluded)


_TOKEN = re.compile(r'-?"[^"]*"?|[^\s"]+')
_SIZE = re.compile(r"^([<>]=?)?(\d+(?:\.\d+)?)([kmg]?)b?$", re.IGNORECASE)
_MAX_SIZE = 2**63 - 1
_SURROGATE = re.compile("[\ud800-\udfff]")


def _parse_date(value: str, end: bool) -> float:
    parts = value.split("-")
    try:
        year = int(parts[0])
        month = int(parts[1]) if len(parts) > 1 else (12 if end else 1)
        day = int(parts[2]) if len(parts) > 2 else None
    except ValueError as exc:
        raise QueryError(f"bad date {value!r} (use YYYY, YYYY-MM or YYYY-MM-DD)") from exc
    # Out-of-range parts (month 13, year 0 or 99999: found by fuzzing) are the person's typo, not a crash.
    try:
        if not 1 <= month <= 12:
            raise ValueError(month)
        if day is None:
            if end:
                nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
                return dt.datetime.combine(nxt, dt.time()).timestamp()
            day = 1
        d = dt.date(year, month, day)
        if end:
            d = d + dt.timedelta(days=1)
        return dt.datetime.combine(d, dt.time()).timestamp()
    except (ValueError, OverflowError, OSError) as exc:
        raise QueryError(f"bad date {value!r}") from exc


def parse_query(text: str) -> ParsedQuery:
    q = ParsedQuery(raw=text, prefix_last=bool(text) and not text[-1].isspace())
    # Lone surrogates (undecodable bytes of a command-line argument) cannot reach SQLite as UTF-8.
    text = _SURROGATE.sub("\ufffd", text)
    # only double quotes group words: apostrophes belong to words ("Alzheimer's"), and a quote left
    # open while typing closes at the end
    tokens, quoted = [], set()
    for match in _TOKEN.finditer(text):
        word = match.group(0)
        if '"' in word:
            negate = word.startswith("-")
            inner = word.lstrip("-").strip('"').strip()
            if not inner:
                continue
            word = ("-" if negate else "") + inner
            quoted.add(inner)
        tokens.append(word)
    for tok in tokens:
        low = tok.lower()
        if tok in quoted and " " in tok:
            q.phrases.append(tok)
        elif tok.startswith("-") and tok[1:] in quoted:
            q.excluded.append(tok[1:])
        elif low.startswith("ext:") and len(tok) > 4:
            q.exts.extend(e.lstrip(".").lower() for e in tok[4:].split(",") if e)
        elif low.startswith("dir:") and len(tok) > 4:
            q.dirs.append(tok[4:])
        elif low.startswith("date:") and len(tok) > 5:
            value = tok[5:]
            if ".." in value:
                lo, hi = value.split("..", 1)
                q.after = _parse_date(lo, False) if lo else None
                q.before = _parse_date(hi, True) if hi else None
            elif value.startswith(">"):
                q.after = _parse_date(value.lstrip(">="), False)
            elif value.startswith("<"):
                q.before = _parse_date(value.lstrip("<="), True)
            else:
                q.after, q.before = _parse_date(value, False), _parse_date(value, True)
        elif low.startswith("size:") and len(tok) > 5:
            m = _SIZE.match(tok[5:])
            if not m:
                raise QueryError(f"bad size {tok[5:]!r} (use e.g. size:>1M or size:<200k)")
            op, num, unit = m.groups()
            scaled = float(num) * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[unit.lower()]
            # SQLite integers end at 2**63 - 1 (and float("1" * 400) is inf): a bigger size is "no limit"
            value = int(scaled) if scaled < _MAX_SIZE else _MAX_SIZE
            if op and op.startswith("<"):
                q.max_size = value
            else:
                q.min_size = value
        elif tok.startswith("-") and len(tok) > 1:
            q.excluded.append(tok[1:])
        elif tok:
            q.words.append(tok)
    if q.phrases or (tokens and not q.words):
        q.prefix_last = False
    return q


def _fts_term(term: str, prefix: bool = False) -> str:
    # a NUL ends an FTS5 string early ("unterminated string": found by fuzzing); it is no word character
    cleaned = term.replace("\x00", " ").replace('"', '""')
    return f'"{cleaned}"' + ("*" if prefix else "")


def _fts_words(words: list[str], drop_stopwords: bool = True) -> list[str]:
    """Split words the way FTS5's tokenizer does, so punctuation never makes a query invalid."""
    out = []
    for w in words:
        out.extend(t for t in re.split(r"[^\w]+", w, flags=re.UNICODE) if t)
    if drop_stopwords:
        content = [t for t in out if t.lower() not in STOPWORDS]
        return content or out
    return out


def _coverage_of(words: list[str], prefix_last: bool) -> Callable[[str], float]:
    """A function giving the share of the query's words that occur in a text (patterns compiled once)."""
    if not words:
        return lambda text: 1.0
    patterns = [
        re.compile(r"(?<!\w)" + re.escape(w) + (r"" if prefix_last and i == len(words) - 1 else r"(?!\w)"),
                   re.IGNORECASE)
        for i, w in enumerate(words)
    ]
    lowered = [w.lower() for w in words]

    def coverage(text: str) -> float:
        low = text.lower()  # a plain substring test first: the regex only confirms word boundaries
        return sum(1 for w, p in zip(lowered, patterns, strict=True) if w in low and p.search(text)) / len(patterns)

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
        required: set[int] | None = None
        for phrase in q.phrases:
            ids = {r[0] for r in c.db.execute(
                "SELECT DISTINCT p.file_id FROM passages_fts JOIN passages p ON p.id = passages_fts.rowid "
                "WHERE passages_fts MATCH ?", [_fts_term(phrase)])}
            required = ids if required is None else required & ids
        excluded: set[int] = set()
        for word in q.excluded:  # quoted strings: FTS5 tokenizes inside them, so phrases stay phrases
            excluded |= {r[0] for r in c.db.execute(
                "SELECT DISTINCT p.file_id FROM passages_fts JOIN passages p ON p.id = passages_fts.rowid "
                "WHERE passages_fts MATCH ?", [_fts_term(word)])}
        return required, excluded

    # --- keyword ---------------------------------------------------------------------------------
    def keyword(self, c: Catalog, q: ParsedQuery, limit: int) -> list[Hit]:
        words = _fts_words(q.words)
        terms = [_fts_term(w, q.prefix_last and i == len(words) - 1) for i, w in enumerate(words)]
        parts = []
        if terms:
            parts.append("(" + " OR ".join(terms) + ")")
        parts.extend(_fts_term(p) for p in q.phrases)
        if not parts:
            return []
        match = " AND ".join(parts)
        for word in q.excluded:
            match += " NOT " + _fts_term(word)
        where, params = self._file_filter_sql(q)
        inner = limit * (40 if q.has_filters else 10)
        rows = c.db.execute(
            f"""WITH hits AS (
                  SELECT rowid AS pid, bm25(passages_fts) AS score FROM passages_fts
                  WHERE passages_fts MATCH ? ORDER BY score LIMIT ?)
                SELECT p.file_id, p.id, MIN(h.score) AS best, p.text
                FROM hits h JOIN passages p ON p.id = h.pid JOIN files f ON f.id = p.file_id
                WHERE {where} GROUP BY p.file_id ORDER BY best LIMIT ?""",
            [match, inner, *params, limit],
        ).fetchall()
        coverage = _coverage_of(words, q.prefix_last)
        return [Hit(r[0], r[1], -float(r[2]), coverage(r[3])) for r in rows]

    def names(self, c: Catalog, q: ParsedQuery, limit: int) -> list[Hit]:
        words = _fts_words(q.words)
        if not words:
            return []
        match = " OR ".join(_fts_term(w, i == len(words) - 1) for i, w in enumerate(words))
        where, params = self._file_filter_sql(q)
        rows = c.db.execute(
            f"""SELECT f.id, bm25(names_fts) AS score,
                       (SELECT id FROM passages WHERE file_id = f.id ORDER BY seq LIMIT 1), f.name
                FROM names_fts JOIN files f ON f.id = names_fts.rowid
                WHERE names_fts MATCH ? AND {where} ORDER BY score LIMIT ?""",
            [match, *params, limit],
        ).fetchall()
        coverage = _coverage_of(words, True)
        return [Hit(r[0], r[2] or 0, -float(r[1]), coverage(r[3])) for r in rows]

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
        rows = dict(c.db.execute(
            f"SELECT p.id, p.file_id FROM passages p JOIN files f ON f.id = p.file_id "
            f"WHERE p.id IN ({','.join('?' * len(ids))}) AND {where}",
            [*ids, *params],
        ).fetchall())
        best: dict[int, Hit] = {}
        for pid, score in hits:
            fid = rows.get(pid)
            if fid is not None and fid not in best:
                best[fid] = Hit(fid, pid, score)
        return sorted(best.values(), key=lambda h: -h.score)

    # --- all together ----------------------------------------------------------------------------
    def search(
        self, text: str, limit: int = 10, mode: str = "hybrid", snippets: bool = True,
        should_stop: Callable[[], bool] | None = None,
    ) -> SearchResponse:
        for response in self.stages(text, limit, (mode,), snippets, should_stop):
            return response
        return SearchResponse(text, mode, 0.0, [], "cancelled")

    def stages(
        self, text: str, limit: int = 10, modes: Sequence[str] = ("keyword", "hybrid"), snippets: bool = True,
        should_stop: Callable[[], bool] | None = None,
    ) -> Iterator[SearchResponse]:
        """One response per mode, in order, sharing the work they have in common: the window shows the
        keyword ranking at once and replaces it with the hybrid one. Stops early, yielding nothing more,
        once ``should_stop()`` is true. (Encoding the query on a second thread during the keyword stage
        was measured slower for both: 2x on each, from GIL hand-offs between SQLite and PyLate.)"""
        for mode in modes:
            if mode not in MODES:
                raise QueryError(f"unknown mode {mode!r} (use {', '.join(MODES)})")
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
            if mode in ("hybrid", "keyword"):
                if keyword_hits is None:
                    keyword_hits = [(KEYWORD_WEIGHT, self.keyword(c, q, pool)),
                                    (NAME_WEIGHT, self.names(c, q, pool))]
                rankings += keyword_hits
            semantic_qv = None
            if mode in ("hybrid", "semantic") and q.semantic_text.strip():
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
                phrase_filter = self._phrase_files(c, q) if (q.phrases or q.excluded) else (None, set())
            required, excluded = phrase_filter
            fused = [
                (fid, entry) for fid, entry in self._fuse(rankings, mode)
                if fid not in excluded and (required is None or fid in required)
            ]
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
        terms = _fts_words(q.words) + q.phrases
        results: list[SearchResult] = []
        pos = 0
        while len(results) < limit and pos < len(fused):
            chunk = fused[pos : pos + limit - len(results) + 8]  # a few spare for files gone since indexing
            pos += len(chunk)
            file_ids = [fid for fid, _ in chunk]
            files = {row[0]: row for row in c.db.execute(
                f"SELECT id, path, title, size, mtime, ext FROM files WHERE id IN ({','.join('?' * len(file_ids))})",
                file_ids)}
            passage_ids = [hit.passage_id for _, (_, hit) in chunk if hit.passage_id]
            passages = {row[0]: row for row in c.db.execute(
                f"SELECT id, text, page, segment_id, local_id FROM passages "
                f"WHERE id IN ({','.join('?' * len(passage_ids))})", passage_ids)} if passage_ids else {}
            for fid, (score, hit) in chunk:
                row = files.get(fid)
                if row is None:
                    continue
                path = P.from_db(row[1])
                if not os.path.exists(path):  # never show a file that is gone
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
        spans = keyword_spans(text, terms, prefix_last=q.prefix_last)
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
