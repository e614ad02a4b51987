"""Scale benchmark (issue 14): an index of 1M and 10M tokens, measured through the Service.

    python tests/benchmarks/bench_scale.py [--sizes 1M,10M] [--queries 60] [--work DIR]

What is real and what is synthetic:

- **Corpus**: SciFact abstracts recombined into new text files (scale_corpus.make_corpus), indexed by the
  real pipeline (scan, extraction workers, passages, FTS5, encoding, flat segments, PLAID merges) through
  ``Service.index``: every byte on disk, every merge and every search runs the product's code.
- **Vectors**: from a *tiny random* ModernBERT ColBERT with the default model's 64-d output (3 layers,
  hidden 64), because encoding 10M tokens with a 32M model takes hours on 2 shared cores. Its vectors
  have token-identity structure like a real model's but no meaning: recall@10 is measured against exact
  MaxSim over the same index (so it isolates candidate generation), not against relevance labels.
- **Query encoding**: the search latencies are measured with the tiny model; query encoding is then
  timed separately with a random-weight model of the default model's size (Ettin-32M shape, 64-d) and
  swapped in per query: ``search − tiny encode + 32M encode``. The stand-in MiniLM is timed too.
- **RSS**: of a fresh process with the index open, after searching, and again after also loading the
  32M-sized model (idle: the model loaded, nothing running).
- **Adding 100 files**: a real ``desktop-search watch`` process on the big index; 100 new small files
  are written and the time until every one is committed with vectors (searchable by meaning) is taken
  from the first write. Encoding those 100 files with the 32M-sized model is timed separately.
- Sizes not run (50M) are extrapolated linearly from the measured ones and marked so.

Writes tests/benchmarks/results/scale.json and scale.md. Each phase runs in its own process.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
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

import scale_corpus as SC  # noqa: E402

RESULTS = ROOT / "tests" / "benchmarks" / "results"
BEIR = Path(os.environ.get("SCALE_BENCH_BEIR") or ROOT.parent / "shared" / "data" / "scifact")
SIZES = {"200K": 200_000, "1M": 1_000_000, "3M": 3_000_000, "10M": 10_000_000, "50M": 50_000_000}


# --- phases (each in its own process) -------------------------------------------------------------
def phase_build(args: argparse.Namespace) -> dict[str, Any]:
    from desktop_search.core.service import Service

    events: list[tuple[float, str, str]] = []

    def progress(p: Any) -> None:
        events.append((time.monotonic(), p.phase, p.message))

    with Service(args.data, model=str(args.model), allow_download=False) as s:
        if args.flat_limit:  # for this build only: PLAID segments at small sizes (the codec trains sooner)
            s.settings.flat_max_tokens = args.flat_limit
        SC.synthetic_forward(s.encoder())
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
        if args.ettin is not None:  # idle, the index open, the 32M-sized model loaded as well (the tiny one too)
            with tempfile.TemporaryDirectory() as tmp, Service(tmp, model=str(args.ettin), allow_download=False) as s2:
                _query_model(s2).encode_query("warm up")
                time.sleep(2)
                out["rss_idle_index_and_32m_model"] = SC.rss_mb()
                out["torch_imported_when_idle"] = "torch" in sys.modules
        # recall@10 of the store's candidate generation against exact MaxSim on the same index
        qvs = [enc.encode_query(q) for q in queries]
        key = qvs[0].model_key or None
        t = time.monotonic()
        exact = SC.exact_topk(s.store, [qv.vectors for qv in qvs], 10, model_key=key)
        out["exact_seconds"] = round(time.monotonic() - t, 1)
        out["tuning"] = _sweep(s.store, qvs, exact, key, args.sweep)
        out["rss_after_exact"] = SC.rss_mb()
    return out


def _sweep(store: Any, qvs: list[Any], exact: list[list[int]], key: str | None, grid: str) -> list[dict[str, Any]]:
    """Recall@10 (passages) and store search time for candidate-generation settings: ``grid`` is
    "probe:full,probe:full,..." (the first is the default in force). Class attributes of PlaidSegment."""
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
            times, recalls, cpu = [], [], []
            for qv, ref in zip(qvs, exact, strict=True):
                ms, hits = _timed(lambda qv=qv: store.search(qv.vectors, 10, key), cpu)
                times.append(ms)
                recalls.append(len({h[0] for h in hits} & set(ref)) / max(1, len(ref)))
            rows.append({**st, "recall@10": round(statistics.mean(recalls), 4),
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
    texts = _add_texts(100)
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
            doc_ms, _ = _timed(lambda enc=enc, ranges=ranges: enc.encode_documents(texts, ranges))
            out[name] = {"query_encode_ms": [round(x, 2) for x in ms], "query_encode_cpu_ms": cpu,
                         "p50_ms": SC.percentile(ms, 50),
                         "p95_ms": SC.percentile(ms, 95), "cpu_p50_ms": SC.percentile(cpu, 50),
                         "cpu_p95_ms": SC.percentile(cpu, 95), "rss_before_model_mb": before,
                         "rss_model_loaded_mb": after, "encode_100_files_s": round(doc_ms / 1000, 2), **row}
    return out


def _add_texts(n: int) -> list[str]:
    texts = SC.scifact_texts(BEIR)
    return [f"new note {i}: {texts[-1 - i][:600]}" for i in range(n)]


def phase_add(args: argparse.Namespace) -> dict[str, Any]:
    """A real ``watch`` process on the big index; 100 small files appear; seconds until all of them
    are committed with vectors, from the first write."""
    from desktop_search.core.service import Service

    stamp = f"{int(time.time())}"
    folder = args.corpus / f"added-{stamp}"  # a new folder each run: with --keep the index grows by 100
    log = args.data.parent / f"watch-{args.data.name}.log"
    cmd = [sys.executable, "-m", "desktop_search", "--data-dir", str(args.data), "--model", str(args.model), "watch"]
    out: dict[str, Any] = {}
    with open(log, "w") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env={**os.environ})
    try:
        with Service(args.data, model=str(args.model), allow_download=False) as s:
            marker = "zqready" + "".join(chr(97 + int(c)) for c in stamp)
            (folder.parent / f"ready-{stamp}.txt").write_text(f"{marker}\n")
            t = time.monotonic()
            while not s.search(marker, mode="keyword", snippets=False).results:
                if time.monotonic() - t > 900 or proc.poll() is not None:
                    raise SystemExit(f"watch did not start: see {log}")
                time.sleep(0.2)
            while s.reader().counts().get("pending"):
                time.sleep(0.2)
            out["watch_startup_s"] = round(time.monotonic() - t, 1)
            out["watch_rss_ready"] = SC.rss_mb(proc.pid)
            base = s.reader().counts()["indexed"]
            folder.mkdir()
            t0 = time.monotonic()
            for i, text in enumerate(_add_texts(100)):
                (folder / f"new{i:03d}.txt").write_text(text)
            out["write_s"] = round(time.monotonic() - t0, 2)
            t_kw = None
            while time.monotonic() - t0 < 600:
                counts = s.reader().counts()
                if t_kw is None and counts["indexed"] + counts["pending"] >= base + 100:
                    t_kw = time.monotonic() - t0
                if counts["indexed"] >= base + 100 and not counts["pending"]:
                    break
                time.sleep(0.1)
            out["keyword_searchable_s"] = round(t_kw, 2) if t_kw is not None else None
            out["searchable_by_meaning_s"] = round(time.monotonic() - t0, 2)
            out["indexed_after"] = s.reader().counts()["indexed"] - base
            found = 0
            for i, text in enumerate(_add_texts(100)[:20]):  # each found by its own text, by meaning only
                hits = s.search(text[:300], limit=10, mode="semantic", snippets=False).results
                found += any(Path(h.path) == folder / f"new{i:03d}.txt" for h in hits)
            out["found_by_own_text_semantic_of_20"] = found
            out["watch_rss_after"] = SC.rss_mb(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(120)
        except subprocess.TimeoutExpired:
            proc.kill()
    return out


PHASES = {"build": phase_build, "measure": phase_measure, "encoders": phase_encoders, "add": phase_add}


def run_phase(name: str, **kw: Any) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--phase", name]
    for k, v in kw.items():
        if v is not None:
            cmd += [f"--{k.replace('_', '-')}", str(v)]
    print(f"[{time.strftime('%H:%M:%S')}] {name} {kw.get('data', '')}", file=sys.stderr, flush=True)
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"phase {name} failed: {done.stderr.strip().splitlines()[-1:] or done.returncode}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- the report ------------------------------------------------------------------------------------
def summarize(size: str, build: dict[str, Any], measure: dict[str, Any], add: dict[str, Any] | None,
              encoders: dict[str, Any]) -> dict[str, Any]:
    tokens = build["vectors"] or 1
    row: dict[str, Any] = {
        "size": size, "tokens": build["vectors"], "files": build["files"], "passages": build["passages"],
        "vector_bytes_per_token": round(build["vector_bytes"] / tokens, 1),
        "data_bytes_per_token": round(build["index_bytes"] / tokens, 1),
        "index_seconds": build["index_seconds"], "merges": build["merges"],
        "build_peak_rss_mb": build["peak_rss_mb"],
        "rss_index_open_mb": measure["rss_index_open_tiny_model"]["VmRSS"],
        "rss_searching_peak_mb": measure["rss_after_searching"]["VmHWM"],
    }
    tiny = measure["tiny_encode_ms"]
    for mode in ("semantic", "hybrid"):
        ms = measure[f"{mode}_ms"]
        row[f"{mode}_p50_ms"], row[f"{mode}_p95_ms"] = SC.percentile(ms, 50), SC.percentile(ms, 95)
        if "ettin32m" in encoders:
            e = encoders["ettin32m"]
            light = measure.get("query_encoder") is not None and measure.get("query_encoder") == e.get("light_encoder")
            e32 = e["light_ms"] if light else e["query_encode_ms"]  # the kind of encoder the search used
            swapped = [m - t + e for m, t, e in zip(ms, tiny, e32, strict=False)]
            row[f"{mode}_32m_p50_ms"] = SC.percentile(swapped, 50)
            row[f"{mode}_32m_p95_ms"] = SC.percentile(swapped, 95)
            cpu = measure.get(f"{mode}_cpu_ms")
            e32c = e.get("light_cpu_ms") if light else e.get("query_encode_cpu_ms")
            if cpu and e32c:
                swapped = [m - t + e for m, t, e in zip(cpu, measure["tiny_encode_cpu_ms"], e32c, strict=False)]
                row[f"{mode}_32m_cpu_p50_ms"] = SC.percentile(swapped, 50)
                row[f"{mode}_32m_cpu_p95_ms"] = SC.percentile(swapped, 95)
    default = next(r for r in measure["tuning"] if r.get("default"))
    row["recall@10"] = default["recall@10"]
    row["tuning"] = measure["tuning"]
    if "rss_idle_index_and_32m_model" in measure:
        row["rss_idle_32m_model_mb"] = measure["rss_idle_index_and_32m_model"]["VmRSS"]
    if add:
        row["add_100_files_s"] = add["searchable_by_meaning_s"]
        row["add_100_keyword_s"] = add["keyword_searchable_s"]
        row["add"] = add
    return row


def extrapolate(rows: list[dict[str, Any]], tokens: int) -> dict[str, Any]:
    """Linear in tokens through the two largest measured sizes (marked as extrapolated)."""
    a, b = rows[-2], rows[-1]
    out: dict[str, Any] = {"size": f"{tokens // 1_000_000}M (extrapolated)", "tokens": tokens, "extrapolated": True}
    # sizes, memory and build time only: latencies on this shared machine are too noisy to extend a line
    for key in ("vector_bytes_per_token", "data_bytes_per_token", "index_seconds", "rss_idle_32m_model_mb"):
        if key in a and key in b and b["tokens"] != a["tokens"]:
            slope = (b[key] - a[key]) / (b["tokens"] - a["tokens"])
            out[key] = round(b[key] + slope * (tokens - b["tokens"]), 1)
    return out


def markdown(rows: list[dict[str, Any]], encoders: dict[str, Any], note: str) -> str:
    def g(r: dict[str, Any], k: str) -> str:
        v = r.get(k)
        return "–" if v is None else f"{v:,}" if isinstance(v, int) else str(v)

    lines = ["# Scale benchmark (issue 14)", "", note, "",
             "| size | files | vectors | vector B/token | data folder B/token | index s | build peak RSS MB "
             "| semantic p50/p95 ms | semantic p50/p95 ms, 32M enc | same, CPU ms | hybrid p50/p95 ms "
             "| hybrid p95 ms, 32M enc | recall@10 vs exact | RSS idle, index + 32M model MB "
             "| RSS searching peak MB | add 100 files s |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['size']} | {g(r, 'files')} | {g(r, 'tokens')} | {g(r, 'vector_bytes_per_token')} "
            f"| {g(r, 'data_bytes_per_token')} | {g(r, 'index_seconds')} | {g(r, 'build_peak_rss_mb')} "
            f"| {g(r, 'semantic_p50_ms')} / {g(r, 'semantic_p95_ms')} "
            f"| {g(r, 'semantic_32m_p50_ms')} / {g(r, 'semantic_32m_p95_ms')} "
            f"| {g(r, 'semantic_32m_cpu_p50_ms')} / {g(r, 'semantic_32m_cpu_p95_ms')} "
            f"| {g(r, 'hybrid_p50_ms')} / {g(r, 'hybrid_p95_ms')} | {g(r, 'hybrid_32m_p95_ms')} "
            f"| {g(r, 'recall@10')} | {g(r, 'rss_idle_32m_model_mb')} | {g(r, 'rss_searching_peak_mb')} "
            f"| {g(r, 'add_100_files_s')} |")
    lines += ["", "Merges during the build (seconds, what was merged):", ""]
    for r in rows:
        for m in r.get("merges", []):
            lines.append(f"- {r['size']}: {m['seconds']} s — {m['message']}")
    lines += ["", "Candidate generation (PLAID probes per query token, exact-rerank budget) against exact MaxSim "
              "on the same index, store search only (no encoding, no catalog):", "",
              "| size | probes | rerank budget | recall@10 | min recall@10 | store p50/p95 ms | store CPU p50/p95 ms |",
              "|---|---|---|---|---|---|---|"]
    for r in rows:
        for t in r.get("tuning", []):
            mark = " (default)" if t.get("default") else ""
            lines.append(f"| {r['size']} | {t['n_ivf_probe']}{mark} | {t['n_full']} | {t['recall@10']} "
                         f"| {t['min_recall@10']} | {t['store_p50_ms']} / {t['store_p95_ms']} "
                         f"| {t.get('store_cpu_p50_ms', '–')} / {t.get('store_cpu_p95_ms', '–')} |")
    lines += ["", "Query encoding alone (one thread), and the process RSS with only the model loaded:", "",
              "| model | encoder | p50 ms | p95 ms | CPU p95 ms | RSS with model MB | encode the 100 added files s |",
              "|---|---|---|---|---|---|---|"]
    for name, e in encoders.items():
        if "light_encoder" in e:
            torch = " (PyTorch imported)" if e.get("light_torch_imported") else " (no PyTorch)"
            lines.append(f"| {name} | {e['light_encoder']}{torch} | {e['light_p50_ms']} | {e['light_p95_ms']} "
                         f"| {e['light_cpu_p95_ms']} | {e['light_rss_mb']} | – |")
        lines.append(f"| {name} | PyTorch Encoder | {e['p50_ms']} | {e['p95_ms']} | {e.get('cpu_p95_ms', '–')} "
                     f"| {e['rss_model_loaded_mb']} | {e['encode_100_files_s']} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1M,10M", help="comma-separated, of " + ", ".join(SIZES))
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "desktop-search-bench-scale")
    parser.add_argument("--sweep", default="2:96,8:96,4:64,4:192,8:192", help="probe:budget settings to try")
    parser.add_argument("--beir", type=Path, default=BEIR, help="the SciFact BEIR folder (text source)")
    parser.add_argument("--keep", action="store_true", help="reuse built indexes and model timings")
    parser.add_argument("--flat-limit", type=int, default=0,
                        help="flat_max_tokens for the builds (0: the default setting)")
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
    if args.report_only:
        encoders = json.loads((work / "encoders.json").read_text())
        rows = [summarize(size, *(json.loads((work / f"{part}-{size}.json").read_text())
                                  for part in ("build", "measure", "add")), encoders)
                for size in args.sizes.split(",")]
        return report(rows, encoders, args.sizes, args.label)
    work.mkdir(parents=True, exist_ok=True)
    texts = SC.scifact_texts(args.beir)
    tiny = SC.build_tiny64(work / "tiny64", texts)
    ettin = SC.build_ettin32m(work / "ettin32m", texts)
    standin = work / "standin"
    if not (standin / "modules.json").exists():
        build_standin(standin)
    tokenizer = AutoTokenizer.from_pretrained(str(tiny))
    saved = work / "encoders.json"  # model-only timings: reused with --keep
    if args.keep and saved.exists():
        encoders = json.loads(saved.read_text())
    else:
        encoders = run_phase("encoders", ettin=ettin, standin=standin, queries=args.queries)
        saved.write_text(json.dumps(encoders))
    rows = []
    for size in args.sizes.split(","):
        corpus, data = work / f"corpus-{size}", work / f"data-{size}"
        meta = SC.make_corpus(corpus, SIZES[size], texts, tokenizer)
        print(f"corpus {size}: {meta['files']:,} files, {meta['tokens']:,} tokens", file=sys.stderr)
        if not (args.keep and data.exists()):
            import shutil

            shutil.rmtree(data, ignore_errors=True)
            for extra in [*corpus.glob("added-*"), *corpus.glob("ready-*")]:  # left by earlier add tests
                shutil.rmtree(extra) if extra.is_dir() else extra.unlink()
            build = run_phase("build", data=data, corpus=corpus, model=tiny, flat_limit=args.flat_limit or None)
            (work / f"build-{size}.json").write_text(json.dumps(build))
        build = json.loads((work / f"build-{size}.json").read_text())
        measure = run_phase("measure", data=data, model=tiny, queries=args.queries, sweep=args.sweep, ettin=ettin)
        add = run_phase("add", data=data, corpus=corpus, model=tiny)
        (work / f"measure-{size}.json").write_text(json.dumps(measure))
        (work / f"add-{size}.json").write_text(json.dumps(add))
        rows.append(summarize(size, build, measure, add, encoders))
    return report(rows, encoders, args.sizes, args.label)


def report(rows: list[dict[str, Any]], encoders: dict[str, Any], sizes: str, label: str = "") -> int:
    if len(rows) >= 2 and rows[-1]["tokens"] != rows[-2]["tokens"]:
        measured = list(rows)
        rows += [extrapolate(measured, SIZES[big]) for big in ("10M", "50M") if big not in sizes.split(",")]
    note = ("Synthetic: SciFact text recombined into new files, encoded by a tiny random 64-d ModernBERT ColBERT "
            "(vectors without meaning: recall is against exact MaxSim on the same index). '32M enc' swaps in the "
            "query-encoding time of a random model of the default model's size per query. Timings on 2 CPU cores "
            "shared with other work: noisy (the CPU-time column is what an idle core would take). Rows marked "
            "extrapolated are linear from the two largest measured sizes." + (f" {label}" if label else ""))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "scale.json").write_text(json.dumps({"rows": rows, "encoders": encoders, "note": note,
                                                     "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())},
                                                    indent=1))
    text = markdown(rows, encoders, note)
    (RESULTS / "scale.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
