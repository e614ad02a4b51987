"""Files, passages and failures: what the scanner and the indexer read and write."""

from __future__ import annotations

import os
import time
from typing import Any

from .base import CatalogBase


class FileRecords(CatalogBase):

    def file_paths(self) -> list[str]:
        """Every catalogued file path, as stored (see paths.from_db)."""
        return [r[0] for r in self.db.execute("SELECT path FROM files")]

    def file_id(self, path: str) -> int | None:
        """The catalog id of the file at ``path`` (a file-system path, not the stored form), or None."""
        from .. import paths as P

        return self.scalar("SELECT id FROM files WHERE path = ?", [P.to_db(path)])

    def file_rows(self) -> list[dict[str, Any]]:
        """``{"id", "path"}`` of every catalogued file (path as stored, see paths.from_db)."""
        return self.query("SELECT id, path FROM files")

    def failure_paths(self) -> list[str]:
        """The stored path of every failure, skipped non-documents included."""
        return [r["path"] for r in self.query("SELECT path FROM failures")]

    def forget_failure(self, path: str) -> int:
        """Drop the failure of ``path`` (stored form); returns how many rows went (0 or 1). Runs inside the
        caller's open transaction."""
        return int(self.db.execute("DELETE FROM failures WHERE path = ?", [path]).rowcount)

    def forget_failures(self) -> int:
        """Drop every failure (not the skipped non-documents); returns how many. Runs inside the caller's
        open transaction."""
        return int(self.db.execute("DELETE FROM failures WHERE skipped = 0").rowcount)

    def document_passages(self, file_id: int) -> list[dict[str, Any]]:
        """``{"id", "char_start", "page", "text"}`` of one file's passages, in order."""
        return self.query("SELECT id, char_start, page, text FROM passages WHERE file_id = ? ORDER BY seq", [file_id])

    def forget_skipped(self, reason: str) -> int:
        """Drop the skipped entries with exactly ``reason`` (images skipped while OCR was off), so the next
        scan reads those files again; returns how many. Runs inside the caller's open transaction."""
        return int(self.db.execute("DELETE FROM failures WHERE skipped = 1 AND reason = ?", [reason]).rowcount)

    def ocr_counts(self) -> dict[str, int]:
        """Files whose text came (partly) from OCR and their OCR'd pages; files with scanned pages left
        unread while OCR was off (``ocr_pages`` < 0) (issue 15)."""
        row = self.db.execute(
            "SELECT COUNT(*) FILTER (WHERE ocr_pages > 0), COALESCE(SUM(ocr_pages) FILTER (WHERE ocr_pages > 0), 0), "
            "COUNT(*) FILTER (WHERE ocr_pages < 0) FROM files WHERE ocr_pages != 0"
        ).fetchone()
        return {"ocr_files": int(row[0] or 0), "ocr_pages": int(row[1] or 0), "ocr_waiting_files": int(row[2] or 0)}

    def requeue_for_ocr(self) -> int:
        """Files indexed with scanned pages unread while OCR was off (``ocr_pages`` < 0) look changed to the
        next scan (no size/mtime/hash match), so it extracts them again; returns how many. Runs inside the
        caller's open transaction."""
        return int(self.db.execute("UPDATE files SET mtime = -1, hash = '' WHERE ocr_pages < 0").rowcount)

    def ocr_pages_of(self, file_id: int) -> int:
        """How many pages of one file's text came from OCR (0: none)."""
        return int(self.scalar("SELECT ocr_pages FROM files WHERE id = ?", [file_id]) or 0)

    def failures(self) -> list[dict[str, Any]]:
        """Files that could not be read (not the skipped non-documents), by path."""
        return self.query("SELECT path, reason, size, failed_at FROM failures WHERE skipped = 0 ORDER BY path")

    def record_failures(self, entries: list[tuple[str, str]]) -> None:
        """(stored path, reason) of things that could not be read, e.g. whole folders."""
        now = time.time()
        with self.transaction():
            self.db.conn.executemany(
                "INSERT OR REPLACE INTO failures(path, size, mtime, reason, skipped, failed_at) "
                "VALUES (?, 0, 0, ?, 0, ?)",
                [(path, reason, now) for path, reason in entries],
            )

    # the scanner's view of the files table -------------------------------------------------------------
    @staticmethod
    def _scope_clause(scopes: list[str] | None) -> tuple[str, list[Any]]:
        """WHERE clause for paths equal to or under any of ``scopes`` (stored paths, see core/paths.py):
        two ranges each, since a child whose name is not UTF-8 is stored in the NUL-prefixed form."""
        if scopes is None:
            return "", []
        from .. import paths as P

        terms: list[str] = []
        params: list[Any] = []
        for scope in scopes:
            forms = {P.to_db(scope), "\x00" + os.fsencode(scope).decode("latin-1")}
            for form in forms:
                lower = form.rstrip("/") + "/"
                terms.append("(path = ? OR (path >= ? AND path < ?))")
                params += [form, lower, lower[:-1] + chr(ord("/") + 1)]
        return " WHERE " + " OR ".join(terms) if terms else " WHERE 0", params

    def _scoped(self, sql: str, scopes: list[str] | None) -> list[Any]:
        if scopes is None:
            return self.db.execute(sql).fetchall()
        rows: dict[Any, Any] = {}
        for start in range(0, len(scopes), 100):  # SQLite limits the depth of an OR chain
            where, params = self._scope_clause(scopes[start : start + 100])
            for row in self.db.execute(sql + where, params).fetchall():
                rows[row[0]] = row
        return list(rows.values())

    def known_files(self, scopes: list[str] | None = None) -> list[tuple[int, str, int, float, str]]:
        """(id, stored path, size, mtime, hash) of every file, or of those under ``scopes``."""
        return self._scoped("SELECT id, path, size, mtime, hash FROM files", scopes)

    def known_failures(self, scopes: list[str] | None = None) -> list[tuple[str, int, float]]:
        return self._scoped("SELECT path, size, mtime FROM failures", scopes)

    def apply_scan(self, moves: list[tuple[int, str, str, str]], touch: list[tuple[int, float]],
                   deleted_ids: list[int], vanished_failures: list[str]) -> None:
        """One transaction: moved files keep their row (and vectors) under the new path, touched files
        get their new mtime, deleted files go with their passages (hidden from search at once)."""
        with self.transaction():
            now = time.time()
            self.db.conn.executemany(
                "UPDATE files SET path = ?, name = ?, ext = ?, updated_at = ? WHERE id = ?",
                [(path, name, ext, now, fid) for fid, path, name, ext in moves],
            )
            self.db.conn.executemany("UPDATE files SET mtime = ? WHERE id = ?", [(m, f) for f, m in touch])
            self.delete_files(deleted_ids)
            self.db.conn.executemany("DELETE FROM failures WHERE path = ?", [(p,) for p in vanished_failures])
            if deleted_ids:
                self.bump_generation()

    def counts_under(self, folder: str) -> dict[str, int]:
        """Indexed, waiting (keyword-only so far) and failed files under ``folder`` (a watched folder)."""
        where, params = self._scope_clause([folder])
        states = dict(self.db.execute(f"SELECT state, COUNT(*) FROM files{where} GROUP BY state", params).fetchall())
        terms = where.removeprefix(" WHERE ")
        failed = self.db.execute(f"SELECT COUNT(*) FROM failures WHERE skipped = 0 AND ({terms})", params).fetchone()[0]
        return {"indexed": int(states.get("indexed", 0)), "pending": int(states.get("extracted", 0)),
                "failed": int(failed or 0)}

    def delete_files(self, ids: list[int]) -> None:
        """Drop the files ``ids`` with their passages, 500 at a time. Runs inside the caller's open transaction."""
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            self.db.execute(f"DELETE FROM passages WHERE file_id IN ({marks})", chunk)
            self.db.execute(f"DELETE FROM files WHERE id IN ({marks})", chunk)

    # counts -----------------------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        states = dict(self.db.execute("SELECT state, COUNT(*) FROM files GROUP BY state").fetchall())
        return {
            "indexed": int(states.get("indexed", 0)),
            "pending": int(states.get("extracted", 0)),
            "failed": int(self.scalar("SELECT COUNT(*) FROM failures WHERE skipped = 0") or 0),
            "passages": int(self.scalar("SELECT COUNT(*) FROM passages") or 0),
        }

    def drop_passages(self, file_id: int) -> None:
        """Delete one file's passages (its row stays). Runs inside the caller's open transaction."""
        self.db.execute("DELETE FROM passages WHERE file_id = ?", [file_id])

    def drop_file(self, file_id: int) -> None:
        """Delete one file's row (its passages first: :meth:`drop_passages`). Runs inside the caller's
        open transaction."""
        self.db.execute("DELETE FROM files WHERE id = ?", [file_id])

    def record_failure(self, path: str, size: int, mtime: float, reason: str, skipped: bool, failed_at: float) -> None:
        """Remember that ``path`` (stored form) could not be read (``skipped``: not a document), replacing
        an older failure of it. Runs inside the caller's open transaction."""
        self.db.execute(
            "INSERT OR REPLACE INTO failures(path, size, mtime, reason, skipped, failed_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [path, size, mtime, reason, int(skipped), failed_at],
        )

    def add_file(self, values: dict[str, Any]) -> int:
        """Insert a files row from column → value; returns its id. Runs inside the caller's open transaction."""
        cols = ",".join(values)
        cursor = self.db.execute(
            f"INSERT INTO files({cols}) VALUES ({','.join('?' * len(values))})", list(values.values())
        )
        return int(cursor.lastrowid or 0)

    def update_file(self, file_id: int, values: dict[str, Any]) -> None:
        """Set the columns of one files row from column → value. Runs inside the caller's open transaction."""
        sets = ",".join(f"{k} = ?" for k in values)
        self.db.execute(f"UPDATE files SET {sets} WHERE id = ?", [*values.values(), file_id])

    def add_passages(self, rows: list[tuple[int, int, int, int, int | None, str, int | None]]) -> None:
        """Insert passages: (file id, seq, char start, char end, page, text, segment id: None = waits for
        vectors, 0 = none needed). Runs inside the caller's open transaction."""
        self.db.conn.executemany(
            "INSERT INTO passages(file_id, seq, char_start, char_end, page, text, segment_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows,
        )

    def mark_indexed(self, file_id: int) -> None:
        """One file needs no vectors (no passages): indexed at once. Runs inside the caller's open transaction."""
        self.db.execute("UPDATE files SET state = 'indexed' WHERE id = ?", [file_id])
