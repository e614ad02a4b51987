"""Search results obey the query language (issue 13), keyword side: no model needed, a small folder."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop_search.core.catalog import SCHEMA_VERSION, Catalog
from desktop_search.core.search import QueryError

FILES = {
    "caterpillar.txt": "The caterpillar eats leaves and becomes a butterfly.",
    "cat.txt": "My cat sleeps on the sofa all afternoon.",
    "warsaw.txt": "Warszawa is the capital of Poland.",
    "war.txt": "The war ended with a treaty signed in spring.",
    "studies.txt": "Several studies of sleep in older adults were reviewed.",
    "mortgage.txt": "A mortgage is borrowing money to buy a house, repaid over years.",
    "houseplants.txt": "Water your ferns weekly and keep them out of direct sun.",
    "dog.txt": "The dog fetched the ball by the river.",
    "photographs.txt": "Old photographs of the harbour, scanned in 1998.",
    "report-2023.md": "Annual report: side effects were rare and mild.",
    "budget.html": "<html><head><title>Annual Budget Plan</title></head><body>Spending on roads.</body></html>",
}
MTIMES = {name: 1_600_000_000 + i * 86_400 for i, name in enumerate(FILES)}  # later in FILES = newer


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from desktop_search.core.service import Service

    root = tmp_path_factory.mktemp("query-language")
    docs = root / "docs"
    docs.mkdir()
    for name, text in FILES.items():
        (docs / name).write_text(text)
        os.utime(docs / name, (MTIMES[name], MTIMES[name]))
    with Service(root / "data", allow_download=False) as svc:
        svc.index([str(docs)], encode=False)
        yield svc


def names(service: object, query: str, **kw: object) -> list[str]:
    response = service.search(query, limit=20, mode="keyword", **kw)  # type: ignore[attr-defined]
    return [Path(r.path).name for r in response.results]


def test_quoted_single_word_is_exact(service):
    assert names(service, '"cat"') == ["cat.txt"]  # not caterpillar.txt


def test_no_implicit_prefix_on_the_last_word(service):
    assert names(service, "war") == ["war.txt"]  # not Warszawa
    assert "houseplants.txt" not in names(service, "borrowing money to buy a house")
    assert names(service, "borrowing money to buy a house")[0] == "mortgage.txt"


def test_prefix_only_where_written(service):
    assert set(names(service, "cat*")) == {"cat.txt", "caterpillar.txt"}
    assert names(service, "photo* harbour")[0] == "photographs.txt"
    assert names(service, "photo") == []


def test_stemming_finds_other_word_forms(service):
    assert names(service, "study") == ["studies.txt"]
    result = service.search("study", mode="keyword").results[0]
    assert [result.snippet[s:e] for s, e in result.highlights] == ["studies"]  # the word form is marked
    result = service.search("photo*", mode="keyword").results[0]
    assert [result.snippet[s:e] for s, e in result.highlights] == ["photographs"]
    result = service.search('"cat"', mode="keyword").results[0]
    assert [result.snippet[s:e] for s, e in result.highlights] == ["cat"]


def test_excluded_word_and_phrase(service):
    assert "cat.txt" not in names(service, "sleep* -sofa")
    assert names(service, "sleep*") and "cat.txt" in names(service, "sleep*")
    assert "report-2023.md" not in names(service, 'rare OR mild OR annual -"side effects"')


def test_or_between_words_and_phrases(service):
    assert set(names(service, "dog OR cat")) == {"dog.txt", "cat.txt"}
    assert set(names(service, '"the war" OR "the dog"')) == {"war.txt", "dog.txt"}


def test_fields(service):
    assert names(service, "title:budget") == ["budget.html"]
    assert names(service, 'title:"annual budget" roads') == ["budget.html"]
    assert names(service, "annual title:budget") == ["budget.html"]  # report-2023.md has no such title
    assert names(service, "name:report") == ["report-2023.md"]
    assert names(service, "name:photo*") == ["photographs.txt"]
    assert names(service, "author:Smith") == []  # a field like the others (these plain files have no author)


def test_filter_only_queries_list_matching_files_newest_first(service):
    assert names(service, "ext:md") == ["report-2023.md"]
    listed = names(service, "ext:txt")
    assert listed == sorted((n for n in FILES if n.endswith(".txt")), key=lambda n: -MTIMES[n])
    assert names(service, "ext:txt -cat -war", sort="name")[:3] == ["caterpillar.txt", "dog.txt", "houseplants.txt"]
    assert names(service, "date:2020 ext:txt") == [n for n in listed if 1577836800 <= MTIMES[n] < 1609459200]
    assert names(service, "") == []


def test_sort_orders(service):
    query = "cat* OR dog OR war"
    assert names(service, query, sort="name") == ["cat.txt", "caterpillar.txt", "dog.txt", "war.txt"]
    assert names(service, query, sort="date") == sorted(names(service, query), key=lambda n: -MTIMES[n])
    assert names(service, query, sort="size")[0] == "caterpillar.txt"
    with pytest.raises(QueryError, match="sort"):
        names(service, query, sort="colour")


def test_catalog_migrates_to_the_stemmed_index(tmp_path):
    import sqlite3

    # a version-2 catalog's passages_fts has no stemmer; opening it rebuilds both full-text indexes
    c = Catalog(tmp_path / "c.db")
    c.close()
    db = sqlite3.connect(tmp_path / "c.db")
    sql = db.execute("SELECT sql FROM sqlite_master WHERE name = 'passages_fts'").fetchone()[0]
    assert "porter" in sql and db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert "title" in db.execute("SELECT sql FROM sqlite_master WHERE name = 'names_fts'").fetchone()[0]
    db.close()


def test_a_version_2_catalog_is_migrated_with_its_text_searchable_by_stem(tmp_path):
    import sqlite3

    import sqlite_utils

    from desktop_search.core import catalog as cat

    # build the version-2 schema by hand (migrations 1 and 2 only), with one file and passage
    conn = sqlite3.connect(tmp_path / "old.db", isolation_level=None)
    old = sqlite_utils.Database(conn)
    cat.schema._migrate_1(old)
    cat.schema._migrate_2_exclusions(old)
    conn.execute("INSERT INTO files(id, path, name, ext, size, mtime, hash, state, title, updated_at) "
                 "VALUES (1, '/x/studies.txt', 'studies.txt', 'txt', 10, 0, 'h', 'extracted', 'Sleep Review', 0)")
    conn.execute("INSERT INTO passages(file_id, seq, char_start, char_end, text) "
                 "VALUES (1, 0, 0, 30, 'Several studies of sleep')")
    conn.execute("PRAGMA user_version = 2")
    conn.close()
    c = Catalog(tmp_path / "old.db")
    try:
        assert c.scalar("PRAGMA user_version") == SCHEMA_VERSION
        assert c.text_file_ids('"study"') == {1}  # porter: study ~ studies, rebuilt from passages
        assert c.name_file_ids('title : "review"') == {1}
        assert c.name_file_ids('name : "studies"') == {1}
        c.db.execute("UPDATE files SET title = 'Other' WHERE id = 1")  # the trigger follows title changes
        assert c.name_file_ids('title : "review"') == set()
    finally:
        c.close()
