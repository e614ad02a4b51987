"""Search latency on an existing index (issue 13's targets: keyword p95 <= 50 ms, hybrid <= 150 ms on the
SciFact eval index): ``Service.search`` end to end, no snippets (as ``eval`` times it), 300 SciFact test
queries per mode at limit 10 and 100, NumPy query encoding, after one warm-up query per mode.

    python tests/benchmarks/bench_search_latency.py INDEX_DIR [INDEX_DIR ...] --model DIR [--label TEXT]

Each INDEX_DIR is a data folder (e.g. ``DATA/eval/scifact/index``). Writes
tests/benchmarks/results/search_latency.{json,md}. Run it on a quiet machine: the load is recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import fusion_lab as lab  # noqa: E402

from desktop_search.core.evaluate import load_beir  # noqa: E402
from desktop_search.core.service import Service  # noqa: E402

RESULTS = ROOT / "tests" / "benchmarks" / "results"


def measure(index: Path, model: Path, queries: dict[str, str]) -> dict:
    with Service(index, model=str(model), allow_download=False) as service:
        service.load_query_model()
        out = {str(limit): lab.latency(service, queries, limit=limit) for limit in (10, 100)}
    loadavg = Path("/proc/loadavg")
    out["load"] = loadavg.read_text().split()[:3] if loadavg.exists() else []
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("indexes", type=Path, nargs="+")
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--beir", type=Path, default=ROOT.parent / "shared" / "data" / "scifact")
    parser.add_argument("--label", default="")
    args = parser.parse_args()
    _corpus, all_queries, qrels = load_beir(args.beir, "test")
    queries = {qid: text for qid, text in all_queries.items() if qid in qrels}
    runs = {str(index): measure(index, args.model, queries) for index in args.indexes}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "search_latency.json").write_text(json.dumps({"label": args.label, "runs": runs}, indent=1))
    lines = ["# Search latency (Service.search, no snippets, NumPy query encoding)", "", args.label, "",
             "| index | limit | keyword p50/p95 ms | semantic p50/p95 ms | hybrid p50/p95 ms | queries | load |",
             "|---|---|---|---|---|---|---|"]
    for index, run in runs.items():
        for limit in ("10", "100"):
            modes = ("keyword", "semantic", "hybrid")
            cells = [f"{run[limit][m]['p50_ms']} / {run[limit][m]['p95_ms']}" for m in modes]
            lines.append(f"| {index} | {limit} | {' | '.join(cells)} | {run[limit]['keyword']['queries']} "
                         f"| {' '.join(run['load'])} |")
    (RESULTS / "search_latency.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
