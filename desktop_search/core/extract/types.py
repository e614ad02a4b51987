from __future__ import annotations

import bisect
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ExtractLimits:
    """Persisted extraction settings (see core.config.Settings)."""

    max_file_bytes: int = 200 * 1024 * 1024
    max_text_chars: int = 5_000_000
    timeout_s: float = 60.0
    memory_mb: int = 1024
    # Guards for ZIP containers (OOXML, ODF, EPUB): checked on the central directory before inflating,
    # and enforced again while streaming because declared sizes can lie.
    max_unpacked_bytes: int = 512 * 1024 * 1024
    max_compression_ratio: int = 200
    # Spreadsheets: stop reading a workbook after this many non-empty cells.
    max_cells: int = 2_000_000
    # Text recognition for images and scanned PDF pages (issue 15); Settings.ocr decides it per run.
    ocr: bool = False


@dataclass
class Extracted:
    """What the indexer sees of one file.

    ``page_starts[i]`` is the char offset in ``text`` where page/section ``i + 1`` starts; empty when the
    format has no pages.
    """

    text: str
    title: str | None = None
    extractor: str = ""
    page_starts: list[int] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)
    # an archive's files, each a document of its own (core/extract/archive.py); empty for other formats
    members: list[Member] = field(default_factory=list)

    @property
    def page_count(self) -> int:
        return len(self.page_starts)


@dataclass
class Member:
    """One file inside an archive. ``name`` is its path in the archive, "/"-separated; a file inside a nested
    archive is ``"inner.zip!/x.txt"``. Exactly one of ``result`` and ``error`` is set (``skipped``: not a
    document, like :attr:`ExtractOutcome.skipped`)."""

    name: str
    result: Extracted | None = None
    error: str | None = None
    skipped: bool = False
    size: int = 0


class ExtractionFailed(Exception):
    """A file could not be read; ``reason`` is a short human sentence ("encrypted PDF")."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class NotADocument(ExtractionFailed):
    """Not something we index (unknown binary, unsupported format): the outcome is ``skipped``."""


@dataclass
class ExtractOutcome:
    path: str
    result: Extracted | None = None
    error: str | None = None  # human reason when result is None
    skipped: bool = False  # not a document we index (binary of unknown type)
    seconds: float | None = None  # wall-clock time spent on this file in its worker
    worker_rss_mb: float | None = None  # peak resident memory of the worker after this file


def page_at(page_starts: list[int], char_offset: int) -> int | None:
    """1-based page holding ``char_offset``, or None for formats without pages."""
    if not page_starts:
        return None
    return max(1, bisect.bisect_right(page_starts, char_offset))
