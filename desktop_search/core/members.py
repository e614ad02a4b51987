"""Archive members as documents of their own (issue 15).

A member is catalogued under ``<archive path>!/<path in the archive>`` (a nested archive's member:
``a.zip!/b.tar!/c.txt``): a files row with its own passages when it was read, a failures row with its
reason when not. Members live and die with their archive: the indexer replaces them whenever the archive
is extracted again, and the scanner's diff never judges them as files of their own (they are not on
disk); a deleted or moved archive takes its members along. Runs on the writer thread (``store_members``)
or on any thread (the path helpers, pure functions).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from . import paths as P
from .catalog import Catalog
from .extract.types import Member
from .passages import passage_rows

SEPARATOR = "!/"


def member_path(archive: str, name: str) -> str:
    return f"{archive}{SEPARATOR}{name}"


def split_member(path: str, exists: Callable[[str], bool] | None = None) -> tuple[str, str] | None:
    """``(archive on disk, path inside it)`` for a member path, or None for a plain path. ``exists`` tells
    which prefix is the archive (default: the first prefix before ``!/`` that is a file on disk)."""
    exists = exists or os.path.isfile
    at = path.find(SEPARATOR)
    while at != -1:
        head = path[:at]
        if exists(head):
            return head, path[at + len(SEPARATOR):]
        at = path.find(SEPARATOR, at + len(SEPARATOR))
    return None


def on_disk(path: str) -> bool:
    """Whether what a result points at is still there: the file, or for an archive member its archive
    (search hides results whose file is gone; a member is never a file of its own)."""
    return os.path.exists(path) or (SEPARATOR in path and split_member(path) is not None)


def archive_of(path: str, known: dict[str, object] | set[str]) -> str | None:
    """The archive (one of ``known``) that ``path`` is a member of, or None."""
    at = path.find(SEPARATOR)
    while at != -1:
        if path[:at] in known:
            return path[:at]
        at = path.find(SEPARATOR, at + len(SEPARATOR))
    return None


def store_members(c: Catalog, archive_db: str, size: int, mtime: float, members: list[Member], now: float,
                  passage_chars: int) -> tuple[int, int]:
    """Replace the archive's members in the catalog; returns (members read, members failed). Runs inside
    the indexer's open transaction on the writer thread."""
    del size  # a member's row carries its own size; the archive's mtime stands for all its members
    c.drop_members(archive_db)
    read = failed = 0
    for m in members:
        dbpath = member_path(archive_db, m.name)
        name = m.name.rsplit("/", 1)[-1]
        if m.result is None:
            c.record_failure(dbpath, m.size, mtime, m.error or "unknown error", m.skipped, now)
            failed += 0 if m.skipped else 1
            continue
        res = m.result
        values = dict(
            path=dbpath, name=P.display(name), ext=Path(name).suffix.lower().lstrip("."), size=m.size or len(res.text),
            mtime=mtime, hash="", state="extracted", title=res.title, extractor=res.extractor,
            pages=res.page_count, chars=len(res.text), updated_at=now,
        )
        file_id = c.add_file(values)
        rows = passage_rows(file_id, res.text, res.page_starts, passage_chars)
        c.add_passages(rows)
        if not rows:
            c.mark_indexed(file_id)
        read += 1
    return read, failed
