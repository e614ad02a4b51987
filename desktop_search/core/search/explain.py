"""Why a result matched: for each query word, the words of the shown passage it matched, literally
or by meaning, and how strongly. Built per result on the searching thread from the passage's token
vectors (MaxSim per query token: its best doc token).

The ``explain`` JSON of a result (``search --json``; the window's preview reads the same)::

    {"passage_id": 12, "page": 3,
     "parts": {"semantic": 0.58, "keyword": 0.31, "names": 0.0},   # weighted shares of the score
     "words": [
       {"word": "volcanoes",
        "matches": [                                              # strongest first
          {"text": "volcanic", "by": "word", "similarity": 1.0,   # literal (stemmed) match
           "start": 40, "end": 48, "highlighted": true},
          {"text": "eruption", "by": "meaning", "similarity": 0.71,
           "start": 102, "end": 110, "highlighted": false}]}]}  # weak: listed, never highlighted

``start``/``end`` index into the passage text (the window maps them into the document with the
passage's offset); ``similarity`` is the cosine of the query token and the doc token (1.0 for a
literal match). A query word with no match has ``matches: []``.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from ..encoder import QueryVectors
from ..highlight import strong_cutoff, token_matches, word_around
from ..query import STOPWORDS, ParsedQuery, fts_words, word_pattern

MAX_MATCHES = 3  # per query word and kind


def query_words(q: ParsedQuery) -> list[str]:
    return [w for w in fts_words(q.words + q.phrases) if w]


def explain(
    q: ParsedQuery, text: str, qv: QueryVectors | None, vectors: tuple[np.ndarray, np.ndarray] | None,
    parts: dict[str, float], weak: bool, passage_id: int, page: int | None,
) -> tuple[dict[str, Any], list[tuple[int, int]]]:
    """The explanation of one passage, and the spans to highlight by meaning (none for a weak result)."""
    words: dict[str, list[dict[str, Any]]] = {}
    order: list[str] = []
    for w in query_words(q):
        key = w.lower()
        if key in words:
            continue
        order.append(key)
        words[key] = []
        found: dict[str, dict[str, Any]] = {}
        for m in re.finditer(word_pattern(w, w in q.prefixes), text, re.IGNORECASE):
            form = m.group(0).lower()
            if form not in found and len(found) < MAX_MATCHES:
                found[form] = {"text": m.group(0), "by": "word", "similarity": 1.0, "start": m.start(),
                               "end": m.end(), "highlighted": True}
        words[key].extend(found.values())
    spans: list[tuple[int, int]] = []
    if qv is not None and vectors is not None:
        doc, doc_spans = np.asarray(vectors[0], np.float32), vectors[1]
        matches = token_matches(qv.vectors, qv.spans, doc, doc_spans, text)
        content = [m for m in matches if _query_word(q.semantic_text, qv.spans[m[0]]).lower() not in STOPWORDS]
        cutoff = strong_cutoff([m[2] for m in content])
        by_word: dict[str, dict[tuple[int, int], float]] = {}
        for qi, (s, e), sim in content:
            if text[s:e].lower() in STOPWORDS or e <= s:
                continue
            word = _query_word(q.semantic_text, qv.spans[qi]).lower()
            seen = by_word.setdefault(word, {})
            seen[(s, e)] = max(sim, seen.get((s, e), -1.0))
        for word, seen in by_word.items():
            if word not in words:
                order.append(word)
                words[word] = []
            literal = {(m["start"], m["end"]) for m in words[word]}
            ranked = sorted(seen.items(), key=lambda kv: -kv[1])[:MAX_MATCHES]
            for (s, e), sim in ranked:
                if (s, e) in literal:
                    continue
                strong = sim >= cutoff and not weak
                words[word].append({"text": text[s:e], "by": "meaning", "similarity": round(sim, 4), "start": s,
                                    "end": e, "highlighted": strong})
                if strong:
                    spans.append((s, e))
    for key in order:
        words[key].sort(key=lambda m: -m["similarity"])
    out = {"passage_id": passage_id, "page": page, "parts": {k: round(v, 6) for k, v in parts.items()},
           "words": [{"word": key, "matches": words[key]} for key in order]}
    return out, spans


def _query_word(text: str, span: tuple[int, int]) -> str:
    s, e = word_around(text, int(span[0]), int(span[1]))
    return text[s:e]
