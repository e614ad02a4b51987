"""Recall of PLAID candidate generation against exact MaxSim, and its search time (issue 14).

    python tests/benchmarks/bench_recall.py [--sizes 1M,3M,10M] [--codes-from 1M] [--queries 50]
        [--work DIR] [--source DATA_DIR] [--standin MODEL] [--tiny-data DIR ...] [--grid p:c:f,...]

What it measures, per index and per setting of the search budgets (PlaidSegment.n_ivf_probe,
n_candidates, n_full; see desktop_search/core/index/plaid_search.py): recall@10 of the PLAID search
against exact MaxSim over the same index's decoded vectors (so only candidate generation is judged),
and the search's wall and CPU p50/p95 per query (no query encoding, no catalog).

Vectors **with semantic structure at 64 dimensions**, built without encoding:

- The stand-in model's (MiniLM ColBERT, 384-d) raw token vectors of SciFact, read from the flat
  segments of an eval index (``--source``, default the shared SciFact eval index; archived flat
  segments hold the raw vectors), projected to 64-d with a fixed random orthogonal projection (seed 0)
  and renormalised.
- Synthetic documents recombine those abstracts' vector blocks: each is one abstract, or (half the
  time) the first half of one and the second half of another, every copy perturbed by Gaussian noise
  (sigma 0.0125 per dimension, ~0.1 in norm) and renormalised, until the size is reached.
- The documents go into real PLAID segments through the product's codec and writer (one codec trained
  as the product trains it, ``Codec.train`` on ``training_sample``; segments of at most 2M tokens
  sharing it, as after merges with fixed centroids), built in a child process under ``nice -n 19``.
- With ``--codes-from SIZE``, bigger sizes are recombined from that index at the code level, as a
  merge copies codes (:func:`build_from_codes`: prefix of one document + suffix of another, cut
  points drawn per copy; no compression, so 10M tokens take minutes), and their exact top 10 comes
  from the source's token similarities (:func:`exact_recombined`, checked against decoding).
- Queries: SciFact queries encoded by the stand-in (NumPy query encoder), projected the same way.

The **tiny random model's** vectors (``--tiny-data``: data folders built by bench_scale.py) are
swept the same way through ``SegmentStore.search``: cheap at any size, but without meaning (see the
note in the results on why their recall differs).

Timings run at normal priority on a shared 2-core machine; the load average is recorded with them.
Writes tests/benchmarks/results/recall.json and recall.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

RESULTS = ROOT / "tests" / "benchmarks" / "results"
SHARED = ROOT.parent / "shared"
DEFAULT_SOURCE = Path("/tmp/shared-bench/scifact-data/eval/scifact/index")
DEFAULT_STANDIN = Path("/tmp/shared-bench/standin-model")
SIZES = {"300K": 300_000, "1M": 1_000_000, "3M": 3_000_000, "10M": 10_000_000}
DIM = 64
SIGMA = 0.0125
SEGMENT_TOKENS = 2_000_000
DEFAULT_GRID = "4:96:96,4:512:96,4:1024:128,4:2048:96,4:4096:128,2:2048:128,8:2048:128,4:2048:64,4:2048:192"


# --- inputs ---------------------------------------------------------------------------------------
def prepare(work: Path, source: Path, standin: Path, queries: int) -> dict[str, Any]:
    """64-d source vectors and queries, cached in ``work``."""
    out = work / "source64.npz"
    if out.exists():
        return {"cached": str(out)}
    con = sqlite3.connect(f"file:{source / 'catalog.db'}?mode=ro", uri=True)
    dirs = [r[0] for r in con.execute("SELECT dir FROM segments WHERE kind = 'flat' ORDER BY id")]
    con.close()
    if not dirs:
        raise SystemExit(f"no flat segments (raw vectors) in {source}")
    proj, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((384, DIM)))
    proj = proj.astype(np.float32)
    blocks, lengths = [], []
    for d in dirs:
        raw = np.load(source / "segments" / d / "vectors.npy")
        if raw.shape[1] != proj.shape[0]:
            raise SystemExit(f"{d}: {raw.shape[1]}-d vectors, expected 384 (the stand-in's)")
        v = raw.astype(np.float32) @ proj
        blocks.append((v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float16))
        lengths.append(np.load(source / "segments" / d / "lengths.npy"))
    import scale_corpus as SC

    from desktop_search.core.service import Service

    texts = SC.scifact_queries(SHARED / "data" / "scifact", queries)
    with tempfile.TemporaryDirectory() as tmp, Service(tmp, model=str(standin), allow_download=False) as s:
        enc = s.load_query_model()
        qs = [enc.encode_query(t).vectors.astype(np.float32) @ proj for t in texts[:queries]]
    qs = [q / np.linalg.norm(q, axis=1, keepdims=True) for q in qs]
    np.savez(out, vectors=np.concatenate(blocks), lengths=np.concatenate(lengths),
             q_lengths=np.array([len(q) for q in qs]), queries=np.concatenate(qs).astype(np.float32))
    return {"source_segments": len(dirs), "encoder": type(enc).__name__}


def load_queries(work: Path) -> list[np.ndarray]:
    z = np.load(work / "source64.npz")
    return np.split(z["queries"], np.cumsum(z["q_lengths"])[:-1])


def build(work: Path, size: str, codec_from: str = "") -> dict[str, Any]:
    """Synthetic documents of the source blocks, written as PLAID segments (run under nice -n 19).
    ``codec_from``: reuse the codec of a smaller built size instead of training one (k-means for
    32,768 centroids does not fit this machine's time; the product keeps a codec trained on an
    earlier flush fixed the same way)."""
    from desktop_search.core.index.codec import Codec, training_sample
    from desktop_search.core.index.segments import PlaidSegment, write_segment

    folder = work / f"idx-{size}"
    stamp = folder / "built.json"
    if stamp.exists():
        return dict(json.loads(stamp.read_text()))
    z = np.load(work / "source64.npz")
    vec, lens = z["vectors"], z["lengths"]
    offsets = np.concatenate([[0], np.cumsum(lens)])
    rng = np.random.default_rng(1)
    docs, total = [], 0
    while total < SIZES[size]:
        a = int(rng.integers(len(lens)))
        idx = np.arange(offsets[a], offsets[a + 1])
        if rng.random() < 0.5:
            b = int(rng.integers(len(lens)))
            idx = np.concatenate([idx[: len(idx) // 2], np.arange(offsets[b] + lens[b] // 2, offsets[b + 1])])
        docs.append(idx)
        total += len(idx)

    def make(ix: np.ndarray) -> np.ndarray:
        v = vec[ix].astype(np.float32) + rng.standard_normal((len(ix), DIM), dtype=np.float32) * SIGMA
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    t0 = time.monotonic()
    lengths = np.array([len(d) for d in docs])
    if codec_from:
        codec = PlaidSegment(sorted((work / f"idx-{codec_from}").glob("plaid-*"))[0]).codec
    else:
        codec = Codec.train([make(docs[i]) for i in training_sample(lengths)], 4, total_tokens=total)
    train_s = time.monotonic() - t0
    folder.mkdir(parents=True, exist_ok=True)
    start = n = 0
    while start < len(docs):
        stop = start + int(np.searchsorted(np.cumsum(lengths[start:]), SEGMENT_TOKENS)) + 1
        vs = [make(d) for d in docs[start:stop]]
        write_segment(folder, f"plaid-{n:02d}", "plaid", list(range(start, start + len(vs))), vs,
                      [np.zeros((len(v), 2), np.uint16) for v in vs], codec=codec)
        start, n = stop, n + 1
    meta = {"size": size, "docs": len(docs), "tokens": int(total), "segments": n, "centroids": codec.k,
            "train_s": round(train_s, 1), "build_s": round(time.monotonic() - t0, 1), "codec_from": codec_from,
            "disk_bytes": sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())}
    stamp.write_text(json.dumps(meta))
    return meta


def build_from_codes(work: Path, size: str, source: str) -> dict[str, Any]:
    """A bigger index recombined from a built one at the code level, as a merge copies codes: each
    document is the first 30-70 % of one source document followed by the last 30-70 % of another
    (cut points drawn per copy, so no two copies are the same document), its codes and residual
    bytes copied. No compression runs, so 10M tokens are written in a minute (compressing them
    against 8,192 centroids, 10 TFLOP, does not fit a shared 2-core machine at nice 19), and exact
    MaxSim needs only the source's token similarities (:func:`exact_recombined`). The codec is the
    source's, as the product keeps a codec trained on an early flush (at most 8,192 centroids)."""
    from desktop_search.core.index.segments import PlaidSegment, write_plaid_segment

    folder = work / f"idx-{size}"
    stamp = folder / "built.json"
    if stamp.exists():
        return dict(json.loads(stamp.read_text()))
    src = PlaidSegment(sorted((work / f"idx-{source}").glob("plaid-*"))[0])
    lens, offs = np.asarray(src.lengths), np.asarray(src.offsets)
    rng = np.random.default_rng(2)
    t0 = time.monotonic()
    docs, recipe, total = [], [], 0
    while total < SIZES[size]:
        a, b = (int(x) for x in rng.integers(src.n_passages, size=2))
        cut_a, cut_b = int(lens[a] * rng.uniform(0.3, 0.7)), int(lens[b] * rng.uniform(0.3, 0.7))
        if cut_a == 0 or cut_b == lens[b]:
            continue
        docs.append(np.concatenate([np.arange(offs[a], offs[a] + cut_a), np.arange(offs[b] + cut_b, offs[b + 1])]))
        recipe.append((a, cut_a, b, cut_b))
        total += len(docs[-1])
    folder.mkdir(parents=True, exist_ok=True)
    lengths = np.array([len(d) for d in docs])
    start = n = 0
    while start < len(docs):
        stop = start + int(np.searchsorted(np.cumsum(lengths[start:]), SEGMENT_TOKENS)) + 1
        tokens = np.concatenate(docs[start:stop])

        def fill(codes: np.ndarray, residuals: np.ndarray, tokens: np.ndarray = tokens) -> dict[str, Any]:
            for lo in range(0, len(tokens), 1 << 20):
                part = tokens[lo : lo + (1 << 20)]
                codes[lo : lo + len(part)] = src.codes[part]
                residuals[lo : lo + len(part)] = src.residuals[part]
            return {}

        write_plaid_segment(folder, f"plaid-{n:02d}", list(range(start, stop)), lengths[start:stop],
                            [np.zeros((int(x), 2), np.uint16) for x in lengths[start:stop]], src.codec, fill)
        start, n = stop, n + 1
    np.save(folder / "recipe.npy", np.array(recipe, dtype=np.int64))  # (a, cut_a, b, cut_b) per document
    meta = {"size": size, "docs": len(docs), "tokens": int(total), "segments": n, "centroids": src.codec.k,
            "train_s": 0.0, "build_s": round(time.monotonic() - t0, 1), "codec_from": source,
            "recombined_codes_of": source,
            "disk_bytes": sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())}
    stamp.write_text(json.dumps(meta))
    return meta


# --- measuring ------------------------------------------------------------------------------------
def exact_top(segs: list[Any], queries: list[np.ndarray], k: int = 10, chunk_tokens: int = 8192
              ) -> list[list[tuple[int, int]]]:
    """(segment number, local id) of each query's exact top ``k`` over the decoded vectors: all queries
    in one product per chunk of passages (one large matmul instead of one small one per query)."""
    qall = np.ascontiguousarray(np.concatenate(queries).astype(np.float32))
    q_bounds = np.concatenate([[0], np.cumsum([len(q) for q in queries])[:-1]]).astype(np.int64)
    best_s = np.full((len(queries), 0), -np.inf, dtype=np.float32)
    best_k = np.zeros((len(queries), 0), dtype=np.int64)
    for si, seg in enumerate(segs):
        offsets = np.asarray(seg.offsets)
        p = 0
        while p < seg.n_passages:
            hi = max(p + 1, int(np.searchsorted(offsets, offsets[p] + chunk_tokens, side="right")) - 1)
            vecs = seg.codec.decompress(*seg.encoded(np.arange(p, hi)))
            per_doc = np.maximum.reduceat(vecs @ qall.T, (offsets[p:hi] - offsets[p]).astype(np.int64), axis=0)
            scores = np.add.reduceat(per_doc, q_bounds, axis=1).T  # (queries, docs)
            keys = np.broadcast_to(si * 10_000_000 + np.arange(p, hi), scores.shape)
            all_s, all_k = np.concatenate([best_s, scores], axis=1), np.concatenate([best_k, keys], axis=1)
            top = np.argpartition(-all_s, min(k, all_s.shape[1]) - 1, axis=1)[:, :k]
            best_s, best_k = np.take_along_axis(all_s, top, axis=1), np.take_along_axis(all_k, top, axis=1)
            p = hi
    order = np.argsort(-best_s, axis=1, kind="stable")
    return [[(int(x) // 10_000_000, int(x) % 10_000_000) for x in row]
            for row in np.take_along_axis(best_k, order, axis=1)]


def exact_recombined(work: Path, size: str, queries: list[np.ndarray], k: int = 10) -> list[list[tuple[int, int]]]:
    """Exact top ``k`` of a :func:`build_from_codes` index from its source's decoded tokens: a document's
    best score for a query token is the larger of its source prefix's and suffix's, which cumulative
    maxima within each source document give in O(1) per document. Equal to decoding the copies
    (their codes are the source's); checked on sampled documents by :func:`check_recombined`."""
    from desktop_search.core.index.segments import PlaidSegment

    meta = json.loads((work / f"idx-{size}" / "built.json").read_text())
    src = PlaidSegment(sorted((work / f"idx-{meta['recombined_codes_of']}").glob("plaid-*"))[0])
    recipe = np.load(work / f"idx-{size}" / "recipe.npy")
    seg_of = np.repeat(np.arange(meta["segments"]), _segment_sizes(work, size))
    local = np.concatenate([np.arange(n) for n in _segment_sizes(work, size)])
    offs = np.asarray(src.offsets)
    doc_of_token = np.repeat(np.arange(src.n_passages), np.asarray(src.lengths)).astype(np.float64)
    decoded = src.decoded_all().astype(np.float32)
    a_last = offs[recipe[:, 0]] + recipe[:, 1] - 1  # last token of the prefix
    b_first = offs[recipe[:, 2]] + recipe[:, 3]  # first token of the suffix (counted from the end below)
    out = []
    for q in queries:
        sims = (decoded @ q.T).astype(np.float64) + 4.0 * doc_of_token[:, None]  # 4 > any similarity gap
        prefix = np.maximum.accumulate(sims, axis=0)  # restarts at each source document (its +4 offset)
        suffix = np.maximum.accumulate(sims[::-1] - 8.0 * doc_of_token[::-1, None], axis=0)[::-1]
        best_a = prefix[a_last] - 4.0 * doc_of_token[a_last, None]
        best_b = suffix[b_first] + 4.0 * doc_of_token[b_first, None]
        scores = np.maximum(best_a, best_b).sum(axis=1)
        top = np.argsort(-scores, kind="stable")[:k]
        out.append([(int(seg_of[j]), int(local[j])) for j in top])
    return out


def _segment_sizes(work: Path, size: str) -> list[int]:
    return [len(np.load(p / "passage_ids.npy", mmap_mode="r")) for p in sorted((work / f"idx-{size}").glob("plaid-*"))]


def check_recombined(work: Path, size: str, queries: list[np.ndarray], n: int = 200) -> float:
    """Largest difference between :func:`exact_recombined`'s reasoning and MaxSim over the decoded copies,
    for ``n`` sampled documents of the first two queries."""
    from desktop_search.core.index.segments import PlaidSegment

    segs = [PlaidSegment(p) for p in sorted((work / f"idx-{size}").glob("plaid-*"))]
    meta = json.loads((work / f"idx-{size}" / "built.json").read_text())
    src = PlaidSegment(sorted((work / f"idx-{meta['recombined_codes_of']}").glob("plaid-*"))[0])
    recipe = np.load(work / f"idx-{size}" / "recipe.npy")
    starts = np.concatenate([[0], np.cumsum(_segment_sizes(work, size))])
    worst = 0.0
    for q in queries[:2]:
        for j in np.random.default_rng(3).choice(len(recipe), size=n, replace=False):
            si = int(np.searchsorted(starts, j, side="right")) - 1
            copy = segs[si].vectors([int(j - starts[si])])[0]
            a, ca, b, cb = (int(x) for x in recipe[j])
            parts = np.concatenate([src.vectors([a])[0][:ca], src.vectors([b])[0][cb:]])
            worst = max(worst, float(np.abs(copy - parts).max()),
                        abs(float((copy @ q.T).max(axis=0).sum()) - float((parts @ q.T).max(axis=0).sum())))
    return worst


def exact_phase(work: Path, size: str, queries: int) -> dict[str, Any]:
    """Exact top 10 of every query, cached next to the index (run under nice -n 19)."""
    from desktop_search.core.index.segments import PlaidSegment

    folder = work / f"idx-{size}"
    cache = folder / f"exact-{queries}.json"
    if cache.exists():
        return {"cached": str(cache)}
    t = time.monotonic()
    qs = load_queries(work)[:queries]
    if (folder / "recipe.npy").exists():
        worst = check_recombined(work, size, qs)
        if worst > 1e-4:
            raise SystemExit(f"recombined copies differ from their sources by {worst}")
        cache.write_text(json.dumps(exact_recombined(work, size, qs)))
    else:
        segs = [PlaidSegment(p) for p in sorted(folder.glob("plaid-*"))]
        cache.write_text(json.dumps(exact_top(segs, qs)))
    return {"exact_s": round(time.monotonic() - t, 1)}


def _timed(fn: Any) -> tuple[float, float, Any]:
    c, t = time.process_time(), time.perf_counter()
    result = fn()
    return (time.perf_counter() - t) * 1000, (time.process_time() - c) * 1000, result


def _settings(grid: str) -> list[dict[str, int]]:
    from desktop_search.core.index.segments import PlaidSegment

    rows = [{"n_ivf_probe": PlaidSegment.n_ivf_probe, "n_candidates": PlaidSegment.n_candidates,
             "n_full": PlaidSegment.n_full, "default": 1}]
    for item in filter(None, grid.split(",")):
        p, c, f = (int(x) for x in item.split(":"))
        if (p, c, f) != (rows[0]["n_ivf_probe"], rows[0]["n_candidates"], rows[0]["n_full"]):
            rows.append({"n_ivf_probe": p, "n_candidates": c, "n_full": f})
    return rows


def sweep(search: Any, queries: list[Any], truth: list[set[Any]], grid: str, rounds: int = 2) -> list[dict[str, Any]]:
    """``search(q)`` -> set of hit keys; each setting is run ``rounds`` times (the first warms the page
    cache); recall from the last round, times over all but the first."""
    from desktop_search.core.index.segments import PlaidSegment

    saved = PlaidSegment.n_ivf_probe, PlaidSegment.n_candidates, PlaidSegment.n_full
    rows = []
    try:
        for st in _settings(grid):
            PlaidSegment.n_ivf_probe, PlaidSegment.n_candidates, PlaidSegment.n_full = (
                st["n_ivf_probe"], st["n_candidates"], st["n_full"])
            wall, cpu, recalls = [], [], []
            for r in range(rounds):
                recalls = []
                for q, ref in zip(queries, truth, strict=True):
                    ms, cpu_ms, hits = _timed(lambda q=q: search(q))
                    if r or rounds == 1:
                        wall.append(ms)
                        cpu.append(cpu_ms)
                    recalls.append(len(hits & ref) / max(1, len(ref)))
            rows.append({**st, "recall@10": round(statistics.mean(recalls), 4), "min_recall@10": min(recalls),
                         "p50_ms": _pct(wall, 50), "p95_ms": _pct(wall, 95),
                         "cpu_p50_ms": _pct(cpu, 50), "cpu_p95_ms": _pct(cpu, 95), "load": os.getloadavg()[0]})
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    finally:
        PlaidSegment.n_ivf_probe, PlaidSegment.n_candidates, PlaidSegment.n_full = saved
    return rows


def _pct(values: list[float], p: float) -> float:
    return round(float(np.percentile(values, p)), 1) if values else float("nan")


def measure_structured(work: Path, size: str, grid: str, queries: int) -> dict[str, Any]:
    from desktop_search.core.index.plaid_search import rank_plaid
    from desktop_search.core.index.segments import PlaidSegment

    folder = work / f"idx-{size}"
    segs = [PlaidSegment(p) for p in sorted(folder.glob("plaid-*"))]
    qs = load_queries(work)[:queries]
    cache = folder / f"exact-{len(qs)}.json"
    exact = [[tuple(x) for x in row] for row in json.loads(cache.read_text())]
    timing = folder / f"exact-{len(qs)}.time"
    exact_s = json.loads(timing.read_text()) if timing.exists() else None
    live = [np.ones(s.n_passages, bool) for s in segs]

    def search(q: np.ndarray) -> set[tuple[int, int]]:  # what SegmentStore.search does for PLAID segments
        shared: dict[str, Any] = {}
        ranked = rank_plaid([s.candidates(q, m, shared) for s, m in zip(segs, live, strict=True)], q, 10)
        hits = sorted(((score, i, d) for i, r in enumerate(ranked) for d, score in r), reverse=True)[:10]
        return {(i, d) for _, i, d in hits}

    rows = sweep(search, qs, [set(e) for e in exact], grid)
    return {"size": size, "vectors": "stand-in SciFact, 64-d projection", "exact_s": exact_s,
            "meta": json.loads((folder / "built.json").read_text()), "sweep": rows}


def measure_tiny(data: Path, grid: str, queries: int) -> dict[str, Any]:
    """A bench_scale data folder (tiny random 64-d model) through SegmentStore.search."""
    import scale_corpus as SC

    from desktop_search.core.service import Service

    model = next((p for p in (data.parent / "tiny64", data.parent.parent / "tiny64") if p.exists()), None)
    if model is None:
        raise SystemExit(f"no tiny64 model next to {data}")
    texts = SC.scifact_queries(SHARED / "data" / "scifact", queries)
    with Service(data, model=str(model), allow_download=False) as s:
        enc = s.load_query_model()
        s.search("warm up", mode="semantic", snippets=False)
        qvs = [enc.encode_query(q) for q in texts]
        key = qvs[0].model_key or None
        t = time.monotonic()
        exact = SC.exact_topk(s.store, [qv.vectors for qv in qvs], 10, model_key=key)
        exact_s = round(time.monotonic() - t, 1)
        tokens = sum(int(e.segment.lengths.sum()) for e in s.store.view.live)
        rows = sweep(lambda qv: {h[0] for h in s.store.search(qv.vectors, 10, key)}, qvs,
                     [set(e) for e in exact], grid)
    return {"size": f"{tokens / 1e6:.1f}M tiny", "vectors": "tiny random model (bench_scale)", "data": str(data),
            "exact_s": exact_s, "sweep": rows}


# --- report ---------------------------------------------------------------------------------------
def markdown(runs: list[dict[str, Any]], note: str) -> str:
    lines = ["# Recall of PLAID candidate generation against exact MaxSim (issue 14)", "", note, "",
             "| index | probes | candidates (full CI) | exact budget | recall@10 | min | p50 / p95 ms "
             "| CPU p50 / p95 ms | load |", "|---|---|---|---|---|---|---|---|---|"]
    for run in runs:
        for r in run["sweep"]:
            mark = " (default)" if r.get("default") else ""
            lines.append(f"| {run['size']} | {r['n_ivf_probe']} | {r['n_candidates']} | {r['n_full']}{mark} "
                         f"| {r['recall@10']} | {r['min_recall@10']} | {r['p50_ms']} / {r['p95_ms']} "
                         f"| {r['cpu_p50_ms']} / {r['cpu_p95_ms']} | {r['load']:.1f} |")
    lines += ["", "Indexes:", ""]
    for run in runs:
        m = run.get("meta", {})
        extra = (f"{m['docs']:,} docs, {m['tokens']:,} tokens, {m['segments']} segment(s), {m['centroids']:,} "
                 f"centroids{' (the codec of ' + m['codec_from'] + ')' if m.get('codec_from') else ''}, built in "
                 f"{m['build_s']} s" if m else run.get("data", ""))
        took = f"exact top-10 in {run['exact_s']} s" if run.get("exact_s") is not None else "exact top-10 cached"
        lines.append(f"- {run['size']} ({run['vectors']}): {extra}; {took}")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1M,3M", help="structured-vector indexes, of " + ", ".join(SIZES))
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "desktop-search-bench-recall")
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="an eval index of the stand-in")
    parser.add_argument("--standin", type=Path, default=DEFAULT_STANDIN)
    parser.add_argument("--tiny-data", type=Path, action="append", default=[],
                        help="a bench_scale data folder (tiny model), repeatable")
    parser.add_argument("--grid", default=DEFAULT_GRID, help="probe:candidates:exact settings (the default first)")
    parser.add_argument("--codec-from", default="", help="sizes above 3M reuse the codec of this built size")
    parser.add_argument("--codes-from", default="",
                        help="bigger sizes are recombined from its codes (no compression): see build_from_codes")
    parser.add_argument("--note", default="", help="appended to the results' note")
    parser.add_argument("--phase", choices=["prepare", "build", "exact"], help=argparse.SUPPRESS)
    parser.add_argument("--size", help=argparse.SUPPRESS)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--name", default="recall", help="results file stem (recall.json, recall.md)")
    parser.add_argument("--tiny-queries", type=int, default=30, help="queries for --tiny-data (exact is costlier)")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    if args.phase == "prepare":
        print(json.dumps(prepare(args.work, args.source, args.standin, args.queries)))
        return 0
    if args.phase == "exact":
        made = exact_phase(args.work, args.size, args.queries)
        if "exact_s" in made:
            (args.work / f"idx-{args.size}" / f"exact-{args.queries}.time").write_text(json.dumps(made["exact_s"]))
        print(json.dumps(made))
        return 0
    if args.phase == "build":
        made = (build_from_codes(args.work, args.size, args.codes_from) if args.codes_from
                else build(args.work, args.size, args.codec_from))
        print(json.dumps(made))
        return 0
    sizes = [s for s in args.sizes.split(",") if s and s != "none"]
    if unknown := [s for s in sizes if s not in SIZES]:
        print(f"unknown size(s) {', '.join(unknown)}; choose from {', '.join(SIZES)}", file=sys.stderr)
        return 2
    if sizes:
        _child(args, "prepare")
    runs = []
    for size in sizes:  # builds under nice -n 19, each in its own process; timings here at normal priority
        bigger = args.codes_from and SIZES[size] > SIZES[args.codes_from]
        _child(args, "build", "--size", size, "--codec-from", args.codec_from if SIZES[size] > 3_000_000 else "",
               "--codes-from", args.codes_from if bigger else "")
        _child(args, "exact", "--size", size)
        runs.append(measure_structured(args.work, size, args.grid, args.queries))
    for data in args.tiny_data:
        runs.append(measure_tiny(data, args.grid, args.tiny_queries))
    note = ("Search budgets: probes = IVF lists per query token; candidates = how many documents (best "
            "by pruned centroid interaction) get full centroid interaction; exact budget = how many of "
            "those are decompressed and scored by exact MaxSim. Times: the PLAID search of one query "
            "(candidates + rank_plaid, as SegmentStore.search runs it), no query encoding; wall and "
            "process CPU per query, the first round (cold pages) left out; load = 1-min load average "
            "(2 shared cores). Code: " + _git_head() + ". " + args.note)
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / f"{args.name}.json").write_text(json.dumps({"runs": runs, "note": note,
                                                          "when": time.strftime("%Y-%m-%d %H:%M")}, indent=1))
    (args.results / f"{args.name}.md").write_text(markdown(runs, note))
    print(markdown(runs, note))
    return 0


def _child(args: argparse.Namespace, phase: str, *extra: str) -> None:
    """Run a preparation phase in its own process under ``nice -n 19``."""
    subprocess.run(["nice", "-n", "19", sys.executable, __file__, "--phase", phase, "--work", str(args.work),
                    "--source", str(args.source), "--standin", str(args.standin), "--queries", str(args.queries),
                    *extra], check=True)


def _git_head() -> str:
    try:
        return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
