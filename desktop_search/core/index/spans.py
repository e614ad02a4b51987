"""Token character spans on disk in two bytes a token (issue 14: bytes per token).

A segment keeps, for every token, the (start, end) characters it covers in its passage, so a hit maps
back to words. Stored plainly that is two uint16 per token (4 bytes: 10 % of a 64-d PLAID token).
Within a passage tokens follow one another: each token is stored as the gap since the previous
token's end (the passage start for its first token) and its length, one byte each (``spans8.npy``).
The rare token that does not fit (a gap or length outside 0-255, a token before the previous one) is
stored whole in ``spans_wide.npy`` (token index, start, end), and decoding restarts from it.
Segments written before this (``spans.npy``, uint16 pairs) still load.

Stateless functions and read-only maps: safe from any thread.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

NARROW = "spans8.npy"
WIDE = "spans_wide.npy"
LEGACY = "spans.npy"


def _firsts(lengths: np.ndarray, n: int) -> np.ndarray:
    first = np.zeros(n, dtype=bool)
    lengths = np.asarray(lengths, dtype=np.int64)
    first[np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)[lengths > 0]] = True
    return first


def save_spans(folder: Path, spans: np.ndarray, lengths: np.ndarray) -> None:
    """Write the spans of a segment's tokens (passages of ``lengths`` tokens, in order)."""
    spans = np.asarray(spans, dtype=np.int64).reshape(-1, 2)
    n = len(spans)
    first = _firsts(lengths, n)
    prev_end = np.zeros(n, dtype=np.int64)
    prev_end[1:] = spans[:-1, 1]
    prev_end[first] = 0
    gap, length = spans[:, 0] - prev_end, spans[:, 1] - spans[:, 0]
    wide = (gap < 0) | (gap > 255) | (length < 0) | (length > 255)
    narrow = np.stack([np.where(wide, 0, gap), np.where(wide, 0, length)], axis=1).astype(np.uint8)
    np.save(folder / NARROW, narrow)
    rows = np.flatnonzero(wide)
    np.save(folder / WIDE, np.concatenate([rows[:, None], spans[rows]], axis=1).astype(np.int64).reshape(-1, 3))


class SpanFile:
    """A segment's spans, memory-mapped; :meth:`of` decodes the tokens of whole passages."""

    def __init__(self, folder: Path):
        self.legacy: np.ndarray | None = None
        if (folder / NARROW).exists():
            self.narrow = np.load(folder / NARROW, mmap_mode="r")
            wide = np.load(folder / WIDE).reshape(-1, 3)
            self.wide_rows, self.wide_spans = wide[:, 0].astype(np.int64), wide[:, 1:].astype(np.int64)
        else:
            self.legacy = np.load(folder / LEGACY, mmap_mode="r")

    def of(self, tokens: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """(start, end) uint16 pairs of ``tokens``: the token rows of whole passages of ``lengths``
        tokens, concatenated in order."""
        tokens = np.asarray(tokens, dtype=np.int64)
        if self.legacy is not None:
            return np.asarray(self.legacy[tokens])
        n = len(tokens)
        if n == 0:
            return np.zeros((0, 2), dtype=np.uint16)
        narrow = np.asarray(self.narrow[tokens]).astype(np.int64)
        gap, length = narrow[:, 0], narrow[:, 1]
        where = np.searchsorted(self.wide_rows, tokens)
        where = np.minimum(where, max(len(self.wide_rows) - 1, 0))
        is_wide = (self.wide_rows[where] == tokens) if len(self.wide_rows) else np.zeros(n, dtype=bool)
        # ends: a running sum of gap + length, restarted at each passage's first token and at each
        # wide token (whose end is stored)
        step = gap + length
        boundary = _firsts(lengths, n) | is_wide
        boundary[0] = True
        end_at = step.copy()
        end_at[is_wide] = self.wide_spans[where[is_wide], 1]
        running = np.cumsum(step)
        b = np.maximum.accumulate(np.where(boundary, np.arange(n), 0))
        end = end_at[b] + running - running[b]
        start = end - length
        start[is_wide] = self.wide_spans[where[is_wide], 0]
        return np.stack([start, end], axis=1).astype(np.uint16)
