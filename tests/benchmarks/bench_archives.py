"""Archives and the skipped list (issue 15): what reading archives and listing skipped files costs.

Run: ``python tests/benchmarks/bench_archives.py [--members N] [--others N] [--repeat R]``. Writes
``tests/benchmarks/results/archives.json`` and ``archives.md``.

* extraction: one archive of N small text members (about 2 KB each) as zip, tar.gz and 7z, read in one
  isolated extraction worker (``extract_one``): seconds, members per second, the worker's peak RSS;
* the scan: a folder of M non-documents (``.exe``/``.mp3``, listed as skipped since issue 15) beside 1,000
  text files: ``Scanner.full`` seconds, and two keyword-only index runs (the first records every skipped
  file, the second finds them unchanged and writes nothing).

Timings are medians of ``--repeat`` runs; on a loaded shared machine they are noisy.
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import statistics
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from desktop_search.core.exclusions import Rules  # noqa: E402
from desktop_search.core.extract import extract_one  # noqa: E402
from desktop_search.core.scan import Scanner  # noqa: E402
from desktop_search.core.service import Service  # noqa: E402

RESULTS = ROOT / "tests" / "benchmarks" / "results"
WORDS = ["river", "stone", "pelican", "ledger", "harbour", "violet", "anchor", "meadow", "copper", "lantern"]


def _text(i: int) -> bytes:
    words = [WORDS[(i * 7 + k) % len(WORDS)] for k in range(300)]
    return (f"member {i} " + " ".join(words)).encode()


def _archives(folder: Path, n: int) -> dict[str, Path]:
    import py7zr

    out = {}
    out["zip"] = folder / "a.zip"
    with zipfile.ZipFile(out["zip"], "w", zipfile.ZIP_DEFLATED) as z:
        for i in range(n):
            z.writestr(f"docs/{i:05d}.txt", _text(i))
    out["tar.gz"] = folder / "a.tar.gz"
    with tarfile.open(out["tar.gz"], "w:gz") as t:
        for i in range(n):
            data = _text(i)
            info = tarfile.TarInfo(f"docs/{i:05d}.txt")
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    src = folder / "src"
    (src / "docs").mkdir(parents=True)
    for i in range(n):
        (src / "docs" / f"{i:05d}.txt").write_bytes(_text(i))
    out["7z"] = folder / "a.7z"
    with py7zr.SevenZipFile(out["7z"], "w") as z:
        z.writeall(src / "docs", "docs")
    return out


def bench_extraction(n: int, repeat: int) -> list[dict[str, object]]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind, path in _archives(Path(tmp), n).items():
            times, rss, members = [], [], 0
            for _ in range(repeat):
                started = time.perf_counter()
                outcome = extract_one(path)
                times.append(time.perf_counter() - started)
                assert outcome.result is not None, outcome.error
                members = sum(1 for m in outcome.result.members if m.result is not None)
                rss.append(outcome.worker_rss_mb or 0.0)
            median = statistics.median(times)
            rows.append({"format": kind, "members": members, "archive_bytes": path.stat().st_size,
                         "seconds": round(median, 3), "members_per_s": round(members / median, 1),
                         "worker_peak_rss_mb": round(max(rss), 1)})
    return rows


def bench_scan(others: int, repeat: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        docs = Path(tmp) / "docs"
        for i in range(others):
            folder = docs / f"d{i // 1000:03d}"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"f{i:06d}.{'exe' if i % 2 else 'mp3'}").write_bytes(b"MZ\x00\x00")
        for i in range(1000):
            (docs / f"t{i:04d}.txt").write_bytes(_text(i)[:200])
        scans = []
        for _ in range(repeat):
            started = time.perf_counter()
            result = Scanner(Rules([str(docs)])).full([str(docs)])
            scans.append(time.perf_counter() - started)
        with Service(Path(tmp) / "data", allow_download=False) as service:
            started = time.perf_counter()
            service.index([str(docs)], encode=False)
            first = time.perf_counter() - started
            started = time.perf_counter()
            service.index(encode=False)
            second = time.perf_counter() - started
            status = service.status()
        return {"non_documents": others, "text_files": 1000, "seen": len(result.seen),
                "skipped_by_scan": len(result.skipped), "scan_seconds": round(statistics.median(scans), 3),
                "first_index_seconds": round(first, 2), "unchanged_index_seconds": round(second, 2),
                "status_skipped": status["skipped"], "status_skipped_by_reason": status["skipped_by_reason"]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--members", type=int, default=1000)
    ap.add_argument("--others", type=int, default=20000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    extraction = bench_extraction(args.members, args.repeat)
    scan = bench_scan(args.others, args.repeat)
    data = {"machine": platform.platform(), "python": platform.python_version(), "repeat": args.repeat,
            "extraction": extraction, "scan": scan}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "archives.json").write_text(json.dumps(data, indent=2) + "\n")
    lines = [
        "# Archives and the skipped list (issue 15)",
        "",
        f"Medians of {args.repeat} runs on a shared, loaded 2-core machine (noisy). One isolated extraction "
        "worker per archive; members are ~2 KB text files.",
        "",
        "| format | members read | archive bytes | seconds | members/s | worker peak RSS MB |",
        "|---|---|---|---|---|---|",
    ]
    for r in extraction:
        lines.append(f"| {r['format']} | {r['members']} | {r['archive_bytes']:,} | {r['seconds']} | "
                     f"{r['members_per_s']} | {r['worker_peak_rss_mb']} |")
    lines += [
        "",
        f"Scan of {scan['non_documents']:,} non-documents + {scan['text_files']:,} text files: "
        f"Scanner.full {scan['scan_seconds']} s ({scan['skipped_by_scan']:,} listed as skipped, "
        f"{scan['seen']:,} to read); keyword-only index runs: first {scan['first_index_seconds']} s "
        f"(records the skipped list), unchanged {scan['unchanged_index_seconds']} s (writes nothing). "
        f"status: {scan['status_skipped']:,} skipped {scan['status_skipped_by_reason']}.",
        "",
    ]
    (RESULTS / "archives.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
