"""Retrieval quality and speed on BEIR SciFact through `desktop-search eval`, PLAID vs exact.

    python tests/benchmarks/bench_scifact.py [--model DIR] [--data-dir DIR] [--beir DIR]

Without --model the MiniLM stand-in is built into the work folder. The index is kept in --data-dir
(default tests/benchmarks/work/scifact) so later runs only measure search. Writes
tests/benchmarks/results/scifact.json and scifact.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "tests" / "benchmarks" / "results"


def run_eval(data_dir: Path, model: Path, beir: Path, *extra: str) -> dict:
    cmd = [sys.executable, "-m", "desktop_search", "--data-dir", str(data_dir), "--model", str(model),
           "eval", str(beir), "--json", *extra]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    t0 = time.monotonic()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"eval failed: {done.stderr[-2000:]}")
    result = json.loads(done.stdout)
    result["wall_seconds"] = round(time.monotonic() - t0, 1)
    return result


def table(plaid: dict, exact: dict) -> str:
    rows = [("exact MaxSim (reference)", exact)]
    rows.append(("semantic (PLAID + exact flat)", plaid))
    for mode, values in plaid.get("other_modes", {}).items():
        rows.append((mode, values))
    lines = [
        f"SciFact ({plaid['docs']} docs, {plaid['queries']} queries), model {plaid['model']}, "
        f"index {plaid['index_seconds']} s, {plaid['vectors']:,} vectors in {plaid['segments']} segment(s), "
        f"index {plaid['index_bytes'] / 1e6:.0f} MB",
        "",
        "| ranking | nDCG@10 | recall@100 | MRR@10 | search p50 ms | search p95 ms |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in rows:
        lines.append(f"| {name} | {r['ndcg@10']:.4f} | {r['recall@100']:.4f} | {r['mrr@10']:.4f} | "
                     f"{r['search_p50_ms']} | {r['search_p95_ms']} |")
    lines.append("")
    lines.append(f"nDCG@10 semantic − exact: {plaid['ndcg@10'] - exact['ndcg@10']:+.4f}")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path)
    parser.add_argument("--data-dir", type=Path, default=ROOT / "tests" / "benchmarks" / "work" / "scifact")
    parser.add_argument("--beir", type=Path, default=ROOT.parent / "shared" / "data" / "scifact")
    args = parser.parse_args()
    model = args.model
    if model is None:
        model = args.data_dir.parent / "standin-model"
        if not (model / "config.json").exists():
            from desktop_search.testing.models import build_standin

            build_standin(model)
    plaid = run_eval(args.data_dir, model, args.beir)
    exact = run_eval(args.data_dir, model, args.beir, "--exact")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "scifact.json").write_text(json.dumps({"semantic": plaid, "exact": exact}, indent=1))
    text = table(plaid, exact)
    (RESULTS / "scifact.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
