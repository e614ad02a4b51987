"""Archive members and skipped files: the rows an archive's files and the scanner's skipped list need.

A member of an archive is a files row of its own whose stored path is the archive's stored path, ``!/``,
and its path in the archive (core/extract/archive.py); a member that could not be read is a failures row
under the same kind of path. Skipped files (not documents, excluded, links) are failures rows with
``skipped = 1`` and a reason ("not a document: image (.png)").
"""

from __future__ import annotations

from typing import Any

from .base import CatalogBase

SEPARATOR = "!/"
# how the reasons the scanner gives start (core/scan.py); the extractor's never do
SCANNER_REASONS = ("excluded:", "symbolic link", "not a document:")


def _member_range(archive: str) -> tuple[str, str]:
    lower = archive + SEPARATOR
    return lower, archive + "!" + chr(ord("/") + 1)


class ArchiveMembers(CatalogBase):

    def member_ids(self, archives: list[str]) -> list[int]:
        """Ids of the files rows that are members of the archives at ``archives`` (stored paths)."""
        out: list[int] = []
        for archive in archives:
            lower, upper = _member_range(archive)
            out += [r[0] for r in self.db.execute("SELECT id FROM files WHERE path >= ? AND path < ?", [lower, upper])]
        return out

    def member_failure_paths(self, archives: list[str]) -> list[str]:
        """Stored paths of the failures rows (failed or skipped) that are members of ``archives``."""
        out: list[str] = []
        for archive in archives:
            lower, upper = _member_range(archive)
            out += [r[0] for r in self.db.execute("SELECT path FROM failures WHERE path >= ? AND path < ?",
                                                  [lower, upper])]
        return out

    def drop_members(self, archive: str) -> None:
        """Forget every member of the archive at ``archive`` (stored path): files rows with their passages,
        and failures. Runs inside the caller's open transaction."""
        self.delete_files(self.member_ids([archive]))  # type: ignore[attr-defined]
        lower, upper = _member_range(archive)
        self.db.execute("DELETE FROM failures WHERE path >= ? AND path < ?", [lower, upper])

    def reread_archives_of_failed_members(self, paths: list[str] | None = None) -> int:
        """Make the next scan read again the archives holding failed members (of ``paths``, stored form, or
        all): their stored mtime and hash are cleared, so the scan cannot call them unchanged. Returns how many.
        Runs inside the caller's open transaction."""
        failed = paths if paths is not None else [
            r[0] for r in self.db.execute("SELECT path FROM failures WHERE skipped = 0 AND instr(path, ?) > 0",
                                          [SEPARATOR])]
        archives: set[str] = set()
        for path in failed:
            at = path.find(SEPARATOR)
            while at != -1:
                if self.db.execute("SELECT 1 FROM files WHERE path = ?", [path[:at]]).fetchone():
                    archives.add(path[:at])
                    break
                at = path.find(SEPARATOR, at + len(SEPARATOR))
        for archive in archives:
            self.db.execute("UPDATE files SET hash = '', mtime = -1 WHERE path = ?", [archive])
        return len(archives)

    def record_skipped(self, entries: list[tuple[str, int, float, str]], failed_at: float) -> None:
        """(stored path, size, mtime, reason) of files the scanner met and does not read, replacing what was
        recorded for those paths. Runs inside the caller's open transaction."""
        self.db.conn.executemany(
            "INSERT OR REPLACE INTO failures(path, size, mtime, reason, skipped, failed_at) VALUES (?, ?, ?, ?, 1, ?)",
            [(path, size, mtime, reason, failed_at) for path, size, mtime, reason in entries],
        )

    def scanner_skipped_paths(self, scopes: list[str] | None = None) -> set[str]:
        """Stored paths of the skipped rows the scanner wrote (excluded, links, not documents by name), under
        ``scopes``: unlike a file the extractor gave up on, such a row says nothing about the file's content."""
        rows = self._scoped("SELECT path, reason, skipped FROM failures", scopes)  # type: ignore[attr-defined]
        return {r[0] for r in rows if r[2] and str(r[1]).startswith(SCANNER_REASONS)}

    def skipped(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Skipped files (not documents, excluded, links...), by path: ``{"path", "reason", "size"}``."""
        sql = "SELECT path, reason, size, failed_at FROM failures WHERE skipped = 1 ORDER BY path"
        if limit is not None:
            return self.query(sql + " LIMIT ?", [limit])
        return self.query(sql)

    def skipped_reasons(self) -> dict[str, int]:
        """How many files are skipped, per reason (core/scan.py folds them into categories)."""
        rows = self.db.execute("SELECT reason, COUNT(*) FROM failures WHERE skipped = 1 GROUP BY reason").fetchall()
        return {str(r[0]): int(r[1]) for r in rows}
