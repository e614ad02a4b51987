"""Immutable on-disk segments.

Length (~470 lines): the two segment kinds share one layout, one verification and one liveness
model; the PLAID codec and merging are in codec.py and merge.py.

Layout of ``segments/<name>/``: ``manifest.json`` (kind, counts, sizes of every file, for
verification), ``passage_ids.npy`` (catalog passage id of each local doc), ``lengths.npy`` (tokens
per passage), ``spans8.npy`` + ``spans_wide.npy`` (char spans of each token, relative to its passage,
two bytes a token: spans.py; older segments hold ``spans.npy``, uint16 pairs) and either
``vectors.npy`` (flat: float16 token vectors, scored by exact MaxSim) or ``plaid/`` (PLAID codes and
residuals, see codec.py; data folders from before format 2 hold fast-plaid's own files, which still
load). The manifest of a PLAID segment also names its codec, so merges are planned without opening
segments. A segment is built in ``.tmp-<name>``, fsynced, then renamed; it only counts once the
catalog marks it live in the same transaction that points passages at it.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import stat
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import plaid_search
from .codec import Codec, load_plaid, training_sample, write_plaid
from .plaid_search import Pool, rank_plaid
from .spans import SpanFile, save_spans

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
    codec: Codec | None = None,
) -> Path:
    """Build a segment atomically from raw vectors; returns its final directory. A PLAID segment is
    compressed with ``codec`` when given (fixed centroids, as fast-plaid's update does), else with a
    codec trained on these vectors."""
    lengths = np.array([len(v) for v in vectors], dtype=np.int64)
    if len(lengths) == 0 or lengths.min() == 0:
        raise ValueError("segments hold only passages with at least one token")
    dim = int(vectors[0].shape[1])
    if kind == "flat":
        def body(tmp: Path) -> dict[str, Any]:
            np.save(tmp / "vectors.npy", np.concatenate(vectors).astype(np.float16))
            return {}
    elif kind == "plaid":
        def body(tmp: Path) -> dict[str, Any]:
            use = codec or Codec.train([vectors[i] for i in training_sample(lengths)], nbits or default_nbits(dim),
                                       total_tokens=int(lengths.sum()))
            tokens = np.concatenate(vectors)

            def fill(codes: np.ndarray, residuals: np.ndarray) -> dict[str, Any]:
                norms = use.compress_into(tokens, codes, residuals)  # drift: only with a codec trained before
                return {"residual_norm_sum": norms if codec else 0.0, "measured_tokens": len(tokens) if codec else 0}

            return {"codec": use.id, **write_plaid(tmp / "plaid", use, lengths, fill)}
    else:
        raise ValueError(kind)
    return _commit(root, name, kind, passage_ids, lengths, spans, dim, body)


def write_plaid_segment(
    root: Path, name: str, passage_ids: Sequence[int], lengths: np.ndarray, spans: Sequence[np.ndarray],
    codec: Codec, fill: Callable[[np.ndarray, np.ndarray], dict[str, Any]],
) -> Path:
    """Build a PLAID segment atomically whose codes ``fill(codes, residuals)`` writes (a merge: see
    codec.write_plaid); an exception from ``fill`` (a cancelled merge) leaves nothing behind."""
    lengths = np.asarray(lengths, dtype=np.int64)
    if len(lengths) == 0 or lengths.min() == 0:
        raise ValueError("segments hold only passages with at least one token")

    def body(tmp: Path) -> dict[str, Any]:
        return {"codec": codec.id, **write_plaid(tmp / "plaid", codec, lengths, fill)}

    return _commit(root, name, "plaid", passage_ids, lengths, spans, codec.dim, body)


def _commit(root: Path, name: str, kind: str, passage_ids: Sequence[int], lengths: np.ndarray,
            spans: Sequence[np.ndarray], dim: int, body: Callable[[Path], dict[str, Any]]) -> Path:
    """Write a segment in ``.tmp-<name>``, fsync it, rename it to ``name``."""
    final = root / name
    tmp = root / f".tmp-{name}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        np.save(tmp / "passage_ids.npy", np.asarray(passage_ids, dtype=np.int64))
        np.save(tmp / "lengths.npy", lengths)
        save_spans(tmp, np.concatenate(spans), lengths)
        extra = body(tmp)
        manifest = {
            "kind": kind,
            "n_passages": len(lengths),
            "n_tokens": int(lengths.sum()),
            "dim": dim,
            **extra,
            "files": _file_table(tmp),
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest))
        _fsync_tree(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # a cancelled or failed write leaves nothing behind
        raise
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    fd = os.open(root, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return final


def read_manifest(path: Path) -> dict[str, Any]:
    """A segment's manifest without opening the segment (merge policy, status)."""
    try:
        return dict(json.loads((path / MANIFEST).read_text()))
    except (OSError, ValueError) as exc:
        raise SegmentDamaged(f"segment {path.name}: unreadable manifest ({type(exc).__name__})") from exc


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
            self._spans = SpanFile(path)
        except (OSError, ValueError) as exc:
            raise SegmentDamaged(f"segment {path.name}: {exc}") from exc

    def spans(self, local: int) -> np.ndarray:
        return self._spans.of(np.arange(self.offsets[local], self.offsets[local + 1]), self.lengths[[local]])

    def token_ids(self, locals_: Sequence[int] | np.ndarray) -> np.ndarray:
        """Row numbers of the tokens of passages ``locals_``, in that order."""
        docs = np.asarray(locals_, dtype=np.int64)
        lengths = self.lengths[docs]
        shift = np.repeat(self.offsets[docs] - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
        return np.arange(int(lengths.sum()), dtype=np.int64) + shift

    def spans_of(self, locals_: Sequence[int] | np.ndarray) -> np.ndarray:
        """The spans of passages ``locals_``, concatenated in that order (merges)."""
        return self._spans.of(self.token_ids(locals_), self.lengths[np.asarray(locals_, dtype=np.int64)])

    def vectors(self, locals_: Sequence[int]) -> list[np.ndarray]:
        raise NotImplementedError

    def search(self, query: np.ndarray, k: int, live: np.ndarray) -> list[tuple[int, float]]:
        """Top ``k`` live local ids by MaxSim; ``live`` is a bool mask over local ids."""
        raise NotImplementedError

    def close(self) -> None:
        pass


def maxsim_all(data: np.ndarray, offsets: np.ndarray, query: np.ndarray, chunk_tokens: int = 131072) -> np.ndarray:
    """Exact MaxSim of every passage of ``data`` (tokens x dim; passage i is rows offsets[i]:offsets[i+1]).
    PyTorch's matmul when the process has it loaded already (~1.5x faster here); else NumPy, so a
    process that only searches never imports PyTorch (see encoder/light_query.py)."""
    torch = sys.modules.get("torch")
    q = np.ascontiguousarray(query, dtype=np.float32)
    tq = torch.from_numpy(q) if torch is not None else None
    n = len(offsets) - 1
    out = np.empty(n, dtype=np.float32)
    p = 0
    while p < n:
        hi = int(np.searchsorted(offsets, offsets[p] + chunk_tokens, side="right")) - 1
        hi = max(hi, p + 1)
        t0, t1 = int(offsets[p]), int(offsets[hi])
        if torch is not None:
            sims = (torch.from_numpy(np.asarray(data[t0:t1])).float() @ tq.T).numpy()  # (tokens, q)
        else:
            sims = np.asarray(data[t0:t1], dtype=np.float32) @ q.T
        out[p:hi] = plaid_search.sum_of_maxima(sims, np.diff(offsets[p : hi + 1]))
        p = hi
    return out


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
        return maxsim_all(self._all(), self.offsets, query, chunk_tokens)

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
    """A PLAID segment: k-means centroids + residuals packed in ``nbits`` per dim (see codec.py),
    searched here in float32 NumPy. fast-plaid's own CPU search runs its matmuls in float16, which CPUs
    without native fp16 arithmetic execute slowly: seconds per query on 1M tokens on this machine.

    Search is PLAID's, in plaid_search.py: the IVF lists of each query token's ``n_ivf_probe`` best
    centroids give candidates; the best ``n_candidates`` by pruned centroid interaction are scored by
    full centroid interaction (codes only); the best ``n_full`` of those by exact MaxSim.

    Codes, residuals and the IVF are memory-mapped (format 2): an idle segment costs little resident
    memory, and pages a query touched stay in the page cache.
    """

    kind = "plaid"
    # search budgets (plaid_search.py; class attributes so benchmarks can sweep them): probes per query
    # token, candidates scored by full centroid interaction, and of those the exact-rerank budget.
    # Recall@10 against exact MaxSim (tests/benchmarks/bench_recall.py, results/recall.md: the stand-in's
    # SciFact vectors projected to 64-d, 8,192 centroids, 50 queries), 2,048 candidates, exact budget
    # 128: 0.976 / 0.956 / 0.936 at 1M / 3M / 10M tokens; 192: 0.99 / 0.968 / 0.950; 256: 0.960 at 10M.
    # The old search (no full centroid interaction, 96 exact): 0.882 / 0.88 / 0.846. More candidates or
    # probes gained <= 0.006 there: the exact budget decides the rest (near-duplicate documents). On the
    # 10M index bench_scale.py builds through the product (vectors without meaning, 60 queries) probes
    # decide instead: 4 probes 0.925, 8 probes 0.955 (16 / 1,024 exact: 0.967), a 2x exact budget
    # gained nothing; 8 probes cost +8 ms store p95 there and 0-4 ms on SciFact, whose nDCG@10 is the
    # same (semantic 0.7251, hybrid 0.7375).
    n_ivf_probe = 8
    n_candidates = 2048
    n_full = 256
    n_full_wide = 128  # the exact budget above 128 dimensions (plaid_search.exact_budget)

    def __init__(self, path: Path):
        super().__init__(path)
        try:
            data = load_plaid(path / "plaid")
        except (OSError, ValueError, KeyError) as exc:
            raise SegmentDamaged(f"segment {path.name}: {type(exc).__name__}: {exc}") from exc
        self.codec = data.codec
        self.nbits = self.codec.nbits
        self.centroids = self.codec.centroids32
        self.codes = data.codes
        self.residuals = data.residuals
        self.ivf = data.ivf
        self.ivf_offsets = data.ivf_offsets
        self.plaid_meta = data.meta
        lengths_ok = data.doclens is None or list(data.doclens) == self.lengths.tolist()
        if not lengths_ok or len(self.codes) != int(self.lengths.sum()) or len(self.residuals) != len(self.codes):
            raise SegmentDamaged(f"segment {path.name}: PLAID index disagrees with the segment's passages")
        if self.codec.dim != self.dim:
            raise SegmentDamaged(f"segment {path.name}: centroids are not {self.dim}-dimensional")
        self._centroids_t = np.ascontiguousarray(self.centroids.T)

    @property
    def codec_id(self) -> str:
        return self.codec.id

    def _decompress(self, tokens: np.ndarray) -> np.ndarray:
        return self.codec.decompress(self.codes[tokens], self.residuals[tokens])

    def encoded(self, locals_: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """The stored codes and packed residuals of ``locals_``' tokens, in order (lossless merges)."""
        tokens = self._token_ids(np.asarray(locals_, dtype=np.int64))
        return np.asarray(self.codes[tokens]), np.asarray(self.residuals[tokens])

    def decoded_all(self, chunk_tokens: int = 65536) -> np.ndarray:
        """Every token decoded, float16 (tokens x dim): exact scoring of the whole segment
        (``eval --exact``); the caller decides how long to keep it."""
        out = np.empty((len(self.codes), self.dim), dtype=np.float16)
        for start in range(0, len(self.codes), chunk_tokens):
            out[start : start + chunk_tokens] = self._decompress(np.arange(start, min(start + chunk_tokens,
                                                                                      len(self.codes))))
        return out

    @property
    def residual_norm(self) -> float:
        """Mean residual norm of the raw vectors compressed into this segment with a codec trained
        before them (its drift measure; 0: none or unknown)."""
        measured = float(self.plaid_meta.get("measured_tokens", 0))
        return float(self.plaid_meta.get("residual_norm_sum", 0.0)) / measured if measured else 0.0

    def _token_ids(self, docs: np.ndarray) -> np.ndarray:
        lengths = self.lengths[docs]
        starts = self.offsets[docs]
        shift = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
        return np.arange(int(lengths.sum())) + shift

    def vectors(self, locals_: Sequence[int]) -> list[np.ndarray]:
        return [self._decompress(np.arange(self.offsets[i], self.offsets[i + 1])) for i in locals_]

    def candidates(self, query: np.ndarray, live: np.ndarray, shared: dict[str, Any] | None = None) -> Pool:
        """Live local ids of the probed IVF lists, best first (see plaid_search.candidates; ``shared``:
        one dict per query, so segments on one codec score its centroids once)."""
        return plaid_search.candidates(self, query, live, shared)

    def rerank(self, query: np.ndarray, docs: np.ndarray) -> np.ndarray:
        """Exact MaxSim of ``docs`` (local ids) over their decompressed vectors."""
        return plaid_search.rerank(self, query, np.asarray(docs, dtype=np.int64))

    def search(self, query: np.ndarray, k: int, live: np.ndarray) -> list[tuple[int, float]]:
        """Top ``k`` of this segment alone (the store ranks several segments together, see
        :func:`rank_plaid`)."""
        return rank_plaid([self.candidates(query, live)], query, k)[0]

    def close(self) -> None:  # drop the maps (a mapped file keeps its folder's space until unmapped)
        self.residuals = np.zeros((0, 1), dtype=np.uint8)
        self.codes = np.zeros(0, dtype=np.int32)
        self.ivf = np.zeros(0, dtype=np.int32)


def open_segment(path: Path, kind: str) -> Segment:
    if kind == "flat":
        return FlatSegment(path)
    if kind == "plaid":
        return PlaidSegment(path)
    raise SegmentDamaged(f"unknown segment kind {kind}")
