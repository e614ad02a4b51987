"""Which words of a passage matched: literal query words and, for semantic hits, the tokens that
gave each query token its MaxSim. Spans are char offsets; :func:`snippet` cuts a window around them."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

import numpy as np

from .cjk import NON_CJK_WORD_CHAR, WORD_END, WORD_START

_WORD = re.compile(NON_CJK_WORD_CHAR)  # a highlight grows to the whole word, but not over a CJK run


def keyword_spans(text: str, terms: Sequence[str], prefix_last: bool = False) -> list[tuple[int, int]]:
    pattern = _terms_pattern(tuple(terms), prefix_last)
    return [(m.start(), m.end()) for m in pattern.finditer(text)] if pattern is not None else []


@functools.lru_cache(maxsize=64)
def _terms_pattern(terms: tuple[str, ...], prefix_last: bool) -> re.Pattern[str] | None:
    """One alternation for all terms (a single pass over each text), longest first so a phrase wins
    over a word inside it; the last term also matches as a prefix while it is being typed."""
    parts = [re.escape(t) + (r"\w*" if prefix_last and i == len(terms) - 1 else "") for i, t in enumerate(terms) if t]
    if not parts:
        return None
    parts.sort(key=len, reverse=True)
    return re.compile(WORD_START + "(?:" + "|".join(parts) + ")" + WORD_END, re.IGNORECASE)


def token_matches(
    query_vectors: np.ndarray, query_spans: Sequence[tuple[int, int]], doc_vectors: np.ndarray,
    doc_spans: np.ndarray, text: str,
) -> list[tuple[int, tuple[int, int], float]]:
    """For each real (non-special) query token: (its index, the span of the doc word around the doc
    token that gave it its MaxSim, that similarity)."""
    if len(doc_vectors) == 0:
        return []
    real = [i for i, (s, e) in enumerate(query_spans) if e > s and i < len(query_vectors)]
    if not real:
        return []
    sims = query_vectors[real] @ doc_vectors.T
    best = sims.argmax(axis=1)
    best_scores = sims.max(axis=1)
    return [(qi, word_around(text, int(doc_spans[d][0]), int(doc_spans[d][1])), float(score))
            for qi, d, score in zip(real, best.tolist(), best_scores.tolist(), strict=True)]


def strong_cutoff(similarities: Sequence[float], min_ratio: float = 0.85) -> float:
    """Matches below this share of the best token match are weak: listed, not highlighted."""
    return max(similarities, default=0.0) * min_ratio


def semantic_spans(
    query_vectors: np.ndarray, query_spans: Sequence[tuple[int, int]], doc_vectors: np.ndarray,
    doc_spans: np.ndarray, text: str, min_ratio: float = 0.85, ignore: frozenset[str] = frozenset(),
) -> list[tuple[int, int]]:
    """Spans of the doc words that were the strong best match of a real (non-special) query token."""
    matches = token_matches(query_vectors, query_spans, doc_vectors, doc_spans, text)
    cutoff = strong_cutoff([m[2] for m in matches], min_ratio)
    return [(s, e) for _, (s, e), score in matches if score >= cutoff and text[s:e].lower() not in ignore]


def word_around(text: str, start: int, end: int) -> tuple[int, int]:
    while start > 0 and _WORD.match(text[start - 1]):
        start -= 1
    while end < len(text) and _WORD.match(text[end]):
        end += 1
    return start, end


def merge_spans(spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[list[int]] = []
    for s, e in sorted(spans):
        if e <= s:
            continue
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    return [(s, e) for s, e in merged]


def snippet(text: str, spans: Sequence[tuple[int, int]], width: int = 240) -> tuple[str, list[list[int]]]:
    """A window of ``text`` around the densest group of spans, and the spans inside it (relative)."""
    spans = merge_spans(spans)
    if len(text) <= width:
        start = 0
    elif spans:
        best_start, best_count = spans[0][0], 0
        for s, _ in spans:
            count = sum(1 for s2, e2 in spans if s <= s2 and e2 <= s + width)
            if count > best_count:
                best_start, best_count = s, count
        start = max(0, best_start - width // 4)
        space = text.rfind(" ", max(0, start - 20), start)
        start = space + 1 if space != -1 else start
    else:
        start = 0
    end = min(len(text), start + width)
    if end < len(text):
        space = text.rfind(" ", start + width // 2, end)
        end = space if space != -1 else end
    piece = text[start:end]
    lead = len(piece) - len(piece.lstrip())
    piece = piece.strip()
    offset = start + lead
    rel = [[s - offset, e - offset] for s, e in spans if s >= offset and e <= offset + len(piece)]
    flat = " ".join(piece.split())
    if flat != piece:  # collapse whitespace, remapping the spans
        mapping, out, prev_space = [], [], False
        for ch in piece:
            if ch.isspace():
                if not prev_space:
                    mapping.append(len(out))
                    out.append(" ")
                else:
                    mapping.append(len(out) - 1)
                prev_space = True
            else:
                mapping.append(len(out))
                out.append(ch)
                prev_space = False
        mapping.append(len(out))
        rel = [[mapping[s], mapping[e - 1] + 1] for s, e in rel]
        piece = "".join(out)
    prefix = "…" if offset > 0 else ""
    suffix = "…" if offset + len(text[offset:end].strip()) < len(text.rstrip()) else ""
    rel = [[s + len(prefix), e + len(prefix)] for s, e in rel]
    return prefix + piece + suffix, rel
