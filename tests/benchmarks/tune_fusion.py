"""Tune rank fusion on SciFact only (issue 13): collect each test query's keyword, names and semantic
lists once from the eval index, then grid-search :class:`Fusion` offline with the app's own ``fuse``.

    python tests/benchmarks/tune_fusion.py --data-dir /tmp/shared-bench/scifact-data \\
        --model /tmp/shared-bench/standin-model [--beir ../shared/data/scifact]

The index must exist (``desktop-search --data-dir D --model M eval BEIR`` builds it). Writes
tests/benchmarks/results/fusion_scifact.{json,md}: the grid's best settings per normalisation, the
chosen defaults (``core/search/fusion.py``) against each single mode, and how the relevance floor
splits the top 10. The second collection is scored with the defaults unchanged by bench_second.py.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from dataclasses import asdict, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fusion_lab as lab  # noqa: E402

from desktop_search.core.search import DEFAULT_FUSION, Fusion  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "tests" / "benchmarks" / "results"


def coarse() -> list[Fusion]:
    """Stage 1: each normalisation over the keyword weight (names and coverage as shipped before)."""
    return [Fusion(semantic=0.6, keyword=round(0.6 * k, 4), names=0.3, norm=norm, coverage=1.0)
            for norm in ("minmax", "max", "rrf") for k in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0)]


def fine(norm: str) -> list[Fusion]:
    """Stage 2, for the best normalisation: keyword weight x names weight x coverage power."""
    return [Fusion(semantic=0.6, keyword=round(0.6 * k, 4), names=round(0.6 * n, 4), norm=norm, coverage=cov)
            for k, n, cov in itertools.product((0.2, 0.3, 0.4, 0.5, 0.6, 0.8), (0.0, 0.1, 0.3, 0.5),
                                               (0.0, 1.0, 2.0))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/shared-bench/scifact-data"))
    parser.add_argument("--model", type=Path, default=Path("/tmp/shared-bench/standin-model"))
    parser.add_argument("--beir", type=Path, default=ROOT.parent / "shared" / "data" / "scifact")
    parser.add_argument("--lists", type=Path, help="cache of the collected lists (JSON)")
    parser.add_argument("--latency", type=int, default=0, help="also time N queries end to end per mode")
    parser.add_argument("--exact", type=int, default=0, help="also compare semantic with exact MaxSim on N queries")
    args = parser.parse_args()
    queries, qrels = lab.beir_queries(args.beir)
    cache = args.lists or args.data_dir / "fusion-lists.json"
    timing = {}
    if cache.exists():
        lists, files = lab.load(cache)
    else:
        with lab.open_eval(args.data_dir, args.beir.name, args.model) as service:
            lists, files, timing = lab.collect(service, queries)
        lab.save(cache, lists, files)
    singles = {m: lab.score(lists, files, qrels, DEFAULT_FUSION, m) for m in ("semantic", "keyword")}
    best_single = max(v["ndcg@10"] for v in singles.values())
    scored = [(lab.score(lists, files, qrels, p, "hybrid")["ndcg@10"], p) for p in coarse()]
    scored.sort(key=lambda sp: -sp[0])
    scored += [(lab.score(lists, files, qrels, p, "hybrid")["ndcg@10"], p) for p in fine(scored[0][1].norm)]
    scored.sort(key=lambda sp: -sp[0])
    per_norm = {}
    for value, params in scored:
        per_norm.setdefault(params.norm, (value, params))
    chosen = {m: lab.score(lists, files, qrels, DEFAULT_FUSION, m) for m in ("hybrid", "keyword", "semantic")}
    floors = [lab.floor_report(lists, files, qrels, replace(DEFAULT_FUSION, floor=f)) for f in (0.3, 0.4, 0.5, 0.6)]
    out = {
        "dataset": args.beir.name, "queries": len(lists), "grid_size": len(scored),
        "best_by_norm": {n: {"ndcg@10": v, **asdict(p)} for n, (v, p) in per_norm.items()},
        "top10": [{"ndcg@10": v, **asdict(p)} for v, p in scored[:10]],
        "default": asdict(DEFAULT_FUSION), "default_scores": chosen,
        "hybrid_minus_best_single": round(chosen["hybrid"]["ndcg@10"] - best_single, 4),
        "floor": floors, "timing_ms": timing,
    }
    if args.latency or args.exact:
        with lab.open_eval(args.data_dir, args.beir.name, args.model) as service:
            if args.latency:
                out["latency"] = lab.latency(service, dict(list(queries.items())[: args.latency]))
            if args.exact:
                out["exact"] = lab.exact_gap(service, queries, qrels, args.exact)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "fusion_scifact.json").write_text(json.dumps(out, indent=1))
    lines = [
        f"Fusion tuned on SciFact ({len(lists)} test queries; stand-in model; lists collected once, "
        f"{len(scored)} settings scored offline with the app's `fuse`)",
        "",
        "| normalisation | best hybrid nDCG@10 | keyword weight | names weight | coverage power |",
        "|---|---|---|---|---|",
    ]
    for n, (v, p) in per_norm.items():
        lines.append(f"| {n} | {v:.4f} | {p.keyword} | {p.names} | {p.coverage} |")
    d = DEFAULT_FUSION
    lines += [
        "",
        f"Chosen defaults (`core/search/fusion.py`): semantic {d.semantic}, keyword {d.keyword}, names {d.names}, "
        f"norm {d.norm}, coverage {d.coverage}, floor {d.floor}",
        "",
        "| mode | nDCG@10 | recall@100 | MRR@10 |",
        "|---|---|---|---|",
    ]
    for m, r in chosen.items():
        lines.append(f"| {m} | {r['ndcg@10']:.4f} | {r['recall@100']:.4f} | {r['mrr@10']:.4f} |")
    lines += ["", f"hybrid − best single mode: {out['hybrid_minus_best_single']:+.4f} nDCG@10", "",
              "Relevance floor (a result is weak below floor × the best score), hybrid top 10 of every query:", "",
              "| floor | relevant marked weak | others marked weak |", "|---|---|---|"]
    for f in floors:
        lines.append(f"| {f['floor']} | {f['relevant_marked_weak']}/{f['relevant_in_top10']} | "
                     f"{f['others_marked_weak']}/{f['others_in_top10']} |")
    if "latency" in out:
        lines += ["", "End-to-end `Service.search` on the SciFact eval index (limit 100, no snippets, as `eval` times "
                  "it), on a 2-core machine shared with 7 other engineers' builds and tests (load 10-17): "
                  "absolute times are inflated, see the note", "", "| mode | p50 ms | p95 ms | queries |",
                  "|---|---|---|---|"]
        for m, r in out["latency"].items():
            lines.append(f"| {m} | {r['p50_ms']} | {r['p95_ms']} | {r['queries']} |")
    if "exact" in out:
        e = out["exact"]
        lines += ["", f"Semantic vs exact MaxSim on the first {e['queries']} queries: {e['semantic_ndcg@10']:.4f} vs "
                  f"{e['exact_ndcg@10']:.4f} ({e['semantic_minus_exact']:+.4f})"]
    text = "\n".join(lines) + "\n"
    (RESULTS / "fusion_scifact.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
