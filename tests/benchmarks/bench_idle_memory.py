"""Resident memory of the app left open: the window idle with its search model ready, and a process
that searches by meaning, on an index with nothing left to encode.

    python tests/benchmarks/bench_idle_memory.py [--files 200] [--model DIR] [--settle-s 40]

Without ``--model`` a randomly initialised ColBERT with the default model's shape (ModernBERT/Ettin-32M,
50,368-token vocabulary, 64-d) is built: random weights, real sizes. A folder of ``--files`` generated
notes is indexed by the CLI (its own process, PyTorch encodes the documents). Then, each in a fresh
process:

* ``window``: the app's window (offscreen Qt) on that data folder; after ``--settle-s`` seconds its RSS
  (psutil), and whether PyTorch is mapped into it (``libtorch`` in /proc/PID/maps);
* ``search``: a Service that loads its query model and runs 100 searches by meaning (hybrid), then its
  RSS, the same PyTorch check, and the query latency.

Writes tests/benchmarks/results/idle_memory.json and idle_memory.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "tests" / "benchmarks" / "results"
WORDS = ("river mountain contract landlord invoice volcano bread sourdough garden tomato planet orbit knitting "
         "scarf train platform vaccine immune python function football striker tax receipt meeting budget "
         "holiday letter recipe engine battery summer winter library museum").split()

SEARCH = r"""
import json, statistics, sys, time, psutil
from desktop_search.core.service import Service
data, model = sys.argv[1], sys.argv[2]
words = sys.argv[3].split()
with Service(data, model=model) as service:
    kind = type(service.load_query_model()).__name__
    times = []
    for i in range(100):
        q = " ".join(words[(i * 7 + j) % len(words)] for j in range(4))
        t = time.perf_counter()
        service.search(q, limit=10, mode="hybrid")
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    maps = open(f"/proc/{psutil.Process().pid}/maps").read()
    print(json.dumps({"rss_mb": round(psutil.Process().memory_info().rss / 2**20), "query_encoder": kind,
                      "torch_loaded": "libtorch" in maps, "p50_ms": round(statistics.median(times), 1),
                      "p95_ms": round(times[94], 1)}))
"""


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "QT_QPA_PLATFORM": "offscreen",
            "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--model", type=Path)
    parser.add_argument("--settle-s", type=float, default=40.0)
    args = parser.parse_args()
    import psutil

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model = args.model
        if model is None:
            from desktop_search.testing.models import _SEED_TEXT, ETTIN_32M, build_modernbert_colbert

            model = build_modernbert_colbert(work / "model", ETTIN_32M, _SEED_TEXT.strip().splitlines(),
                                             embedding_size=64, query_length=48)
        docs, data = work / "docs", work / "data"
        docs.mkdir()
        rng = random.Random(0)
        for i in range(args.files):
            (docs / f"note{i:04d}.txt").write_text(" ".join(rng.choice(WORDS) for _ in range(rng.randint(40, 400))))
        env = _env(work)
        cli = [sys.executable, "-m", "desktop_search", "--data-dir", str(data), "--model", str(model)]
        t0 = time.monotonic()
        subprocess.run([*cli, "index", str(docs)], check=True, env=env, cwd=ROOT, capture_output=True)
        index_s = time.monotonic() - t0

        window = subprocess.Popen(cli, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        samples = []
        try:
            proc = psutil.Process(window.pid)
            end = time.monotonic() + args.settle_s
            while time.monotonic() < end and window.poll() is None:
                samples.append(proc.memory_info().rss)
                time.sleep(1.0)
            maps = Path(f"/proc/{window.pid}/maps").read_text() if window.poll() is None else ""
            window_row = {"rss_mb": round(proc.memory_info().rss / 2**20), "peak_rss_mb": round(max(samples) / 2**20),
                          "torch_loaded": "libtorch" in maps, "alive": window.poll() is None}
        finally:
            window.terminate()
            try:
                window.wait(10)
            except subprocess.TimeoutExpired:
                window.kill()
        done = subprocess.run([sys.executable, "-c", SEARCH, str(data), str(model), " ".join(WORDS)],
                              capture_output=True, text=True, env=env, cwd=ROOT)
        if done.returncode != 0:
            raise SystemExit(done.stderr[-2000:])
        search_row = json.loads(done.stdout.strip().splitlines()[-1])
    result = {"model": str(args.model) if args.model else "random Ettin-32M-shaped ColBERT (64-d)",
              "files": args.files, "index_s": round(index_s, 1), "settle_s": args.settle_s,
              "machine": f"{platform.machine()}, {os.cpu_count()} cores", "window": window_row, "search": search_row}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "idle_memory.json").write_text(json.dumps(result, indent=1) + "\n")
    lines = [
        "# Memory of the app left open (nothing left to encode)", "",
        f"Model: {result['model']}; {args.files} notes indexed first by the CLI ({result['index_s']} s); "
        f"{result['machine']}. Goal (issue 14): idle RSS with the model loaded <= 600 MB.", "",
        "| process | RSS MB | PyTorch loaded | notes |", "|---|---|---|---|",
        f"| window, idle {args.settle_s:.0f} s after start, search model ready | {window_row['rss_mb']} "
        f"(peak {window_row['peak_rss_mb']}) | {window_row['torch_loaded']} | alive: {window_row['alive']} |",
        f"| service after 100 hybrid searches | {search_row['rss_mb']} | {search_row['torch_loaded']} | "
        f"query encoder {search_row['query_encoder']}; p50 {search_row['p50_ms']} ms, p95 {search_row['p95_ms']} ms "
        "(noisy shared machine) |",
    ]
    (RESULTS / "idle_memory.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
