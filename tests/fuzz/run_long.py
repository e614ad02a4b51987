"""Long, on-demand fuzzing run: every extractor through the isolated pool, the query parser and keyword
search in-process. Writes executions and findings per target to tests/benchmarks/results/fuzz.{json,md}
and keeps each new finding as a regression file under tests/fuzz/regressions/.

    nice -n 15 .venv/bin/python tests/fuzz/run_long.py --minutes 15
    .venv/bin/python tests/fuzz/run_long.py --minutes 2 --targets pdf,parser

Extraction runs in the real worker pool (``extract_many``), so a crash or a hang in a parser is contained,
counted, and the run goes on: "crash" = a worker killed by a signal or exiting, "hang" = the worker
timeout fired, "error" = an exception the extractor let through, "bad result" = text that would break
storage. The main process never runs a parser, so it cannot crash; the longest a batch ever waited past
the worker timeout is reported too ("max overrun").
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1]))

from fuzzlib import (  # noqa: E402
    REGISTRY_SUFFIXES,
    TARGETS,
    all_seeds,
    check_outcome,
    limits_for_fuzz,
    mutate,
    save_regression,
    seeds_for,
)

RESULTS = HERE.parents[0] / "benchmarks" / "results"
BATCH = 24


def _signature(problem: str) -> str:
    """Group findings by kind, not by file: the exception type for extractor errors, else the reason
    without paths and numbers."""
    m = re.match(r"(extractor error: \w+)", problem)
    if m:
        return m.group(1)
    problem = re.sub(r"/\S+", "<path>", problem)
    return re.sub(r"\d+", "N", problem)[:60]


def _environment_noise(outcome: Any) -> bool:
    """A worker that could not import its own libraries: the virtualenv was being rewritten under it (here:
    another session's ``uv sync``), not a property of the input. Such files are tried again."""
    return (outcome.error or "").startswith("extractor error: ModuleNotFoundError")


def _classify(problem: str) -> str:
    if problem.startswith("extractor crashed"):
        return "crash"
    if problem.startswith("timed out"):
        return "hang"
    if problem.startswith(("extractor error", "malformed reply", "extraction worker")):
        return "error"
    return "bad result"


def fuzz_extractor(target: str, seconds: float, rng: random.Random, workers: int, save: bool) -> dict[str, Any]:
    from desktop_search.core.extract import extract_many

    limits = limits_for_fuzz()
    seeds = all_seeds() if target == "registry" else seeds_for(target)
    stats: dict[str, Any] = {"executions": 0, "crash": 0, "hang": 0, "error": 0, "bad result": 0,
                             "findings": [], "seeds": len(seeds), "max_worker_seconds": 0.0, "max_overrun_s": 0.0}
    seen: Counter[str] = Counter()
    end = time.monotonic() + seconds
    with tempfile.TemporaryDirectory(prefix=f"fuzz-{target}-") as tmp:
        n = 0
        while time.monotonic() < end:
            batch: dict[str, tuple[bytes, str, str]] = {}
            for _ in range(BATCH):
                seed = rng.choice(seeds)
                suffix = rng.choice(REGISTRY_SUFFIXES) if target == "registry" else TARGETS[target][0]
                data = mutate(seed, rng)
                path = os.path.join(tmp, f"{n:07d}{suffix}")
                n += 1
                with open(path, "wb") as handle:
                    handle.write(data)
                batch[path] = (data, suffix, seed.name)
            started = time.monotonic()
            outcomes = list(extract_many(list(batch), limits, workers=workers))
            retry = [o.path for o in outcomes if _environment_noise(o)]
            if retry:
                stats["retried_for_environment"] = stats.get("retried_for_environment", 0) + len(retry)
                time.sleep(2)
                again = {o.path: o for o in extract_many(retry, limits, workers=workers)}
                outcomes = [again.get(o.path, o) for o in outcomes]
            for outcome in outcomes:
                stats["executions"] += 1
                if outcome.seconds:
                    stats["max_worker_seconds"] = max(stats["max_worker_seconds"], round(outcome.seconds, 2))
                problem = check_outcome(outcome)
                if problem:
                    kind = _classify(problem)
                    stats[kind] += 1
                    sig = _signature(problem)
                    seen[sig] += 1
                    if seen[sig] == 1:
                        data, suffix, seed_name = batch[outcome.path]
                        entry = {"class": kind, "problem": problem[:300], "seed": seed_name}
                        if save:
                            saved = save_regression(target, data, suffix, f"{kind}: {problem}\nseed: {seed_name}")
                            entry["regression"] = str(saved.relative_to(HERE))
                        stats["findings"].append(entry)
            # the pool's own promise: no batch waits more than (files / workers) timeouts
            bound = limits.timeout_s * -(-len(batch) // workers)
            stats["max_overrun_s"] = max(stats["max_overrun_s"], round(time.monotonic() - started - bound, 2), 0.0)
            for path in batch:
                os.unlink(path)
    stats["unique_findings"] = len(stats["findings"])
    return stats


# ---------------------------------------------------------------------------------------- queries
_QUERY_PIECES = ["ext:", "dir:", "date:", "size:", "-", '"', " ", "..", ">", "<", ">=", "=", ",", ".", "k", "M",
                 "g", "2024", "2024-03", "2024-13-40", "9999", "0", "1", "99999999999999999999", "1e400", "٢٠٢٤",
                 "café", "*", "NEAR", "AND", "OR", "NOT", "(", ")", "^", ":", "'", "\\", "\x00", "\ud800",
                 "\udcff", "\u200b", "\ufeff", "日本", "\t", "\n", "%", "_", "/", "~"]


def random_query(rng: random.Random) -> str:
    if rng.random() < 0.3:
        return "".join(chr(rng.choice([rng.randint(0, 0x7F), rng.randint(0, 0x2FFF), rng.randint(0, 0x10FFFF)]))
                       for _ in range(rng.randint(0, 40)))
    return "".join(rng.choice(_QUERY_PIECES) for _ in range(rng.randint(0, 14)))


def fuzz_queries(target: str, seconds: float, rng: random.Random, save: bool) -> dict[str, Any]:
    from desktop_search.core.search import QueryError, parse_query

    stats: dict[str, Any] = {"executions": 0, "error": 0, "findings": []}
    seen: set[str] = set()
    service = None
    tmp = None
    if target == "search":
        from desktop_search.core.service import Service

        tmp = tempfile.TemporaryDirectory(prefix="fuzz-search-")
        docs = Path(tmp.name) / "docs"
        docs.mkdir()
        for i, text in enumerate(["The lighthouse keeper's log, 2024.", "Sourdough starter: flour, water.",
                                  "Volcanoes and magma chambers", "café résumé naïve 日本語 テキスト"]):
            (docs / f"doc{i}.txt").write_text(text)
        service = Service(Path(tmp.name) / "data", allow_download=False)
        service.index([str(docs)], encode=False)
    end = time.monotonic() + seconds
    try:
        while time.monotonic() < end:
            query = random_query(rng)
            stats["executions"] += 1
            try:
                if service is not None:
                    service.search(query, limit=5, mode="keyword")
                else:
                    parse_query(query)
            except QueryError:
                continue
            except Exception as exc:
                problem = f"{type(exc).__name__}: {exc}"
                stats["error"] += 1
                sig = _signature(problem)
                if sig not in seen:
                    seen.add(sig)
                    stats["findings"].append({"class": "error", "problem": problem[:300], "query": ascii(query)})
    finally:
        if service is not None:
            service.close()
        if tmp is not None:
            tmp.cleanup()
    stats["unique_findings"] = len(stats["findings"])
    return stats


def _summary(run: dict[str, Any]) -> dict[str, Any]:
    return {"started": run.get("started"), "minutes": run.get("minutes"), "seed": run.get("seed"),
            "targets": {name: {"executions": s["executions"], "unique_findings": s["unique_findings"],
                               "findings": [f["problem"][:120] for f in s["findings"]]}
                        for name, s in run.get("targets", {}).items()}}


def write_report(results: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    try:  # earlier runs stay in the record, summarised (what they found was fixed in between)
        before = json.loads((out / "fuzz.json").read_text())
        results["previous_runs"] = [*before.get("previous_runs", []), _summary(before)]
    except (OSError, ValueError, KeyError, TypeError):
        results.setdefault("previous_runs", [])
    (out / "fuzz.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    lines = [
        "# Fuzzing (issue 11)",
        "",
        f"{results['started']}, {results['minutes']} min, {results['workers']} worker(s), "
        f"worker timeout {results['timeout_s']} s, seed {results['seed']}, {results['machine']}. "
        "Extractors run in the isolated pool; parser and search in-process.",
        "",
        "| target | executions | crash | hang | error | bad result | unique findings | max worker s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    total = 0
    for name, s in results["targets"].items():
        total += s["executions"]
        lines.append(f"| {name} | {s['executions']} | {s.get('crash', 0)} | {s.get('hang', 0)} | {s.get('error', 0)} "
                     f"| {s.get('bad result', 0)} | {s['unique_findings']} | {s.get('max_worker_seconds', '')} |")
        if s.get("setup_error"):
            lines[-1] += f" could not start: {s['setup_error']}"
    lines += ["", f"Total executions: {total}. Main-process crashes: 0 (the run finished). Longest wait past the "
              f"worker timeout: {results['max_overrun_s']} s.", ""]
    findings = [(n, f) for n, s in results["targets"].items() for f in s["findings"]]
    if findings:
        lines += ["## Findings", ""]
        for name, f in findings:
            where = f.get("regression") or f.get("query", "")
            lines.append(f"- **{name}** ({f['class']}): {f['problem']} — {where}")
        lines.append("")
    for run in results["previous_runs"]:
        total = sum(t["executions"] for t in run["targets"].values())
        found = sum(t["unique_findings"] for t in run["targets"].values())
        lines += [f"## Earlier run: {run['started']}, {run['minutes']} min, seed {run['seed']}", "",
                  f"{total} executions, {found} unique findings (all fixed since, each kept under "
                  "tests/fuzz/regressions/):", ""]
        lines += [f"- {name}: {t['executions']} executions; " + "; ".join(t["findings"])
                  for name, t in run["targets"].items() if t["findings"]]
        lines.append("")
    (out / "fuzz.md").write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=15.0, help="total budget, split over the targets")
    ap.add_argument("--targets", default="", help="comma-separated (default: all extractors, registry, parser, search)")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--no-save", action="store_true", help="do not write regression files")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    names = args.targets.split(",") if args.targets else [*sorted(TARGETS), "registry", "parser", "search"]
    per_target = args.minutes * 60 / len(names)
    rng = random.Random(args.seed)
    results: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "minutes": args.minutes,
        "workers": args.workers, "timeout_s": limits_for_fuzz().timeout_s, "seed": args.seed,
        "machine": f"{platform.machine()} {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "targets": {},
    }
    for name in names:
        started = time.monotonic()
        try:
            if name in ("parser", "search"):
                stats = fuzz_queries(name, per_target, rng, not args.no_save)
            else:
                stats = fuzz_extractor(name, per_target, rng, args.workers, not args.no_save)
        except Exception as exc:  # a target that cannot even start (say, a tree being edited) is reported
            stats = {"executions": 0, "findings": [], "unique_findings": 0,
                     "setup_error": f"{type(exc).__name__}: {exc}"[:300]}
        stats["seconds"] = round(time.monotonic() - started, 1)
        results["targets"][name] = stats
        print(f"{name}: {stats['executions']} executions, {stats['unique_findings']} unique findings", flush=True)
    results["max_overrun_s"] = max((s.get("max_overrun_s", 0.0) for s in results["targets"].values()), default=0.0)
    write_report(results, args.out)
    print(f"wrote {args.out / 'fuzz.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
