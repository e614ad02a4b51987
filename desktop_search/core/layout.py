"""The data folder's fixed parts, and the error for its write lock being held elsewhere."""

from __future__ import annotations

CATALOG = "catalog.db"
STATE = "state.json"  # roots and settings mirrored outside SQLite, so a lost catalog can be rebuilt
WRITE_LOCK = "write.lock"  # held by the one process that updates the index


class Busy(Exception):
    """Another process is updating this index."""
