"""Immutable on-disk segments.

Layout of ``segments/<name>/``: ``manifest.json`` (kind, counts, sizes of every file, for
verification), ``passage_ids.npy`` (catalog passage id of each local doc), ``lengths.npy`` (tokens
per passage), ``spans.npy`` (uint16 char spans of each token, relative to its passage) and either
``vectors.npy`` (flat: float16 token vectors, scored by exact MaxSim) or ``plaid/`` (a fast-plaid
index). A segment is built in ``.tmp-<name>``, fsynced, then renamed; it only counts once the
catalog marks it live in the same transaction that points passages at it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
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
    with open(path, "rb") as handle:
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
    index.create(documents_embeddings=tensors, nbits=nbits, start_from_scratch=0, kmeans_niters=4)
    index.close()


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
        self._spans: np.ndarray | None = None

    def spans(self, local: int) -> np.ndarray:
        if self._spans is None:
            self._spans = np.load(self.path / "spans.npy", mmap_mode="r")
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
    kind = "plaid"
    n_ivf_probe = 8
    n_full_scores = 1024

    def __init__(self, path: Path):
        super().__init__(path)
        if not (path / "plaid").is_dir():
            raise SegmentDamaged(f"segment {path.name}: no plaid index")
        try:
            import contextlib
            import io

            from fast_plaid import search as fp_search

            with contextlib.redirect_stdout(io.StringIO()):
                self._index = fp_search.FastPlaid(index=str(path / "plaid"), device="cpu")
        except Exception as exc:
            raise SegmentDamaged(f"segment {path.name}: {type(exc).__name__}: {exc}") from exc

    def vectors(self, locals_: Sequence[int]) -> list[np.ndarray]:
        if not locals_:
            return []
        got = self._index.get_embeddings(subset=[int(i) for i in locals_])
        return [t.float().numpy() for t in got]

    def search(self, query: np.ndarray, k: int, live: np.ndarray) -> list[tuple[int, float]]:
        import torch

        n_live = int(live.sum())
        k = min(k, n_live)
        if k <= 0:
            return []
        subset = None if n_live == self.n_passages else np.nonzero(live)[0].tolist()
        q = torch.from_numpy(np.ascontiguousarray(query, dtype=np.float32)).unsqueeze(0)
        hits = self._index.search(
            queries_embeddings=q, top_k=k, n_full_scores=max(self.n_full_scores, k),
            n_ivf_probe=self.n_ivf_probe, show_progress=False, subset=subset,
        )[0]
        return [(int(i), float(s)) for i, s in hits]

    def close(self) -> None:
        self._index.close()


def open_segment(path: Path, kind: str) -> Segment:
    if kind == "flat":
        return FlatSegment(path)
    if kind == "plaid":
        return PlaidSegment(path)
    raise SegmentDamaged(f"unknown segment kind {kind}")
