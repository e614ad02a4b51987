"""The scale benchmark's add test (bench_scale.py): 100 small notes appear in a folder a real
``desktop-search watch`` process keeps indexed; how long until each is searchable by meaning, where the
time goes (the watcher's own progress lines, timed), and what it costs in CPU."""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import scale_corpus as SC

BEIR = Path(os.environ.get("SCALE_BENCH_BEIR") or Path(__file__).resolve().parents[3] / "shared" / "data" / "scifact")


def add_texts(n: int) -> list[str]:
    """``n`` small notes of 1-3 KB (a length drawn per note, seeded): SciFact abstracts from the end of
    the corpus (the scale corpus draws from all of them, so the words are familiar, the files new),
    joined until the length is reached and cut at a sentence end."""
    import random

    texts = SC.scifact_texts(BEIR)
    rng = random.Random(14)
    out, j = [], 0
    for i in range(n):
        want = rng.randint(1000, 3000)
        note = f"new note {i}:"
        while len(note) < want:
            j += 1
            note += " " + texts[-j].replace("\n\n", " ")
        cut = note.rfind(". ", 0, want)
        out.append(note[: cut + 1] if cut > want // 2 else note[:want])
    return out


def phase_add(args: argparse.Namespace) -> dict[str, Any]:
    """A real ``watch`` process on the big index; 100 small files appear; seconds until all of them
    are committed with vectors, from the first write."""
    from desktop_search.core.service import Service

    stamp = f"{int(time.time())}"
    folder = args.corpus / f"added-{stamp}"  # a new folder each run: with --keep the index grows by 100
    log = args.data.parent / f"watch-{args.data.name}.log"
    cmd = [sys.executable, "-m", "desktop_search", "--data-dir", str(args.data), "--model", str(args.model), "watch"]
    out: dict[str, Any] = {}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env={**os.environ})
    lines: list[tuple[float, str]] = []  # the watcher's progress lines with the time each arrived

    def follow() -> None:
        with open(log, "w") as err:
            for line in proc.stderr:  # type: ignore[union-attr]
                lines.append((time.monotonic(), line.rstrip()))
                err.write(f"{time.strftime('%H:%M:%S')} {line}")
                err.flush()

    threading.Thread(target=follow, daemon=True).start()
    t0 = time.monotonic()
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
            out["watch_torch_loaded_before"] = _maps_torch(proc.pid)
            base = s.reader().counts()["indexed"]
            texts = add_texts(100)
            out["files_bytes_min_median_max"] = [min(len(t.encode()) for t in texts),
                                                 int(statistics.median(len(t.encode()) for t in texts)),
                                                 max(len(t.encode()) for t in texts)]
            folder.mkdir()
            cpu0 = _cpu_s(proc.pid)
            t0 = time.monotonic()
            for i, text in enumerate(texts):
                (folder / f"new{i:03d}.txt").write_text(text)
            out["write_s"] = round(time.monotonic() - t0, 2)
            t_kw = None
            timeline: list[list[float]] = []  # [seconds from the first write, indexed, pending] at each change
            while time.monotonic() - t0 < 600:
                counts = s.reader().counts()
                now = [counts["indexed"] - base, counts.get("pending", 0)]
                if not timeline or timeline[-1][1:] != now:
                    timeline.append([round(time.monotonic() - t0, 2), *now])
                if t_kw is None and counts["indexed"] + counts["pending"] >= base + 100:
                    t_kw = time.monotonic() - t0
                if counts["indexed"] >= base + 100 and not counts["pending"]:
                    break
                time.sleep(0.1)
            out["watch_cpu_s"] = _cpu_since(cpu0, _cpu_s(proc.pid))  # the watcher and its extraction worker
            time.sleep(1.0)  # the watcher's last lines (its merge after the commit)
            out["watch_lines"] = [[round(at - t0, 2), line] for at, line in lines if at >= t0]
            out["timeline"] = timeline
            out["load_during"] = os.getloadavg()
            out["keyword_searchable_s"] = round(t_kw, 2) if t_kw is not None else None
            out["searchable_by_meaning_s"] = round(time.monotonic() - t0, 2)
            out["indexed_after"] = s.reader().counts()["indexed"] - base
            found = 0
            for i, text in enumerate(add_texts(100)[:20]):  # each found by its own text, by meaning only
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


def _cpu_s(pid: int) -> dict[int, float]:
    """User + system CPU seconds of process ``pid`` and of each living descendant (its extraction
    worker), by pid: a busy shared machine inflates wall time, CPU time is what the work costs."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"))
    tree, todo = {}, [pid]
    while todo:
        p = todo.pop()
        if p in stats:
            tree[p] = stats[p][1]
            todo += [c for c, (parent, _) in stats.items() if parent == p]
    return tree


def _cpu_since(before: dict[int, float], after: dict[int, float]) -> float:
    return round(sum(v - before.get(p, 0.0) for p, v in after.items()), 2)


def _maps_torch(pid: int) -> bool:
    """Whether process ``pid`` has PyTorch's library mapped (the model loaded for documents)."""
    try:
        return "libtorch" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False
