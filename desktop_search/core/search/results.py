"""What a search returns: hits inside the engine, results and responses for the CLI and the window.

Plain data, built and read on the searching thread; nothing here is shared between threads.

The JSON shape (``search --json``, contract): ``{"query", "took_ms", "mode", "results": [...]}``; each
result has ``path, score, title, page, snippet, highlights, size, mtime`` (``highlights`` index into
``snippet``), plus

* ``weak``: true when the result scored below the relevance floor (a share of the best hit's score):
  the window draws a "less relevant" divider above the first weak result;
* ``passages``: the file's matching passages, best first (``passage_id, page, score, snippet,
  highlights``); the first is the one the top-level ``snippet`` comes from;
* ``explain`` (when asked for): see :mod:`.explain`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Hit:
    """One passage found by one retriever (keyword, names, semantic): its raw score in that list."""

    file_id: int
    passage_id: int
    score: float
    weight: float = 1.0  # how much of the query this hit covers (keyword hits matching one word of five count less)


@dataclass
class PassageResult:
    passage_id: int
    page: int | None
    score: float
    snippet: str = ""
    highlights: list[list[int]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"passage_id": self.passage_id, "page": self.page, "score": round(self.score, 6),
                "snippet": self.snippet, "highlights": self.highlights}


@dataclass
class SearchResult:
    path: str
    score: float
    title: str | None
    page: int | None
    snippet: str
    highlights: list[list[int]]
    file_id: int = 0
    passage_id: int = 0
    size: int = 0
    mtime: float = 0.0
    ext: str = ""
    matched: dict[str, str] = field(default_factory=dict)  # query token -> the doc word it matched best
    weak: bool = False
    passages: list[PassageResult] = field(default_factory=list)
    explain: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "path": self.path, "score": round(self.score, 6), "title": self.title, "page": self.page,
            "snippet": self.snippet, "highlights": self.highlights, "size": self.size, "mtime": self.mtime,
            "weak": self.weak, "passages": [p.as_json() for p in self.passages],
        }
        if self.explain is not None:
            out["explain"] = self.explain
        return out


@dataclass
class SearchResponse:
    query: str
    mode: str
    took_ms: float
    results: list[SearchResult]
    notice: str | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "query": self.query, "took_ms": round(self.took_ms, 2), "mode": self.mode,
            "results": [r.as_json() for r in self.results],
        }
        if self.notice:
            out["notice"] = self.notice
        return out
