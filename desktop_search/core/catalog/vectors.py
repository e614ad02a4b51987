"""Segments and the passages' vectors: identity, liveness, merges, encoding state, the model."""

from __future__ import annotations

import time
from typing import Any

from .base import CatalogBase


class VectorRecords(CatalogBase):

    def segment_dirs(self, segment_ids: list[int]) -> dict[int, str]:
        """Folder name (under segments/) of each of ``segment_ids`` the catalog knows."""
        if not segment_ids:
            return {}
        marks = ",".join("?" * len(segment_ids))
        return dict(self.db.execute(f"SELECT id, dir FROM segments WHERE id IN ({marks})", segment_ids).fetchall())

    # segments: identity, liveness, model (index/store.py) -------------------------------------------
    SEGMENT_COLUMNS = "id, kind, dir, state, model_key, dim, n_passages, n_tokens"

    def segments(self, states: tuple[str, ...] = ("live", "archived")) -> list[dict[str, Any]]:
        marks = ",".join("?" * len(states))
        return self.query(f"SELECT {self.SEGMENT_COLUMNS} FROM segments WHERE state IN ({marks}) ORDER BY id",
                          list(states))

    def all_segments(self) -> list[dict[str, Any]]:
        return self.query(f"SELECT {self.SEGMENT_COLUMNS} FROM segments ORDER BY id")

    def segment_live_counts(self) -> dict[int, int]:
        """Passages pointing at each segment (an index-only scan of passages_segment)."""
        return dict(self.db.execute(
            "SELECT segment_id, COUNT(*) FROM passages WHERE segment_id > 0 GROUP BY segment_id").fetchall())

    def segment_local_ids(self, segment_id: int) -> str:
        """The live local ids of one segment as one comma-separated string (numpy parses it in C:
        several times faster than a row per id through Python)."""
        return str(self.scalar("SELECT group_concat(local_id) FROM passages WHERE segment_id = ?",
                               [segment_id]) or "")

    def dangling_passages(self) -> int:
        """Passages pointing at a segment that is not live."""
        return int(self.scalar(
            "SELECT COUNT(*) FROM passages WHERE segment_id > 0 AND segment_id NOT IN "
            "(SELECT id FROM segments WHERE state = 'live')") or 0)

    def segment_stats(self) -> dict[str, int]:
        """For status: live segments by kind and the vectors they store (dead ones included until merged)."""
        rows = self.db.execute(
            "SELECT kind, COUNT(*), COALESCE(SUM(n_tokens), 0) FROM segments WHERE state = 'live' GROUP BY kind"
        ).fetchall()
        by_kind = {kind: (int(n), int(tokens)) for kind, n, tokens in rows}
        return {
            "segments": sum(n for n, _ in by_kind.values()),
            "plaid_segments": by_kind.get("plaid", (0, 0))[0],
            "flat_segments": by_kind.get("flat", (0, 0))[0],
            "vectors": sum(t for _, t in by_kind.values()),
        }

    def drop_empty_segments(self) -> int:
        """Forget live segments no passage points at any more (re-encoded for a new model, or every
        passage deleted); their folders become orphans, deleted once no reader holds them."""
        with self.transaction():
            n = self.db.execute(
                "DELETE FROM segments WHERE state = 'live' AND NOT EXISTS "
                "(SELECT 1 FROM passages WHERE passages.segment_id = segments.id)").rowcount
            if n:
                self.bump_generation()
        return int(n)

    def passage_order(self, passage_ids: list[int]) -> dict[int, tuple[str, int]]:
        """(file path, seq) of ``passage_ids`` (those still in the catalog): a merge that trains a codec
        orders its passages by content. Reads only these rows (in slices under SQLite's variable limit)."""
        out: dict[int, tuple[str, int]] = {}
        for start in range(0, len(passage_ids), 900):
            part = passage_ids[start : start + 900]
            marks = ",".join("?" * len(part))
            out.update((pid, (path, seq)) for pid, path, seq in self.db.execute(
                f"SELECT p.id, f.path, p.seq FROM passages p JOIN files f ON f.id = p.file_id WHERE p.id IN ({marks})",
                part))
        return out

    def drop_archived_segments(self) -> int:
        """Forget archived segments (raw vectors kept after compaction by ``keep_raw_vectors``, or by
        data folders from before codec-preserving merges): derived data, its folders become orphans,
        deleted once no reader holds them. Returns how many."""
        with self.transaction():
            n = self.db.execute("DELETE FROM segments WHERE state = 'archived'").rowcount
            if n:
                self.bump_generation()
        return int(n)

    def passage_paths(self) -> dict[int, str]:
        """The file path (as stored, see paths.from_db) of every passage, by passage id."""
        return dict(self.db.execute("SELECT p.id, f.path FROM passages p JOIN files f ON f.id = p.file_id"))

    def commit_merge(self, name: str, kind: str, model_key: str, dim: int, passage_ids: list[int], n_tokens: int,
                     source_ids: list[int], archive_ids: list[int]) -> int:
        """Make the merged segment ``name`` live in place of ``source_ids`` (``archive_ids`` among them are
        kept as archived, the others forgotten); returns its id. Only passages still pointing at a
        source move: one that died meanwhile stays dead."""
        with self.transaction():
            new_id = self.db.execute(
                "INSERT INTO segments(kind, dir, model_key, dim, n_passages, n_tokens, state, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, 'live', ?)",
                [kind, name, model_key, dim, len(passage_ids), n_tokens, time.time()],
            ).lastrowid
            marks = ",".join("?" * len(source_ids))
            self.db.conn.executemany(
                f"UPDATE passages SET segment_id = ?, local_id = ? WHERE id = ? AND segment_id IN ({marks})",
                [(new_id, local, pid, *source_ids) for local, pid in enumerate(passage_ids)],
            )
            for sid in source_ids:
                if sid in archive_ids:
                    self.db.execute("UPDATE segments SET state = 'archived' WHERE id = ?", [sid])
                else:
                    self.db.execute("DELETE FROM segments WHERE id = ?", [sid])
            self.bump_generation()
        return int(new_id or 0)

    # the indexer's writes: each runs inside the indexer's open transaction (Indexer._store_extracted,
    # _encode_batch, repair), which decides what commits together -------------------------------------
    def requeue_segments(self, segment_ids: list[int]) -> None:
        """Forget ``segment_ids`` (damaged); every passage pointing at a segment that is not live waits
        for encoding again, and so do its files. Runs inside the caller's open transaction."""
        for sid in segment_ids:
            self.db.execute("DELETE FROM segments WHERE id = ?", [sid])
        dangling = "segment_id > 0 AND segment_id NOT IN (SELECT id FROM segments WHERE state = 'live')"
        self.db.execute(
            f"UPDATE files SET state = 'extracted' WHERE id IN (SELECT file_id FROM passages WHERE {dangling})"
        )
        self.db.execute(f"UPDATE passages SET segment_id = NULL, local_id = NULL WHERE {dangling}")
        self.bump_generation()

    def files_waiting_for_encoding(self) -> list[dict[str, Any]]:
        """``{"id", "path", "chars", "updated_at"}`` of the files with passages waiting for vectors, by id."""
        return self.query("SELECT id, path, chars, updated_at FROM files WHERE state = 'extracted' ORDER BY id")

    def passages_to_encode(self, file_ids: list[int]) -> list[dict[str, Any]]:
        """``{"id", "file_id", "char_start", "char_end", "text"}`` of the passages of ``file_ids``, by file and seq."""
        marks = ",".join("?" * len(file_ids))
        return self.query(
            f"SELECT id, file_id, char_start, char_end, text FROM passages WHERE file_id IN ({marks}) "
            "ORDER BY file_id, seq",
            file_ids,
        )

    def add_flat_segment(self, name: str, model_key: str, dim: int, n_passages: int, n_tokens: int) -> int:
        """Record the new live flat segment in folder ``name``; returns its id. Runs inside the caller's
        open transaction."""
        return int(self.db.execute(
            "INSERT INTO segments(kind, dir, model_key, dim, n_passages, n_tokens, state, created_at) "
            "VALUES ('flat', ?, ?, ?, ?, ?, 'live', ?)",
            [name, model_key, dim, n_passages, n_tokens, time.time()],
        ).lastrowid or 0)

    def assign_vectors(self, segment_id: int, passage_ids: list[int]) -> None:
        """Point ``passage_ids`` at their vectors: local id i of ``segment_id`` is ``passage_ids[i]``. Runs
        inside the caller's open transaction."""
        self.db.conn.executemany(
            "UPDATE passages SET segment_id = ?, local_id = ? WHERE id = ?",
            [(segment_id, local, pid) for local, pid in enumerate(passage_ids)],
        )

    def mark_without_vectors(self, passage_ids: list[int]) -> None:
        """Passages the encoder gave no vectors (segment id 0: nothing to wait for). Runs inside the
        caller's open transaction."""
        self.db.conn.executemany("UPDATE passages SET segment_id = 0 WHERE id = ?", [(p,) for p in passage_ids])

    def mark_encoded(self, file_ids: list[int]) -> None:
        """Of ``file_ids``, those still waiting whose passages all have vectors now become indexed (a file
        may have changed meanwhile). Runs inside the caller's open transaction."""
        marks = ",".join("?" * len(file_ids))
        self.db.execute(
            f"UPDATE files SET state = 'indexed' WHERE id IN ({marks}) AND state = 'extracted' AND NOT EXISTS "
            "(SELECT 1 FROM passages WHERE passages.file_id = files.id AND passages.segment_id IS NULL)",
            file_ids,
        )

    def files_to_reencode(self, model_key: str) -> int:
        """Files whose vectors (some or all) were made by another model than ``model_key``, plus the
        files waiting for vectors at all."""
        other = int(self.scalar(
            "SELECT COUNT(DISTINCT p.file_id) FROM passages p JOIN segments s ON s.id = p.segment_id "
            "JOIN files f ON f.id = p.file_id WHERE s.model_key != ? AND f.state = 'indexed'", [model_key]) or 0)
        return other + int(self.scalar("SELECT COUNT(*) FROM files WHERE state = 'extracted'") or 0)

    def switch_model(self, choice: str | None, model_key: str) -> int:
        """Make ``model_key`` the index's model (``choice``: the id or folder it was chosen by, None for
        the default). Files with vectors of another model wait for encoding again; their old vectors
        stay where they are (searchable by the old model) until the new ones replace them. Returns
        how many files will be encoded."""
        with self.transaction():
            self.set_setting("model", choice)
            self.set_setting("model_key", model_key)
            self.db.execute(
                "UPDATE files SET state = 'extracted' WHERE state = 'indexed' AND id IN "
                "(SELECT p.file_id FROM passages p JOIN segments s ON s.id = p.segment_id WHERE s.model_key != ?)",
                [model_key])
            # switching back before the re-encoding finished: files whose vectors are all of this model again
            self.db.execute(
                "UPDATE files SET state = 'indexed' WHERE state = 'extracted' AND NOT EXISTS "
                "(SELECT 1 FROM passages p LEFT JOIN segments s ON s.id = p.segment_id WHERE p.file_id = files.id "
                "AND (p.segment_id IS NULL OR (p.segment_id > 0 AND (s.id IS NULL OR s.model_key != ?))))",
                [model_key])
            self.bump_generation()
            return int(self.scalar("SELECT COUNT(*) FROM files WHERE state = 'extracted'") or 0)
