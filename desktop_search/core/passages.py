"""Cut extracted text into passages: contiguous char ranges that tile the text exactly.

Passages are what results point at (snippet, page) and what FTS5 indexes; the encoder later fills
each one with token vectors taken from a whole contextualised window.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from .extract.types import page_at

_CUT_MARKS = ("\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ")


@dataclass(frozen=True)
class PassageSpan:
    start: int
    end: int
    page: int | None


def _best_cut(text: str, lo: int, hi: int) -> int:
    for mark in _CUT_MARKS:
        pos = text.rfind(mark, lo, hi)
        if pos != -1:
            return pos + len(mark)
    return hi


def split_passages(text: str, page_starts: list[int], target_chars: int = 1200) -> list[PassageSpan]:
    n = len(text)
    boundaries = sorted({p for p in page_starts if 0 < p < n})
    slack = int(target_chars * 1.3)
    spans: list[PassageSpan] = []
    start = 0
    while start < n:
        i = bisect.bisect_right(boundaries, start)
        next_page = boundaries[i] if i < len(boundaries) else n
        if next_page - start <= slack:
            end = next_page
        else:
            end = _best_cut(text, start + target_chars // 2, start + target_chars)
        spans.append(PassageSpan(start, end, page_at(page_starts, start)))
        start = end
    return spans


def passage_rows(file_id: int, text: str, page_starts: list[int],
                 target_chars: int) -> list[tuple[int, int, int, int, int | None, str, int | None]]:
    """The catalog rows (``Catalog.add_passages``) of a file's text: blank passages need no vectors
    (segment id 0), the others wait for encoding (None)."""
    rows = []
    for seq, span in enumerate(split_passages(text, page_starts, target_chars)):
        piece = text[span.start : span.end]
        rows.append((file_id, seq, span.start, span.end, span.page, piece, None if piece.strip() else 0))
    return rows
