"""Whole-pipeline indexing throughput against the bare encoder, side by side in one run (issue 14).

    nice python tests/benchmarks/bench_pipeline.py [--model DIR] [--beir DIR] [--docs N] [--rounds R]
                                                   [--threads T] [--device auto|cpu|cuda|mps]

The first N SciFact documents (default 150; all 5,183 take hours on a shared 2-core CPU) are written as
text files (title, blank line, text: what `eval` writes). Each round indexes them into a fresh data folder with
the whole pipeline (scan, diff, isolated extraction workers, catalog and FTS5, encoding, flat segments,
compaction) and encodes the very texts the pipeline stored with the bare encoder (one
``encode_documents`` call over all of them, the encoder's best case) -- the same loaded model, the same
threads, one after the other, the order swapped every round so a change in machine load hits both.
The model is loaded before the clock starts (a running app has it loaded); its load time is reported.

Reported per side: stored vectors per wall second (the acceptance figure), per CPU second (this process
plus the extraction workers: steadier than wall time on a shared machine), the pipeline's phases, and
the encoder's padding. Also the read-once saving: bytes the first index hashes before extraction (now
none; before issue 14 every byte) and the time hashing all files takes from a cold page cache (pages
dropped with posix_fadvise).

Writes tests/benchmarks/results/pipeline.json and pipeline.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "tests" / "benchmarks" / "results"
SHARED_STANDIN = Path("/tmp/shared-bench/standin-model")


def cpu_seconds() -> float:
    """CPU time of this process and of its reaped children (the extraction workers)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def write_docs(beir: Path, docs: Path, n: int) -> int:
    shutil.rmtree(docs, ignore_errors=True)
    docs.mkdir(parents=True)
    total = 0
    with open(beir / "corpus.jsonl", encoding="utf-8") as f:
        for _, line in zip(range(n), f, strict=False):
            doc = json.loads(line)
            title, body = (doc.get("title") or "").strip(), (doc.get("text") or "").strip()
            text = f"{title}\n\n{body}\n" if title else f"{body}\n"
            path = docs / f"{doc['_id']}.txt"
            path.write_text(text, encoding="utf-8")
            total += path.stat().st_size
    return total


def drop_page_cache(folder: Path) -> None:
    """Evict the files' pages (written back first: dirty pages stay), as after a reboot."""
    for p in folder.rglob("*"):
        if not p.is_file():
            continue
        fd = os.open(p, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def hash_cost(folder: Path) -> dict[str, Any]:
    """What the first index's diff used to do before extraction: hash every file (cold cache)."""
    from desktop_search.core.index.segments import file_digest

    drop_page_cache(folder)
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    t0 = time.perf_counter()
    for p in files:
        file_digest(p)
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    for p in files:
        file_digest(p)
    warm = time.perf_counter() - t0
    return {"files": len(files), "bytes": sum(p.stat().st_size for p in files), "hash_cold_s": round(cold, 3),
            "hash_warm_s": round(warm, 3)}


def run_pipeline(service: Any, docs: Path) -> dict[str, Any]:
    from desktop_search.core import scan as scan_module

    calls: list[str] = []
    real_digest = scan_module.file_digest

    def counting(path: Any) -> str:
        calls.append(str(path))
        return real_digest(path)

    phases: dict[str, float] = {}

    def progress(p: Any) -> None:
        phases.setdefault(p.phase, time.perf_counter())

    in_diff = [0]
    real_diff = scan_module.diff

    def diff(*args: Any, **kwargs: Any) -> Any:
        before = len(calls)
        try:
            return real_diff(*args, **kwargs)
        finally:
            in_diff[0] += len(calls) - before

    import desktop_search.core.compaction as compaction_module
    import desktop_search.core.indexer as indexer_module

    # time spent merging (codec training, compression), wherever the indexer compacts: mid-run and at
    # the end (the "compact" phase span runs from the first mid-run merge to the end, encoding included)
    merging = [0.0, 0]
    real_run = compaction_module.Compactor.run

    def timed_run(self: Any, final: bool) -> Any:
        started = time.perf_counter()
        try:
            return real_run(self, final)
        finally:
            merging[0] += time.perf_counter() - started
            merging[1] += 1

    encoder = service.encoder()
    stats0 = (encoder.doc_stats.tokens, encoder.doc_stats.padded, encoder.doc_stats.forward_s)
    scan_module.file_digest, indexer_module.diff = counting, diff
    compaction_module.Compactor.run = timed_run  # type: ignore[method-assign]
    try:
        cpu0, t0 = cpu_seconds(), time.perf_counter()
        report = service.index([str(docs)], progress=progress)
        wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    finally:
        scan_module.file_digest, indexer_module.diff = real_digest, real_diff
        compaction_module.Compactor.run = real_run  # type: ignore[method-assign]
    stats = encoder.doc_stats
    order = [k for k in ("scan", "extract", "encode", "compact", "done") if k in phases]
    spans = {k: round((phases[order[i + 1]] if i + 1 < len(order) else t0 + wall) - phases[k], 2)
             for i, k in enumerate(order) if k != "done"}
    return {
        "files": report.new, "failed": report.failed, "vectors": report.encoded_tokens,
        "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
        "vectors_per_s": round(report.encoded_tokens / wall, 1),
        "vectors_per_cpu_s": round(report.encoded_tokens / cpu, 1),
        "phases_s": spans, "merging_s": round(merging[0], 2), "compactions": merging[1],
        "start_to_first_phase_s": round(phases[order[0]] - t0, 2) if order else None,
        "window_tokens": stats.tokens - stats0[0], "padded_tokens": stats.padded - stats0[1],
        "forward_s": round(stats.forward_s - stats0[2], 2),
        "hashed_in_diff": in_diff[0], "hashed_after_extraction": len(calls) - in_diff[0],
    }


def run_bare(service: Any) -> dict[str, Any]:
    """The bare encoder on exactly the texts and passage ranges the pipeline stored."""
    reader = service.reader()
    ids = sorted(r["id"] for r in reader.file_rows())
    by_file: dict[int, list[dict[str, Any]]] = {}
    for r in reader.passages_to_encode(ids):
        by_file.setdefault(r["file_id"], []).append(r)
    texts = ["".join(p["text"] for p in by_file[f]) for f in ids if f in by_file]
    ranges = [[(p["char_start"], p["char_end"]) for p in by_file[f]] for f in ids if f in by_file]
    encoder = service.encoder()
    stats0 = (encoder.doc_stats.tokens, encoder.doc_stats.padded)
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    out = encoder.encode_documents(texts, ranges)
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    vectors = sum(len(pv.vectors) for per in out for pv in per)
    return {
        "files": len(texts), "vectors": vectors, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
        "vectors_per_s": round(vectors / wall, 1), "vectors_per_cpu_s": round(vectors / cpu, 1),
        "window_tokens": encoder.doc_stats.tokens - stats0[0], "padded_tokens": encoder.doc_stats.padded - stats0[1],
    }


def table(result: dict[str, Any]) -> str:
    a = result["args"]
    lines = [
        f"Whole-pipeline indexing vs the bare encoder, side by side in one process: SciFact, first {a['docs']} "
        f"of 5,183 documents ({result['corpus_bytes'] / 1e3:.0f} kB of text), model {a['model_name']}, "
        f"device {result['device']}, {a['threads']} thread(s), {a['rounds']} round(s) (order swapped each "
        f"round). Machine: 2 cores shared with other engineers' work: wall times are noisy; the CPU-time "
        f"columns are steadier.",
        "",
        "| round | first | pipeline vectors/s | bare vectors/s | ratio (wall) | pipeline vectors/CPU-s | "
        "bare vectors/CPU-s | ratio (CPU) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for i, r in enumerate(result["rounds"], 1):
        p, b = r["pipeline"], r["bare"]
        lines.append(f"| {i} | {r['first']} | {p['vectors_per_s']} | {b['vectors_per_s']} | {r['ratio_wall']:.3f} | "
                     f"{p['vectors_per_cpu_s']} | {b['vectors_per_cpu_s']} | {r['ratio_cpu']:.3f} |")
    s = result["summary"]
    lines += [
        "",
        f"Median ratio pipeline/bare: **{s['median_ratio_wall']:.3f}** (wall), {s['median_ratio_cpu']:.3f} (CPU "
        f"time); acceptance ≥ 0.8 (wall): {'met' if s['median_ratio_wall'] >= 0.8 else 'NOT met'}.",
        "",
        "Pipeline phases (s, last round, each from its first progress line to the next phase's): "
        + ", ".join(f"{k} {v}" for k, v in result["rounds"][-1]["pipeline"]["phases_s"].items())
        + f"; of which merging (codec training, compression, commits; mid-run and final): "
        f"{', '.join(str(r['pipeline'].get('merging_s', '–')) for r in result['rounds'])} s by round"
        + f"; model load before the clock {result['model_load_s']} s.",
        f"Encoder padding: pipeline {s['pipeline_padding']:.2%}, bare {s['bare_padding']:.2%} of processed tokens "
        "(length-bucketed batches by token budget).",
        "",
        f"Read once: the first index hashed {s['hashed_in_diff']} files in the diff (before issue 14: all "
        f"{result['hash']['files']}) and {s['hashed_after_extraction']} right after extraction, from the page cache. "
        f"Hashing all {result['hash']['files']} files ({result['hash']['bytes'] / 1e3:.0f} kB) before extraction "
        f"took {result['hash']['hash_cold_s']} s from a cold cache ({result['hash']['hash_warm_s']} s warm): the "
        "serial read pass a first index no longer makes before its first file is extracted.",
    ]
    mixed = result.get("hash_mixed_corpus")
    if mixed:
        lines.append(f"On the mixed extraction corpus (../shared/corpus: {mixed['files']} files, "
                     f"{mixed['bytes'] / 1e6:.1f} MB of PDFs, office files, mail...) that pass took "
                     f"{mixed['hash_cold_s']} s cold ({mixed['hash_warm_s']} s warm).")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path)
    parser.add_argument("--beir", type=Path, default=ROOT.parent / "shared" / "data" / "scifact")
    parser.add_argument("--mixed", type=Path, default=ROOT.parent / "shared" / "corpus",
                        help="a folder of mixed documents for the read-once measurement")
    parser.add_argument("--docs", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--work", type=Path, default=ROOT / "tests" / "benchmarks" / "work" / "pipeline")
    parser.add_argument("--out", default="pipeline", help="result file stem in tests/benchmarks/results")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ["DESKTOP_SEARCH_NICE"] = "0"  # both sides at the priority the benchmark was started with
    model = args.model
    if model is None:
        model = SHARED_STANDIN if (SHARED_STANDIN / "config.json").exists() else args.work / "standin-model"
        if not (model / "config.json").exists():
            from desktop_search.testing.models import build_standin

            build_standin(model)
    from desktop_search.core.service import Service

    docs = args.work / "docs"
    corpus_bytes = write_docs(args.beir, docs, args.docs)
    hashing = hash_cost(docs)
    mixed = args.mixed  # PDFs, office files, mail: bytes far beyond their text
    hashing_mixed = hash_cost(mixed) if mixed.is_dir() else None
    rounds = []
    load_s = None
    for r in range(args.rounds):
        data = args.work / f"data-{r}"
        shutil.rmtree(data, ignore_errors=True)
        with Service(data, model=str(model), threads=args.threads, allow_download=False) as service:
            service.update_settings(device=args.device)
            t0 = time.perf_counter()
            service.encoder()
            load_s = round(time.perf_counter() - t0, 1)
            drop_page_cache(docs)
            first = "pipeline" if r % 2 == 0 else "bare"
            if first == "pipeline":
                pipeline = run_pipeline(service, docs)
                bare = run_bare(service)
            else:
                # the bare side needs the stored texts: index keyword-only first (not timed), then drop it
                shutil.rmtree(args.work / "texts", ignore_errors=True)
                with Service(args.work / "texts", model=str(model), threads=args.threads) as texts:
                    texts.index([str(docs)], encode=False)
                    bare = run_bare_on(service, texts)
                drop_page_cache(docs)
                pipeline = run_pipeline(service, docs)
            device = service.encoder().device
        rounds.append({"first": first, "pipeline": pipeline, "bare": bare,
                       "ratio_wall": pipeline["vectors_per_s"] / bare["vectors_per_s"],
                       "ratio_cpu": pipeline["vectors_per_cpu_s"] / bare["vectors_per_cpu_s"]})
        print(json.dumps(rounds[-1]), file=sys.stderr)
    last = rounds[-1]
    summary = {
        "median_ratio_wall": statistics.median(r["ratio_wall"] for r in rounds),
        "median_ratio_cpu": statistics.median(r["ratio_cpu"] for r in rounds),
        "pipeline_padding": 1 - last["pipeline"]["window_tokens"] / last["pipeline"]["padded_tokens"],
        "bare_padding": 1 - last["bare"]["window_tokens"] / last["bare"]["padded_tokens"],
        "hashed_in_diff": last["pipeline"]["hashed_in_diff"],
        "hashed_after_extraction": last["pipeline"]["hashed_after_extraction"],
    }
    result = {"args": {**{k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
                       "model_name": Path(model).name},
              "device": device, "corpus_bytes": corpus_bytes, "model_load_s": load_s, "hash": hashing,
              "hash_mixed_corpus": hashing_mixed,
              "rounds": rounds, "summary": summary}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.out}.json").write_text(json.dumps(result, indent=1))
    text = table(result)
    (RESULTS / f"{args.out}.md").write_text(text)
    print(text)
    return 0


def run_bare_on(service: Any, texts_service: Any) -> dict[str, Any]:
    """``run_bare`` with the texts of another (keyword-only) index of the same files and the model of
    ``service``."""

    class Both:
        def reader(self) -> Any:
            return texts_service.reader()

        def encoder(self) -> Any:
            return service.encoder()

    return run_bare(Both())


if __name__ == "__main__":
    sys.exit(main())
