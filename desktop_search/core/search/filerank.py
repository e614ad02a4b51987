"""Keyword ranking of files: BM25 whose word weights count files, not passages.

FTS5's ``bm25()`` weighs a word by how few *passages* hold it. Search ranks *files*. In a folder of
long files those disagree: a word such as "damage" or "storage" sits in a few passages of nearly every
long file, so it is rare among passages and BM25 weighs it, yet it says nothing about which file is
meant; a name such as "Tarvik" sits in one passage of one file. Here each word's BM25 part in a passage
is re-weighted by ``idf(files holding it) / idf(passages holding it)``: a passage scores BM25 with the
IDF of the unit being ranked (term frequency and length parts unchanged; FTS5's IDF formula on both
sides). Where every file is one passage the two IDFs are equal and the ranking is FTS5's own; on
SciFact (1.45 passages a file) and on the Debian descriptions (1.0) it moves nDCG@10 by < 0.001, and
it is what lifts the needle benchmark's long files (``tests/benchmarks/results/needle.md``).

Cost: per query word, a count of the files among its first :data:`SAMPLE` passages (scaled up when
more passages hold it); then one SQL statement sums the weighted per-word BM25 parts (in SQLite, no rows
through Python). Runs on the searching thread with its own reader connection.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..catalog import Catalog
from ..query import ParsedQuery, fts_term, fts_words, word_terms
from .filters import FileFilter
from .keyword import coverage_of, match_expression
from .results import Hit

SAMPLE = 64  # a word's passages looked at to count its files; beyond, the count is scaled by passages / SAMPLE


def idf(total: int, holding: int) -> float:
    """FTS5's BM25 IDF: ``log((N - n + 0.5) / (n + 0.5))``, floored at 1e-6 as ``bm25()`` floors it."""
    value = math.log((total - holding + 0.5) / (holding + 0.5)) if total > 0 else 0.0
    return value if value > 0 else 1e-6


@dataclass
class FileRanking:
    """The keyword list (each file's best passage, best first) and the scores of the best passages
    (those the list was drawn from), so other passages of a shown file are scored on the same scale."""

    hits: list[Hit] = field(default_factory=list)
    scores: dict[int, float] = field(default_factory=dict)  # passage id -> its file-level BM25 (the best ones)


def units(q: ParsedQuery) -> list[str]:
    """The FTS5 terms scored one by one: the free words and each quoted phrase."""
    terms = word_terms(q) if q.words else []
    terms += [fts_term(p) for group in q.required_phrase_groups() for p in group]
    return list(dict.fromkeys(terms))


def weights(c: Catalog, q: ParsedQuery) -> list[tuple[str, float]]:
    """Each query term with ``idf(files holding it) / idf(passages holding it)``: the factor that turns
    its BM25 part in a passage into the part it would have with the file-level IDF."""
    n_passages, n_files = c.collection_size()
    out = []
    for term in units(q):
        holding, among = c.term_spread(term, SAMPLE)
        if not holding:
            continue
        files = among if holding < SAMPLE else min(n_files, holding, max(among, round(among * holding / SAMPLE)))
        out.append((term, idf(n_files, files) / idf(n_passages, holding)))
    return out


def rank(c: Catalog, q: ParsedQuery, filt: FileFilter, limit: int, with_coverage: bool = False) -> FileRanking:
    """Up to ``limit`` files by their best passage's file-level BM25, best first (ties by passage id).
    ``with_coverage``: each hit weighed by the share of query words its passage holds
    (:func:`.keyword.coverage_of`)."""
    match = match_expression(q)
    if match is None:
        return FileRanking()
    inner = limit * (40 if q.has_filters else 10)
    # required phrases (AND) and exclusions (NOT): the whole expression decides which passages qualify
    within = match if (q.excluded or q.phrases) else None
    where, params = filt.clause(c)
    top = c.weighted_passages(weights(c, q), within, where, params, inner)
    scores: dict[int, float] = {}
    best: dict[int, int] = {}
    for fid, pid, score in top:
        scores[pid] = score
        if fid not in best and len(best) < limit:
            best[fid] = pid
    coverage = coverage_of(q, fts_words(q.words) if with_coverage else [])
    texts = c.result_passages(list(best.values())) if with_coverage else {}
    hits = [Hit(fid, pid, scores[pid], coverage(texts[pid][1]) if pid in texts else 1.0) for fid, pid in best.items()]
    return FileRanking(hits, scores)
