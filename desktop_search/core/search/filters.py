"""Filters of a query (``ext:`` ``dir:`` ``date:`` ``size:``, required phrases and fields, exclusions)
as the retrievers apply them: the catalog turns a :class:`FileFilter` into its SQL clause, and the
semantic retriever asks for the passages that pass it *before* ranking (so a restrictive filter still
fills the page: issue 14). Plain data, built per search on the searching thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..catalog import Catalog
from ..query import ParsedQuery, field_match, fts_term


@dataclass(frozen=True)
class FileFilter:
    exts: tuple[str, ...] = ()
    dirs: tuple[str, ...] = ()
    after: float | None = None
    before: float | None = None
    min_size: int | None = None
    max_size: int | None = None

    @classmethod
    def of(cls, q: ParsedQuery) -> FileFilter:
        return cls(tuple(q.exts), tuple(q.dirs), q.after, q.before, q.min_size, q.max_size)

    @property
    def active(self) -> bool:
        return bool(self.exts or self.dirs or self.after is not None or self.before is not None
                    or self.min_size is not None or self.max_size is not None)

    def clause(self, c: Catalog) -> tuple[str, list[Any]]:
        return c.file_clause(self.exts, self.dirs, self.after, self.before, self.min_size, self.max_size)


@dataclass
class Restriction:
    """Files that must appear (every phrase or OR-group of phrases, every title:/author:/name: field;
    None: no such requirement) and files left out (-word, -"phrase" by the text; -author:x by the field)."""

    required: set[int] | None = None
    excluded: frozenset[int] = frozenset()

    def allows(self, file_id: int) -> bool:
        return file_id not in self.excluded and (self.required is None or file_id in self.required)


def restriction(c: Catalog, q: ParsedQuery) -> Restriction:
    if not (q.phrases or q.excluded or q.fields or q.excluded_fields):
        return Restriction()
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
    for fld, text, prefix in q.excluded_fields:
        expr = field_match(fld, text, prefix)
        if expr:
            excluded |= c.name_file_ids(expr)
    return Restriction(required, frozenset(excluded))


def allowed_passages(c: Catalog, filt: FileFilter, limit: Restriction) -> np.ndarray | None:
    """Ids of the passages the semantic search may return (sorted), or None when every passage may:
    the store masks the rest out before its candidate ranking and exact rerank."""
    if not filt.active and limit.required is None and not limit.excluded:
        return None
    where, params = filt.clause(c)
    rows = np.asarray(c.passage_owners(where, params), dtype=np.int64).reshape(-1, 2)  # (passage, file)
    keep = np.ones(len(rows), dtype=bool)
    if limit.required is not None:
        keep &= np.isin(rows[:, 1], np.fromiter(limit.required, np.int64, len(limit.required)))
    if limit.excluded:
        keep &= ~np.isin(rows[:, 1], np.fromiter(limit.excluded, np.int64, len(limit.excluded)))
    return np.sort(rows[keep, 0])
