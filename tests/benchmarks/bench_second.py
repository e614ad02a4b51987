"""The fusion settings tuned on SciFact, unchanged, on a collection they were not tuned on (issue 13):
by default the Debian package descriptions (tests/benchmarks/data/debian-packages, made by
make_debian_ir.py).

    python tests/benchmarks/bench_second.py [--beir DIR] [--data-dir DIR] [--model DIR]

Indexes the collection with ``desktop-search eval`` (kept in --data-dir), then runs every query once
through the app's own retrievers and scores hybrid, keyword and semantic with the shipped
``DEFAULT_FUSION``, plus the app's own ``eval`` numbers for each mode (same index). Writes
tests/benchmarks/results/fusion_<name>.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fusion_lab as lab  # noqa: E402

from desktop_search.core.search import DEFAULT_FUSION  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "tests" / "benchmarks" / "results"


def app_eval(data_dir: Path, model: Path, beir: Path) -> dict:
    cmd = [sys.executable, "-m", "desktop_search", "--data-dir", str(data_dir), "--model", str(model), "eval",
           str(beir), "--mode", "hybrid", "--json"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"eval failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--beir", type=Path, default=ROOT / "tests" / "benchmarks" / "data" / "debian-packages")
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/shared-bench/debian-data"))
    parser.add_argument("--model", type=Path, default=Path("/tmp/shared-bench/standin-model"))
    parser.add_argument("--no-app-eval", action="store_true", help="score the lists only (index must exist)")
    parser.add_argument("--lists", type=Path, help="cache of the collected lists (JSON; reused when present)")
    args = parser.parse_args()
    app = None if args.no_app_eval else app_eval(args.data_dir, args.model, args.beir)
    queries, qrels = lab.beir_queries(args.beir)
    timing: dict[str, float] = {}
    if args.lists and args.lists.exists():
        lists, files = lab.load(args.lists)
    else:
        with lab.open_eval(args.data_dir, args.beir.name, args.model) as service:
            lists, files, timing = lab.collect(service, queries)
        if args.lists:
            lab.save(args.lists, lists, files)
    scores = {m: lab.score(lists, files, qrels, DEFAULT_FUSION, m) for m in ("hybrid", "keyword", "semantic")}
    best_single = max(scores["keyword"]["ndcg@10"], scores["semantic"]["ndcg@10"])
    out = {"dataset": args.beir.name, "queries": len(lists), "docs": len(files), "fusion": asdict(DEFAULT_FUSION),
           "scores": scores, "hybrid_minus_best_single": round(scores["hybrid"]["ndcg@10"] - best_single, 4),
           "floor": lab.floor_report(lists, files, qrels, DEFAULT_FUSION), "timing_ms": timing, "app_eval": app}
    name = args.beir.name.replace("-", "_")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"fusion_{name}.json").write_text(json.dumps(out, indent=1))
    lines = [f"Fusion settings tuned on SciFact, unchanged, on {args.beir.name} ({len(lists)} queries; stand-in "
             "model; not tuned on)", "", "| mode | nDCG@10 | recall@100 | MRR@10 |", "|---|---|---|---|"]
    for m, r in scores.items():
        lines.append(f"| {m} | {r['ndcg@10']:.4f} | {r['recall@100']:.4f} | {r['mrr@10']:.4f} |")
    lines += ["", f"hybrid − best single mode: {out['hybrid_minus_best_single']:+.4f} nDCG@10"]
    if app:
        lines += ["", "The app's own `eval` on the same index (same numbers by construction; latency on a loaded "
                  "2-core machine):", "", "| mode | nDCG@10 | search p50 ms | search p95 ms |", "|---|---|---|---|",
                  f"| hybrid | {app['ndcg@10']:.4f} | {app['search_p50_ms']} | {app['search_p95_ms']} |"]
        for m, r in app.get("other_modes", {}).items():
            lines.append(f"| {m} | {r['ndcg@10']:.4f} | {r['search_p50_ms']} | {r['search_p95_ms']} |")
    text = "\n".join(lines) + "\n"
    (RESULTS / f"fusion_{name}.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
