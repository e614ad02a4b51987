"""Event-loop gaps of the real window while it indexes and searches (run on demand; was a timing test).

    python tests/benchmarks/bench_ui_stall.py [--files 200] [--runs 3] [--model DIR]

What is measured: a real ``MainWindow`` on the offscreen platform, keyword-only unless ``--model`` is
given (then the files are encoded too). A folder of ``--files`` generated notes is added through the
window (the welcome page's path: ``add_folders``); while it is indexed, three queries are typed as a
user would. A 10 ms QTimer heartbeat on the UI thread records when the event loop ran; a gap is the
time between two beats. A control process (its own interpreter, so its own GIL) sleeps 5 ms in a loop
and records its own gaps over 30 ms: a window gap that overlaps a control gap by more than half is a
stall of the whole machine (other jobs on a shared box), counted apart from the window's own.

Goal: no gap of the window's own over 100 ms (the old ``test_ui_never_stalls_while_indexing``).
The behaviour itself (indexing and searching run off the UI thread) is a plain test:
``tests/gui/test_window.py::test_indexing_and_searching_run_off_the_ui_thread``.

Writes tests/benchmarks/results/ui_stall.json and ui_stall.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "tests" / "benchmarks" / "results"
GOAL_MS = 100.0
TOPICS = ["gardening", "astronomy", "cooking", "finance", "travel", "music", "chemistry"]
QUERIES = ("gardening", "astronomy thoughts", "note")

CONTROL = """
import sys, time
end = time.monotonic() + float(sys.argv[1])
last, out = time.monotonic(), []
while time.monotonic() < end:
    time.sleep(0.005)
    now = time.monotonic()
    if now - last > 0.03:
        out.append(f"{last} {now}")
    last = now
print("\\n".join(out))
"""


def make_folder(root: Path, n: int) -> Path:
    folder = root / "many"
    folder.mkdir()
    for i in range(n):
        topic = TOPICS[i % len(TOPICS)]
        (folder / f"note-{i:03d}.md").write_text(f"# Note {i} on {topic}\n\n" + f"Some thoughts about {topic}, "
                                                 f"number {i}. " * 30)
    return folder


def one_run(app: Any, files: int, model: str | None, timeout_s: float) -> dict[str, Any]:
    from PySide6.QtCore import QEventLoop, QSettings, QTimer

    from desktop_search.core.service import Service
    from desktop_search.gui.window import MainWindow

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        folder = make_folder(root, files)
        service = Service(root / "data", model=model, allow_download=False)
        settings = QSettings(str(root / "settings.ini"), QSettings.Format.IniFormat)
        window = MainWindow(service, encode=model is not None, index_on_start=False, load_model=model is not None,
                            settings=settings, tray=False)
        window.show()
        loop = QEventLoop()
        deadline = time.monotonic() + 60
        while not window.started and time.monotonic() < deadline:
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        control = subprocess.Popen([sys.executable, "-c", CONTROL, str(timeout_s)], stdout=subprocess.PIPE, text=True)
        beats: list[float] = []
        heartbeat = QTimer()
        heartbeat.setInterval(10)
        heartbeat.timeout.connect(lambda: beats.append(time.monotonic()))
        reports: list[Any] = []
        window.indexer.finished.connect(lambda r: (reports.append(r), loop.quit()))
        window.indexer.failed.connect(lambda m: (reports.append(m), loop.quit()))
        QTimer.singleShot(int(timeout_s * 1000), loop.quit)
        heartbeat.start()
        t0 = time.monotonic()
        window.add_folders([str(folder)])
        for i, q in enumerate(QUERIES):  # keep searching while indexing, like a user would
            QTimer.singleShot(60 * (i + 1), lambda q=q: window.search.setText(q))
        loop.exec()
        took = time.monotonic() - t0
        heartbeat.stop()
        control.terminate()
        stalls = [tuple(map(float, line.split())) for line in control.communicate()[0].split("\n") if line]
        window.shutdown()
        window.close()
        service.close()
    gaps = [(b - a, a, b) for a, b in zip(beats, beats[1:], strict=False)]
    ours = [g for g, a, b in gaps if not any(min(b, e) - max(a, s) > g / 2 for s, e in stalls)]
    machine = [g for g, a, b in gaps if any(min(b, e) - max(a, s) > g / 2 for s, e in stalls)]
    report = reports[0] if reports else None
    return {
        "indexed": getattr(report, "new", None), "error": report if isinstance(report, str) else None,
        "index_s": round(took, 2), "beats": len(beats),
        "longest_gap_ms": round(max(ours, default=0.0) * 1000, 1),
        "p99_gap_ms": round(sorted(ours)[int(0.99 * (len(ours) - 1))] * 1000, 1) if ours else 0.0,
        "gaps_over_goal": sum(1 for g in ours if g * 1000 > GOAL_MS),
        "machine_stalls": len(stalls), "longest_machine_gap_ms": round(max(machine, default=0.0) * 1000, 1),
    }


def table(result: dict[str, Any]) -> str:
    runs = result["runs"]
    lines = [
        f"UI event-loop gaps while the window indexes {result['files']} files and three queries are typed "
        f"({result['mode']}), {len(runs)} runs, {result['cpus']} CPUs ({result['machine']}), load average "
        f"before/after {result['load_before']}/{result['load_after']}",
        "",
        "| run | files indexed | index s | heartbeats | longest own gap ms | p99 own gap ms | own gaps > 100 ms "
        "| machine stalls (control) | longest machine gap ms |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for i, r in enumerate(runs, 1):
        lines.append(f"| {i} | {r['indexed']} | {r['index_s']} | {r['beats']} | {r['longest_gap_ms']} | "
                     f"{r['p99_gap_ms']} | {r['gaps_over_goal']} | {r['machine_stalls']} | "
                     f"{r['longest_machine_gap_ms']} |")
    lines += [
        "",
        f"Median longest own gap: **{result['median_longest_gap_ms']} ms** (goal ≤ {GOAL_MS:.0f} ms: "
        f"{'met' if result['goal_met'] else 'NOT met'}). Own gap: the UI thread's 10 ms heartbeat did not run, "
        "while a control process (its own GIL) did; gaps during which the control process was starved too "
        "are the machine's (shared 2-core box), counted apart. Timings on a loaded machine are noisy.",
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--model", help="a model folder: encode too (default: keyword-only)")
    parser.add_argument("--timeout", type=float, default=120.0, help="longest wait for one index run (s)")
    parser.add_argument("--no-write", action="store_true", help="print the table, write no results files")
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    load_before = round(os.getloadavg()[0], 2)
    runs = [one_run(app, args.files, args.model, args.timeout) for _ in range(args.runs)]
    median = round(statistics.median(r["longest_gap_ms"] for r in runs), 1)
    result = {
        "files": args.files, "mode": "keyword-only" if not args.model else f"encoding with {Path(args.model).name}",
        "runs": runs, "median_longest_gap_ms": median, "goal_ms": GOAL_MS, "goal_met": median <= GOAL_MS,
        "cpus": os.cpu_count(), "machine": platform.machine(), "load_before": load_before,
        "load_after": round(os.getloadavg()[0], 2),
    }
    text = table(result)
    print(text)
    if not args.no_write:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "ui_stall.json").write_text(json.dumps(result, indent=1, ensure_ascii=False))
        (RESULTS / "ui_stall.md").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
