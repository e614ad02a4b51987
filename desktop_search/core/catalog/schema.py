"""The catalog's schema: numbered migrations, each bringing a catalog one version forward.

``PRAGMA user_version`` holds the version; :func:`connection.connect` runs the missing steps, each in
its own transaction. Add a step at the end (:data:`SCHEMA_VERSION` follows); never edit an old step.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite_utils


def _migrate_1(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS roots (
            id INTEGER PRIMARY KEY,
            path TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL DEFAULT 'include',  -- include | exclude
            added_at REAL NOT NULL
        );
        CREATE TABLE IF NOT EXISTS files (
            id INTEGER PRIMARY KEY,
            path TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            ext TEXT NOT NULL DEFAULT '',
            size INTEGER NOT NULL,
            mtime REAL NOT NULL,
            hash TEXT NOT NULL,
            state TEXT NOT NULL,               -- extracted (keyword only) | indexed (vectors too)
            title TEXT,
            extractor TEXT,
            pages INTEGER NOT NULL DEFAULT 0,
            chars INTEGER NOT NULL DEFAULT 0,
            updated_at REAL NOT NULL
        );
        CREATE INDEX IF NOT EXISTS files_state ON files(state);
        CREATE INDEX IF NOT EXISTS files_hash ON files(hash);
        CREATE TABLE IF NOT EXISTS passages (
            id INTEGER PRIMARY KEY,
            file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            char_start INTEGER NOT NULL,
            char_end INTEGER NOT NULL,
            page INTEGER,
            text TEXT NOT NULL,
            segment_id INTEGER,                -- NULL: vectors not yet encoded (or to be re-encoded)
            local_id INTEGER
        );
        CREATE INDEX IF NOT EXISTS passages_file ON passages(file_id, seq);
        CREATE INDEX IF NOT EXISTS passages_segment ON passages(segment_id, local_id);
        CREATE VIRTUAL TABLE IF NOT EXISTS passages_fts USING fts5(
            text, content='passages', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
        );
        CREATE TRIGGER IF NOT EXISTS passages_ai AFTER INSERT ON passages BEGIN
            INSERT INTO passages_fts(rowid, text) VALUES (new.id, new.text);
        END;
        CREATE TRIGGER IF NOT EXISTS passages_ad AFTER DELETE ON passages BEGIN
            INSERT INTO passages_fts(passages_fts, rowid, text) VALUES ('delete', old.id, old.text);
        END;
        CREATE VIRTUAL TABLE IF NOT EXISTS names_fts USING fts5(
            name, content='files', content_rowid='id',
            tokenize="unicode61 remove_diacritics 2 tokenchars ''"
        );
        CREATE TRIGGER IF NOT EXISTS files_ai AFTER INSERT ON files BEGIN
            INSERT INTO names_fts(rowid, name) VALUES (new.id, new.name);
        END;
        CREATE TRIGGER IF NOT EXISTS files_ad AFTER DELETE ON files BEGIN
            INSERT INTO names_fts(names_fts, rowid, name) VALUES ('delete', old.id, old.name);
        END;
        CREATE TRIGGER IF NOT EXISTS files_au AFTER UPDATE OF name ON files BEGIN
            INSERT INTO names_fts(names_fts, rowid, name) VALUES ('delete', old.id, old.name);
            INSERT INTO names_fts(rowid, name) VALUES (new.id, new.name);
        END;
        CREATE TABLE IF NOT EXISTS failures (
            path TEXT PRIMARY KEY,
            size INTEGER NOT NULL,
            mtime REAL NOT NULL,
            reason TEXT NOT NULL,
            skipped INTEGER NOT NULL DEFAULT 0,  -- 1: not a document (binary), not shown as a failure
            failed_at REAL NOT NULL
        );
        CREATE TABLE IF NOT EXISTS segments (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,                -- flat (exact MaxSim) | plaid
            dir TEXT NOT NULL UNIQUE,          -- relative to the segments folder
            model_key TEXT NOT NULL,
            dim INTEGER NOT NULL,
            n_passages INTEGER NOT NULL,
            n_tokens INTEGER NOT NULL,
            state TEXT NOT NULL,               -- live | archived (raw vectors kept for exact eval)
            created_at REAL NOT NULL
        );
        """
    )


def _migrate_2_exclusions(db: sqlite_utils.Database) -> None:
    """Exclusion patterns (.gitignore syntax) per watched folder ('' = every folder), with the defaults."""
    from ..exclusions import DEFAULT_PATTERNS

    db.executescript(
        """
        CREATE TABLE IF NOT EXISTS exclusions (
            id INTEGER PRIMARY KEY,
            folder TEXT NOT NULL DEFAULT '',   -- '' = under every watched folder
            pattern TEXT NOT NULL,
            is_default INTEGER NOT NULL DEFAULT 0,
            added_at REAL NOT NULL,
            UNIQUE(folder, pattern)
        );
        """
    )
    now = time.time()
    db.conn.executemany(
        "INSERT OR IGNORE INTO exclusions(folder, pattern, is_default, added_at) VALUES ('', ?, 1, ?)",
        [(p, now) for p in DEFAULT_PATTERNS],
    )


def _migrate_3_stemmed_fts(db: sqlite_utils.Database) -> None:
    """Keyword search by word stem (porter: `study` finds `studies`), accents and case still folded;
    titles searchable as a names_fts column (`title:`). Both full-text indexes are rebuilt from their
    content tables."""
    db.executescript(
        """
        DROP TRIGGER IF EXISTS passages_ai;
        DROP TRIGGER IF EXISTS passages_ad;
        DROP TABLE IF EXISTS passages_fts;
        CREATE VIRTUAL TABLE passages_fts USING fts5(
            text, content='passages', content_rowid='id', tokenize='porter unicode61 remove_diacritics 2'
        );
        CREATE TRIGGER passages_ai AFTER INSERT ON passages BEGIN
            INSERT INTO passages_fts(rowid, text) VALUES (new.id, new.text);
        END;
        CREATE TRIGGER passages_ad AFTER DELETE ON passages BEGIN
            INSERT INTO passages_fts(passages_fts, rowid, text) VALUES ('delete', old.id, old.text);
        END;
        INSERT INTO passages_fts(passages_fts) VALUES ('rebuild');
        DROP TRIGGER IF EXISTS files_ai;
        DROP TRIGGER IF EXISTS files_ad;
        DROP TRIGGER IF EXISTS files_au;
        DROP TABLE IF EXISTS names_fts;
        CREATE VIRTUAL TABLE names_fts USING fts5(
            name, title, content='files', content_rowid='id',
            tokenize="unicode61 remove_diacritics 2 tokenchars ''"
        );
        CREATE TRIGGER files_ai AFTER INSERT ON files BEGIN
            INSERT INTO names_fts(rowid, name, title) VALUES (new.id, new.name, new.title);
        END;
        CREATE TRIGGER files_ad AFTER DELETE ON files BEGIN
            INSERT INTO names_fts(names_fts, rowid, name, title) VALUES ('delete', old.id, old.name, old.title);
        END;
        CREATE TRIGGER files_au AFTER UPDATE OF name, title ON files BEGIN
            INSERT INTO names_fts(names_fts, rowid, name, title) VALUES ('delete', old.id, old.name, old.title);
            INSERT INTO names_fts(rowid, name, title) VALUES (new.id, new.name, new.title);
        END;
        INSERT INTO names_fts(names_fts) VALUES ('rebuild');
        """
    )


def _migrate_4_ocr_pages(db: sqlite_utils.Database) -> None:
    """How many pages of a file's text came from OCR (issue 15): 0 = none; an image counts its frames."""
    db.execute("ALTER TABLE files ADD COLUMN ocr_pages INTEGER NOT NULL DEFAULT 0")


def _migrate_5_cjk_and_metadata(db: sqlite_utils.Database) -> None:
    """Chinese and Japanese words found inside runs of characters, and authors searchable (issue 13).

    Both full-text indexes read their content through views that apply ``ds_fts_text`` (core/cjk.py:
    CJK runs as overlapping bigrams; other text unchanged, so porter stemming and folding stay), and
    their triggers index through it; :func:`connection.connect` registers the function on every
    connection. ``files`` gains the author and keywords the extractors report, indexed beside the
    name and title (``author:``). Both indexes are rebuilt from their content."""
    db.executescript(
        """
        ALTER TABLE files ADD COLUMN author TEXT;
        ALTER TABLE files ADD COLUMN keywords TEXT;
        DROP TRIGGER IF EXISTS passages_ai;
        DROP TRIGGER IF EXISTS passages_ad;
        DROP TABLE IF EXISTS passages_fts;
        CREATE VIEW passages_fts_content AS SELECT id, ds_fts_text(text) AS text FROM passages;
        CREATE VIRTUAL TABLE passages_fts USING fts5(
            text, content='passages_fts_content', content_rowid='id',
            tokenize='porter unicode61 remove_diacritics 2'
        );
        CREATE TRIGGER passages_ai AFTER INSERT ON passages BEGIN
            INSERT INTO passages_fts(rowid, text) VALUES (new.id, ds_fts_text(new.text));
        END;
        CREATE TRIGGER passages_ad AFTER DELETE ON passages BEGIN
            INSERT INTO passages_fts(passages_fts, rowid, text) VALUES ('delete', old.id, ds_fts_text(old.text));
        END;
        INSERT INTO passages_fts(passages_fts) VALUES ('rebuild');
        DROP TRIGGER IF EXISTS files_ai;
        DROP TRIGGER IF EXISTS files_ad;
        DROP TRIGGER IF EXISTS files_au;
        DROP TABLE IF EXISTS names_fts;
        CREATE VIEW names_fts_content AS SELECT id, ds_fts_text(name) AS name, ds_fts_text(title) AS title,
            ds_fts_text(author) AS author, ds_fts_text(keywords) AS keywords FROM files;
        CREATE VIRTUAL TABLE names_fts USING fts5(
            name, title, author, keywords, content='names_fts_content', content_rowid='id',
            tokenize="unicode61 remove_diacritics 2 tokenchars ''"
        );
        CREATE TRIGGER files_ai AFTER INSERT ON files BEGIN
            INSERT INTO names_fts(rowid, name, title, author, keywords) VALUES (new.id, ds_fts_text(new.name),
                ds_fts_text(new.title), ds_fts_text(new.author), ds_fts_text(new.keywords));
        END;
        CREATE TRIGGER files_ad AFTER DELETE ON files BEGIN
            INSERT INTO names_fts(names_fts, rowid, name, title, author, keywords) VALUES ('delete', old.id,
                ds_fts_text(old.name), ds_fts_text(old.title), ds_fts_text(old.author), ds_fts_text(old.keywords));
        END;
        CREATE TRIGGER files_au AFTER UPDATE OF name, title, author, keywords ON files BEGIN
            INSERT INTO names_fts(names_fts, rowid, name, title, author, keywords) VALUES ('delete', old.id,
                ds_fts_text(old.name), ds_fts_text(old.title), ds_fts_text(old.author), ds_fts_text(old.keywords));
            INSERT INTO names_fts(rowid, name, title, author, keywords) VALUES (new.id, ds_fts_text(new.name),
                ds_fts_text(new.title), ds_fts_text(new.author), ds_fts_text(new.keywords));
        END;
        INSERT INTO names_fts(names_fts) VALUES ('rebuild');
        """
    )


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    _migrate_1, _migrate_2_exclusions, _migrate_3_stemmed_fts, _migrate_4_ocr_pages, _migrate_5_cjk_and_metadata,
]
SCHEMA_VERSION = len(MIGRATIONS)
