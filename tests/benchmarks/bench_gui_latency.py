"""Keystroke → results latency of the real window on BEIR SciFact (run on demand).

    python tests/benchmarks/bench_gui_latency.py [--data-dir DIR] [--model DIR] [--beir DIR]
                                                 [--queries N] [--debounce-ms MS] [--in-place]

What is measured: a real ``MainWindow`` (with its ``SearchController``, results model, delegate and
preview) on the offscreen Qt platform, the model loaded, over an index of SciFact. For each query the
search field is cleared, all but the last character are typed as key events, then the clock starts and
the last key event is sent. The clock stops in a slot connected after the window's own: when the
window has put the keyword results into its list (``keyword``), and when it has put the hybrid ranking
(ColBERT MaxSim through PLAID fused with BM25: the results "by meaning") there (``semantic``). The
debounce is set to ``--debounce-ms`` (default 0), so by default the figures equal "from the debounce
firing" plus the key handling; with the app's 150 ms debounce a person sees 150 ms more.

The data dir is copied into a temporary folder first (``--in-place`` skips that) because opening it
with a Service may write to it. Without ``--data-dir`` an index is built from SciFact with the MiniLM
stand-in (``desktop-search eval``, ~25 min on 2 cores) in tests/benchmarks/work/gui-latency.

Writes tests/benchmarks/results/gui_latency.json and gui_latency.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "tests" / "benchmarks" / "results"
WORK = ROOT / "tests" / "benchmarks" / "work"
TARGETS_MS = {"keyword": 50.0, "semantic": 200.0}  # p95 goals of issue 6


def percentile(values: list[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(np.asarray(values, dtype=float), q)) if values else float("nan")


def summary(values: list[float]) -> dict[str, float]:
    return {"n": len(values), "p50_ms": round(percentile(values, 50), 1), "p95_ms": round(percentile(values, 95), 1),
            "p99_ms": round(percentile(values, 99), 1), "max_ms": round(max(values), 1) if values else float("nan"),
            "mean_ms": round(sum(values) / len(values), 1) if values else float("nan")}


def build_index(data_dir: Path, model: Path, beir: Path) -> None:
    print(f"building the SciFact index in {data_dir} with {model} (desktop-search eval)…", file=sys.stderr)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    cmd = [sys.executable, "-m", "desktop_search", "--data-dir", str(data_dir), "--model", str(model),
           "eval", str(beir), "--json"]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"building the index failed: {done.stderr[-2000:]}")


def load_queries(beir: Path, limit: int | None) -> list[str]:
    queries = []
    with open(beir / "queries.jsonl", encoding="utf-8") as f:
        for line in f:
            text = json.loads(line)["text"].strip()
            if len(text) >= 2:
                queries.append(text)
    return queries[:limit] if limit else queries


def measure(data_dir: Path, model: Path, queries: list[str], debounce_ms: int, warmup: int,
            gap_ms: int) -> dict[str, Any]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from PySide6.QtCore import QEvent, QEventLoop, QSettings, Qt, QTimer
    from PySide6.QtGui import QKeyEvent
    from PySide6.QtWidgets import QApplication

    from desktop_search.core.service import Service
    from desktop_search.gui.window import MainWindow

    _app = QApplication.instance() or QApplication([sys.argv[0]])  # kept alive while measuring
    service = Service(data_dir, model=str(model), allow_download=False)
    status = service.status()
    if status.get("pending"):
        print(f"warning: {status['pending']} file(s) are not encoded yet; semantic results miss them", file=sys.stderr)
    settings_dir = tempfile.mkdtemp(prefix="gui-latency-settings-")
    settings = QSettings(os.path.join(settings_dir, "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(service, encode=False, index_on_start=False, load_model=True, settings=settings, tray=False)
    window.resize(1200, 760)
    window.show()

    def wait_for(predicate: Any, timeout_s: float, signals: tuple[Any, ...] = ()) -> bool:
        """Run the event loop until ``predicate()``: checked when one of ``signals`` fires (the measured
        waits: a poll timer would wake the UI thread and take the GIL from the searching thread every
        few ms, which a real window idling in its event loop does not do), else every 2 ms."""
        if predicate():
            return True
        loop = QEventLoop()
        end = time.monotonic() + timeout_s

        def check(*_: Any) -> None:
            if predicate() or time.monotonic() > end:
                loop.quit()

        for signal in signals:
            signal.connect(check)
        timer = QTimer()
        timer.setInterval(2 if not signals else int(timeout_s * 1000))
        timer.timeout.connect(loop.quit if signals else check)
        timer.start()
        loop.exec()
        timer.stop()
        for signal in signals:
            signal.disconnect(check)
        return bool(predicate())

    t_load = time.monotonic()
    label = window.download_status.model_label
    if not wait_for(lambda: window.started and window.searcher.semantic_ready, 300):
        raise SystemExit(f"the model did not load: {label.toolTip() or label.text()}")
    model_load_s = time.monotonic() - t_load
    window.searcher._timer.setInterval(debounce_ms)

    current: dict[str, Any] = {}

    def on_results(outcome: Any) -> None:  # connected after the window's own slot: the list is filled
        now = time.perf_counter()
        if outcome.generation != current.get("generation"):
            return
        current[outcome.mode] = now
        current[outcome.mode + "_took"] = outcome.response.took_ms
        current[outcome.mode + "_n"] = len(outcome.response.results)

    def on_failed(generation: int, message: str) -> None:
        if generation == current.get("generation"):
            current["error"] = message

    window.searcher.results.connect(on_results)
    window.searcher.failed.connect(on_failed)

    def key(ch: str) -> None:
        """One key press and release carrying ``ch``, as the platform delivers it (QTest rejects non-ASCII)."""
        code = Qt.Key(ord(ch.upper())) if ch.isascii() and ch.isprintable() else Qt.Key.Key_unknown
        for kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
            QApplication.sendEvent(window.search, QKeyEvent(kind, code, Qt.KeyboardModifier.NoModifier, ch))

    def run(text: str) -> dict[str, Any]:
        window.search.setFocus()
        window.search.clear()
        wait_for(lambda: window.results_model.rowCount() == 0, 5)
        for ch in text[:-1]:  # no event loop turn in between: the debounce timer only restarts
            key(ch)
        current.clear()
        t0 = time.perf_counter()
        key(text[-1])
        current["generation"] = window.searcher.generation
        wait_for(lambda: "hybrid" in current or "error" in current, 60,
                 (window.searcher.results, window.searcher.failed))
        if window.search.text() != text:
            raise SystemExit(f"typing went wrong: {window.search.text()!r} != {text!r}")
        wait_for(lambda: window.previews.pool.activeThreadCount() == 0, 10)  # its preview: not in the next one
        pause = time.monotonic() + gap_ms / 1000  # a person reads before typing the next query
        wait_for(lambda: time.monotonic() >= pause, gap_ms / 1000 + 1)
        return {
            "query": text,
            "keyword_ms": (current["keyword"] - t0) * 1000 if "keyword" in current else None,
            "semantic_ms": (current["hybrid"] - t0) * 1000 if "hybrid" in current else None,
            "keyword_search_ms": current.get("keyword_took"), "semantic_search_ms": current.get("hybrid_took"),
            "keyword_results": current.get("keyword_n"), "semantic_results": current.get("hybrid_n"),
            "error": current.get("error"),
        }

    for text in queries[:warmup]:  # first searches map segments, warm caches and the tokenizer
        run(text)
    rows = [run(text) for text in queries]
    window.shutdown()
    window.close()
    service.close()
    shutil.rmtree(settings_dir, ignore_errors=True)

    kw = [r["keyword_ms"] for r in rows if r["keyword_ms"] is not None]
    sem = [r["semantic_ms"] for r in rows if r["semantic_ms"] is not None]
    return {
        "status": {k: status.get(k) for k in ("indexed", "passages", "vectors", "segments", "plaid_segments",
                                              "flat_segments", "index_bytes", "threads")},
        "model_load_s": round(model_load_s, 1),
        "keyword": summary(kw),
        "semantic": summary(sem),
        "keyword_search_only": summary([r["keyword_search_ms"] for r in rows if r["keyword_search_ms"] is not None]),
        "semantic_search_only": summary([r["semantic_search_ms"] for r in rows if r["semantic_search_ms"] is not None]),
        "errors": [r for r in rows if r["error"]],
        "queries": rows,
    }


def table(result: dict[str, Any]) -> str:
    s = result["status"]
    lines = [
        f"Keystroke → results in the window, SciFact ({s['indexed']:,} docs, {s['passages']:,} passages, "
        f"{s['vectors']:,} vectors in {s['segments']} segment(s), {s['plaid_segments']} PLAID), "
        f"model {result['model']}, {result['queries_run']} queries ({result['warmup_queries']} more to warm up, "
        f"{result['gap_ms']} ms between queries), debounce {result['debounce_ms']} ms, "
        f"{s['threads']} threads on {result['machine']['cpus']} CPUs ({result['machine']['cpu']}), "
        f"load average before/after {result['machine']['load_before']}/{result['machine']['load_after']}",
        "",
        "| results | p50 ms | p95 ms | p99 ms | max ms | goal (p95) | search alone p50 / p95 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, alone in (("keyword", "keyword_search_only"), ("semantic", "semantic_search_only")):
        r, a = result[name], result[alone]
        ok = "met" if r["p95_ms"] <= TARGETS_MS[name] else "missed"
        lines.append(f"| {name} | {r['p50_ms']} | {r['p95_ms']} | {r['p99_ms']} | {r['max_ms']} | "
                     f"≤ {TARGETS_MS[name]:.0f} ({ok}) | {a['p50_ms']} / {a['p95_ms']} |")
    lines += [
        "",
        "Measured from sending the query's last key event to the window's list holding the results (a slot",
        "connected after the window's own). *keyword*: the first, keyword-only ranking; *semantic*: the hybrid",
        "ranking (ColBERT MaxSim via PLAID fused with BM25) that replaces it; its time includes the keyword",
        "search before it. *search alone*: time inside the core search (`took_ms`, counted from the start",
        "of the query, so the semantic figure includes the keyword stage).",
    ]
    if result["debounce_ms"] == 0:
        lines.append("Debounce set to 0 ms for the measurement; the app waits 150 ms after the last key first.")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, help="an index of SciFact (copied first unless --in-place)")
    parser.add_argument("--model", type=Path, help="the model the index was built with (default: the stand-in)")
    parser.add_argument("--beir", type=Path, default=ROOT.parent / "shared" / "data" / "scifact")
    parser.add_argument("--queries", type=int, default=None, help="use only the first N queries")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--debounce-ms", type=int, default=0)
    parser.add_argument("--gap-ms", type=int, default=300, help="idle time between queries (reading the results)")
    parser.add_argument("--in-place", action="store_true", help="open --data-dir itself instead of a copy")
    args = parser.parse_args()

    model = args.model
    if model is None:
        model = WORK / "standin-model"
        if not (model / "config.json").exists():
            from desktop_search.testing.models import build_standin

            build_standin(model)
    model = model.absolute()
    source = args.data_dir
    if source is None:
        source = WORK / "gui-latency"
        if not (source / "catalog.db").exists():
            build_index(source, model, args.beir)
        args.in_place = True
    tmp = None
    data_dir = source
    if not args.in_place:
        tmp = Path(tempfile.mkdtemp(prefix="gui-latency-"))
        data_dir = tmp / "data"
        print(f"copying {source} to {data_dir}…", file=sys.stderr)
        subprocess.run(["cp", "-a", str(source), str(data_dir)], check=True)
    queries = load_queries(args.beir, args.queries)
    load_before = round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None
    try:
        result = measure(data_dir, model, queries, args.debounce_ms, args.warmup, args.gap_ms)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    result.update({
        "model": model.name, "data_dir": str(source), "queries_run": len(queries), "debounce_ms": args.debounce_ms,
        "warmup_queries": args.warmup, "gap_ms": args.gap_ms,
        "machine": {"cpus": os.cpu_count(), "cpu": platform.processor() or platform.machine(),
                    "platform": platform.platform(), "load_before": load_before,
                    "load_after": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None},
    })
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "gui_latency.json").write_text(json.dumps(result, indent=1, ensure_ascii=False))
    text = table(result)
    (RESULTS / "gui_latency.md").write_text(text)
    print(text, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
