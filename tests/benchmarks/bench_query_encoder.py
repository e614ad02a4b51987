"""Query encoding without PyTorch: latency and resident memory of the NumPy query encoder
(core/encoder/light_query.py) vs the PyTorch Encoder, on a model with the default model's shape.

    python tests/benchmarks/bench_query_encoder.py [--queries 200] [--model DIR]

Without ``--model``, a randomly initialised ColBERT with the shape of mxbai-edge-colbert-v0-32m
(ModernBERT/Ettin-32M: 50,368-token vocabulary, hidden 384, 10 layers, 64-d projection, query length
48 with expansion) is built in a temporary folder: the weights are random but the arithmetic and the
memory are the real model's. Each path runs in its own process (so its RSS is its own): load, one
warm-up, then ``--queries`` queries one at a time on one thread; RSS (psutil) after loading and after
the queries, latency p50/p95, and whether torch was imported at all.

Writes tests/benchmarks/results/query_encoder.json and query_encoder.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "tests" / "benchmarks" / "results"

CHILD = r"""
import json, os, random, statistics, sys, time
os.environ["OMP_NUM_THREADS"] = os.environ["OPENBLAS_NUM_THREADS"] = "1"
import psutil
kind, folder, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
proc = psutil.Process()
base = proc.memory_info().rss
t0 = time.perf_counter()
if kind == "numpy":
    from desktop_search.core.encoder.light_query import load_light_query_encoder
    encoder = load_light_query_encoder(folder, key="bench")
else:
    from desktop_search.core.encoder import Encoder
    from desktop_search.core.model import ModelLocation, load_colbert
    encoder = Encoder(load_colbert(ModelLocation(__import__("pathlib").Path(folder), "bench"), threads=1),
                      context_length=8192, key="bench")
load_s = time.perf_counter() - t0
loaded = proc.memory_info().rss
words = ("volcano magma bread flour invoice tax planet orbit vaccine immune garden tomato train platform "
         "football striker knitting scarf mortgage house contract landlord battery engine").split()
rng = random.Random(0)
queries = [" ".join(rng.choice(words) for _ in range(rng.randint(2, 9))) for _ in range(n)]
encoder.encode_query("warm up")
times = []
for q in queries:
    t = time.perf_counter()
    encoder.encode_query(q)
    times.append((time.perf_counter() - t) * 1000)
times.sort()
print(json.dumps({
    "load_s": round(load_s, 2), "rss_start_mb": round(base / 2**20), "rss_loaded_mb": round(loaded / 2**20),
    "rss_after_mb": round(proc.memory_info().rss / 2**20),
    "p50_ms": round(statistics.median(times), 2), "p95_ms": round(times[int(0.95 * (len(times) - 1))], 2),
    "torch_imported": "torch" in sys.modules, "queries": n,
}))
"""


def _build_model(folder: Path) -> Path:
    from desktop_search.testing.models import _SEED_TEXT, ETTIN_32M, build_modernbert_colbert

    return build_modernbert_colbert(folder, ETTIN_32M, _SEED_TEXT.strip().splitlines(), embedding_size=64,
                                    query_length=48)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--model", type=Path)
    args = parser.parse_args()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or _build_model(Path(tmp) / "model")
        rows = {}
        for kind in ("numpy", "torch"):
            done = subprocess.run([sys.executable, "-c", CHILD, kind, str(model), str(args.queries)],
                                  capture_output=True, text=True, env=env, cwd=ROOT)
            if done.returncode != 0:
                raise SystemExit(f"{kind} failed: {done.stderr[-2000:]}")
            rows[kind] = json.loads(done.stdout.strip().splitlines()[-1])
            print(kind, rows[kind], flush=True)
    result = {"model": str(args.model) if args.model else "random Ettin-32M-shaped ColBERT (64-d)",
              "machine": f"{platform.machine()}, {os.cpu_count()} cores", "paths": rows}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "query_encoder.json").write_text(json.dumps(result, indent=1) + "\n")
    lines = ["# Query encoding: NumPy (no PyTorch) vs PyTorch", "",
             f"Model: {result['model']}; {args.queries} queries of 2-9 words, one thread, each path in its own "
             f"process; {result['machine']} (shared with other work: latencies are noisy).", "",
             "| path | load s | RSS at start MB | RSS loaded MB | RSS after queries MB | p50 ms | p95 ms "
             "| torch imported |",
             "|---|---|---|---|---|---|---|---|"]
    for kind, r in rows.items():
        lines.append(f"| {kind} | {r['load_s']} | {r['rss_start_mb']} | {r['rss_loaded_mb']} | {r['rss_after_mb']} | "
                     f"{r['p50_ms']} | {r['p95_ms']} | {r['torch_imported']} |")
    (RESULTS / "query_encoder.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
