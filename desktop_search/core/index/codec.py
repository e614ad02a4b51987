"""PLAID's residual codec, and the on-disk form of a PLAID segment's vectors.

A codec is k-means centroids plus ``nbits`` per dimension of quantised residual: a token vector is
stored as the id of its nearest centroid (``codes``) and, per dimension, the bucket its residual falls
in (``residuals``, packed ``8 / nbits`` dimensions a byte, fast-plaid's bit layout). Decoding is
``centroid + bucket weight`` per dimension, normalised.

Why our own writer, when fast-plaid builds the same thing: segments are immutable and merged often,
and a merge must lose nothing. With a codec kept fixed, a merge copies the codes and residual bytes
of its sources verbatim (their decoded vectors cannot change) and only new raw vectors are
compressed, exactly as fast-plaid's ``update`` compresses new documents against an index's existing
centroids. fast-plaid's ``create`` re-trains centroids on whatever it is given, so merging through it
means decompressing and re-quantising, the error compounding with every merge. Training is a bounded
spherical k-means of our own (NumPy, cancellable, cost capped whatever the index size: see
MAX_CENTROIDS); compression and decoding match fast-plaid's (tests/unit/test_segments.py).

A codec is identified by a digest of its centroids, bucket cutoffs and weights: two segments with the
same digest decode the same codes to the same vectors.

Layout of ``plaid/`` (format 3): ``metadata.json`` (format, nbits, counts, the codec's digest and
drift statistics), ``centroids.npy`` (float16, k x dim), ``bucket_cutoffs.npy``,
``bucket_weights.npy`` (float32), ``codes.npy`` (uint16 below 65,536 centroids, else int32),
``residuals.npy`` (uint8, tokens x dim*nbits/8), ``ivf.npy`` (local doc ids per centroid, each
once: uint16 when the segment has at most 65,536 passages, else int32) and ``ivf_lengths.npy``.
The three codec files are hard links to the first segment's where the file system allows (every
segment on one codec shares one copy on disk). Format 2 is the same with an int32 IVF always and its
own copy of the codec; format 1 is what fast-plaid writes (chunked files,
int64 codes and IVF). Both still load (:func:`load_plaid`).

Stateless functions and immutable values: safe from any thread.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = 3
CHUNK_TOKENS = 16_384  # tokens compressed per matmul at most (fewer with many centroids: _score_rows)


@dataclass(frozen=True, eq=False)
class Codec:
    centroids: np.ndarray  # (k, dim) float16, as stored
    cutoffs: np.ndarray  # (2**nbits - 1,) float32: bucket boundaries of a residual
    weights: np.ndarray  # (2**nbits,) float32: the value each bucket decodes to
    nbits: int
    trained_tokens: int = 0  # tokens the centroids were trained for (0: unknown, fast-plaid's format 1)
    residual_norm: float = 0.0  # mean residual norm of the training sample (0: unknown): drift reference
    origin: Path | None = None  # the plaid/ folder it was loaded from (its files are linked, not copied)

    @property
    def dim(self) -> int:
        return int(self.centroids.shape[1])

    @property
    def k(self) -> int:
        return int(self.centroids.shape[0])

    @cached_property
    def id(self) -> str:
        digest = hashlib.blake2b(digest_size=12)
        for part in (self.centroids.astype(np.float16), self.cutoffs.astype(np.float32),
                     self.weights.astype(np.float32)):
            digest.update(np.ascontiguousarray(part).tobytes())
        digest.update(str(self.nbits).encode())
        return digest.hexdigest()

    @cached_property
    def centroids32(self) -> np.ndarray:
        return self.centroids.astype(np.float32)

    @cached_property
    def lut(self) -> np.ndarray:
        """byte -> the residual weights of the ``8 / nbits`` dims it packs (bits most-significant first,
        the first bit of each dim the low bit of its bucket index: fast-plaid's layout)."""
        per_byte = 8 // self.nbits
        bits = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1).reshape(256, per_byte, self.nbits)
        buckets = (bits * (1 << np.arange(self.nbits))).sum(-1)
        return self.weights.astype(np.float32)[buckets]  # (256, per_byte)

    def code_dtype(self) -> type[np.integer[Any]]:
        return np.uint16 if self.k <= 65_536 else np.int32

    # --- compress / decompress -------------------------------------------------------------------
    def compress(self, tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """Codes, packed residuals and the sum of residual norms (drift) of ``tokens`` (n x dim)."""
        codes = np.empty(len(tokens), dtype=self.code_dtype())
        packed = np.empty((len(tokens), self.dim * self.nbits // 8), dtype=np.uint8)
        return codes, packed, self.compress_into(tokens, codes, packed)

    def compress_into(self, tokens: np.ndarray, codes: np.ndarray, packed: np.ndarray) -> float:
        """Compress ``tokens`` into the given rows (arrays or memory maps); returns the residual norm sum."""
        norm_sum = 0.0
        centroids_t = np.ascontiguousarray(self.centroids32.T)
        rows = _score_rows(self.k)  # one (rows x k) float32 score block at a time: 8 MB at most
        for start in range(0, len(tokens), rows):
            chunk = np.asarray(tokens[start : start + rows], dtype=np.float32)
            best = nearest(chunk, centroids_t)
            residual = chunk - self.centroids32[best]
            norm_sum += float(np.sqrt(np.einsum("ij,ij->i", residual, residual)).sum())
            # the bucket is how many cutoffs lie below (searchsorted side="left", torch.bucketize): a
            # compare per cutoff is ~10x faster than searchsorted over a 2-D block, and gives the same
            buckets = np.zeros(residual.shape, dtype=np.uint8)
            for cutoff in self.cutoffs:
                buckets += residual > cutoff
            packed[start : start + len(chunk)] = self.pack(buckets)
            codes[start : start + len(chunk)] = best
        return norm_sum

    @cached_property
    def _reversed_bits(self) -> np.ndarray:
        """bucket -> the bucket with its ``nbits`` bits in reverse order (uint8)."""
        return np.array([int(f"{b:0{self.nbits}b}"[::-1], 2) for b in range(1 << self.nbits)], dtype=np.uint8)

    def pack(self, buckets: np.ndarray) -> np.ndarray:
        """Bucket indexes (tokens x dim, uint8) as packed residual bytes, fast-plaid's layout: ``8 / nbits``
        dims a byte, most significant first, each dim's bits low bit first; i.e. each bucket with its
        ``nbits`` bits reversed, shifted into its slot (2.5x faster than unpacking to bits and packbits)."""
        nbits, per_byte = self.nbits, 8 // self.nbits
        slots = self._reversed_bits[buckets].reshape(len(buckets), -1, per_byte)
        out = np.zeros(slots.shape[:2], dtype=np.uint8)
        for j in range(per_byte):
            out |= slots[:, :, j] << np.uint8(8 - nbits * (j + 1))
        return out

    def decompress(self, codes: np.ndarray, residuals: np.ndarray) -> np.ndarray:
        """Unit-length float32 vectors of the given codes and packed residual rows."""
        # np.take on a 256-row table is several times faster here than torch's advanced indexing
        vectors = np.take(self.lut, residuals, axis=0).reshape(len(codes), self.dim)
        vectors += np.take(self.centroids32, codes, axis=0)
        vectors /= np.sqrt(np.einsum("ij,ij->i", vectors, vectors))[:, None] + 1e-12
        return vectors

    # --- training --------------------------------------------------------------------------------
    @classmethod
    def train(cls, sample: Sequence[np.ndarray], nbits: int, total_tokens: int | None = None,
              heldout: int = 50_000, pace: Callable[[], None] = lambda: None, raw: bool = True) -> Codec:
        """Centroids by spherical k-means over the passages ``sample`` (see :func:`training_sample`),
        :func:`centroid_count` of them, and bucket cutoffs/weights from the quantiles of residuals of
        up to ``heldout`` sample tokens kept out of the k-means, as fast-plaid's ``create`` does. Cost
        and memory are bounded whatever the index size (see KMEANS_POINTS); ``pace()`` runs between
        chunks of work (throttle, cancel). ``raw``: the sample holds raw vectors, so its held-out
        residual norm is the drift reference (decoded ones would set it too low: 0, unknown).
        Deterministic for the same input. Uses PyTorch only where the process already loaded it
        (:func:`nearest`)."""
        lengths = np.array([len(v) for v in sample], dtype=np.int64)
        tokens = int(lengths.sum())
        total = total_tokens or tokens
        # held-out tokens (an eighth of the sample, at most ``heldout``) never seen by the k-means: their
        # residuals set the buckets and the drift reference. In-sample residuals are smaller (the
        # centroids were fitted to them), which made later data look drifted: a SciFact replay rebuilt
        # its whole 1.5M-token index at the end for nothing. Then at most KMEANS_POINTS k-means points,
        # gathered without a float32 copy of the whole sample. (Fewer points per centroid below the cap
        # were tried: 32 per centroid halved a first codec's k-means on 50,800 SciFact tokens, but
        # decoded held-out tokens at cosine 0.9354 vs 0.9356 and cost the test_plaid_search recall
        # 0.95 -> 0.937 on 60 queries: not taken.)
        order = np.random.default_rng(0).permutation(tokens)
        n_held = min(heldout, tokens // 8) if tokens >= 64 else tokens
        points = _gather(sample, lengths, np.sort(order[n_held : n_held + KMEANS_POINTS] if tokens >= 64 else order))
        k = centroid_count(total, len(points))
        centroids = kmeans(points, k, KMEANS_ITERS, pace).astype(np.float16)
        del points
        held = _gather(sample, lengths, np.sort(order[:n_held]))
        c32 = centroids.astype(np.float32)
        residual = held - c32[assign(held, c32, pace)]
        n = 1 << nbits
        # both sets of quantiles from one sort of the residuals (np.quantile per q: the same values)
        levels = np.quantile(residual.ravel(), np.concatenate([np.arange(1, n) / n, (np.arange(n) + 0.5) / n]))
        cutoffs, weights = levels[: n - 1].astype(np.float32), levels[n - 1 :].astype(np.float32)
        norm = float(np.sqrt(np.einsum("ij,ij->i", residual, residual)).mean()) if raw else 0.0
        return cls(centroids, cutoffs, weights, nbits, trained_tokens=total, residual_norm=norm)


# Training cost (issue 14). PLAID's centroid count, 2**floor(log2(16 sqrt(tokens))), is 32,768 at 10M
# tokens and 65,536 at 50M, and every cost of a codec grows with it: compressing a token scores it
# against every centroid (k x dim multiply-adds: at 32,768 centroids, 10M tokens take ~21 TFLOP, most of
# the > 16 min first flush that never finished), k-means costs iterations x points x k x dim, and a
# segment carries k x dim float16 centroids. At 64 dims with 4-bit residuals the residual, not the
# centroid, sets the decoding error, so centroids past a few thousand mostly shorten IVF lists. Hence:
MAX_CENTROIDS = 8_192  # 1 MFLOP to compress a 64-d token; 1 MB of centroids; IVF lists of ~1k docs at 10M tokens
MIN_POINTS_PER_CENTROID = 32  # a small index gets fewer centroids, never ones trained on 1-2 points each
KMEANS_POINTS = 1 << 18  # k-means sees at most 262,144 tokens (32 per centroid at the cap): 64 MB at 64-d
KMEANS_ITERS = 4  # as fast-plaid's create
MIN_SAMPLE_TOKENS = 1 << 18  # training reads at least this many tokens (all of a smaller index)
MAX_SAMPLE_TOKENS = 1 << 19  # and at most this many (the passages it picks, read whole)
# Bound: k-means <= 4 x 262,144 x 8,192 x 64 x 2 = 1.1 TFLOP, memory ~ points + one 8 MB score block
# (tests/benchmarks/bench_codec.py measures it at sample sizes of 1M / 10M / 50M-token indexes).


def centroid_count(total_tokens: int, points: int) -> int:
    """PLAID's count for an index of ``total_tokens``, at most MAX_CENTROIDS and at most one centroid
    per MIN_POINTS_PER_CENTROID training points (a power of two, at least 1)."""
    k = _partitions(total_tokens)
    k = min(k, MAX_CENTROIDS, 1 << max(0, int(math.floor(math.log2(max(points // MIN_POINTS_PER_CENTROID, 1))))))
    return max(1, k)


def planned_centroids(total_tokens: int, heldout: int = 50_000) -> int:
    """How many centroids training would give an index of ``total_tokens`` now (the merge policy's
    growth test): its sample (at most MAX_SAMPLE_TOKENS) less the held-out tokens, at most
    KMEANS_POINTS k-means points, as :meth:`Codec.train` takes them."""
    sample = min(total_tokens, MAX_SAMPLE_TOKENS)
    points = min(sample - (min(heldout, sample // 8) if sample >= 64 else 0), KMEANS_POINTS)
    return centroid_count(total_tokens, points)


def _score_rows(k: int) -> int:
    """Rows per (rows x k) float32 score block: 8 MB at most, whatever k is. Small enough to stay in
    cache for the argmax that reads it back: 50,000 x 1,024 scores took 0.176 s in 2,048-row blocks
    and 0.225 s in 16,384-row ones (measured)."""
    return max(256, min(CHUNK_TOKENS, (1 << 21) // max(k, 1)))


def nearest(rows: np.ndarray, centroids_t: np.ndarray) -> np.ndarray:
    """Per row (float32), the index of its best column of ``centroids_t`` (dim x k) by dot product.

    Through PyTorch when the process has already imported it (an indexing run has: the encoder), else
    NumPy. Its sgemm runs these shapes ~2.5x faster than NumPy's OpenBLAS on this CPU (44,500 x 384 x
    1,024: 226 vs 88 GFLOP/s, 2 threads, measured), and its threads are not the ones a search limits to
    one (plaid_search.one_blas_thread is process-wide). Searching never needs this: a process that only
    searches never loads PyTorch for it. Either way the result is deterministic for the same input."""
    torch = sys.modules.get("torch")
    if torch is not None:
        with torch.inference_mode():
            # writable, C-ordered float32 (copied only if not): torch.from_numpy warns on read-only memory
            scores = (torch.from_numpy(np.require(rows, np.float32, ["C", "W"]))
                      @ torch.from_numpy(np.require(centroids_t, np.float32, ["C", "W"])))
        return np.argmax(scores.numpy(), axis=1)  # NumPy's SIMD argmax: 0.35 ms vs torch's 2.0 (2,048 x 1,024)
    return np.argmax(rows @ centroids_t, axis=1)


def assign(points: np.ndarray, centroids: np.ndarray, pace: Callable[[], None] = lambda: None) -> np.ndarray:
    """Index of each point's best centroid by dot product (unit vectors: the nearest), in blocks."""
    out = np.empty(len(points), dtype=np.int64)
    centroids_t = np.ascontiguousarray(centroids.T, dtype=np.float32)
    rows = _score_rows(len(centroids))
    for start in range(0, len(points), rows):
        out[start : start + rows] = nearest(np.asarray(points[start : start + rows], np.float32), centroids_t)
        pace()
    return out


def kmeans(points: np.ndarray, k: int, iters: int, pace: Callable[[], None] = lambda: None) -> np.ndarray:
    """Spherical k-means (unit centroids, assignment by dot product) over ``points`` (n x dim, float32):
    seeded by k distinct points of a fixed seed; an emptied cluster is re-seeded with a random point.
    Memory: the points, k centroids and one score block; time: iters x n x k x dim multiply-adds."""
    rng = np.random.default_rng(42)
    k = min(k, len(points))
    centroids = points[np.sort(rng.choice(len(points), size=k, replace=False))].astype(np.float32)
    for _ in range(iters):
        labels = assign(points, centroids, pace)
        counts = np.bincount(labels, minlength=k)
        sums = cluster_sums(points, labels, k)
        empty = counts == 0
        if empty.any():
            sums[empty] = points[rng.choice(len(points), size=int(empty.sum()), replace=False)]
        centroids = (sums / (np.linalg.norm(sums, axis=1, keepdims=True) + 1e-12)).astype(np.float32)
    return centroids


def cluster_sums(points: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Per-cluster sums of ``points`` (k x dim) as one sparse (k x n one-hot) float32 product: ~8x
    faster than a float64 bincount per dimension (0.02 vs 0.17 s for 61k x 384, measured), the same
    sums to 1e-6, and no float64 copy of the points."""
    import scipy.sparse  # only training needs it: search never imports it

    one_hot = scipy.sparse.csr_matrix((np.ones(len(labels), np.float32), (labels, np.arange(len(labels)))),
                                      shape=(k, len(labels)))
    return np.asarray(one_hot @ np.asarray(points, dtype=np.float32), dtype=np.float64)


def _gather(sample: Sequence[np.ndarray], lengths: np.ndarray, take: np.ndarray) -> np.ndarray:
    """Tokens ``take`` (sorted positions in the concatenated sample) as float32 rows."""
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    bounds = np.searchsorted(take, offsets)  # take[bounds[d]:bounds[d + 1]] fall in passage d
    out = np.empty((len(take), int(sample[0].shape[1])), dtype=np.float32)
    for d in np.flatnonzero(np.diff(bounds)).tolist():
        lo, hi = int(bounds[d]), int(bounds[d + 1])
        out[lo:hi] = sample[d][take[lo:hi] - offsets[d]]
    return out


def training_sample(lengths: np.ndarray, max_tokens: int = MAX_SAMPLE_TOKENS,
                    min_tokens: int = MIN_SAMPLE_TOKENS) -> np.ndarray:
    """Which passages train a codec: as many as fast-plaid's k-means samples (1 + 16 sqrt(120 n)),
    chosen by a fixed seed, in order; more when those hold under ``min_tokens`` tokens (a small index
    trains on all it has), and at most ``max_tokens`` tokens (training cost and memory stay bounded
    whatever the index size: a 6M-token first flush sampled whole took > 16 min and 9.7 GB here).
    Only these passages are read (decoded, if need be) for training."""
    lengths = np.asarray(lengths)
    n = len(lengths)
    order = np.random.default_rng(0).permutation(n)
    count = min(n, 1 + int(16 * math.sqrt(120 * n)))
    running = np.cumsum(lengths[order])
    if count < n and running[count - 1] < min_tokens:
        count = min(n, int(np.searchsorted(running, min_tokens)) + 1)  # enough passages for min_tokens
    if count == n and running[-1] <= max_tokens:
        return np.arange(n)
    chosen = order[:count][running[:count] <= max_tokens]
    return np.sort(chosen if len(chosen) else order[:1])


def _partitions(tokens: int) -> int:
    return int(2 ** math.floor(math.log2(16 * math.sqrt(max(tokens, 1)))))


# --- on disk -------------------------------------------------------------------------------------
@dataclass
class PlaidData:
    """What a PLAID segment's folder holds, loaded (formats 2-3: codes, residuals and IVF memory-mapped)."""

    codec: Codec
    codes: np.ndarray
    residuals: np.ndarray
    ivf: np.ndarray
    ivf_offsets: np.ndarray
    doclens: list[int] | None  # format 1 only (later formats use the segment's lengths.npy)
    meta: dict[str, Any]


def write_plaid(path: Path, codec: Codec, lengths: np.ndarray,
                fill: Callable[[np.ndarray, np.ndarray], dict[str, Any]]) -> dict[str, Any]:
    """Write a PLAID folder (format 3); ``fill(codes, residuals)`` writes every token's row into the two
    memory-mapped outputs (so a merge never holds the merged segment in memory) and returns statistics
    kept in metadata.json. Not fsynced: the segment writer syncs the whole segment."""
    path.mkdir(parents=True)
    n_docs = len(lengths)
    n_tokens = int(np.sum(lengths))
    codes = np.lib.format.open_memmap(path / "codes.npy", mode="w+", dtype=codec.code_dtype(), shape=(n_tokens,))
    residuals = np.lib.format.open_memmap(path / "residuals.npy", mode="w+", dtype=np.uint8,
                                          shape=(n_tokens, codec.dim * codec.nbits // 8))
    stats = fill(codes, residuals)
    codes.flush()
    residuals.flush()
    del residuals
    ivf, ivf_lengths = build_ivf(codes, np.asarray(lengths, dtype=np.int64), codec.k)
    del codes
    np.save(path / "ivf.npy", ivf)
    np.save(path / "ivf_lengths.npy", ivf_lengths)
    for name, array in (("centroids.npy", codec.centroids.astype(np.float16)),
                        ("bucket_cutoffs.npy", codec.cutoffs.astype(np.float32)),
                        ("bucket_weights.npy", codec.weights.astype(np.float32))):
        _link_or_save(path / name, array, codec.origin / name if codec.origin is not None else None)
    meta = {
        "format": FORMAT, "nbits": codec.nbits, "num_partitions": codec.k, "num_embeddings": n_tokens,
        "num_documents": n_docs, "codec": codec.id, "trained_tokens": codec.trained_tokens,
        "residual_norm": codec.residual_norm, **stats,
    }
    (path / "metadata.json").write_text(json.dumps(meta))
    return stats


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """np.unique of a 1-D array by sort and compare: NumPy 2.4's np.unique took 3.7 s on 4M int64 here,
    sorting 0.05 s (measured), and an IVF is built from tens of millions of keys."""
    ordered = np.sort(values)
    keep = np.empty(len(ordered), dtype=bool)
    keep[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


IVF_CHUNK_TOKENS = 1 << 22  # codes read per step when building an IVF: ~130 MB of int64 temporaries


def build_ivf(codes: np.ndarray, lengths: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The IVF of a segment: each (centroid, doc) once, grouped by centroid, docs ascending within
    one (the sorted unique ``code * n_docs + doc`` of all tokens, as fast-plaid builds it), and the
    list length of each centroid. Built from chunks of whole documents of ``codes`` (a memory map), so
    memory is the unique pairs plus one chunk's temporaries: the whole-array form held ~5 int64 copies
    of every token, and a 43M-token tier merge took the 50M build to a 5.4 GB peak (measured)."""
    n_docs = len(lengths)
    bounds = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    parts: list[np.ndarray] = []  # per chunk: its sorted unique keys (a doc lies in one chunk only)
    counts = np.zeros(k, dtype=np.int64)
    d = 0
    while d < n_docs:
        e = max(d + 1, int(np.searchsorted(bounds, bounds[d] + IVF_CHUNK_TOKENS, side="right")) - 1)
        doc = np.repeat(np.arange(d, e, dtype=np.int64), lengths[d:e])
        keys = sorted_unique(np.asarray(codes[bounds[d] : bounds[e]], dtype=np.int64) * n_docs + doc)
        counts += np.bincount(keys // n_docs, minlength=k)
        parts.append(keys)
        d = e
    ivf = np.empty(int(counts.sum()), dtype=ivf_dtype(n_docs))
    cursor = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)  # next free slot per centroid
    for keys in parts:  # chunks in doc order: each centroid's docs stay ascending
        centroid = keys // n_docs
        here = np.bincount(centroid, minlength=k)
        first_in_chunk = np.concatenate([[0], np.cumsum(here)[:-1]])
        rank = np.arange(len(keys), dtype=np.int64) - first_in_chunk[centroid]  # place within its group
        ivf[cursor[centroid] + rank] = keys % n_docs
        cursor += here
    return ivf, counts.astype(np.int32)


def _link_or_save(target: Path, array: np.ndarray, source: Path | None) -> None:
    """The codec's files: a hard link to the same file of the segment the codec came from (segments
    are immutable, so every segment on one codec shares one copy on disk: at 8,192 centroids that is
    1 MB per segment saved), else a new file (no source, another file system, no hard links)."""
    if source is not None:
        try:
            os.link(source, target)
            return
        except OSError:
            pass
    np.save(target, array)


def ivf_dtype(n_docs: int) -> type[np.integer[Any]]:
    """Local doc ids in the IVF: 2 bytes when they fit (format 3), else 4."""
    return np.uint16 if n_docs <= 65_536 else np.int32


def load_plaid(path: Path) -> PlaidData:
    """Read a PLAID folder of any format (1-3). Raises OSError/ValueError/KeyError when it is damaged."""
    meta = json.loads((path / "metadata.json").read_text())
    nbits = int(meta["nbits"])
    centroids = np.load(path / "centroids.npy").astype(np.float16)
    cutoffs = np.load(path / "bucket_cutoffs.npy").astype(np.float32)
    weights = np.load(path / "bucket_weights.npy").astype(np.float32)
    fmt = int(meta.get("format", 1))
    codec = Codec(centroids, cutoffs, weights, nbits, int(meta.get("trained_tokens", meta.get("num_embeddings", 0))),
                  float(meta.get("residual_norm", 0.0)), origin=path if fmt >= 2 else None)
    if int(meta.get("format", 1)) > FORMAT:
        raise ValueError(f"PLAID format {meta['format']} is newer than this version reads ({FORMAT})")
    ivf_lengths = np.load(path / "ivf_lengths.npy")
    ivf_offsets = np.concatenate([[0], np.cumsum(ivf_lengths)]).astype(np.int64)
    if int(meta.get("format", 1)) >= 2:
        # memory-mapped: pages come in as queries touch them and the OS may drop them again
        codes = np.load(path / "codes.npy", mmap_mode="r")
        residuals = np.load(path / "residuals.npy", mmap_mode="r")
        ivf = np.load(path / "ivf.npy", mmap_mode="r")
        return PlaidData(codec, codes, residuals, ivf, ivf_offsets, None, meta)
    # format 1 (fast-plaid's create): chunked, int64 codes; read into memory once
    chunks = int(meta["num_chunks"])
    codes = np.concatenate([np.load(path / f"{i}.codes.npy") for i in range(chunks)]).astype(np.int32)
    parts = [np.load(path / f"{i}.residuals.npy", mmap_mode="r") for i in range(chunks)]
    residuals = np.concatenate(parts) if chunks > 1 else np.array(parts[0])
    doclens: list[int] = []
    for i in range(chunks):
        doclens += json.loads((path / f"doclens.{i}.json").read_text())
    ivf = np.load(path / "ivf.npy")
    return PlaidData(codec, codes, residuals, ivf, ivf_offsets, doclens, meta)
