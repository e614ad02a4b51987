"""Retrieval quality and speed on BEIR SciFact through `desktop-search eval`, PLAID vs exact.

    python tests/benchmarks/bench_scifact.py [--model DIR] [--data-dir DIR] [--beir DIR]
    python tests/benchmarks/bench_scifact.py --model DIR --index DIR --docs DIR [--beir DIR]

Without --model the MiniLM stand-in is built into the work folder. The index is kept in --data-dir
(default tests/benchmarks/work/scifact) so later runs only measure search. With --index, an existing
eval index (``<data dir>/eval/scifact/index``, best a copy: its catalog is written) is evaluated in
place through the service, the same ``eval`` code without the CLI: --docs is the folder its files
were indexed from (nothing is re-encoded when they are unchanged). Writes
tests/benchmarks/results/scifact.json and scifact.md, and the keyword row into scifact_keyword.json/.md.
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


def run_in_place(index: Path, docs: Path, model: Path, beir: Path, exact: bool) -> dict:
    """``eval``'s own run (evaluate._run) on an existing eval index, without materialising the corpus
    into a data folder of its own (which would index and encode all 5183 files again)."""
    from desktop_search.core import evaluate
    from desktop_search.core.service import Service

    corpus, queries, qrels = evaluate.load_beir(beir, "test")
    t0 = time.monotonic()
    with Service(index, model=str(model), allow_download=False) as service:
        result = evaluate._run(service, beir, docs, corpus, queries, qrels, "test", "semantic", exact, None, 0)
    result["wall_seconds"] = round(time.monotonic() - t0, 1)
    result["index_seconds"] = "built earlier (evaluated in place)"
    result["load_after"] = round(os.getloadavg()[0], 2)
    return result


def keyword_table(data: dict) -> str:
    lines = [
        f"SciFact keyword-only ranking (issue 13), {data['docs']} docs, {data['queries']} test queries, no model",
        "",
        "| keyword engine | nDCG@10 | recall@100 | MRR@10 | eval p50 ms | eval p95 ms |",
        "|---|---|---|---|---|---|",
    ]
    names = {"before": "before: unicode61, last word prefix-matched",
             "after": "after: porter stemmer (FTS5 `porter unicode61 remove_diacritics 2`), prefix only where "
                      "written `word*`"}
    for key in ("before", "after", "current"):
        r = data.get(key)
        if r:
            name = names.get(key) or (f"now ({r.get('code', '')}): + file-level BM25 (search/filerank.py), "
                                      "author/keywords columns")
            lines.append(f"| {name} | {r['ndcg@10']:.4f} | {r['recall@100']:.4f} | {r['mrr@10']:.4f} | "
                         f"{r['search_p50_ms']} | {r['search_p95_ms']} |")
    lines += ["", f"nDCG@10 after − before: {data['after']['ndcg@10'] - data['before']['ndcg@10']:+.4f} "
              "(goal ≥ 0.68, FTS5 porter level)."]
    current = data.get("current")
    if current:
        lines += ["", f"The `now` row: {current.get('when', '')}, the merged eval index evaluated in place "
                  f"(bench_scifact.py --index), load {current.get('load', '?')}. Before/after latencies were "
                  "measured on a machine at load 6-7.5 and are not comparable; keyword latency before and now "
                  "on the same machine, with CPU time per query as the quiet-machine estimate: keyword_latency.md."]
    return "\n".join(lines) + "\n"


def write_keyword(result: dict, code: str) -> None:
    """The keyword mode of an in-place run as the `current` row of scifact_keyword.json/.md."""
    path = RESULTS / "scifact_keyword.json"
    data = json.loads(path.read_text())
    kw = result["other_modes"]["keyword"]
    data["current"] = {**kw, "code": code, "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                       "load": result.get("load_after")}
    path.write_text(json.dumps(data, indent=1))
    (RESULTS / "scifact_keyword.md").write_text(keyword_table(data))


def table(plaid: dict, exact: dict) -> str:
    rows = [("exact MaxSim (reference)", exact)]
    rows.append(("semantic (PLAID + exact flat)", plaid))
    for mode, values in plaid.get("other_modes", {}).items():
        rows.append((mode, values))
    lines = [
        f"SciFact ({plaid['docs']} docs, {plaid['queries']} queries), model {plaid['model']}, "
        f"index {plaid['index_seconds']}{' s' if isinstance(plaid['index_seconds'], float) else ''}, "
        f"{plaid['vectors']:,} vectors in {plaid['segments']} segment(s), "
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
    if exact.get("note"):
        lines.append(f"The exact row is {exact['note']}.")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path)
    parser.add_argument("--data-dir", type=Path, default=ROOT / "tests" / "benchmarks" / "work" / "scifact")
    parser.add_argument("--beir", type=Path, default=ROOT.parent / "shared" / "data" / "scifact")
    parser.add_argument("--index", type=Path, help="an existing eval index, evaluated in place")
    parser.add_argument("--docs", type=Path, help="with --index: the folder its files were indexed from")
    parser.add_argument("--code", default="", help="with --index: the commit measured, for the tables")
    parser.add_argument("--skip-exact", action="store_true",
                        help="with --index: keep the exact MaxSim reference of the last scifact.json (slow)")
    args = parser.parse_args()
    if args.index is not None:
        if args.model is None or args.docs is None:
            parser.error("--index needs --model and --docs")
        plaid = run_in_place(args.index, args.docs, args.model, args.beir, exact=False)
        RESULTS.mkdir(parents=True, exist_ok=True)
        if args.skip_exact:
            exact = json.loads((RESULTS / "scifact.json").read_text())["exact"]
            exact["note"] = ("kept from the previous scifact.json (--skip-exact), which may predate the index's last "
                             "merge: the semantic − exact line is then only indicative")
        else:
            exact = run_in_place(args.index, args.docs, args.model, args.beir, exact=True)
        (RESULTS / "scifact.json").write_text(json.dumps({"semantic": plaid, "exact": exact, "code": args.code,
                                                          "how": "bench_scifact.py --index (in place)"}, indent=1))
        text = table(plaid, exact) + (f"\nEvaluated in place at {args.code or 'the working tree'} (bench_scifact.py "
                                      f"--index); 1-minute load {plaid['load_after']} at the end: the search times "
                                      "are a shared 2-core machine's under that load.\n")
        (RESULTS / "scifact.md").write_text(text)
        write_keyword(plaid, args.code)
        print(text)
        return 0
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
