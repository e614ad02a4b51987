"""Per-word statistics and weighted BM25 for keyword ranking by files (core/search/filerank.py): how
many passages and files hold a word, and passages scored by a sum of per-word BM25 parts, each with
its own weight."""

from __future__ import annotations

from typing import Any

from .base import CatalogBase


class TermStatistics(CatalogBase):

    def collection_size(self) -> tuple[int, int]:
        """(passages, files) in the catalog: the totals word weights (IDF) are counted against."""
        passages = self.db.execute("SELECT count(*) FROM passages").fetchone()[0]
        files = self.db.execute("SELECT count(*) FROM files").fetchone()[0]
        return int(passages), int(files)

    def term_spread(self, term: str, sample: int) -> tuple[int, int]:
        """(passages holding the FTS5 term or phrase, distinct files among the first ``sample`` of them
        in passage id order): every file holding it when fewer than ``sample`` passages do."""
        holding, files = self.db.execute(
            """SELECT count(*), count(DISTINCT fid) FROM (
                 SELECT p.file_id AS fid FROM passages_fts JOIN passages p ON p.id = passages_fts.rowid
                 WHERE passages_fts MATCH ? LIMIT ?)""", [term, sample]).fetchone()
        if holding >= sample:
            holding = self.db.execute("SELECT count(*) FROM passages_fts WHERE passages_fts MATCH ?",
                                      [term]).fetchone()[0]
        return int(holding), int(files)

    def weighted_passages(self, terms: list[tuple[str, float]], within: str | None, where: str,
                          params: list[Any], inner: int) -> list[tuple[int, int, float]]:
        """(file id, passage id, score) of the ``inner`` best passages by the sum over ``terms`` (FTS5
        term, weight) of weight x that term's BM25 in the passage (higher is better), best first (ties by
        passage id), among the passages matching the FTS5 expression ``within`` (None: any holding a
        term), of files passing ``where`` (alias f)."""
        if not terms:
            return []
        parts = " UNION ALL ".join(
            "SELECT rowid AS pid, bm25(passages_fts) * ? AS s FROM passages_fts WHERE passages_fts MATCH ?"
            for _ in terms)
        args: list[Any] = [x for term, weight in terms for x in (weight, term)]
        # one part alone, or a test on the parts, would be folded into the grouping query, where bm25()
        # has no FTS5 cursor ("unable to use function bm25"): then the parts are materialised first
        if within is None and len(terms) > 1:
            scored = f"SELECT pid, sum(s) AS score FROM ({parts}) GROUP BY pid ORDER BY score, pid LIMIT ?"
        else:
            test = "WHERE pid IN (SELECT rowid FROM passages_fts WHERE passages_fts MATCH ?)" if within else ""
            scored = (f"WITH parts AS MATERIALIZED ({parts}) SELECT pid, sum(s) AS score FROM parts {test} "
                      "GROUP BY pid ORDER BY score, pid LIMIT ?")
            if within is not None:
                args.append(within)
        return [(fid, pid, -score) for fid, pid, score in self.db.execute(
            f"""SELECT p.file_id, s.pid, s.score FROM ({scored}) s JOIN passages p ON p.id = s.pid
                JOIN files f ON f.id = p.file_id WHERE {where} ORDER BY s.score, s.pid""",
            [*args, inner, *params])]
