"""Immutable on-disk segments.

Layout of ``segments/<name>/``: ``manifest.json`` (kind, counts, sizes of every file, for
verification), ``passage_ids.npy`` (catalog passage id of each local doc), ``lengths.npy`` (tokens
per passage), ``spans.npy`` (uint16 char spans of each token, relative to its passage) and either
``vectors.npy`` (flat: float16 token vectors, scored by exact MaxSim) or ``plaid/`` (a fast-plaid
index). A segment is built in ``.tmp-<name>``, fsynced, then renamed; it only counts once the
catalog marks it live in the same transaction that points passages at it.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

MANIFEST = "manifest.json"


class SegmentDamaged(Exception):
    pass


def _fsync_tree(path: Path) -> None:
    for root, _dirs, files in os.walk(path):
        for name in files:
            fd = os.open(os.path.join(root, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fd = os.open(root, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def file_digest(path: str | Path) -> str:
    """blake2b-128 of a file's bytes: segment checksums and the indexer's change detection."""
    digest = hashlib.blake2b(digest_size=16)
    # O_NONBLOCK: a regular file swapped for a FIFO after the scan must not block the indexer for good
    # (opening a FIFO for reading waits for a writer); anything but a regular file is refused.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(errno.EINVAL, "not a regular file", str(path))
    with open(fd, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _file_table(path: Path) -> dict[str, list[Any]]:
    """[size, checksum] of every file; fast-plaid's lock and its load-time merged copies are not part of it."""
    table: dict[str, list[Any]] = {}
    for f in sorted(path.rglob("*")):
        if f.is_file() and f.name != MANIFEST and not f.name.endswith(".lock") and not f.name.startswith("merged"):
            table[str(f.relative_to(path))] = [f.stat().st_size, file_digest(f)]
    return table


def verify_dir(path: Path, deep: bool = False) -> list[str]:
    """Problems with a segment on disk: missing or truncated files (and, when deep, changed bytes)."""
    try:
        manifest = json.loads((path / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        return [f"unreadable manifest ({type(exc).__name__})"]
    problems = []
    for rel, (size, checksum) in manifest.get("files", {}).items():
        f = path / rel
        if not f.is_file():
            problems.append(f"missing {rel}")
        elif f.stat().st_size != size:
            problems.append(f"{rel} has the wrong size")
        elif deep and file_digest(f) != checksum:
            problems.append(f"{rel} is corrupt (checksum)")
    return problems


def default_nbits(dim: int) -> int:
    return 4 if dim <= 128 else 2


def write_segment(
    root: Path,
    name: str,
    kind: str,
    passage_ids: Sequence[int],
    vectors: Sequence[np.ndarray],
    spans: Sequence[np.ndarray],
    nbits: int = 0,
) -> Path:
    """Build a segment atomically; returns its final directory."""
    final = root / name
    tmp = root / f".tmp-{name}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    lengths = np.array([len(v) for v in vectors], dtype=np.int64)
    if len(lengths) == 0 or lengths.min() == 0:
        raise ValueError("segments hold only passages with at least one token")
    dim = int(vectors[0].shape[1])
    np.save(tmp / "passage_ids.npy", np.asarray(passage_ids, dtype=np.int64))
    np.save(tmp / "lengths.npy", lengths)
    np.save(tmp / "spans.npy", np.concatenate(spans).astype(np.uint16))
    if kind == "flat":
        np.save(tmp / "vectors.npy", np.concatenate(vectors).astype(np.float16))
    elif kind == "plaid":
        _build_plaid(tmp / "plaid", vectors, nbits or default_nbits(dim))
    else:
        raise ValueError(kind)
    manifest = {
        "kind": kind,
        "n_passages": len(lengths),
        "n_tokens": int(lengths.sum()),
        "dim": dim,
        "files": _file_table(tmp),
    }
    (tmp / MANIFEST).write_text(json.dumps(manifest))
    _fsync_tree(tmp)
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    fd = os.open(root, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return final


def _build_plaid(path: Path, vectors: Sequence[np.ndarray], nbits: int) -> None:
    import torch
    from fast_plaid import search as fp_search

    index = fp_search.FastPlaid(index=str(path), device="cpu")
    tensors = [torch.from_numpy(np.ascontiguousarray(v, dtype=np.float16)) for v in vectors]
    # start_from_scratch=0: never keep a raw copy of the vectors (we never use fast-plaid's update)
    with torch.random.fork_rng():  # fast-plaid samples k-means points with the global RNG: same input, same index
        torch.manual_seed(0)
        index.create(documents_embeddings=tensors, nbits=nbits, start_from_scratch=0, kmeans_niters=4)
    index.close()
    for copy in path.glob("merged_*"):  # load-time copies for fast-plaid's own search, which we do not use
        copy.unlink()


class Segment:
    kind = "?"

    def __init__(self, path: Path):
        self.path = path
        try:
            self.manifest: dict[str, Any] = json.loads((path / MANIFEST).read_text())
            self.passage_ids = np.load(path / "passage_ids.npy")
            self.lengths = np.load(path / "lengths.npy")
        except (OSError, ValueError) as exc:
            raise SegmentDamaged(f"segment {path.name}: {exc}") from exc
        self.offsets = np.concatenate([[0], np.cumsum(self.lengths)])
        self.n_passages = len(self.passage_ids)
        self.dim = int(self.manifest["dim"])
        try:  # mapped now: an open segment keeps working if another process deletes its folder
            self._spans = np.load(path / "spans.npy", mmap_mode="r")
        except (OSError, ValueError) as exc:
            raise SegmentDamaged(f"segment {path.name}: {exc}") from exc

    def spans(self, local: int) -> np.ndarray:
        return np.asarray(self._spans[self.offsets[local] : self.offsets[local + 1]])

    def vectors(self, locals_: Sequence[int]) -> list[np.ndarray]:
        raise NotImplementedError

    def search(self, query: np.ndarray, k: int, live: np.ndarray) -> list[tuple[int, float]]:
        """Top ``k`` live local ids by MaxSim; ``live`` is a bool mask over local ids."""
        raise NotImplementedError

    def close(self) -> None:
        pass


class FlatSegment(Segment):
    kind = "flat"

    def __init__(self, path: Path):
        super().__init__(path)
        try:
            self._vectors = np.load(path / "vectors.npy", mmap_mode="r")
        except (OSError, ValueError) as exc:
            raise SegmentDamaged(f"segment {path.name}: {exc}") from exc
        if self._vectors.shape != (self.manifest["n_tokens"], self.dim):
            raise SegmentDamaged(f"segment {path.name}: vectors have the wrong shape")
        self._loaded: np.ndarray | None = None

    def _all(self) -> np.ndarray:
        if self._loaded is None:
            self._loaded = np.array(self._vectors)  # a private in-memory copy: queries never touch the disk
        return self._loaded

    def vectors(self, locals_: Sequence[int]) -> list[np.ndarray]:
        data = self._all()
        return [np.asarray(data[self.offsets[i] : self.offsets[i + 1]], dtype=np.float32) for i in locals_]

    def scores(self, query: np.ndarray, chunk_tokens: int = 131072) -> np.ndarray:
        """Exact MaxSim of every local passage."""
        import torch

        data = self._all()
        q = torch.from_numpy(np.ascontiguousarray(query, dtype=np.float32))
        out = np.empty(self.n_passages, dtype=np.float32)
        p = 0
        while p < self.n_passages:
            hi = int(np.searchsorted(self.offsets, self.offsets[p] + chunk_tokens, side="right")) - 1
            hi = max(hi, p + 1)
            t0, t1 = int(self.offsets[p]), int(self.offsets[hi])
            block = torch.from_numpy(np.asarray(data[t0:t1])).float()
            sims = (block @ q.T).numpy()  # (tokens, q)
            maxes = np.maximum.reduceat(sims, (self.offsets[p:hi] - t0).astype(np.int64), axis=0)
            out[p:hi] = maxes.sum(axis=1)
            p = hi
        return out

    def search(self, query: np.ndarray, k: int, live: np.ndarray) -> list[tuple[int, float]]:
        scores = self.scores(query)
        scores[~live] = -np.inf
        k = min(k, int(live.sum()))
        if k <= 0:
            return []
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [(int(i), float(scores[i])) for i in top]


class PlaidSegment(Segment):
    """A PLAID segment: built by fast-plaid (k-means centroids + residuals packed in ``nbits`` per dim),
    searched here in float32 NumPy. fast-plaid's own CPU search runs its matmuls in float16, which CPUs
    without native fp16 arithmetic execute slowly: seconds per query on 1M tokens on this machine.

    Search is PLAID's: query tokens score every centroid; the documents in the IVF lists of each query
    token's best centroids are candidates; candidates are ranked by centroid interaction (each doc token
    stands in by its centroid's score); the best ``n_full`` are decompressed and scored by exact MaxSim.
    """

    kind = "plaid"
    n_ivf_probe = 4
    n_full = 96

    def __init__(self, path: Path):
        super().__init__(path)
        plaid = path / "plaid"
        try:
            meta = json.loads((plaid / "metadata.json").read_text())
            self.nbits = int(meta["nbits"])
            self.centroids = np.load(plaid / "centroids.npy").astype(np.float32)
            chunks = int(meta["num_chunks"])
            self.codes = np.concatenate([np.load(plaid / f"{i}.codes.npy") for i in range(chunks)]).astype(np.int32)
            residuals = [np.load(plaid / f"{i}.residuals.npy", mmap_mode="r") for i in range(chunks)]
            # in memory: queries gather scattered rows (nbits * dim / 8 bytes per token)
            self.residuals = np.concatenate(residuals) if chunks > 1 else np.array(residuals[0])
            doclens: list[int] = []
            for i in range(chunks):
                doclens += json.loads((plaid / f"doclens.{i}.json").read_text())
            self.ivf = np.load(plaid / "ivf.npy")
            self.ivf_offsets = np.concatenate([[0], np.cumsum(np.load(plaid / "ivf_lengths.npy"))]).astype(np.int64)
            weights = np.load(plaid / "bucket_weights.npy").astype(np.float32)
        except (OSError, ValueError, KeyError) as exc:
            raise SegmentDamaged(f"segment {path.name}: {type(exc).__name__}: {exc}") from exc
        if list(doclens) != self.lengths.tolist() or len(self.codes) != int(self.lengths.sum()):
            raise SegmentDamaged(f"segment {path.name}: PLAID index disagrees with the segment's passages")
        self._centroids_t = np.ascontiguousarray(self.centroids.T)
        # byte -> the residual weights of the 8/nbits dims it packs (bits most-significant first,
        # first bit of each dim the low bit of its bucket index: fast-plaid's layout)
        bits = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1).reshape(256, 8 // self.nbits, self.nbits)
        buckets = (bits * (1 << np.arange(self.nbits))).sum(-1)
        self._lut = weights[buckets]  # (256, 8 // nbits)

    def _decompress(self, tokens: np.ndarray) -> np.ndarray:
        # np.take on a 256-row table is several times faster here than torch's advanced indexing
        vectors = np.take(self._lut, self.residuals[tokens], axis=0).reshape(len(tokens), self.dim)
        vectors += np.take(self.centroids, self.codes[tokens], axis=0)
        vectors /= np.sqrt(np.einsum("ij,ij->i", vectors, vectors))[:, None] + 1e-12
        return vectors

    def _token_ids(self, docs: np.ndarray) -> np.ndarray:
        lengths = self.lengths[docs]
        starts = self.offsets[docs]
        shift = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
        return np.arange(int(lengths.sum())) + shift

    def vectors(self, locals_: Sequence[int]) -> list[np.ndarray]:
        return [self._decompress(np.arange(self.offsets[i], self.offsets[i + 1])) for i in locals_]

    def _maxsim(self, token_scores: np.ndarray, docs: np.ndarray) -> np.ndarray:
        """Sum over query tokens of the max over each doc's tokens; token_scores is (tokens, q)."""
        bounds = np.concatenate([[0], np.cumsum(self.lengths[docs])[:-1]])
        return np.maximum.reduceat(token_scores, bounds, axis=0).sum(axis=1)

    def candidates(self, query: np.ndarray, live: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Live local ids in the IVF lists of each query token's best centroids, and their centroid
        interaction score (each doc token stands in by its centroid's score; pruned to the probed
        centroids), best first."""
        query = np.ascontiguousarray(query, dtype=np.float32)
        empty = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        scores = query @ self._centroids_t  # (q, centroids)
        probe = min(self.n_ivf_probe, scores.shape[1])
        best = np.unique(np.argpartition(-scores, probe - 1, axis=1)[:, :probe])
        sizes = self.ivf_offsets[best + 1] - self.ivf_offsets[best]
        if sizes.sum() == 0:
            return empty
        # (centroid, doc) incidences of the probed centroids, grouped by doc; centroids as positions in
        # ``best`` so the score gather reads a small (q, probed) matrix
        pair_centroid = np.repeat(np.arange(len(best)), sizes)
        pair_doc = np.concatenate([self.ivf[self.ivf_offsets[c] : self.ivf_offsets[c + 1]] for c in best])
        keep = live[pair_doc]
        pair_centroid, pair_doc = pair_centroid[keep], pair_doc[keep]
        if len(pair_doc) == 0:
            return empty
        order = np.argsort(pair_doc, kind="stable")
        pair_centroid, pair_doc = pair_centroid[order], pair_doc[order]
        starts = np.flatnonzero(np.r_[True, pair_doc[1:] != pair_doc[:-1]])
        probed = np.ascontiguousarray(scores[:, best])
        approx = np.maximum.reduceat(probed[:, pair_centroid], starts, axis=1).sum(axis=0)
        ranked = np.argsort(-approx, kind="stable")
        return pair_doc[starts][ranked].astype(np.int64), approx[ranked]

    def rerank(self, query: np.ndarray, docs: np.ndarray) -> np.ndarray:
        """Exact MaxSim of ``docs`` (local ids) over their decompressed vectors."""
        if len(docs) == 0:
            return np.zeros(0, dtype=np.float32)
        query = np.ascontiguousarray(query, dtype=np.float32)
        return self._maxsim(self._decompress(self._token_ids(docs)) @ query.T, docs)

    def search(self, query: np.ndarray, k: int, live: np.ndarray) -> list[tuple[int, float]]:
        """Top ``k`` of this segment alone (the store ranks several segments together, see
        :func:`rank_plaid`)."""
        return rank_plaid([(self, *self.candidates(query, live))], query, k)[0]

    def close(self) -> None:
        self.residuals = np.zeros((0, 1), dtype=np.uint8)


def rank_plaid(
    pools: Sequence[tuple[PlaidSegment, np.ndarray, np.ndarray]], query: np.ndarray, k: int
) -> list[list[tuple[int, float]]]:
    """Top ``k`` over several PLAID segments' candidates (segment, local ids, centroid-interaction
    scores): the best ``n_full`` of them all are decompressed and scored exactly, the rest follow in
    centroid-interaction order with scores kept strictly below the exact ones. One shared budget of
    exact scoring instead of one per segment: decompressing is the cost of a query (memory bound)."""
    out: list[list[tuple[int, float]]] = [[] for _ in pools]
    if not pools or k <= 0:
        return out
    which = np.concatenate([np.full(len(docs), i) for i, (_, docs, _) in enumerate(pools)]).astype(np.int64)
    docs = np.concatenate([d for _, d, _ in pools]).astype(np.int64)
    approx = np.concatenate([a for _, _, a in pools]).astype(np.float32)
    if len(docs) == 0:
        return out
    n_full = max(seg.n_full for seg, _, _ in pools)
    order = np.argsort(-approx, kind="stable")
    full, rest = order[:n_full], order[n_full:k] if k > n_full else order[:0]
    exact = np.empty(len(full), dtype=np.float32)
    for i, (seg, _, _) in enumerate(pools):
        mine = which[full] == i
        if mine.any():
            exact[mine] = seg.rerank(query, docs[full[mine]])
    ranked = np.argsort(-exact, kind="stable")[:k]
    for j in ranked:
        out[int(which[full[j]])].append((int(docs[full[j]]), float(exact[j])))
    if len(rest):  # approximate scores below the lowest exact one, so merged lists stay ordered
        floor = float(exact.min())
        top_rest = float(approx[rest[0]])
        for j in rest:
            out[int(which[j])].append((int(docs[j]), floor - 1e-3 - (top_rest - float(approx[j]))))
    return out


def open_segment(path: Path, kind: str) -> Segment:
    if kind == "flat":
        return FlatSegment(path)
    if kind == "plaid":
        return PlaidSegment(path)
    raise SegmentDamaged(f"unknown segment kind {kind}")
