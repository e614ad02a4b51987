"""Live-index benchmark: save-to-searchable latency under churn, and idle watching of many files.

Run: ``python tests/benchmarks/bench_live.py [--saves 30] [--files 50000] [--idle-s 60] [--skip-idle]``.
Writes ``tests/benchmarks/results/live.json`` and ``live.md``.

- **latency**: a real ``watch`` process (MiniLM stand-in model) watches a folder where one file is
  appended every 0.2 s and a hidden file rewritten every 0.2 s; small files are saved (half of them
  as editors do: a hidden temporary file renamed over the target) and the time until a keyword
  search finds each one, and until its vectors are committed (semantic), is measured from the save.
- **idle**: ``--files`` small files in 500 folders, indexed with the tiny model; the start-up
  reconcile of the unchanged folder is timed (full scan + diff), then a ``watch`` process is left
  alone: its CPU over ``--idle-s`` seconds, and its RSS with the model loaded and after the idle
  release (``model_idle_minutes`` set short for the run).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from desktop_search.core import paths as P  # noqa: E402
from desktop_search.core.service import Service  # noqa: E402

RESULTS = ROOT / "tests" / "benchmarks" / "results"
MODELS = Path(tempfile.gettempdir()) / "desktop-search-bench-models"


def _model(kind: str) -> Path:
    from desktop_search.testing.models import build_standin, build_tiny

    target = MODELS / kind
    if not (target / "config_sentence_transformers.json").exists() and not (target / "modules.json").exists():
        shutil.rmtree(target, ignore_errors=True)
        (build_standin if kind == "standin" else build_tiny)(target)
    return target


def _proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _watch(data: Path, model: Path, log: Path) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "desktop_search", "--data-dir", str(data), "--model", str(model), "watch"]
    with open(log, "w") as err:
        return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env={**os.environ})


def _stop(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(120)
    except subprocess.TimeoutExpired:
        proc.kill()
        return -9


def _state(service: Service, path: str) -> str | None:
    rows = service.reader().query("SELECT state FROM files WHERE path = ?", [P.to_db(path)])
    return rows[0]["state"] if rows else None


def bench_latency(work: Path, saves: int) -> dict[str, Any]:
    model = _model("standin")
    docs, data = work / "docs", work / "data"
    rng = random.Random(7)
    for i in range(200):
        folder = docs / f"f{i % 10}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"doc{i}.txt").write_text(f"document {i} about topic {rng.randrange(1000)} and other things\n")
    with Service(data, model=str(model)) as s:
        s.index([str(docs)])
    proc = _watch(data, model, work / "watch-latency.log")
    kw, sem = [], []
    stop = threading.Event()
    try:
        with Service(data, model=str(model), allow_download=False) as s:
            def churn() -> None:
                log = docs / "churn.log"
                n = 0
                while not stop.wait(0.2):
                    with open(log, "a") as handle:
                        handle.write(f"line {n}\n")
                    (docs / ".editor-state").write_text(str(n))
                    n += 1

            # ready: the start-up reconcile is done once a first file is found
            (docs / "ready.txt").write_text("zqreadyzq\n")
            deadline = time.monotonic() + 300
            while not s.search("zqreadyzq", mode="keyword").results and time.monotonic() < deadline:
                time.sleep(0.1)
            threading.Thread(target=churn, daemon=True).start()
            time.sleep(2.0)
            for i in range(saves):
                token = "zqsave" + "".join(chr(97 + int(c)) for c in f"{i:04d}")
                target = docs / f"f{i % 10}" / f"saved{i}.txt"
                text = f"a small note {token} about the meeting on thursday\n"
                t0 = time.monotonic()
                if i % 2:
                    tmp = target.parent / f".{target.name}.swp"
                    tmp.write_text(text)
                    os.replace(tmp, target)
                else:
                    target.write_text(text)
                t_kw = t_sem = None
                while time.monotonic() - t0 < 120:
                    if t_kw is None and s.search(token, mode="keyword", snippets=False).results:
                        t_kw = time.monotonic() - t0
                    if _state(s, str(target)) == "indexed":
                        t_sem = time.monotonic() - t0
                        if t_kw is None:
                            t_kw = t_sem
                        break
                    time.sleep(0.02)
                if t_kw is not None:
                    kw.append(t_kw)
                if t_sem is not None:
                    sem.append(t_sem)
                time.sleep(rng.uniform(0.3, 1.2))
    finally:
        stop.set()
        code = _stop(proc)
    return {
        "saves": saves, "found_by_keyword": len(kw), "found_semantic": len(sem),
        "keyword_p50_s": round(statistics.median(kw), 3) if kw else None,
        "keyword_max_s": round(max(kw), 3) if kw else None,
        "semantic_p50_s": round(statistics.median(sem), 3) if sem else None,
        "semantic_max_s": round(max(sem), 3) if sem else None,
        "watch_exit_code": code, "model": "MiniLM stand-in",
        "keyword_s": [round(x, 3) for x in kw], "semantic_s": [round(x, 3) for x in sem],
    }


def _make_files(docs: Path, n: int) -> None:
    rng = random.Random(11)
    words = "harbour invoice garden meeting contract river budget letter recipe travel lamp".split()
    for i in range(n):
        folder = docs / f"d{i % 500:03d}"
        if i < 500:
            folder.mkdir(parents=True, exist_ok=True)
        (folder / f"n{i}.txt").write_text(" ".join(rng.choice(words) for _ in range(12)) + f" item{i}\n")


def bench_idle(work: Path, n_files: int, idle_s: float) -> dict[str, Any]:
    model = _model("tiny")
    docs, data = work / "many", work / "data-many"
    t = time.monotonic()
    _make_files(docs, n_files)
    out: dict[str, Any] = {"files": n_files, "create_s": round(time.monotonic() - t, 1)}
    with Service(data, model=str(model)) as s:
        s.settings.context_length = 256
        t = time.monotonic()
        r = s.index([str(docs)], encode=False)
        out["keyword_index_s"] = round(time.monotonic() - t, 1)
        t = time.monotonic()
        r = s.index()
        out["encode_s"] = round(time.monotonic() - t, 1)
        assert s.status()["pending"] == 0, "not everything was encoded"
        times = []
        for _ in range(3):
            t = time.monotonic()
            r = s.index(encode=False)
            times.append(time.monotonic() - t)
            assert r.unchanged == n_files and not (r.new or r.changed or r.deleted), r
        out["reconcile_unchanged_s"] = [round(x, 2) for x in times]
        out["reconcile_unchanged_median_s"] = round(statistics.median(times), 2)
        settings = s.settings
        settings.model_idle_minutes = 0.25  # released 15 s after its last use, for this run
        s.save_settings(settings)
    log = work / "watch-idle.log"
    proc = _watch(data, model, log)
    try:
        with Service(data, model=str(model), allow_download=False) as s:
            # work arrives: one changed file is encoded, which loads the model
            changed = docs / "d000" / "n0.txt"
            changed.write_text("a changed note about lighthouses zqchangedzq\n")
            deadline = time.monotonic() + 600
            while not (s.search("zqchangedzq", mode="keyword", snippets=False).results
                       and _state(s, str(changed)) == "indexed"):
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the change was never encoded")
                time.sleep(0.2)
            out["rss_model_loaded_mb"] = round(_rss_mb(proc.pid), 1)
            # unused for model_idle_minutes (15 s here): released; `watch` then restarts itself to drop the
            # libraries the model needed (torch & co. stay mapped otherwise) and reconciles at start-up
            deadline = time.monotonic() + 120
            while "restarting" not in log.read_text():
                if time.monotonic() > deadline:
                    raise RuntimeError("the model was never released")
                time.sleep(0.5)
            out["released_after_s"] = round(120 - (deadline - time.monotonic()), 1)
            time.sleep(15)  # the restarted process's start-up reconcile of the 50k files
            out["rss_after_release_mb"] = round(_rss_mb(proc.pid), 1)
            cpu0, t0 = _proc_cpu_s(proc.pid), time.monotonic()
            time.sleep(idle_s)
            cpu1, t1 = _proc_cpu_s(proc.pid), time.monotonic()
            out["idle_window_s"] = round(t1 - t0, 1)
            out["idle_cpu_percent"] = round(100 * (cpu1 - cpu0) / (t1 - t0), 3)
            out["rss_idle_end_mb"] = round(_rss_mb(proc.pid), 1)
            (docs / "d001" / "after.txt").write_text("written after the restart zqafterrestart\n")
            deadline = time.monotonic() + 60
            while not s.search("zqafterrestart", mode="keyword", snippets=False).results:
                if time.monotonic() > deadline:
                    raise RuntimeError("the restarted watch did not index a change")
                time.sleep(0.2)
            out["restarted_watch_indexes_changes"] = True
    finally:
        out["watch_exit_code"] = _stop(proc)
    return out


def write(result: dict[str, Any]) -> None:
    """Merge ``result`` into live.json (parts run separately keep the others) and rewrite live.md."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    previous: dict[str, Any] = {}
    if (RESULTS / "live.json").exists():
        previous = json.loads((RESULTS / "live.json").read_text())
    merged = {**previous, **result}
    (RESULTS / "live.json").write_text(json.dumps(merged, indent=1) + "\n")
    lines = ["# Live index", "", f"Machine: {merged['machine']} (shared with other jobs: times are upper bounds).", ""]
    if "latency" in merged:
        lat = merged["latency"]
        lines += ["## Save → searchable (watch running, a file appended and a dot-file rewritten every 0.2 s)", "",
                  "| saves | keyword p50 | keyword max | semantic p50 | semantic max | model |",
                  "|---|---|---|---|---|---|",
                  f"| {lat['saves']} | {lat['keyword_p50_s']} s | {lat['keyword_max_s']} s | {lat['semantic_p50_s']} s "
                  f"| {lat['semantic_max_s']} s | {lat['model']} |", "",
                  "Semantic includes the 2 s a changed file must stay quiet before it is encoded; the first save's "
                  "semantic time includes loading the model.", ""]
    if "idle" in merged:
        idle = merged["idle"]
        lines += [f"## Idle watching of {idle['files']:,} files", "",
                  "| start-up reconcile (unchanged, median of 3) | idle CPU | RSS model loaded | RSS after release |",
                  "|---|---|---|---|",
                  f"| {idle['reconcile_unchanged_median_s']} s | {idle['idle_cpu_percent']} % over "
                  f"{idle['idle_window_s']} s | {idle['rss_model_loaded_mb']} MB | {idle['rss_after_release_mb']} MB |",
                  "", f"Keyword-only indexing of the {idle['files']:,} files: {idle['keyword_index_s']} s; "
                  f"encoding them with the tiny test model: {idle['encode_s']} s. Released = the model unused "
                  "for `model_idle_minutes` (0.25 for this run): `watch` drops it and restarts itself, since "
                  "the libraries it needed (torch, transformers: ~800 MB) stay mapped otherwise; idle CPU is "
                  "measured after that restart.", ""]
    (RESULTS / "live.md").write_text("\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--saves", type=int, default=30)
    ap.add_argument("--files", type=int, default=50_000)
    ap.add_argument("--idle-s", type=float, default=60.0)
    ap.add_argument("--skip-idle", action="store_true")
    ap.add_argument("--skip-latency", action="store_true")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ds-bench-live-"))
    machine = {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs", "python": platform.python_version()}
    try:
        if not args.skip_latency:
            write({**machine, "latency": bench_latency(work, args.saves)})
        if not args.skip_idle:
            write({**machine, "idle": bench_idle(work, args.files, args.idle_s)})
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print((RESULTS / "live.md").read_text())


if __name__ == "__main__":
    main()
