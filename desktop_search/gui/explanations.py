"""A result's explanation as the preview shows it: for each query word, the document words it matched
by meaning and how strongly; which of those are strong enough to be marked in the text.

Pure functions over the core's ``SearchResult.explain`` (plain data), run on the preview's worker.
"""

from __future__ import annotations

from typing import Any

WEAK_MATCH = 0.5  # a word matched by meaning below this similarity is explained, not highlighted


def explain_matches(explain: Any) -> list[tuple[str, str, float | None]]:
    """(query word, document word, strength or None) from a result's ``explain``. Accepted shapes:
    ``{"terms": [{"query"|"term"|"word": q, "matches": [{"word"|"doc_word"|"token": w, "score"|"sim": s}]}]}``,
    a list of such term entries, or ``{query word: [(doc word, score), ...] | {doc word: score} | doc word}``."""
    if not explain:
        return []
    terms = explain.get("terms", explain) if isinstance(explain, dict) else explain
    out: list[tuple[str, str, float | None]] = []

    def add(q: str, m: Any) -> None:
        if isinstance(m, dict):
            w = m.get("word") or m.get("doc_word") or m.get("token") or m.get("match") or ""
            score = m.get("score", m.get("sim", m.get("strength")))
            out.append((str(q), str(w), float(score) if isinstance(score, int | float) else None))
        elif isinstance(m, list | tuple) and m:
            out.append((str(q), str(m[0]), float(m[1]) if len(m) > 1 and isinstance(m[1], int | float) else None))
        elif isinstance(m, str):
            out.append((str(q), m, None))

    if isinstance(terms, dict):
        for q, ms in terms.items():
            if isinstance(ms, dict) and not any(k in ms for k in ("word", "doc_word", "token", "match")):
                for w, score in ms.items():
                    add(q, (w, score))
            elif isinstance(ms, list):
                for m in ms:
                    add(q, m)
            else:
                add(q, ms)
    elif isinstance(terms, list):
        for t in terms:
            if isinstance(t, dict):
                q = t.get("query") or t.get("term") or t.get("word") or ""
                ms = t.get("matches", t.get("matched", []))
                for m in ms if isinstance(ms, list) else [ms]:
                    add(q, m)
    return out


def explanation_lines(matches: list[tuple[str, str, float | None]]) -> list[str]:
    by_query: dict[str, list[str]] = {}
    for q, w, score in matches:
        strength = "" if score is None else f" {score:.2f}" + (" (weak)" if score < WEAK_MATCH else "")
        by_query.setdefault(q, []).append(f"{w}{strength}" if w else f"–{strength}")
    return [f"{q} → {', '.join(ws)}" for q, ws in by_query.items()]


def strong_matches(result: Any) -> dict[str, str]:
    """The document words matched by meaning worth marking: none for a weak result, and none below
    WEAK_MATCH where the result says how strong each match was."""
    if getattr(result, "weak", False):
        return {}
    matches = explain_matches(getattr(result, "explain", None))
    if matches:
        return {f"{q}#{i}": w for i, (q, w, score) in enumerate(matches)
                if w and (score is None or score >= WEAK_MATCH)}
    return dict(getattr(result, "matched", None) or {})
