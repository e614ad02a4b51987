"""PLAID search over PLAID segments: candidate generation, then exact MaxSim of the best few.

The stages, as in PLAID (Santhanam et al., 2022), each cheaper per document than the next and run on
fewer documents:

1. **Centroid scores**: every query token against every centroid (one small matmul per segment).
2. **Candidates**: the live documents in the IVF lists of each query token's ``n_ivf_probe`` best
   centroids, scored by *pruned* centroid interaction (sum over query tokens of the best score among
   the doc's probed centroids: other centroids count as absent).
3. **Full centroid interaction** of the best ``n_candidates`` of them: every token of the document
   stands in by its own centroid's score (a gather of ``scores[:, codes]``, max per document, sum). No
   residual is decompressed, so this costs two bytes of codes per token instead of 34.
4. **Exact MaxSim** of the best ``n_full`` of those over decompressed residuals.

Stages 3 and 4 are one budget shared by all the segments of a query (:func:`rank_plaid`): the best
candidates of all segments together go on, not a fixed number per segment. The budgets are class
attributes of ``PlaidSegment`` (benchmarks sweep them; tests/benchmarks/bench_recall.py).

Why stage 3: ranking by the pruned score alone puts documents that happen to share many of the probed
centroids first; the exact rerank then needed ~768 documents for recall@10 of 0.95 against exact
MaxSim. The full centroid interaction orders candidates nearly as exact MaxSim does, at a fraction of
the cost, so a small exact budget suffices.

Threads: stateless functions over immutable segments and per-query arrays: safe from any thread.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .segments import PlaidSegment

_blas: Any = None  # threadpoolctl's controller, made on first use (it inspects the loaded libraries once)
_blas_lock = threading.Lock()


def one_blas_thread() -> Any:
    """A context in which BLAS uses one thread. A query's products are small, and OpenBLAS's second
    thread spin-waits for work: on the busy 2-core machine a (32,768 x 64) x (64 x 32) product took
    20 ms p50 with two threads and 2.6 ms with one. The limit is process-wide: a concurrent search
    leaving its block may restore two threads under another, which costs time, never correctness."""
    global _blas
    with _blas_lock:
        if _blas is None:
            from threadpoolctl import ThreadpoolController

            _blas = ThreadpoolController()
    return _blas.limit(limits=1, user_api="blas")


def sum_of_maxima(values: np.ndarray, lengths: np.ndarray, pick: np.ndarray | None = None,
                  chunk_bytes: int = 1 << 20) -> np.ndarray:
    """Per document (consecutive rows of ``values``, or of ``values[pick]``, ``lengths`` rows each): sum
    over columns of the max over its rows; integer values are summed in int64. Reduced ~1 MB of rows
    at a time: np.maximum.reduceat slows several-fold once its input leaves the cache (measured on
    1M tokens, load 15: 27 vs 55 ms for 2,048 candidates' codes, 26 vs 81 ms for 1,500 passages'
    exact similarities), and ``pick`` is gathered per chunk, never whole."""
    lengths = np.asarray(lengths, dtype=np.int64)
    if len(lengths) and lengths.min() > 0 and int(lengths.max()) * BY_RANK_GROUPS < len(lengths):
        return _sum_of_maxima_by_rank(values, lengths, pick)
    bounds = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    per = max(1024, chunk_bytes // (values.shape[1] * values.itemsize))
    integer = np.issubdtype(values.dtype, np.integer)
    out = np.empty(len(lengths), dtype=np.int64 if integer else np.float32)
    i = 0
    while i < len(lengths):
        j = max(i + 1, int(np.searchsorted(bounds, bounds[i] + per, side="right")) - 1)
        lo, hi = int(bounds[i]), int(bounds[j])
        rows = values[lo:hi] if pick is None else np.take(values, pick[lo:hi], axis=0)
        best = np.maximum.reduceat(rows, bounds[i:j] - lo, axis=0)
        out[i:j] = best.sum(axis=1, dtype=np.int64 if integer else None)
        i = j
    return out


BY_RANK_GROUPS = 8  # groups per row of the longest group from which reducing by rank beats reduceat


def _sum_of_maxima_by_rank(values: np.ndarray, lengths: np.ndarray, pick: np.ndarray | None) -> np.ndarray:
    """:func:`sum_of_maxima` for many short groups (the candidate stage: ~16,000 documents of 1-19
    probed centroids each at 10M tokens): np.maximum.reduceat pays per group, so instead the k-th row
    of every group still that long is folded in, one vectorised maximum per k (the longest group's
    length of them). The same result; 3.5 vs 14 ms on such a call, measured, and slower than reduceat
    on a few long groups (full interaction, exact rerank), which keep it."""
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    rows = values if pick is None else np.take(values, pick, axis=0)
    order = np.argsort(-lengths, kind="stable")  # longest first: the groups still going are a prefix
    by_length, first = lengths[order], starts[order]
    descending = -by_length  # ascending, for searchsorted
    best = rows[first]
    for k in range(1, int(by_length[0])):
        going = int(np.searchsorted(descending, -k, side="left"))  # groups longer than k
        np.maximum(best[:going], rows[first[:going] + k], out=best[:going])
    integer = np.issubdtype(values.dtype, np.integer)
    out = np.empty(len(lengths), dtype=np.int64 if integer else np.float32)
    out[order] = best.sum(axis=1, dtype=np.int64 if integer else None)
    return out


@dataclass(frozen=True, eq=False)
class CentroidScores:
    """Every centroid's score for every query token, and the same quantised to one byte: the candidate
    stages take maxima over many gathered rows, which NumPy gathers and reduces several times faster in
    uint8 than in float32; a score is ``lo + step * byte``, so sums stay comparable across segments.
    Rounding moves a document's sum by well under the gaps that decide the exact-rerank budget."""

    scores: np.ndarray  # (centroids, q) float32
    q8: np.ndarray  # (centroids, q) uint8
    lo: float
    step: float

    @classmethod
    def of(cls, seg: PlaidSegment, query: np.ndarray) -> CentroidScores:
        with one_blas_thread():
            scores = np.ascontiguousarray(seg.centroids @ np.ascontiguousarray(query, dtype=np.float32).T)
        lo, hi = float(scores.min()), float(scores.max())
        step = (hi - lo) / 255 if hi > lo else 1.0
        q8 = np.rint((scores - lo) * (1.0 / step)).astype(np.uint8)
        return cls(scores, q8, lo, step)

    def sum_of_maxima(self, rows: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Per group of ``rows`` (centroid ids, ``lengths`` per group, consecutive): sum over query
        tokens of the best row's score."""
        summed = sum_of_maxima(self.q8, lengths, pick=rows)
        return (summed * self.step + self.lo * self.q8.shape[1]).astype(np.float32)


@dataclass(frozen=True, eq=False)
class Pool:
    """One segment's candidates for one query: local ids, best first by pruned centroid interaction."""

    segment: PlaidSegment
    docs: np.ndarray  # int64 local ids
    approx: np.ndarray  # float32 pruned centroid-interaction scores, descending
    centroid_scores: CentroidScores | None  # stage 3 reuses it


def _probes(seg: PlaidSegment, query: np.ndarray, shared: dict[str, Any] | None) -> tuple[CentroidScores, np.ndarray]:
    """The centroid scores and the probed centroids of ``query``: they depend on the codec alone, so
    segments sharing a codec (every segment merged with fixed centroids) compute them once per query
    through ``shared`` (a dict the caller keeps for one query)."""
    key = seg.codec.id
    if shared is not None and key in shared:
        return shared[key]  # type: ignore[no-any-return]
    cs = CentroidScores.of(seg, query)
    probe = min(seg.n_ivf_probe, cs.scores.shape[0])
    # along rows of the transpose: argpartition down the columns of (centroids, q) is ~10x slower
    best = np.unique(np.argpartition(-cs.scores.T, probe - 1, axis=1)[:, :probe])
    if shared is not None:
        shared[key] = cs, best
    return cs, best


def candidates(seg: PlaidSegment, query: np.ndarray, live: np.ndarray, shared: dict[str, Any] | None = None) -> Pool:
    """Live local ids in the IVF lists of each query token's ``n_ivf_probe`` best centroids, with their
    pruned centroid-interaction score (the doc's probed centroids only), best first."""
    cs, best = _probes(seg, query, shared)
    empty = Pool(seg, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32), cs)
    sizes = seg.ivf_offsets[best + 1] - seg.ivf_offsets[best]
    if sizes.sum() == 0:
        return empty
    # (centroid, doc) incidences of the probed centroids, grouped by doc
    pair_centroid = np.repeat(best, sizes)
    ivf = seg.ivf.view(np.ndarray)  # plain slices of the map: np.memmap's own __getitem__ costs ~10x more
    pair_doc = np.concatenate([ivf[seg.ivf_offsets[c] : seg.ivf_offsets[c + 1]] for c in best])
    keep = live[pair_doc]
    pair_centroid, pair_doc = pair_centroid[keep], pair_doc[keep]
    if len(pair_doc) == 0:
        return empty
    order = np.argsort(pair_doc, kind="stable")
    pair_centroid, pair_doc = pair_centroid[order], pair_doc[order]
    starts = np.flatnonzero(np.r_[True, pair_doc[1:] != pair_doc[:-1]])
    approx = cs.sum_of_maxima(pair_centroid, np.diff(np.r_[starts, len(pair_doc)]))
    ranked = np.argsort(-approx, kind="stable")
    return Pool(seg, pair_doc[starts][ranked].astype(np.int64), approx[ranked], cs)


def every_live(seg: PlaidSegment, query: np.ndarray, live: np.ndarray, shared: dict[str, Any] | None = None) -> Pool:
    """Every live local id as a candidate, scored by full centroid interaction (a restrictive filter:
    the probed IVF lists could miss the few documents that pass it)."""
    cs = _probes(seg, query, shared)[0]
    docs = np.flatnonzero(live).astype(np.int64)
    scores = full_interaction(seg, cs, docs)
    ranked = np.argsort(-scores, kind="stable")
    return Pool(seg, docs[ranked], scores[ranked], cs)


def full_interaction(seg: PlaidSegment, cs: CentroidScores, docs: np.ndarray) -> np.ndarray:
    """Centroid interaction of ``docs`` over all their tokens: sum over query tokens of the max, over the
    doc's tokens, of the score of the token's centroid."""
    if len(docs) == 0:
        return np.zeros(0, dtype=np.float32)
    codes = np.asarray(seg.codes[seg.token_ids(docs)])
    return cs.sum_of_maxima(codes, seg.lengths[docs])


def rerank(seg: PlaidSegment, query: np.ndarray, docs: np.ndarray) -> np.ndarray:
    """Exact MaxSim of ``docs`` (local ids) over their decompressed vectors."""
    if len(docs) == 0:
        return np.zeros(0, dtype=np.float32)
    q = np.ascontiguousarray(query, dtype=np.float32)
    vectors = seg.codec.decompress(*seg.encoded(docs))
    with one_blas_thread():
        sims = vectors @ q.T
    return sum_of_maxima(sims, seg.lengths[docs])


def exact_budget(seg: PlaidSegment) -> int:
    """How many candidates are scored exactly: ``n_full``, or ``n_full_wide`` above 128 dimensions,
    where each decompressed token costs several times more (the 384-d stand-in: 2-bit residuals of
    384 dims). SciFact, stand-in, 300 queries: 128 and 256 both give semantic nDCG@10 0.7251, hybrid
    0.7366 / 0.7363, at about half the time with 128."""
    return int(seg.n_full if seg.dim <= 128 else min(seg.n_full, seg.n_full_wide))


def rank_plaid(pools: Sequence[Pool], query: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
    """Top ``k`` over several segments' candidates: the best ``n_candidates`` of them all by pruned
    centroid interaction are scored by full centroid interaction, the best ``n_full`` of those exactly;
    the rest follow in their approximate order, with scores kept strictly below the exact ones. One
    shared budget instead of one per segment: the cost of a query is the tokens it touches (memory
    bound), wherever they are."""
    out: list[list[tuple[int, float]]] = [[] for _ in pools]
    if not pools or k <= 0:
        return out
    which = np.concatenate([np.full(len(p.docs), i) for i, p in enumerate(pools)]).astype(np.int64)
    if len(which) == 0:
        return out
    docs = np.concatenate([p.docs for p in pools]).astype(np.int64)
    approx = np.concatenate([p.approx for p in pools]).astype(np.float32)
    n_full = max(exact_budget(p.segment) for p in pools)
    n_cand = max(n_full, max(p.segment.n_candidates for p in pools))
    order = np.argsort(-approx, kind="stable")
    cand = order[:n_cand]
    if len(cand) > n_full:  # stage 3: full centroid interaction orders the candidates for the exact budget
        full_ci = np.empty(len(cand), dtype=np.float32)
        for i, p in enumerate(pools):
            mine = which[cand] == i
            if mine.any():
                cs = p.centroid_scores if p.centroid_scores is not None else CentroidScores.of(p.segment, query)
                full_ci[mine] = full_interaction(p.segment, cs, docs[cand[mine]])
        cand = cand[np.argsort(-full_ci, kind="stable")]
    full, rest = cand[:n_full], np.concatenate([cand[n_full:], order[len(cand):]])[: max(0, k - n_full)]
    exact = np.empty(len(full), dtype=np.float32)
    for i, p in enumerate(pools):
        mine = which[full] == i
        if mine.any():
            exact[mine] = rerank(p.segment, query, docs[full[mine]])
    for j in np.argsort(-exact, kind="stable")[:k]:
        out[int(which[full[j]])].append((int(docs[full[j]]), float(exact[j])))
    floor = float(exact.min())
    for rank, j in enumerate(rest):  # below the lowest exact score, in approximate order
        out[int(which[j])].append((int(docs[j]), floor - 1e-3 * (rank + 1)))
    return out
