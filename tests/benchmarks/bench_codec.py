"""The PLAID codec at scale (issue 14): training cost, flat vs PLAID search, bytes per token on disk.

    python tests/benchmarks/bench_codec.py [--work DIR] [--sizes 50000,200000,500000,1000000] [--quick]

Synthetic 64-d token vectors (passages of 100-400 tokens, half the tokens around 8 of 2,000 topics,
half around any topic, plus noise, unit length): right for time, memory and bytes, not for quality
(SciFact answers that, see bench_storage.py). Three parts:

1. **training**: what Codec.train reads and does for an index of 1M / 10M / 50M tokens. Training reads
   only the passages ``training_sample`` picks, so only those are generated; each size runs in its own
   child process (peak RSS is that process's, interpreter included).
2. **flat vs PLAID search** at ``--sizes`` tokens: one segment of each kind on the same vectors, the
   CPU time of a search on one BLAS thread (median of 25 queries of 32 tokens, first 3 dropped), and
   recall@10 of PLAID against the flat segment's exact MaxSim.
3. **bytes on disk** of a 1M-token index built as the indexer builds it: flat segments of one batch each
   (~64k tokens), the merge policy (merge_policy.plan, mid-run then final) and merge_segments after each
   batch, with the shipped flat limit: bytes per token by file, across every segment left.

Builds run in a child at nice 19; searches are timed at normal priority. Writes
tests/benchmarks/results/codec.json and codec.md; records the load average with the timings.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "tests" / "benchmarks" / "results"

from desktop_search.core.config import Settings  # noqa: E402
from desktop_search.core.index import codec as codec_mod  # noqa: E402
from desktop_search.core.index.codec import Codec, training_sample  # noqa: E402
from desktop_search.core.index.merge import MergeSource, merge_segments  # noqa: E402
from desktop_search.core.index.merge_policy import Policy, plan  # noqa: E402
from desktop_search.core.index.segments import FlatSegment, PlaidSegment, write_segment  # noqa: E402
from desktop_search.core.index.store import Entry  # noqa: E402

DIM = 64
PASSAGE = (100, 400)


class Corpus:
    """Deterministic synthetic passages: passage i depends only on (seed, i)."""

    def __init__(self, seed: int = 0):
        self.topics = np.random.default_rng(seed).normal(size=(2000, DIM))
        self.seed = seed

    def length(self, i: int) -> int:
        return int(np.random.default_rng((self.seed, i)).integers(*PASSAGE))

    def passage(self, i: int) -> np.ndarray:
        rng = np.random.default_rng((self.seed, i))
        n = int(rng.integers(*PASSAGE))
        # half the tokens around the passage's 8 topics, half around any topic: ~0.6 (centroid, doc)
        # pairs per token at 8,192 centroids, as real vectors give (SciFact, stand-in: 0.60)
        theme = rng.integers(0, len(self.topics), size=8)
        picks = np.where(rng.random(n) < 0.5, theme[rng.integers(0, 8, size=n)],
                         rng.integers(0, len(self.topics), size=n))
        v = self.topics[picks] + 0.7 * rng.normal(size=(n, DIM))
        return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float16)

    def upto(self, tokens: int, start: int = 0) -> list[np.ndarray]:
        out, n, i = [], 0, start
        while n < tokens:
            out.append(self.passage(i))
            n += len(out[-1])
            i += 1
        return out


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- 1. training -----------------------------------------------------------------------------------
def train_child(tokens: int) -> dict:
    """In a child process: train the codec an index of ``tokens`` tokens would train."""
    mean = sum(PASSAGE) / 2
    n = int(tokens / mean)
    lengths = np.full(n, int(mean), dtype=np.int64)  # passage lengths only steer which ones are read
    chosen = training_sample(lengths)
    corpus = Corpus(1)
    sample = [corpus.passage(int(i)) for i in chosen]
    rss_before = peak_rss_mb()
    t0, c0 = time.perf_counter(), time.process_time()
    codec = Codec.train(sample, 4, total_tokens=tokens)
    return {"index_tokens": tokens, "passages_read": len(chosen), "tokens_read": int(sum(map(len, sample))),
            "kmeans_points": min(int(sum(map(len, sample))), codec_mod.KMEANS_POINTS), "centroids": codec.k,
            "plaid_formula_centroids": codec_mod._partitions(tokens),
            "seconds": round(time.perf_counter() - t0, 1), "cpu_seconds": round(time.process_time() - c0, 1),
            "peak_rss_mb": round(peak_rss_mb(), 1), "rss_before_training_mb": round(rss_before, 1)}


def training(sizes: list[int]) -> list[dict]:
    rows = []
    for tokens in sizes:
        out = subprocess.run([sys.executable, __file__, "--child-train", str(tokens)], capture_output=True,
                             text=True, preexec_fn=lambda: os.nice(19), check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print("training", rows[-1], flush=True)
    return rows


# --- 2. flat vs PLAID search -----------------------------------------------------------------------
def build_child(work: Path, tokens: int) -> None:
    docs = Corpus(2).upto(tokens)
    ids, spans = list(range(len(docs))), [np.zeros((len(d), 2), np.uint16) for d in docs]
    write_segment(work, f"flat-{tokens}", "flat", ids, docs, spans)
    write_segment(work, f"plaid-{tokens}", "plaid", ids, docs, spans, nbits=4)


def search_latency(work: Path, sizes: list[int]) -> list[dict]:
    from threadpoolctl import threadpool_limits

    rows = []
    for tokens in sizes:
        if not (work / f"plaid-{tokens}").exists():
            subprocess.run([sys.executable, __file__, "--child-build", str(work), str(tokens)],
                           preexec_fn=lambda: os.nice(19), check=True)
        flat, plaid = FlatSegment(work / f"flat-{tokens}"), PlaidSegment(work / f"plaid-{tokens}")
        live = np.ones(flat.n_passages, dtype=bool)
        queries = [flat.vectors([(i * 7919) % flat.n_passages])[0][:32] for i in range(25)]
        row: dict = {"tokens": int(flat.lengths.sum()), "passages": flat.n_passages, "centroids": plaid.codec.k,
                     "load": os.getloadavg()[0]}
        tops = {}
        for name, seg in (("flat", flat), ("plaid", plaid)):
            cpu, hits = [], []
            for q in queries:
                with threadpool_limits(1):
                    c0 = time.process_time()
                    found = seg.search(q, 10, live)
                    cpu.append((time.process_time() - c0) * 1000)
                hits.append([d for d, _ in found])
            row[f"{name}_cpu_ms"] = round(statistics.median(cpu[3:]), 1)
            tops[name] = hits
        row["plaid_recall@10"] = round(float(np.mean([len(set(a) & set(b)) / 10 for a, b in
                                                       zip(tops["plaid"], tops["flat"], strict=True)])), 3)
        rows.append(row)
        print("search", row, flush=True)
    return rows


# --- 3. bytes on disk ------------------------------------------------------------------------------
def bytes_child(work: Path, tokens: int, batch: int) -> dict:
    """An index of ``tokens`` built batch by batch through the merge policy, as the indexer does."""
    root = work / "index"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    settings = Settings()
    flat_limit = max(1_000, int(settings.flat_max_tokens * 64 / DIM))  # as Compactor.flat_limit
    corpus = Corpus(3)
    entries: list[Entry] = []
    next_id, pid, merges = 1, 0, []

    def entry(name: str, kind: str) -> Entry:
        nonlocal next_id
        seg = FlatSegment(root / name) if kind == "flat" else PlaidSegment(root / name)
        live = np.ones(seg.n_passages, dtype=bool)
        next_id += 1
        return Entry(next_id, name, kind, "live", "m", DIM, seg, live, seg.n_passages)

    def compact(final: bool) -> None:
        nonlocal entries
        while (chosen := plan(entries, Policy(flat_limit, final=final))) is not None:
            codec = chosen.codec_from.segment.codec if chosen.codec_from is not None else None
            name = f"plaid-{next_id}"
            t0 = time.perf_counter()
            result = merge_segments(root, name, [MergeSource(e.segment, e.live) for e in chosen.sources], codec,
                                    4)
            merges.append({"reason": chosen.reason, "tokens": result.n_tokens, "centroids": result.codec.k,
                           "seconds": round(time.perf_counter() - t0, 1)})
            gone = {e.dir for e in chosen.sources}
            entries = [e for e in entries if e.dir not in gone] + [entry(name, "plaid")]
            for d in gone:
                shutil.rmtree(root / d)

    made = 0
    while made < tokens:
        docs = corpus.upto(min(batch, tokens - made), start=pid)
        ids = list(range(pid, pid + len(docs)))
        pid += len(docs)
        made += sum(map(len, docs))
        name = f"flat-{next_id}"
        write_segment(root, name, "flat", ids, docs, [np.zeros((len(d), 2), np.uint16) for d in docs])
        entries.append(entry(name, "flat"))
        compact(final=False)
    compact(final=True)
    by_file: dict[str, int] = defaultdict(int)
    seen = set()  # a codec file hard-linked into several segments is on disk once
    for f in root.rglob("*"):
        st = f.stat()
        if f.is_file() and (st.st_dev, st.st_ino) not in seen:
            seen.add((st.st_dev, st.st_ino))
            by_file[f.name] += st.st_size
    live_tokens = sum(int(e.segment.lengths.sum()) for e in entries)
    pairs = sum(len(e.segment.ivf) for e in entries if isinstance(e.segment, PlaidSegment))
    return {"tokens": live_tokens, "flat_limit": flat_limit, "batch_tokens": batch,
            "segments": [{"kind": e.kind, "tokens": int(e.segment.lengths.sum()),
                          "centroids": getattr(getattr(e.segment, "codec", None), "k", None)} for e in entries],
            "ivf_pairs_per_token": round(pairs / live_tokens, 3), "merges": merges,
            "bytes_by_file": dict(sorted(by_file.items())),
            "bytes_per_token": round(sum(by_file.values()) / live_tokens, 2)}


GROUPS = {
    "residuals (4-bit, 64-d)": ["residuals.npy"],
    "codes (uint16)": ["codes.npy"],
    "IVF (local doc ids per centroid)": ["ivf.npy", "ivf_lengths.npy"],
    "codec (centroids, buckets; hard-linked: once per codec)": ["centroids.npy", "bucket_cutoffs.npy",
                                                                "bucket_weights.npy"],
    "spans (char offsets: 1-byte gap + 1-byte length, odd ones whole)": ["spans8.npy", "spans_wide.npy", "spans.npy"],
    "passage ids, lengths": ["passage_ids.npy", "lengths.npy"],
    "manifests, metadata": ["manifest.json", "metadata.json"],
    "flat vectors (float16, not yet compacted)": ["vectors.npy"],
}


def table(out: dict) -> str:
    lines = ["# PLAID codec at scale (issue 14)", "",
             f"Synthetic 64-d vectors (see bench_codec.py); machine: 2 shared cores; {out['note']}", "",
             "## Training (what Codec.train reads and does for an index of N tokens)", "",
             "| index tokens | passages read | tokens read | k-means points | centroids (PLAID formula) "
             "| seconds | CPU s | peak RSS MB |", "|---|---|---|---|---|---|---|---|"]
    for r in out["training"]:
        lines.append(f"| {r['index_tokens']:,} | {r['passages_read']:,} | {r['tokens_read']:,} | "
                     f"{r['kmeans_points']:,} | {r['centroids']:,} ({r['plaid_formula_centroids']:,}) | "
                     f"{r['seconds']} | {r['cpu_seconds']} | {r['peak_rss_mb']} |")
    lines += ["", "## Search: exact flat vs PLAID, one segment, one BLAS thread, CPU ms (median of 22)", "",
              "| tokens | passages | centroids | flat CPU ms | PLAID CPU ms | PLAID recall@10 vs exact | load |",
              "|---|---|---|---|---|---|---|"]
    for r in out["search"]:
        lines.append(f"| {r['tokens']:,} | {r['passages']:,} | {r['centroids']:,} | {r['flat_cpu_ms']} | "
                     f"{r['plaid_cpu_ms']} | {r['plaid_recall@10']} | {r['load']:.1f} |")
    b = out.get("bytes")
    if b:
        left = ", ".join(f"{x['kind']} {x['tokens']:,}" for x in b["segments"])
        lines += ["", f"## Bytes on disk per token: a {b['tokens']:,}-token index built batch by batch "
                      f"({b['batch_tokens']:,}-token batches, flat limit {b['flat_limit']:,}, merge policy as shipped)",
                  "", f"Segments left: {left}; "
                      f"IVF (centroid, doc) pairs per token: {b['ivf_pairs_per_token']}.", "",
                  "| component | bytes/token |", "|---|---|"]
        for group, names in GROUPS.items():
            total = sum(b["bytes_by_file"].get(n, 0) for n in names)
            lines.append(f"| {group} | {total / b['tokens']:.2f} |")
        lines.append(f"| **all** | **{b['bytes_per_token']}** |")
        lines += ["", "Merges: " + "; ".join(f"{m['reason']} {m['tokens']:,} tok -> {m['centroids']} centroids "
                                              f"{m['seconds']} s" for m in b["merges"])]
    return "\n".join(lines) + "\n"


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child-train":
        print(json.dumps(train_child(int(sys.argv[2]))))
        return 0
    if len(sys.argv) > 1 and sys.argv[1] == "--child-build":
        build_child(Path(sys.argv[2]), int(sys.argv[3]))
        return 0
    if len(sys.argv) > 1 and sys.argv[1] == "--child-bytes":
        print(json.dumps(bytes_child(Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))))
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench-codec"))
    parser.add_argument("--train-sizes", default="1000000,10000000,50000000")
    parser.add_argument("--sizes", default="50000,200000,500000,1000000")
    parser.add_argument("--bytes-tokens", type=int, default=1_000_000)
    parser.add_argument("--batch-tokens", type=int, default=64_000)
    parser.add_argument("--skip", default="", help="comma list of parts to skip: training,search,bytes")
    parser.add_argument("--note", default="")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    skip = set(filter(None, args.skip.split(",")))
    path = RESULTS / "codec.json"
    out = json.loads(path.read_text()) if path.exists() else {}
    out["note"] = args.note or out.get("note", "")
    if "training" not in skip:
        out["training"] = training([int(s) for s in args.train_sizes.split(",")])
    if "search" not in skip:
        out["search"] = search_latency(args.work, [int(s) for s in args.sizes.split(",")])
    if "bytes" not in skip:
        done = subprocess.run([sys.executable, __file__, "--child-bytes", str(args.work), str(args.bytes_tokens),
                               str(args.batch_tokens)], capture_output=True, text=True,
                              preexec_fn=lambda: os.nice(19), check=True)
        out["bytes"] = json.loads(done.stdout.strip().splitlines()[-1])
        print("bytes", out["bytes"]["bytes_per_token"], flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1))
    (RESULTS / "codec.md").write_text(table(out))
    print(table(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
