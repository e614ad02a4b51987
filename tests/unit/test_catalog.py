import sqlite3

import pytest

from desktop_search.core.catalog import SCHEMA_VERSION, Catalog, CatalogError, Writer
from desktop_search.core.config import Settings


def test_new_catalog_is_wal_with_schema_version(tmp_path):
    c = Catalog(tmp_path / "c.db")
    assert c.scalar("PRAGMA journal_mode") == "wal"
    assert c.scalar("PRAGMA user_version") == SCHEMA_VERSION
    tables = set(c.db.table_names())
    assert {"roots", "files", "passages", "passages_fts", "failures", "segments", "settings"} <= tables


def test_settings_round_trip_and_ignore_unknown_keys(tmp_path):
    c = Catalog(tmp_path / "c.db")
    c.save_settings(Settings(context_length=4096, threads=3))
    c.set_setting("settings", {**c.get_setting("settings"), "from_the_future": 1})
    s = c.load_settings()
    assert (s.context_length, s.threads) == (4096, 3)


def test_garbage_catalog_is_reported_not_crashed_on(tmp_path):
    path = tmp_path / "c.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(CatalogError, match="damaged"):
        Catalog(path)


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "c.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(CatalogError, match="newer"):
        Catalog(path)


def test_writer_runs_everything_on_one_thread(tmp_path):
    import threading

    writer = Writer(tmp_path / "c.db")
    names = {writer.call(lambda c: threading.current_thread().name) for _ in range(5)}
    writer.call(lambda c: c.add_root("/x"))
    assert names == {"catalog-writer"}
    assert Catalog(tmp_path / "c.db").roots() == ["/x"]
    writer.close()


def test_fts_follows_passage_deletes(tmp_path):
    c = Catalog(tmp_path / "c.db")
    c.db.execute("INSERT INTO files(id, path, name, size, mtime, hash, state, updated_at) "
                 "VALUES (1, '/a', 'a', 1, 1, 'h', 'extracted', 0)")
    c.db.execute("INSERT INTO passages(file_id, seq, char_start, char_end, text) VALUES (1, 0, 0, 5, 'zebra')")
    assert c.scalar("SELECT COUNT(*) FROM passages_fts WHERE passages_fts MATCH 'zebra'") == 1
    c.db.execute("DELETE FROM passages WHERE file_id = 1")
    assert c.scalar("SELECT COUNT(*) FROM passages_fts WHERE passages_fts MATCH 'zebra'") == 0
