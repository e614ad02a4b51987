"""Keyword retrieval: passages by FTS5 BM25 (porter-stemmed), file names and titles, and the
listing of a query made of filters only. The MATCH expressions come from :mod:`..query`; the SQL
is the catalog's. Runs on the searching thread with its own reader connection.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

from ..catalog import Catalog
from ..cjk import has_cjk
from ..query import (
    NAME_WEIGHTS,
    ParsedQuery,
    fts_term,
    fts_words,
    text_tokens,
    word_forms,
    word_pattern,
    word_root,
    word_terms,
)
from .filters import FileFilter
from .results import Hit


def _word_test(word: str, prefix: bool) -> Callable[[set[str], str], bool]:
    """Whether a text (its lower-case tokens, its text) holds the word as :func:`word_pattern` finds it,
    without compiling that pattern: a set lookup of the word's forms (a prefix: a token starting with
    its root). Words with CJK characters, found inside runs, keep the regex (compiled once, cached)."""
    low = word.lower()
    if has_cjk(low):
        pattern = _cjk_pattern(low, prefix)
        return lambda _tokens, text: pattern.search(text) is not None
    if prefix:
        root = word_root(low)
        return lambda tokens, _text: any(t.startswith(root) for t in tokens)
    forms = word_forms(low)
    return lambda tokens, _text: not forms.isdisjoint(tokens)


@functools.lru_cache(maxsize=256)  # any thread: functools' cache is thread-safe, patterns are immutable
def _cjk_pattern(low: str, prefix: bool) -> re.Pattern[str]:
    return re.compile(word_pattern(low, prefix), re.IGNORECASE)


def coverage_of(q: ParsedQuery, words: list[str]) -> Callable[[str], float]:
    """A function giving the share of the query's words (``a OR b`` counting as one) that occur in a
    text, inflections included as the stemmed index finds them. No regex is compiled per word: that
    was 5 ms a word (the CJK-aware boundaries), most of a keyword query's time on SciFact."""
    if not words:
        return lambda _text: 1.0
    index = {w.lower(): i for i, w in enumerate(words)}
    slots: dict[int, int] = {}  # word index -> slot (alternatives share one)
    for group in q.alternatives:
        members = [index[q.words[i].lower()] for i in group if q.words[i].lower() in index]
        for m in members:
            slots[m] = members[0]
    tests = [(slots.get(i, i), _word_test(w, w in q.prefixes)) for i, w in enumerate(words)]
    n_slots = len({s for s, _ in tests})

    def coverage(text: str) -> float:
        tokens = text_tokens(text)
        return len({s for s, test in tests if test(tokens, text)}) / n_slots

    return coverage


def match_expression(q: ParsedQuery) -> str | None:
    """The FTS5 expression of the query's words (OR'd), required phrases (AND) and exclusions."""
    terms = word_terms(q) if q.words else []
    parts = []
    if terms:
        parts.append("(" + " OR ".join(terms) + ")")
    parts.extend("(" + " OR ".join(fts_term(p) for p in g) + ")" for g in q.required_phrase_groups())
    if not parts:
        return None
    match = " AND ".join(parts)
    for word in q.excluded:
        match += " NOT " + fts_term(word)
    return match


def more_passages(c: Catalog, q: ParsedQuery, file_ids: list[int], per_file: int,
                  with_coverage: bool = True) -> list[Hit]:
    """Up to ``per_file`` matching passages of each of ``file_ids`` (the files about to be shown),
    by BM25; their weight is their coverage of the query words."""
    match = match_expression(q)
    if match is None or not file_ids:
        return []
    coverage = coverage_of(q, fts_words(q.words) if with_coverage else [])
    return [Hit(fid, pid, -float(score), coverage(text))
            for fid, pid, score, text in c.file_passage_hits(match, file_ids, per_file, with_coverage)]


def names(c: Catalog, q: ParsedQuery, filt: FileFilter, limit: int) -> list[Hit]:
    """Files whose name, title, author or keywords hold the words, by BM25 with the column weights of
    :data:`NAME_WEIGHTS` (no prefix unless written ``word*``: ``house`` is not houseplants)."""
    terms = word_terms(q) if q.words else []
    if not terms:
        return []
    where, params = filt.clause(c)
    rows = c.name_hits("{name title author keywords} : (" + " OR ".join(terms) + ")", where, params, limit,
                       NAME_WEIGHTS.values())
    coverage = coverage_of(q, fts_words(q.words))
    return [Hit(r[0], r[2] or 0, -float(r[1]), coverage(r[3])) for r in rows]


def listing(c: Catalog, filt: FileFilter, sort: str, limit: int, among: set[int] | None) -> list[Hit]:
    """A query of filters only: the matching files (``among`` those, when title:/name: narrowed
    them) in ``sort`` order (relevance: newest first). Every listed file scores 1: all match."""
    where, params = filt.clause(c)
    rows = c.filtered_files(where, params, "date" if sort == "relevance" else sort, limit * 4 + 8, among)
    return [Hit(fid, pid or 0, 1.0) for fid, pid in rows]
