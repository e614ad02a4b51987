"""Chinese and Japanese keyword search (issue 13): words inside runs of characters are found, highlights
cover the word and not the clause, and an older catalog is migrated to the bigram index."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop_search.core.catalog import SCHEMA_VERSION, Catalog
from desktop_search.core.cjk import index_text, query_tokens
from desktop_search.core.highlight import keyword_spans
from desktop_search.core.query import fts_term, word_pattern

CJK = Path(__file__).resolve().parents[1] / "data" / "cjk"


def queries() -> list[tuple[str, str]]:
    rows = []
    for line in (CJK / "queries.tsv").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            query, target = line.split("\t")
            rows.append((query, target))
    return rows


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from desktop_search.core.service import Service

    root = tmp_path_factory.mktemp("cjk")
    with Service(root / "data", allow_download=False) as svc:
        svc.index([str(CJK)], encode=False)
        yield svc


def test_the_set_is_big_enough():
    docs = list(CJK.glob("*.txt"))
    assert len([d for d in docs if d.name.startswith("zh-")]) >= 10
    assert len([d for d in docs if d.name.startswith("ja-")]) >= 10
    assert len(queries()) >= 30


@pytest.mark.parametrize(("query", "target"), queries(), ids=[q for q, _ in queries()])
def test_every_keyword_query_finds_its_file(service, query, target):
    response = service.search(query, limit=10, mode="keyword")  # type: ignore[attr-defined]
    names = [Path(r.path).name for r in response.results]
    assert target in names[:3], names
    hit = response.results[names.index(target)]
    marked = [hit.snippet[s:e] for s, e in hit.highlights]
    words = [w.strip('"') for w in re.findall(r'"[^"]+"|\S+', query)]
    # the highlights are the query's words themselves, never the whole run of characters around them
    assert marked and set(marked) <= set(words), (marked, words)


def test_words_inside_a_run_are_not_found_where_absent(service):
    assert service.search("岩浆", mode="keyword").results[0].path.endswith("zh-volcano.txt")  # type: ignore
    assert service.search("浆岩", mode="keyword").results == []  # type: ignore[attr-defined]  # order matters
    assert service.search('"沿着岩浆"', mode="keyword").results == []  # type: ignore[attr-defined]


def test_index_text_and_query_tokens():
    assert index_text("地下的岩浆") == " 地下 下的 的岩 岩浆 浆 "
    assert index_text("用Python编程") == " 用 Python 编程 程 "
    assert index_text("plain English studies") == "plain English studies"  # unchanged: porter still applies
    assert index_text(None) is None
    assert query_tokens("岩浆") == (["岩浆"], False)
    assert query_tokens("斐波那契") == (["斐波", "波那", "那契"], False)
    assert query_tokens("猫") == (["猫"], True)  # one character: a prefix over the pairs
    assert query_tokens("第n项") == (["第", "n", "项"], True)
    assert fts_term("岩浆沿着") == '"岩浆 浆沿 沿着"'
    assert fts_term("パン") == '"パン"'
    assert fts_term("猫") == '"猫"*'
    assert fts_term("cat") == '"cat"'  # Latin words as before


def test_highlights_mark_the_word_inside_the_run():
    text = "火山爆发时，地下的岩浆沿着地壳裂缝上升。用Python编程。"
    assert [text[s:e] for s, e in keyword_spans(text, ["岩浆沿着"])] == ["岩浆沿着"]
    assert [text[s:e] for s, e in keyword_spans(text, ["python"])] == ["Python"]
    pattern = re.compile(word_pattern("岩浆", False), re.IGNORECASE)
    assert [m.group(0) for m in pattern.finditer(text)] == ["岩浆"]
    # Latin boundaries still hold: cat is not inside Caterpillar
    assert not re.search(word_pattern("cat", False), "Caterpillar", re.IGNORECASE)


def test_an_older_catalog_is_migrated_and_gets_cjk_search_and_authors(tmp_path):
    import sqlite3

    import sqlite_utils

    from desktop_search.core.catalog import schema

    # a version-4 catalog built by hand (the steps before the CJK one), with one file and one passage
    conn = sqlite3.connect(tmp_path / "old.db", isolation_level=None)
    old = sqlite_utils.Database(conn)
    for step in schema.MIGRATIONS[:4]:
        step(old)
    conn.execute("INSERT INTO files(id, path, name, ext, size, mtime, hash, state, title, updated_at) "
                 "VALUES (1, '/x/notes.txt', '火山笔记.txt', 'txt', 10, 0, 'h', 'extracted', '火山', 0)")
    conn.execute("INSERT INTO passages(file_id, seq, char_start, char_end, text) "
                 "VALUES (1, 0, 0, 20, '地下的岩浆沿着地壳裂缝上升 and several studies')")
    conn.execute("PRAGMA user_version = 4")
    assert conn.execute("SELECT COUNT(*) FROM passages_fts WHERE passages_fts MATCH '\"岩浆\"'").fetchone()[0] == 0
    conn.close()
    c = Catalog(tmp_path / "old.db")
    try:
        assert c.scalar("PRAGMA user_version") == SCHEMA_VERSION
        assert c.text_file_ids(fts_term("岩浆")) == {1}
        assert c.text_file_ids(fts_term("study")) == {1}  # porter stemming kept
        assert c.name_file_ids("name : " + fts_term("笔记")) == {1}
        assert c.fts_problem() is None  # FTS5's own integrity check reads the content through the view
        c.db.execute("UPDATE files SET author = 'Ada Lovelace' WHERE id = 1")  # the new column, indexed
        assert c.name_file_ids("author : " + fts_term("lovelace")) == {1}
        c.db.execute("DELETE FROM passages")  # deletes leave no stale bigrams behind
        assert c.text_file_ids(fts_term("岩浆")) == set() and c.fts_problem() is None
    finally:
        c.close()
