"""Rank fusion: several ranked lists of passage hits (semantic, keyword, names) become one list of
files, each with its passages scored, and the relevance floor that marks the weak tail.

Pure functions over plain data; no I/O. The defaults in :data:`DEFAULT` were chosen on SciFact only
(``tests/benchmarks/tune_fusion.py``) and checked, unchanged, on a second collection
(``tests/benchmarks/bench_second.py``); results in ``tests/benchmarks/results/fusion*.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .results import Hit

SEMANTIC, KEYWORD, NAMES = "semantic", "keyword", "names"


@dataclass(frozen=True)
class Fusion:
    """How lists are mixed. Each list's scores are normalised (``norm``), keyword hits scaled by the
    share of the query words they contain (to the power ``coverage``), then weighted and summed per
    file (a file takes its best passage's value from each list)."""

    # tuned on SciFact (tests/benchmarks/results/fusion_scifact.md): min-max beat max and RRF; coverage
    # scaling lost 0.02 keyword-only. Keyword 0.24 was SciFact's best (0.7450) but let a random model's
    # semantic noise bury files holding every query word (tests/integration/test_cli_search.py); 0.4
    # keeps exact-word hits on top and still gives SciFact 0.7389 (+0.012 over semantic). File names
    # cannot be tuned on SciFact (numbered files): 0.3 as before.
    semantic: float = 0.6
    keyword: float = 0.4
    names: float = 0.3
    norm: str = "minmax"  # minmax | max (divide by the best, floor at 0) | rrf (1 / (rrf_k + rank))
    coverage: float = 0.0
    rrf_k: float = 60.0
    floor: float = 0.5  # results scoring below floor x the best are weak: 1.4% of relevant top-10 hits, 35% of others

    def weight(self, kind: str) -> float:
        return {SEMANTIC: self.semantic, KEYWORD: self.keyword, NAMES: self.names}[kind]


DEFAULT = Fusion()


@dataclass
class Fused:
    """One file of the fused ranking."""

    file_id: int
    score: float = 0.0
    hit: Hit | None = None  # the passage to show first
    parts: dict[str, float] = field(default_factory=dict)  # list kind -> its weighted contribution
    passages: dict[int, float] = field(default_factory=dict)  # passage id -> its own fused score

    def best_passages(self, n: int) -> list[tuple[int, float]]:
        return sorted(self.passages.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


def normalised(hits: Sequence[Hit], norm: str, rrf_k: float = 60.0) -> list[float]:
    """Each hit's score mapped to [0, 1] within its list (``hits`` best first for ``rrf``)."""
    if not hits:
        return []
    scores = [h.score for h in hits]
    if norm == "rrf":
        order = sorted(range(len(hits)), key=lambda i: -scores[i])
        ranks = {i: r for r, i in enumerate(order)}
        return [(rrf_k + 1) / (rrf_k + 1 + ranks[i]) for i in range(len(hits))]
    top = max(scores)
    low = min(scores) if norm == "minmax" else min(0.0, min(scores))
    span = top - low
    if span <= 0:
        return [1.0] * len(hits)
    return [(s - low) / span for s in scores]


def fuse(lists: Sequence[tuple[str, Sequence[Hit]]], params: Fusion = DEFAULT) -> list[Fused]:
    """Files by fused score, best first (ties by file id, so equal inputs give equal orders)."""
    files: dict[int, Fused] = {}
    for kind, hits in lists:
        if not hits:
            continue
        weight = params.weight(kind)
        for h, norm in zip(hits, normalised(hits, params.norm, params.rrf_k), strict=True):
            value = weight * norm * (h.weight ** params.coverage if kind == KEYWORD else h.weight if
                                     kind == NAMES else 1.0)
            f = files.get(h.file_id)
            if f is None:
                f = files[h.file_id] = Fused(h.file_id)
            if value > f.parts.get(kind, -1.0):
                f.parts[kind] = value
            if kind != NAMES and h.passage_id:  # a name hit says nothing about which passage matched
                f.passages[h.passage_id] = f.passages.get(h.passage_id, 0.0) + value
            elif h.passage_id and h.passage_id not in f.passages:
                f.passages[h.passage_id] = 0.0
            if f.hit is None:
                f.hit = h
    for f in files.values():
        f.score = sum(f.parts.values())
        if f.passages:
            best = max(f.passages.items(), key=lambda kv: (kv[1], -kv[0]))[0]
            if f.hit is None or f.hit.passage_id != best:
                f.hit = Hit(f.file_id, best, f.passages[best])
    return sorted(files.values(), key=lambda f: (-f.score, f.file_id))


def weak_from(scores: Sequence[float], floor: float) -> int:
    """Index of the first score below ``floor`` x the best (``len(scores)`` when none is): the
    relevance floor. ``scores`` best first."""
    if not scores:
        return 0
    cut = scores[0] * floor
    for i, s in enumerate(scores):
        if s < cut:
            return i
    return len(scores)
