"""Scale benchmark (issue 14): an index of 1M and 10M tokens, measured through the Service.

    python tests/benchmarks/bench_scale.py [--sizes 1M,10M] [--queries 60] [--work DIR]
        [--phases encoders,build,measure,add,recall] [--keep] [--index-model 32m|tiny]

Phases run in their own processes and each saves its JSON in --work at once; with --keep a finished
build (its data folder) and the JSON of phases left out of --phases are reused, so a re-measurement
(say, after a search change) re-runs only ``--phases measure,recall`` on the built index. The build
writes a live log of phases, merges and RSS to ``build-data-<size>.log`` beside the data folder.

What is real and what is synthetic:

- **Corpus**: SciFact abstracts recombined into new text files (scale_corpus.make_corpus), indexed by the
  real pipeline (scan, extraction workers, passages, FTS5, encoding, flat segments, PLAID merges) through
  ``Service.index``: every byte on disk, every merge and every search runs the product's code. A size
  counts the indexing model's tokens without its skiplist (punctuation): about the vectors stored.
- **Model** (``--index-model 32m``, the default): a random-weight model of the default model's size and
  shape (Ettin-32M backbone, 64-d, a 50,368-entry vocabulary trained on SciFact). Document encoding
  during the *build* is replaced by a lookup (scale_corpus.synthetic_forward: each token's own output
  of that model, mixed with its neighbours'), because encoding 10M tokens with a 32M model takes hours
  on 2 shared cores. Everything else is the real model: queries are encoded by the product's NumPy query
  encoder of that model, and the 100 files of the add test by its PyTorch encoder in a real ``watch``.
  The vectors have no meaning: recall@10 is measured against exact MaxSim over the same index (so it
  isolates candidate generation), not against relevance labels. ``--index-model tiny``: the tiny 3-layer
  model instead, with the 32M query-encoding time swapped in per query (the earlier runs).
- **RSS**: of a fresh process with the index open, after searching, and idle with the model's query
  encoder loaded (the window's state).
- **Adding 100 files**: a real ``desktop-search watch`` process on the big index; 100 notes of 1-3 KB
  are written and the time until every one is committed with vectors (searchable by meaning) is taken
  from the first write, with the watcher's progress lines timed and its CPU seconds (on a shared machine
  wall time is inflated; CPU time is what the work costs). Runs at the caller's priority.
- **Recall**: exact MaxSim over every vector of the index, at the lowest priority, last.
- Sizes not run (50M) are extrapolated linearly from the measured ones and marked so.

Writes tests/benchmarks/results/scale.json and scale.md (--results to write elsewhere).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import scale_corpus as SC  # noqa: E402
from scale_add import add_texts, phase_add  # noqa: E402
from scale_report import RESULTS, SIZES, report, summarize  # noqa: E402

BEIR = Path(os.environ.get("SCALE_BENCH_BEIR") or ROOT.parent / "shared" / "data" / "scifact")


# --- phases (each in its own process) -------------------------------------------------------------
def phase_build(args: argparse.Namespace) -> dict[str, Any]:
    from desktop_search.core.service import Service

    events: list[tuple[float, str, str]] = []

    last = [""]

    def progress(p: Any) -> None:
        events.append((time.monotonic(), p.phase, p.message))
        line = f"{p.phase} {p.done}/{p.total} {p.message}"
        # a live log (stderr) of phases, merges and memory, for watching a long build: every encode batch
        # and merge; of scanning and extraction only the start and every 1,000th file
        if line != last[0] and (p.phase not in ("scan", "extract") or p.done % 1000 == 0
                                or not last[0].startswith(p.phase)):
            last[0] = line
            print(f"[{time.strftime('%H:%M:%S')}] rss {SC.rss_mb()['VmRSS']:.0f} MB {line}",
                  file=sys.stderr, flush=True)

    with Service(args.data, model=str(args.model), allow_download=False) as s:
        if args.flat_limit:  # for this build only: PLAID segments at small sizes (the codec trains sooner)
            s.settings.flat_max_tokens = args.flat_limit
        SC.synthetic_forward(s.encoder(), cache=args.model / "synthetic-forward-table.npy")
        t0 = time.monotonic()
        report = s.index([str(args.corpus)], progress=progress)
        seconds = time.monotonic() - t0
        status = s.status()
    events.append((time.monotonic(), "end", ""))
    merges = []
    for i, (t, phase, message) in enumerate(events):
        if phase == "compact":
            end = next(t2 for t2, p2, _ in events[i + 1:] if p2 != "compact")
            merges.append({"seconds": round(end - t, 1), "message": message})
    first = {}
    for t, phase, _ in events:
        first.setdefault(phase, round(t - t0, 1))
    return {"index_seconds": round(seconds, 1), "phase_starts_s": first, "merges": merges,
            "files": status.get("indexed"), "failed": report.failed, "vectors": status.get("vectors"),
            "segments": status.get("segments"), "plaid_segments": status.get("plaid_segments"),
            "flat_segments": status.get("flat_segments"), "vector_bytes": status.get("vector_bytes"),
            "index_bytes": status.get("index_bytes"), "passages": status.get("passages"),
            "peak_rss_mb": SC.rss_mb()["VmHWM"]}


def _timed(fn: Any, cpu: list[float] | None = None) -> tuple[float, Any]:
    """Wall milliseconds of ``fn()`` and its result; the process CPU milliseconds go to ``cpu`` (on a
    machine shared with other jobs, CPU time is close to what an idle machine's wall time would be)."""
    c, t = time.process_time(), time.perf_counter()
    out = fn()
    if cpu is not None:
        cpu.append(round((time.process_time() - c) * 1000, 2))
    return (time.perf_counter() - t) * 1000, out


def _query_model(s: Any) -> Any:
    """What a search-only process (the window) encodes queries with: the NumPy query encoder where the
    service has one (no PyTorch), else the PyTorch encoder."""
    return s.load_query_model() if hasattr(s, "load_query_model") else s.encoder()


def phase_measure(args: argparse.Namespace) -> dict[str, Any]:
    from desktop_search.core.service import Service

    queries = SC.scifact_queries(BEIR, args.queries)
    out: dict[str, Any] = {"queries": len(queries), "rss_start": SC.rss_mb()}
    with Service(args.data, model=str(args.model), allow_download=False) as s:
        enc = _query_model(s)
        out["query_encoder"] = type(enc).__name__
        s.search("warm up the index and the model", mode="semantic", snippets=False)
        out["rss_index_open_tiny_model"] = SC.rss_mb()
        tiny_cpu: list[float] = []
        tiny_ms = [_timed(lambda q=q: enc.encode_query(q), tiny_cpu)[0] for q in queries]
        out["tiny_encode_cpu_ms"] = tiny_cpu
        for mode in ("semantic", "hybrid"):
            cpu: list[float] = []
            out[f"{mode}_ms"] = [round(_timed(lambda q=q, m=mode: s.search(q, limit=10, mode=m), cpu)[0], 2)
                                 for q in queries]
            out[f"{mode}_cpu_ms"] = cpu
        out["tiny_encode_ms"] = [round(x, 2) for x in tiny_ms]
        out["rss_after_searching"] = SC.rss_mb()
        out["torch_imported"] = "torch" in sys.modules
        if args.ettin is not None and Path(args.ettin).resolve() == Path(args.model).resolve():
            time.sleep(2)  # idle: the index open, the 32M-sized model's query encoder loaded, nothing running
            out["rss_idle_index_and_32m_model"] = SC.rss_mb()
            out["torch_imported_when_idle"] = "torch" in sys.modules
            out["index_model"] = "32m"
        elif args.ettin is not None:  # idle, the index open, the 32M-sized model loaded as well (the tiny one too)
            with tempfile.TemporaryDirectory() as tmp, Service(tmp, model=str(args.ettin), allow_download=False) as s2:
                _query_model(s2).encode_query("warm up")
                time.sleep(2)
                out["rss_idle_index_and_32m_model"] = SC.rss_mb()
                out["torch_imported_when_idle"] = "torch" in sys.modules
    return out


def phase_recall(args: argparse.Namespace) -> dict[str, Any]:
    """Recall@10 of the store's candidate generation against exact MaxSim on the same index (minutes of
    CPU at 10M tokens: run at the lowest priority, after the other phases).

    The query vectors are made the way the build made the documents' (the per-token lookup of
    synthetic_forward over the query's tokens): a *random* 32M model's real query vectors, after 10
    layers of random attention, bear no relation to the lookup's, so every document would score alike
    and exact top-10s would be noise (recall 0.24 at 200K tokens that way). With the tiny model
    (--index-model tiny) its real query encoder is used, as before."""
    from desktop_search.core.encoder import QueryVectors
    from desktop_search.core.service import Service

    os.nice(19 - os.nice(0))
    queries = SC.scifact_queries(BEIR, args.queries)
    out: dict[str, Any] = {"recall_queries": len(queries)}
    with Service(args.data, model=str(args.model), allow_download=False) as s:
        s.search("warm up the index and the model", mode="semantic", snippets=False)  # opens the store's view
        if args.ettin is not None and Path(args.ettin).resolve() == Path(args.model).resolve():
            enc = s.encoder()
            SC.synthetic_forward(enc, cache=args.model / "synthetic-forward-table.npy")
            docs = enc.encode_documents(queries, [[(0, len(q))] for q in queries])
            qvs = [QueryVectors(d[0].vectors.astype(np.float32), [], enc.key) for d in docs]
            out["recall_query_vectors"] = "lookup, like the build's documents"
        else:
            enc = _query_model(s)
            qvs = [enc.encode_query(q) for q in queries]
            out["recall_query_vectors"] = "the model's query encoder"
        key = qvs[0].model_key or None
        t = time.monotonic()
        # the exact top TIE_DEPTH: passages tied with the 10th (recombined files repeat passages
        # verbatim: identical vectors, identical scores) are as right as the one exact_topk kept
        exact_ids, exact_scores = SC.exact_topk_scored(s.store, [qv.vectors for qv in qvs], TIE_DEPTH, model_key=key)
        exact = [ids[:10] for ids in exact_ids]
        tied = [{i for i, sc in zip(ids, scores, strict=True) if sc >= scores[min(9, len(scores) - 1)] - TIE_TOLERANCE}
                for ids, scores in zip(exact_ids, exact_scores, strict=True)]
        out["exact_seconds"] = round(time.monotonic() - t, 1)
        out["tuning"] = _sweep(s.store, qvs, exact, key, args.sweep, tied)
        out["rss_after_exact"] = SC.rss_mb()
    return out


TIE_DEPTH = 64  # exact top passages kept per query to find those tied with the 10th
TIE_TOLERANCE = 1e-4  # MaxSim sums of float32 products in another order: equal within this


def _sweep(store: Any, qvs: list[Any], exact: list[list[int]], key: str | None, grid: str,
           tied: list[set[int]] | None = None) -> list[dict[str, Any]]:
    """Recall@10 (passages) and store search time for candidate-generation settings: ``grid`` is
    "probe:full,probe:full,..." (the first is the default in force). Class attributes of PlaidSegment.
    With ``tied`` (per query, the exact top-10 plus every passage scoring within TIE_TOLERANCE of the
    10th) also the tie-aware recall: a hit counts when it is in that set (at most 10 per query)."""
    from desktop_search.core.index import PlaidSegment

    defaults = {name: getattr(PlaidSegment, name, None) for name in ("n_ivf_probe", "n_full")}
    settings = [{"n_ivf_probe": defaults["n_ivf_probe"], "n_full": defaults["n_full"], "default": True}]
    with store.acquire() as view:  # flat segments only: exact already, the settings change nothing
        plaid = any(isinstance(e.segment, PlaidSegment) for e in view.live)
    for item in filter(None, grid.split(",") if plaid else []):
        probe, full = (int(x) for x in item.split(":"))
        settings.append({"n_ivf_probe": probe, "n_full": full})
    rows = []
    try:
        for st in settings:
            for name in ("n_ivf_probe", "n_full"):
                if st[name] is not None:
                    setattr(PlaidSegment, name, st[name])
            times, recalls, cpu, tie_recalls = [], [], [], []
            for i, (qv, ref) in enumerate(zip(qvs, exact, strict=True)):
                ms, hits = _timed(lambda qv=qv: store.search(qv.vectors, 10, key), cpu)
                times.append(ms)
                recalls.append(len({h[0] for h in hits} & set(ref)) / max(1, len(ref)))
                if tied is not None:
                    tie_recalls.append(min(len(ref), len({h[0] for h in hits} & tied[i])) / max(1, len(ref)))
            ties = {"recall@10_ties": round(statistics.mean(tie_recalls), 4),
                    "min_recall@10_ties": round(min(tie_recalls), 2)} if tie_recalls else {}
            rows.append({**st, "recall@10": round(statistics.mean(recalls), 4), **ties,
                         "min_recall@10": round(min(recalls), 2),
                         "store_p50_ms": SC.percentile(times, 50), "store_p95_ms": SC.percentile(times, 95),
                         "store_cpu_p50_ms": SC.percentile(cpu, 50), "store_cpu_p95_ms": SC.percentile(cpu, 95)})
    finally:
        for name, value in defaults.items():
            if value is not None:
                setattr(PlaidSegment, name, value)
    return rows


def phase_encoders(args: argparse.Namespace) -> dict[str, Any]:
    """Query encoding latency and the RSS of a loaded model, for the 32M-sized and stand-in models; and
    the time to encode the 100 small files of the add test."""
    from desktop_search.core.service import Service

    queries = SC.scifact_queries(BEIR, args.queries)
    texts = add_texts(100)
    out: dict[str, Any] = {}
    for name, model in (("ettin32m", args.ettin), ("standin", args.standin)):
        if model is None or not Path(model).exists():
            continue
        with tempfile.TemporaryDirectory() as tmp, Service(tmp, model=str(model), allow_download=False) as s:
            before = SC.rss_mb()["VmRSS"]
            row: dict[str, Any] = {}
            if hasattr(s, "load_query_model"):  # the NumPy query encoder first, before PyTorch is loaded
                light = s.load_query_model()
                light.encode_query("warm up")
                lcpu: list[float] = []
                lms = [_timed(lambda q=q, enc=light: enc.encode_query(q), lcpu)[0] for q in queries]
                row.update(light_encoder=type(light).__name__, light_rss_mb=SC.rss_mb()["VmRSS"],
                           light_p50_ms=SC.percentile(lms, 50), light_p95_ms=SC.percentile(lms, 95),
                           light_cpu_ms=lcpu, light_cpu_p95_ms=SC.percentile(lcpu, 95),
                           light_ms=[round(x, 2) for x in lms], light_torch_imported="torch" in sys.modules)
            enc = s.encoder()
            enc.encode_query("warm up")
            after = SC.rss_mb()["VmRSS"]
            cpu: list[float] = []
            ms = [_timed(lambda q=q, enc=enc: enc.encode_query(q), cpu)[0] for q in queries]
            ranges = [[(0, len(t))] for t in texts]
            doc_cpu: list[float] = []
            doc_ms, _ = _timed(lambda enc=enc, ranges=ranges: enc.encode_documents(texts, ranges), doc_cpu)
            # on one thread as well: on a busy machine the second OpenMP thread spins as much as it saves, so
            # the one-thread CPU time is what one idle core would take (the documents' priority is lowered)
            import torch

            threads = torch.get_num_threads()
            torch.set_num_threads(1)
            one_cpu: list[float] = []
            one_ms, _ = _timed(lambda enc=enc, ranges=ranges: enc.encode_documents(texts, ranges), one_cpu)
            torch.set_num_threads(threads)
            row.update(encode_100_files_cpu_s=round(doc_cpu[0] / 1000, 2), encode_threads=threads,
                       encode_100_files_1_thread_s=round(one_ms / 1000, 2),
                       encode_100_files_1_thread_cpu_s=round(one_cpu[0] / 1000, 2),
                       encode_100_files_tokens=sum(len(ids) for ids in enc.tokenizer(texts)["input_ids"]))
            out[name] = {"query_encode_ms": [round(x, 2) for x in ms], "query_encode_cpu_ms": cpu,
                         "p50_ms": SC.percentile(ms, 50),
                         "p95_ms": SC.percentile(ms, 95), "cpu_p50_ms": SC.percentile(cpu, 50),
                         "cpu_p95_ms": SC.percentile(cpu, 95), "rss_before_model_mb": before,
                         "rss_model_loaded_mb": after, "encode_100_files_s": round(doc_ms / 1000, 2), **row}
    return out


PHASES = {"build": phase_build, "measure": phase_measure, "recall": phase_recall, "encoders": phase_encoders,
          "add": phase_add}


def run_phase(name: str, **kw: Any) -> dict[str, Any]:
    """Run one phase in its own process; its stderr (the build's live log of phases, merges and RSS)
    goes to a log file beside the data folder."""
    cmd = [sys.executable, __file__, "--phase", name]
    for k, v in kw.items():
        if v is not None:
            cmd += [f"--{k.replace('_', '-')}", str(v)]
    data = kw.get("data")
    log = (Path(data).parent / f"{name}-{Path(data).name}.log") if data else None
    print(f"[{time.strftime('%H:%M:%S')}] {name} {data or ''} (log: {log or 'none'})", file=sys.stderr, flush=True)
    with open(log or os.devnull, "w") as err:
        done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=err, text=True)
    if done.returncode != 0:
        tail = log.read_text().strip().splitlines()[-1:] if log else []
        raise SystemExit(f"phase {name} failed ({done.returncode}): {tail[0] if tail else 'no output'}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1M,10M", help="comma-separated, of " + ", ".join(SIZES))
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "desktop-search-bench-scale")
    parser.add_argument("--sweep", default="", help="probe:budget settings to try besides the default (e.g. "
                        "4:192,4:384; the full recall sweep is bench_recall.py)")
    parser.add_argument("--beir", type=Path, default=BEIR, help="the SciFact BEIR folder (text source)")
    parser.add_argument("--keep", action="store_true", help="reuse built indexes and model timings")
    parser.add_argument("--recall-queries", type=int, default=0, help="queries of the recall phase (0: --queries)")
    parser.add_argument("--phases", default="encoders,build,measure,add,recall",
                        help="which phases run (each saves its JSON in --work at once; with --keep a phase "
                             "left out, or a build whose data folder exists, is read back from there)")
    parser.add_argument("--index-model", choices=["32m", "tiny"], default="32m",
                        help="the model that indexes and searches: a random model of the default model's size "
                             "and shape (32m: queries and the 100 added files are encoded for real by it) or the "
                             "tiny one (query time swapped in from the 32M timings)")
    parser.add_argument("--ettin-model", type=Path, default=None,
                        help="a random Ettin-32M-shaped model folder to use (default: build one in --work)")
    parser.add_argument("--flat-limit", type=int, default=0,
                        help="flat_max_tokens for the builds (0: the default setting)")
    parser.add_argument("--results", type=Path, default=RESULTS / "scale",
                        help="where the results go (.json and .md are added)")
    parser.add_argument("--label", default="", help="a line for the results (which code was measured)")
    parser.add_argument("--report-only", action="store_true",
                        help="write the results from the phase outputs a --work folder holds (no measuring)")
    parser.add_argument("--phase", choices=list(PHASES), help=argparse.SUPPRESS)
    for name in ("data", "corpus", "model", "ettin", "standin"):
        parser.add_argument(f"--{name}", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(PHASES[args.phase](args)))
        return 0
    from transformers import AutoTokenizer

    from desktop_search.testing.models import build_standin

    os.environ["SCALE_BENCH_BEIR"] = str(args.beir.absolute())  # the phases' processes read it at import
    work = args.work
    def read(name: str) -> dict[str, Any]:
        return json.loads((work / name).read_text()) if (work / name).exists() else {}

    def tag_of(size: str) -> str:
        return size if args.index_model == "tiny" else f"{size}-{args.index_model}"

    if args.report_only:
        encoders = read("encoders.json")
        rows = [summarize(size, read(f"build-{tag_of(size)}.json"),
                          {**read(f"measure-{tag_of(size)}.json"), **read(f"recall-{tag_of(size)}.json")},
                          read(f"add-{tag_of(size)}.json"), encoders) for size in args.sizes.split(",")]
        return report(rows, encoders, args.sizes, args.label, args.results)
    work.mkdir(parents=True, exist_ok=True)
    texts = SC.scifact_texts(args.beir)
    ettin = args.ettin_model or SC.build_ettin32m(work / "ettin32m", texts)
    model = ettin if args.index_model == "32m" else SC.build_tiny64(work / "tiny64", texts)
    standin = work / "standin"
    if not (standin / "modules.json").exists():
        build_standin(standin)
    tokenizer = AutoTokenizer.from_pretrained(str(model))
    phases = set(args.phases.split(","))

    def phase(name: str, path: Path, **kw: Any) -> dict[str, Any]:
        """Run phase ``name`` (its JSON saved to ``path`` at once), or read back an earlier run's (with
        --keep), or nothing (a phase left out that never ran)."""
        if name in phases:
            path.write_text(json.dumps(run_phase(name, **kw)))
        return json.loads(path.read_text()) if path.exists() and (args.keep or name in phases) else {}

    encoders = phase("encoders", work / "encoders.json", ettin=ettin, standin=standin, queries=args.queries)
    rows = []
    for size in args.sizes.split(","):
        tag = tag_of(size)
        corpus, data = work / f"corpus-{tag}", work / f"data-{tag}"
        # tokens as the indexing model counts them, punctuation (its skiplist) left out: about the vectors
        meta = SC.make_corpus(corpus, SIZES[size], texts, tokenizer, skip_ids=SC.skiplist_ids(tokenizer))
        print(f"corpus {size}: {meta['files']:,} files, {meta['tokens']:,} tokens", file=sys.stderr)
        built = work / f"build-{tag}.json"
        if not (args.keep and data.exists() and built.exists()):  # --keep: a finished build is reused
            import shutil

            if "build" not in phases:
                raise SystemExit(f"no finished build of {tag} in {work}: add build to --phases")

            shutil.rmtree(data, ignore_errors=True)
            for extra in [*corpus.glob("added-*"), *corpus.glob("ready-*")]:  # left by earlier add tests
                shutil.rmtree(extra) if extra.is_dir() else extra.unlink()
            built.write_text(json.dumps(run_phase("build", data=data, corpus=corpus, model=model,
                                                  flat_limit=args.flat_limit or None)))
        build = json.loads(built.read_text())
        measure = phase("measure", work / f"measure-{tag}.json", data=data, model=model, queries=args.queries,
                        sweep=args.sweep, ettin=ettin)
        add = phase("add", work / f"add-{tag}.json", data=data, corpus=corpus, model=model)
        recall = phase("recall", work / f"recall-{tag}.json", data=data, model=model,
                       queries=args.recall_queries or args.queries, sweep=args.sweep, ettin=ettin)
        rows.append(summarize(size, build, {**measure, **recall}, add, encoders))
    return report(rows, encoders, args.sizes, args.label, args.results)


if __name__ == "__main__":
    sys.exit(main())
