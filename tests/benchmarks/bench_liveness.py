"""Segment liveness and status on a large catalog: the store before (commit 18449d9: every generation
change rebuilt every mask in a Python loop over all passages, under the store lock; status loaded every
segment to count) against now (per-segment live counts, only changed segments re-read, outside the lock;
status counted in the catalog).

    .venv/bin/python tests/benchmarks/bench_liveness.py [--passages 300000] [--segments 30]

Writes ``tests/benchmarks/results/liveness.json`` and ``liveness.md``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "tests" / "benchmarks" / "results"
BEFORE = "18449d9"  # the last commit with the old store
sys.path.insert(0, str(ROOT))

from desktop_search.core.catalog import Catalog  # noqa: E402
from desktop_search.core.index import SegmentStore, write_segment  # noqa: E402


def old_store_class() -> type:
    """The store as it was at BEFORE, imported from git next to today's modules."""
    source = subprocess.run(["git", "show", f"{BEFORE}:desktop_search/core/index/store.py"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout
    path = Path(tempfile.mkdtemp()) / "old_store.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("desktop_search.core.index._old_store", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[spec.name] = module  # type: ignore[union-attr]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.SegmentStore


def build(root: Path, passages: int, segments: int) -> Catalog:
    """A catalog of ``passages`` passages (one file per 10) in ``segments`` flat segments of 2 tokens each."""
    c = Catalog(root / "catalog.db")
    per = passages // segments
    rng = np.random.default_rng(0)
    with c.transaction():
        c.db.conn.executemany(
            "INSERT INTO files(id, path, name, size, mtime, hash, state, updated_at) VALUES (?, ?, ?, 1, 0, '', "
            "'indexed', 0)", [(f, f"/docs/{f}.txt", f"{f}.txt") for f in range(1, passages // 10 + 1)])
        c.db.conn.executemany(
            "INSERT INTO passages(id, file_id, seq, char_start, char_end, text) VALUES (?, ?, ?, 0, 1, 'x')",
            [(p, (p - 1) // 10 + 1, (p - 1) % 10) for p in range(1, passages + 1)])
    for s in range(segments):
        pids = list(range(s * per + 1, (s + 1) * per + 1))
        vecs = rng.standard_normal((per * 2, 8)).astype(np.float16)
        name = f"flat-{s:04d}"
        write_segment(root / "segments", name, "flat", pids, list(vecs.reshape(per, 2, 8)),
                      [np.zeros((2, 2), np.uint16)] * per)
        with c.transaction():
            sid = c.db.execute("INSERT INTO segments(kind, dir, model_key, dim, n_passages, n_tokens, state, "
                               "created_at) VALUES ('flat', ?, 'bench|1', 8, ?, ?, 'live', 0)",
                               [name, per, 2 * per]).lastrowid
            c.db.conn.executemany("UPDATE passages SET segment_id = ?, local_id = ? WHERE id = ?",
                                  [(sid, i, pid) for i, pid in enumerate(pids)])
    return c


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def lock_held_ms(store, fn) -> float:  # type: ignore[no-untyped-def]
    """Total time ``fn`` holds the store's search lock (what a concurrent search would wait for)."""
    lock = store._lock
    held = [0.0]

    class Timed:
        def __enter__(self):  # type: ignore[no-untyped-def]
            lock.acquire()
            self.t = time.perf_counter()

        def __exit__(self, *exc):  # type: ignore[no-untyped-def]
            held[0] += time.perf_counter() - self.t
            lock.release()

        def acquire(self, *a, **k):  # type: ignore[no-untyped-def]
            self.__enter__()
            return True

        def release(self):  # type: ignore[no-untyped-def]
            self.__exit__()

    store._lock = Timed()
    try:
        fn()
    finally:
        store._lock = lock
    return held[0] * 1000


def scenarios(c: Catalog, store, repeat: int) -> dict[str, dict[str, float]]:  # type: ignore[no-untyped-def]
    """Each generation change the indexer makes, timed ``repeat`` times: refresh ms and lock-held ms."""
    next_file = [0]

    def nothing() -> None:  # extraction of a batch: text only, no segment changes
        c.bump_generation()

    def one_file_deleted() -> None:  # a file changed on disk: its passages leave their segment
        next_file[0] += 1
        c.db.execute("UPDATE passages SET segment_id = NULL WHERE file_id = ?", [next_file[0] * 37])
        c.bump_generation()

    out = {}
    for name, change in (("extracted batch (no segment changed)", nothing),
                         ("one file changed (one segment changed)", one_file_deleted)):
        refresh, held = [], []
        for _ in range(repeat):
            change()
            start = time.perf_counter()
            held.append(lock_held_ms(store, lambda: store.refresh(c)))
            refresh.append((time.perf_counter() - start) * 1000)
        out[name] = {"refresh_ms": round(statistics.median(refresh), 1),
                     "lock_held_ms": round(statistics.median(held), 2)}
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--passages", type=int, default=300_000)
    p.add_argument("--segments", type=int, default=30)
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-liveness-"))
    c = build(root, args.passages, args.segments)
    result: dict[str, object] = {"passages": args.passages, "segments": args.segments}
    for label, cls in (("before", old_store_class()), ("now", SegmentStore)):
        store = cls(root / "segments")
        first = timed(lambda s=store: s.refresh(c))  # opens every segment
        runs = scenarios(c, store, args.repeat)
        if label == "before":
            status = timed(lambda cls=cls: cls(root / "segments").refresh(c))  # status refreshed a store to count
        else:
            status = timed(c.segment_stats)
        result[label] = {"first_refresh_ms": round(first, 1), "status_counts_ms": round(status, 1), **runs}
        store.close()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "liveness.json").write_text(json.dumps(result, indent=1))
    lines = [f"# Segment liveness: {args.passages:,} passages in {args.segments} segments", "",
             "| | before | now |", "|---|---|---|"]
    before, now = result["before"], result["now"]  # type: ignore[index]
    for key in now:  # type: ignore[union-attr]
        b, n = before[key], now[key]  # type: ignore[index]
        if isinstance(n, dict):
            lines.append(f"| {key}: refresh | {b['refresh_ms']} ms | {n['refresh_ms']} ms |")
            lines.append(f"| {key}: store lock held | {b['lock_held_ms']} ms | {n['lock_held_ms']} ms |")
        else:
            lines.append(f"| {key} | {b} ms | {n} ms |")
    (RESULTS / "liveness.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
