"""Keyword ranking of files (core/search/filerank.py): BM25 whose word weights count files, not
passages. A small catalog, no model."""

import math

import pytest

from desktop_search.core.catalog import Catalog
from desktop_search.core.search import filerank, parse_query
from desktop_search.core.search.filters import FileFilter
from desktop_search.core.search.keyword import match_expression

FILLER = ["alpha beta gamma delta", "epsilon zeta eta theta", "iota kappa lambda mu", "nu xi omicron pi",
          "rho sigma tau upsilon", "phi chi psi omega", "one two three four", "five six seven eight"]


def _catalog(tmp_path, files: dict[str, list[str]]) -> tuple[Catalog, dict[str, int]]:
    c = Catalog(tmp_path / "c.db")
    ids = {}
    with c.transaction():
        for name, passages in files.items():
            fid = c.add_file({"path": f"/d/{name}", "name": name, "ext": name.rsplit(".", 1)[-1], "size": 1,
                              "mtime": 0.0, "hash": name, "state": "indexed", "updated_at": 0.0})
            c.add_passages([(fid, i, 0, len(t), None, t, 0) for i, t in enumerate(passages)])
            ids[name] = fid
    return c, ids


def _long_files(tmp_path):
    """Six long files: 'structural damage' in one passage of every file (three times over in
    report-2's), 'Tarvik' in one passage of report-5 only."""
    files = {}
    for n in range(1, 7):
        passages = [f"{w} file{n} part{i}" for i, w in enumerate(FILLER)]
        passages[3] = ("structural damage structural damage structural damage seen" if n == 2 else
                       f"a note on structural damage in file{n}")
        if n == 5:
            passages[6] = "The Tarvik bridge inspection found a crack in the northern pillar"
        files[f"report-{n}.txt"] = passages
    return _catalog(tmp_path, files)


def _fts5_by_passage(c, text, limit=10):
    """The reference: FTS5's own BM25 (word weights count passages), each file ranked by its best
    passage, as keyword search ranked files before file-level weights: (file id, BM25) best first."""
    match = match_expression(parse_query(text))
    return c.db.execute(
        """WITH hits AS MATERIALIZED (SELECT rowid AS pid, bm25(passages_fts) AS score FROM passages_fts
                                     WHERE passages_fts MATCH ?)
           SELECT p.file_id, -MIN(h.score) AS best FROM hits h JOIN passages p ON p.id = h.pid
           GROUP BY p.file_id ORDER BY MIN(h.score), p.file_id LIMIT ?""", [match, limit]).fetchall()


def _rank(c, text, limit=10):
    q = parse_query(text)
    return filerank.rank(c, q, FileFilter.of(q), limit)


def test_a_word_in_every_file_weighs_nothing_and_a_name_in_one_file_decides(tmp_path):
    c, ids = _long_files(tmp_path)
    by_passage = _fts5_by_passage(c, "Tarvik structural damage")
    assert by_passage[0][0] == ids["report-2.txt"]  # passage BM25: 'structural damage' is rare among passages
    ranking = _rank(c, "Tarvik structural damage")
    assert ranking.hits[0].file_id == ids["report-5.txt"]
    tarvik = ranking.hits[0]
    assert "Tarvik" in c.result_passages([tarvik.passage_id])[tarvik.passage_id][1]  # its best passage holds the name
    assert all(h.score < tarvik.score / 100 for h in ranking.hits[1:])  # the common words count next to nothing
    assert len(ranking.hits) == 6


def test_where_each_file_is_one_passage_the_ranking_is_fts5_bm25(tmp_path):
    docs = {f"d{i}.txt": [t] for i, t in enumerate([
        "volcano eruption ash cloud", "volcano lava flow", "garden tomatoes and basil", "ash tree in the garden",
        "lava lamp volcano volcano", "mortgage rates rise", "the eruption of mount etna", "basil pesto recipe"])}
    c, _ = _catalog(tmp_path, docs)
    for text in ("volcano eruption", "garden ash", "lava volcano basil"):
        fts = _fts5_by_passage(c, text)
        mine = _rank(c, text).hits
        assert [h.file_id for h in mine] == [fid for fid, _ in fts]
        assert [h.score for h in mine] == pytest.approx([score for _, score in fts], rel=1e-9)


def test_every_matching_passage_is_scored_for_the_passages_shown_under_a_file(tmp_path):
    c, ids = _long_files(tmp_path)
    ranking = _rank(c, "Tarvik structural damage")
    held = {pid for fid, pid, *_ in c.file_passage_hits('"damage"', [ids["report-5.txt"]], 10, False)}
    assert held and held <= set(ranking.scores)


def test_exclusions_phrases_and_filters_still_apply(tmp_path):
    c, ids = _long_files(tmp_path)
    without = _rank(c, "damage -Tarvik").hits
    assert len(without) == 6  # report-5 keeps its other 'damage' passage
    assert all("Tarvik" not in c.result_passages([h.passage_id])[h.passage_id][1] for h in without)
    assert _rank(c, "Tarvik -crack").hits == []
    assert [h.file_id for h in _rank(c, '"northern pillar" bridge').hits] == [ids["report-5.txt"]]
    assert _rank(c, "damage ext:pdf").hits == []
    assert _rank(c, "zzzz").hits == [] and _rank(c, "zzzz").scores == {}


def test_file_idf_is_fts5s_formula():
    assert filerank.idf(100, 1) == pytest.approx(math.log(99.5 / 1.5))
    assert filerank.idf(10, 5) == 1e-6  # in half the units or more: no weight, as bm25() floors it
    assert filerank.idf(0, 0) == 1e-6
