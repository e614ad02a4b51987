"""Settings, watched folders (roots), exclusion patterns and the index generation."""

from __future__ import annotations

import json
import time
from typing import Any

from ..config import Settings
from .base import CatalogBase


class Preferences(CatalogBase):

    # settings ---------------------------------------------------------------------------------------
    def get_setting(self, key: str, default: Any = None) -> Any:
        row = self.db.execute("SELECT value FROM settings WHERE key = ?", [key]).fetchone()
        return json.loads(row[0]) if row else default

    def set_setting(self, key: str, value: Any) -> None:
        self.db.execute(
            "INSERT INTO settings(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [key, json.dumps(value)],
        )

    def load_settings(self) -> Settings:
        stored = self.get_setting("settings", {}) or {}
        return Settings.from_mapping(stored)

    def save_settings(self, settings: Settings) -> None:
        self.set_setting("settings", settings.as_dict())

    # roots ------------------------------------------------------------------------------------------
    def roots(self, kind: str = "include") -> list[str]:
        return [r[0] for r in self.db.execute("SELECT path FROM roots WHERE kind = ? ORDER BY path", [kind])]

    def add_root(self, path: str, kind: str = "include") -> None:
        self.db.execute(
            "INSERT INTO roots(path, kind, added_at) VALUES (?, ?, ?) "
            "ON CONFLICT(path) DO UPDATE SET kind = excluded.kind",
            [path, kind, time.time()],
        )

    def remove_root(self, path: str) -> None:
        self.db.execute("DELETE FROM roots WHERE path = ?", [path])

    def bump_generation(self) -> None:
        """Readers reload segment liveness when this changes."""
        self.set_setting("index_generation", int(self.get_setting("index_generation", 0)) + 1)

    # exclusions (patterns; see core/exclusions.py) ------------------------------------------------------
    def exclusions(self) -> list[tuple[str, str, bool]]:
        """(folder, pattern, is a default) rows; folder '' = every watched folder."""
        rows = self.db.execute("SELECT folder, pattern, is_default FROM exclusions ORDER BY folder, id").fetchall()
        return [(r[0], r[1], bool(r[2])) for r in rows]

    def add_exclusion(self, folder: str, pattern: str) -> bool:
        cursor = self.db.execute(
            "INSERT OR IGNORE INTO exclusions(folder, pattern, is_default, added_at) VALUES (?, ?, 0, ?)",
            [folder, pattern, time.time()],
        )
        return cursor.rowcount > 0

    def remove_exclusion(self, folder: str, pattern: str) -> bool:
        cursor = self.db.execute("DELETE FROM exclusions WHERE folder = ? AND pattern = ?", [folder, pattern])
        return cursor.rowcount > 0

    def replace_exclusions(self, rows: list[tuple[str, str, bool]]) -> None:
        """Make the patterns exactly ``rows`` ((folder, pattern, is a default), as :meth:`exclusions` gives):
        a rebuilt catalog gets the person's patterns back, removed defaults staying removed."""
        self.db.execute("DELETE FROM exclusions")
        self.db.conn.executemany(
            "INSERT OR IGNORE INTO exclusions(folder, pattern, is_default, added_at) VALUES (?, ?, ?, ?)",
            [(folder, pattern, int(default), time.time()) for folder, pattern, default in rows],
        )

    def generation(self) -> int:
        """Bumped by every commit that changes what search sees (see bump_generation)."""
        return int(self.get_setting("index_generation", 0))
