"""Keyword search's queries: core/query.py builds the MATCH expressions, core/search the filter clause."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .base import CatalogBase


class KeywordQueries(CatalogBase):

    # --- keyword search: core/query.py builds the MATCH expressions, core/search.py the filter clause ---
    def name_hits(self, match: str, where: str, params: list[Any], limit: int,
                  weights: Iterable[float] = ()) -> list[tuple[int, float, int, str]]:
        """(file id, BM25, first passage id, name, title, author and keywords) of files whose names_fts
        row matches, best first; ``weights``: BM25's weight per column (name, title, author, keywords)."""
        weights = [float(w) for w in weights]
        return self.db.execute(
            f"""SELECT f.id, bm25(names_fts{''.join(', ?' for _ in weights)}) AS score,
                       (SELECT id FROM passages WHERE file_id = f.id ORDER BY seq LIMIT 1),
                       f.name || ' ' || coalesce(f.title, '') || ' ' || coalesce(f.author, '') || ' '
                           || coalesce(f.keywords, '')
                FROM names_fts JOIN files f ON f.id = names_fts.rowid
                WHERE names_fts MATCH ? AND {where} ORDER BY score LIMIT ?""",
            [*weights, match, *params, limit],
        ).fetchall()

    def text_file_ids(self, match: str) -> set[int]:
        """Files with a passage matching the FTS5 expression."""
        return {r[0] for r in self.db.execute(
            "SELECT DISTINCT p.file_id FROM passages_fts JOIN passages p ON p.id = passages_fts.rowid "
            "WHERE passages_fts MATCH ?", [match])}

    def name_file_ids(self, match: str) -> set[int]:
        """Files whose name/title (names_fts) match the FTS5 expression."""
        return {r[0] for r in self.db.execute("SELECT rowid FROM names_fts WHERE names_fts MATCH ?", [match])}

    def passage_file_ids(self, passage_ids: list[int], where: str, params: list[Any]) -> dict[int, int]:
        """Passage id → file id of those of ``passage_ids`` (not empty) whose file passes ``where`` (alias f;
        "1", no filter: files is not joined, ~15% of this lookup's CPU for SciFact's 3000 keyword candidates)."""
        files = "" if where == "1" else "JOIN files f ON f.id = p.file_id"
        return dict(self.db.execute(
            f"SELECT p.id, p.file_id FROM passages p {files} "
            f"WHERE p.id IN ({','.join('?' * len(passage_ids))}) AND {where}",
            [*passage_ids, *params],
        ).fetchall())

    def result_files(self, file_ids: list[int]) -> dict[int, tuple[int, str, str | None, int, float, str]]:
        """(id, stored path, title, size, mtime, ext) of each of ``file_ids`` (not empty) still catalogued, by id."""
        return {row[0]: row for row in self.db.execute(
            f"SELECT id, path, title, size, mtime, ext FROM files WHERE id IN ({','.join('?' * len(file_ids))})",
            file_ids)}

    def result_passages(self, passage_ids: list[int]) -> dict[int, tuple[int, str, int | None, int | None, int | None]]:
        """(id, text, page, segment id, local id) of each of ``passage_ids`` still catalogued, by id."""
        if not passage_ids:
            return {}
        return {row[0]: row for row in self.db.execute(
            f"SELECT id, text, page, segment_id, local_id FROM passages "
            f"WHERE id IN ({','.join('?' * len(passage_ids))})", passage_ids)}

    @staticmethod
    def file_clause(exts: Iterable[str], dirs: Iterable[str], after: float | None, before: float | None,
                    min_size: int | None, max_size: int | None) -> tuple[str, list[Any]]:
        """The WHERE clause (alias f) and its parameters for search's file filters (``ext:`` ``dir:``
        ``date:`` ``size:``); ``"1"`` when there are none."""
        clauses: list[str] = []
        params: list[Any] = []
        exts = list(exts)
        if exts:
            clauses.append(f"f.ext IN ({','.join('?' * len(exts))})")
            params.extend(exts)
        for d in dirs:
            clauses.append("instr(lower(f.path), lower(?)) > 0")
            params.append(d)
        for clause, value in (("f.mtime >= ?", after), ("f.mtime < ?", before), ("f.size >= ?", min_size),
                              ("f.size <= ?", max_size)):
            if value is not None:
                clauses.append(clause)
                params.append(value)
        return (" AND ".join(clauses) or "1"), params

    def file_passage_hits(self, match: str, file_ids: list[int], per_file: int,
                          with_text: bool = True) -> list[tuple[int, int, float, str]]:
        """(file id, passage id, BM25, text): up to ``per_file`` passages of each of ``file_ids`` (not
        empty) matching the FTS5 expression, best first within each file (text empty unless ``with_text``)."""
        text = "p.text" if with_text else "''"
        return self.db.execute(
            f"""WITH hits AS (
                  SELECT p.file_id, p.id, bm25(passages_fts) AS score, {text} AS text
                  FROM passages_fts JOIN passages p ON p.id = passages_fts.rowid
                  WHERE passages_fts MATCH ? AND p.file_id IN ({','.join('?' * len(file_ids))})),
                ranked AS (
                  SELECT *, row_number() OVER (PARTITION BY file_id ORDER BY score) AS n FROM hits)
                SELECT file_id, id, score, text FROM ranked WHERE n <= ? ORDER BY file_id, score""",
            [match, *file_ids, per_file],
        ).fetchall()

    def passage_owners(self, where: str, params: list[Any]) -> list[tuple[int, int]]:
        """(passage id, file id) of every passage whose file passes ``where`` (alias f): the set a
        filtered semantic search is restricted to before it ranks."""
        return self.db.execute(
            f"SELECT p.id, p.file_id FROM passages p JOIN files f ON f.id = p.file_id WHERE {where}", params
        ).fetchall()

    SORT_ORDER = {"date": "f.mtime DESC", "name": "f.name COLLATE NOCASE ASC", "size": "f.size DESC"}

    def filtered_files(self, where: str, params: list[Any], sort: str, limit: int,
                       ids: Iterable[int] | None = None) -> list[tuple[int, int]]:
        """(file id, first passage id) of the files passing ``where`` (alias f), optionally among
        ``ids``, in ``sort`` order (date: newest first, name: A-Z, size: largest first)."""
        clause, extra = where, list(params)
        if ids is not None:
            id_list = list(ids)
            if not id_list:
                return []
            clause += f" AND f.id IN ({','.join('?' * len(id_list))})"
            extra += id_list
        order = self.SORT_ORDER.get(sort, self.SORT_ORDER["date"])
        return self.db.execute(
            f"""SELECT f.id, (SELECT id FROM passages WHERE file_id = f.id ORDER BY seq LIMIT 1)
                FROM files f WHERE {clause} ORDER BY {order}, f.id LIMIT ?""",
            [*extra, limit],
        ).fetchall()
