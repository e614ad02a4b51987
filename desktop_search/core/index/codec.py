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
means decompressing and re-quantising, the error compounding with every merge. Training (k-means)
still uses fast-plaid's ``compute_kmeans``, and decoding matches fast-plaid's
(tests/unit/test_segments.py).

A codec is identified by a digest of its centroids, bucket cutoffs and weights: two segments with the
same digest decode the same codes to the same vectors.

Layout of ``plaid/`` (format 2): ``metadata.json`` (format, nbits, counts, the codec's digest and
drift statistics), ``centroids.npy`` (float16, k x dim), ``bucket_cutoffs.npy``,
``bucket_weights.npy`` (float32), ``codes.npy`` (uint16 below 65,536 centroids, else int32),
``residuals.npy`` (uint8, tokens x dim*nbits/8), ``ivf.npy`` (int32 local doc ids per centroid,
each once) and ``ivf_lengths.npy``. Format 1 is what fast-plaid writes (chunked files, int64 codes
and IVF); it still loads (:func:`load_plaid`).

Stateless functions and immutable values: safe from any thread.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = 2
CHUNK_TOKENS = 16_384  # tokens compressed per matmul (16k x 16k centroids x 4 bytes = 1 GiB at most)


@dataclass(frozen=True, eq=False)
class Codec:
    centroids: np.ndarray  # (k, dim) float16, as stored
    cutoffs: np.ndarray  # (2**nbits - 1,) float32: bucket boundaries of a residual
    weights: np.ndarray  # (2**nbits,) float32: the value each bucket decodes to
    nbits: int
    trained_tokens: int = 0  # tokens the centroids were trained for (0: unknown, fast-plaid's format 1)
    residual_norm: float = 0.0  # mean residual norm of the training sample (0: unknown): drift reference

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
        shifts = np.arange(self.nbits, dtype=np.uint8)
        norm_sum = 0.0
        centroids_t = np.ascontiguousarray(self.centroids32.T)
        for start in range(0, len(tokens), CHUNK_TOKENS):
            chunk = np.asarray(tokens[start : start + CHUNK_TOKENS], dtype=np.float32)
            best = np.argmax(chunk @ centroids_t, axis=1)
            residual = chunk - self.centroids32[best]
            norm_sum += float(np.sqrt(np.einsum("ij,ij->i", residual, residual)).sum())
            buckets = np.searchsorted(self.cutoffs, residual, side="left").astype(np.uint8)  # torch.bucketize
            bits = (buckets[:, :, None] >> shifts) & 1  # (tokens, dim, nbits), low bit first
            packed[start : start + len(chunk)] = np.packbits(bits.reshape(len(chunk), -1), axis=1)
            codes[start : start + len(chunk)] = best
        return norm_sum

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
              heldout: int = 50_000) -> Codec:
        """Centroids by fast-plaid's k-means over the passages ``sample`` (see :func:`training_sample`),
        PLAID's 2**floor(log2(16 sqrt(total_tokens))) of them, and bucket cutoffs/weights from the
        quantiles of held-out residuals, as fast-plaid's ``create`` does. Deterministic for the same input."""
        import torch
        from fast_plaid.search.fast_plaid import compute_kmeans

        dim = int(sample[0].shape[1])
        tensors = [torch.from_numpy(np.ascontiguousarray(v, dtype=np.float16)) for v in sample]
        tokens = sum(len(v) for v in sample)
        total = total_tokens or tokens
        with torch.random.fork_rng():  # fast-plaid samples with the global RNG: same input, same codec
            torch.manual_seed(0)
            centroids = compute_kmeans(documents_embeddings=tensors, dim=dim, device="cpu", kmeans_niters=4,
                                       max_points_per_centroid=256, seed=42, n_samples_kmeans=len(tensors),
                                       num_partitions=_partitions(total)).numpy().astype(np.float16)
        rng = np.random.default_rng(0)
        offsets = np.concatenate([[0], np.cumsum([len(v) for v in sample])])
        take = np.sort(rng.choice(tokens, size=min(tokens, heldout), replace=False))
        doc = np.searchsorted(offsets, take, side="right") - 1
        points = np.stack([sample[d][t - offsets[d]] for d, t in zip(doc.tolist(), take.tolist(), strict=True)])
        points = points.astype(np.float32)
        c32 = centroids.astype(np.float32)
        residual = points - c32[np.argmax(points @ c32.T, axis=1)]
        n = 1 << nbits
        flat = residual.ravel()
        cutoffs = np.quantile(flat, np.arange(1, n) / n).astype(np.float32)
        weights = np.quantile(flat, (np.arange(n) + 0.5) / n).astype(np.float32)
        norm = float(np.sqrt(np.einsum("ij,ij->i", residual, residual)).mean())
        return cls(centroids, cutoffs, weights, nbits, trained_tokens=total, residual_norm=norm)


def training_sample(lengths: np.ndarray, max_tokens: int = 2_000_000) -> np.ndarray:
    """Which passages train a codec: as many as fast-plaid's k-means samples (1 + 16 sqrt(120 n)),
    chosen by a fixed seed, in order, and at most ``max_tokens`` tokens of them (k-means memory and
    time grow with the sample: a 6M-token first flush sampled whole took > 16 min and 9.7 GB here;
    2M tokens still give 61 points to each of the 32,768 centroids of a 6M-token index). Only these
    passages are read (decoded, if need be) for training."""
    n = len(lengths)
    count = min(n, 1 + int(16 * math.sqrt(120 * n)))
    chosen = np.arange(n) if count == n else np.random.default_rng(0).permutation(n)[:count]
    if int(np.asarray(lengths)[chosen].sum()) <= max_tokens:
        return np.sort(chosen)
    order = np.random.default_rng(0).permutation(n)[:count]
    return np.sort(order[np.cumsum(np.asarray(lengths)[order]) <= max_tokens])


def _partitions(tokens: int) -> int:
    return int(2 ** math.floor(math.log2(16 * math.sqrt(max(tokens, 1)))))


# --- on disk -------------------------------------------------------------------------------------
@dataclass
class PlaidData:
    """What a PLAID segment's folder holds, loaded (format 2: codes and residuals memory-mapped)."""

    codec: Codec
    codes: np.ndarray
    residuals: np.ndarray
    ivf: np.ndarray
    ivf_offsets: np.ndarray
    doclens: list[int] | None  # format 1 only (format 2 uses the segment's lengths.npy)
    meta: dict[str, Any]


def write_plaid(path: Path, codec: Codec, lengths: np.ndarray,
                fill: Callable[[np.ndarray, np.ndarray], dict[str, Any]]) -> dict[str, Any]:
    """Write a format-2 PLAID folder; ``fill(codes, residuals)`` writes every token's row into the two
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
    # IVF: each (centroid, doc) once, grouped by centroid
    doc_of_token = np.repeat(np.arange(n_docs, dtype=np.int64), lengths)
    pairs = np.unique(np.asarray(codes, dtype=np.int64) * n_docs + doc_of_token)
    del codes, doc_of_token
    np.save(path / "ivf.npy", (pairs % n_docs).astype(np.int32))
    np.save(path / "ivf_lengths.npy", np.bincount(pairs // n_docs, minlength=codec.k).astype(np.int32))
    np.save(path / "centroids.npy", codec.centroids.astype(np.float16))
    np.save(path / "bucket_cutoffs.npy", codec.cutoffs.astype(np.float32))
    np.save(path / "bucket_weights.npy", codec.weights.astype(np.float32))
    meta = {
        "format": FORMAT, "nbits": codec.nbits, "num_partitions": codec.k, "num_embeddings": n_tokens,
        "num_documents": n_docs, "codec": codec.id, "trained_tokens": codec.trained_tokens,
        "residual_norm": codec.residual_norm, **stats,
    }
    (path / "metadata.json").write_text(json.dumps(meta))
    return stats


def load_plaid(path: Path) -> PlaidData:
    """Read a PLAID folder of either format. Raises OSError/ValueError/KeyError when it is damaged."""
    meta = json.loads((path / "metadata.json").read_text())
    nbits = int(meta["nbits"])
    centroids = np.load(path / "centroids.npy").astype(np.float16)
    cutoffs = np.load(path / "bucket_cutoffs.npy").astype(np.float32)
    weights = np.load(path / "bucket_weights.npy").astype(np.float32)
    codec = Codec(centroids, cutoffs, weights, nbits, int(meta.get("trained_tokens", meta.get("num_embeddings", 0))),
                  float(meta.get("residual_norm", 0.0)))
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
