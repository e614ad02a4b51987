"""Accumulate extracted text with page/section markers and an early stop at the text limit."""

from __future__ import annotations

import os
import re
from pathlib import Path


class TextBuilder:
    """Collects text pieces; ``full`` turns true once ``limit`` characters were gathered.

    Extractors check ``full`` to stop reading early: a huge document is truncated, never an error.
    """

    def __init__(self, limit: int):
        self.limit = limit
        self.parts: list[str] = []
        self.length = 0
        self.page_starts: list[int] = []
        self._last = "\n"

    @property
    def full(self) -> bool:
        return self.length >= self.limit

    def add(self, piece: str) -> None:
        if not piece or self.full:
            return
        self.parts.append(piece)
        self.length += len(piece)
        self._last = piece[-1]

    def newline(self) -> None:
        if self._last != "\n":
            self.add("\n")

    def section(self) -> None:
        """Start page/slide/sheet/chapter ``len(page_starts) + 1`` here."""
        if self.length and self._last != "\n":
            self.add("\n")
        if self.length:
            self.add("\n")
        self.page_starts.append(self.length)

    def text(self) -> str:
        return "".join(self.parts)

    def has_text(self) -> bool:
        return any(p.strip() for p in self.parts)


_BAD_CHARS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f\ud800-\udfff]")


def clean(text: str) -> str:
    """Replace NULs, stray C0 controls and lone surrogates (which break UTF-8 storage).

    Same-length replacement so page offsets stay valid.
    """
    if not _BAD_CHARS.search(text):
        return text
    return _BAD_CHARS.sub(lambda m: "\ufffd" if m.group() >= "\ud800" else " ", text)


def join_surrogates(text: str) -> str:
    """Combine UTF-16 surrogate pairs (as produced by RTF ``\\u`` escapes); lone halves become U+FFFD."""
    if not re.search(r"[\ud800-\udfff]", text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def read_capped(path: Path, cap: int) -> tuple[bytes, bool]:
    """Read at most ``cap`` bytes; returns (data, truncated).

    Sized by the file, not by ``cap``: ``read(n)`` allocates ``n`` bytes up front, which would waste
    (or, under the worker's memory cap, exhaust) memory for every small file.
    """
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        data = handle.read(min(cap, size) + 1)
    if len(data) > cap:
        return data[:cap], True
    return data, False
