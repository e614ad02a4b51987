"""A result's explanation as the preview shows it: for each query word, the document words it matched
(literally or by meaning) and how strongly; which of those are strong enough to be marked in the text.

Pure functions over the core's ``SearchResult.explain`` (plain data, see core/search/explain.py:
``{"words": [{"word", "matches": [{"text", "by", "similarity", "highlighted", ...}]}], "parts": {...}}``),
run on the preview's worker. Older or simpler shapes are read too (``terms``/``query``/``score``, or
``{query word: [(doc word, score)]}``), so a window and a core of different ages still agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

WEAK_MATCH = 0.5  # without the core's "highlighted" flag: a match by meaning below this is not marked
_WORD_KEYS = ("text", "word", "doc_word", "token", "match")
_SCORE_KEYS = ("similarity", "score", "sim", "strength")


@dataclass(frozen=True)
class Match:
    query: str
    word: str
    score: float | None = None
    by: str = ""  # word (literal) | meaning | "" (not said)
    highlighted: bool | None = None  # the core's verdict, when it gives one

    @property
    def strong(self) -> bool:
        if self.highlighted is not None:
            return self.highlighted
        return self.score is None or self.score >= WEAK_MATCH


def _first(d: dict[str, Any], keys: tuple[str, ...]) -> Any:
    return next((d[k] for k in keys if k in d and d[k] is not None), None)


def _match(query: str, m: Any) -> Match | None:
    if isinstance(m, dict):
        score = _first(m, _SCORE_KEYS)
        flag = m.get("highlighted")
        return Match(str(query), str(_first(m, _WORD_KEYS) or ""),
                     float(score) if isinstance(score, int | float) else None, str(m.get("by") or ""),
                     bool(flag) if isinstance(flag, bool) else None)
    if isinstance(m, list | tuple) and m:
        score = m[1] if len(m) > 1 and isinstance(m[1], int | float) else None
        return Match(str(query), str(m[0]), float(score) if score is not None else None)
    if isinstance(m, str):
        return Match(str(query), m)
    return None


def explain_matches(explain: Any) -> list[Match]:
    """Every (query word, matched document word) of a result's ``explain``, in its order."""
    if not explain:
        return []
    terms = explain
    if isinstance(explain, dict):
        terms = explain.get("words", explain.get("terms", explain))
    pairs: list[tuple[str, Any]] = []
    if isinstance(terms, list):
        for t in terms:
            if isinstance(t, dict):
                q = t.get("word") or t.get("query") or t.get("term") or ""
                ms = t.get("matches", t.get("matched", []))
                pairs.extend((q, m) for m in (ms if isinstance(ms, list) else [ms]))
    elif isinstance(terms, dict):
        for q, ms in terms.items():
            if isinstance(ms, dict) and not any(k in ms for k in _WORD_KEYS):
                pairs.extend((q, (w, s)) for w, s in ms.items())  # {doc word: score}
            else:
                pairs.extend((q, m) for m in (ms if isinstance(ms, list) else [ms]))
    return [m for m in (_match(q, raw) for q, raw in pairs) if m is not None and m.word]


def explanation_lines(matches: list[Match], parts: dict[str, Any] | None = None) -> list[str]:
    """One line per query word: ``volcanoes → volcanic (word), eruption 0.71 (meaning, weak)``; then how
    the score was made up, when the result says."""
    by_query: dict[str, list[str]] = {}
    for m in matches:
        notes = [n for n in (m.by, "" if m.strong else "weak") if n]
        score = f" {m.score:.2f}" if m.score is not None and m.by != "word" else ""
        by_query.setdefault(m.query, []).append(f"{m.word}{score}" + (f" ({', '.join(notes)})" if notes else ""))
    lines = [f"{q} → {', '.join(ws)}" for q, ws in by_query.items()]
    shares = [(k, float(v)) for k, v in (parts or {}).items() if isinstance(v, int | float) and v > 0]
    if shares:
        total = sum(v for _, v in shares) or 1.0
        lines.append("score: " + " · ".join(f"{k} {100 * v / total:.0f}%" for k, v in shares))
    return lines


def explanation_of(result: Any) -> list[str]:
    explain = getattr(result, "explain", None)
    parts = explain.get("parts") if isinstance(explain, dict) else None
    return explanation_lines(explain_matches(explain), parts if isinstance(parts, dict) else None)


def strong_matches(result: Any) -> dict[str, str]:
    """The document words worth marking as matched: none by meaning for a weak result, and none the
    explanation calls weak (only literal matches stay for a weak result)."""
    matches = explain_matches(getattr(result, "explain", None))
    weak_result = bool(getattr(result, "weak", False))
    if matches:
        return {f"{m.query}#{i}": m.word for i, m in enumerate(matches)
                if m.strong and (not weak_result or m.by == "word")}
    return {} if weak_result else dict(getattr(result, "matched", None) or {})
