"""Extraction benchmark: the shared corpus per format, and PDF throughput on generated 10-page PDFs.

Run: ``python tests/benchmarks/bench_extract.py [--workers N] [--pdfs N]``. Prints a table per format
(files, ok, failed, seconds) and writes ``tests/benchmarks/results/extract.json`` and ``extract.md``.
"ok" means the file met its manifest expectation (text found on the right page, empty, failed or
skipped as listed); "failed" counts files that ended without a result (expected or not).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "extract"))

from corpus_manifest import CORPUS, judge, load_rows  # noqa: E402

from desktop_search.core.extract import ExtractLimits, extract_many  # noqa: E402

RESULTS = ROOT / "tests" / "benchmarks" / "results"


def make_pdf(path: Path, pages: int, seed: int) -> None:
    """A small valid PDF (Helvetica text, one content stream per page), written by hand."""
    objects: list[bytes] = []
    kids = []
    font_id = 3
    next_id = 4
    page_objs: list[tuple[int, int, bytes]] = []
    for p in range(pages):
        lines = [
            f"Benchmark document {seed} page {p + 1}: the quick brown fox jumps over the lazy dog.",
            f"Line two of page {p + 1} mentions invoices, contracts and meeting notes {seed * 31 + p}.",
            "Semantic search should find this paragraph when asked about animals jumping.",
        ] * 8
        ops = ["BT", "/F1 11 Tf", "14 TL", "50 780 Td"]
        for line in lines:
            escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            ops.append(f"({escaped}) Tj T*")
        ops.append("ET")
        stream = "\n".join(ops).encode("latin-1")
        page_id, content_id = next_id, next_id + 1
        next_id += 2
        kids.append(page_id)
        page_objs.append((page_id, content_id, stream))
    objects_by_id: dict[int, bytes] = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: f"<< /Type /Pages /Kids [{' '.join(f'{k} 0 R' for k in kids)}] /Count {len(kids)} >>".encode(),
        font_id: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    }
    for page_id, content_id, stream in page_objs:
        objects_by_id[page_id] = (
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 842] /Resources << /Font << /F1 {font_id} 0 R >> >> "
            f"/Contents {content_id} 0 R >>"
        ).encode()
        objects_by_id[content_id] = b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream"
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}
    for obj_id in sorted(objects_by_id):
        offsets[obj_id] = len(out)
        out += b"%d 0 obj\n" % obj_id + objects_by_id[obj_id] + b"\nendobj\n"
    xref = len(out)
    size = max(objects_by_id) + 1
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    for obj_id in range(1, size):
        out += b"%010d 00000 n \n" % offsets[obj_id]
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, xref)
    del objects
    path.write_bytes(bytes(out))


def bench_corpus(workers: int) -> dict:
    rows = [r for r in load_rows() if r.format != "symlink"]
    files = CORPUS / "files"
    by_path = {str(r.file(files)): r for r in rows}
    per: dict[str, dict] = defaultdict(lambda: {"files": 0, "ok": 0, "failed": 0, "seconds": 0.0})
    problems = []
    peak_rss = 0.0
    started = time.monotonic()
    for outcome in extract_many(list(by_path), ExtractLimits(), workers=workers):
        row = by_path[outcome.path]
        fmt = row.format
        stats = per[fmt]
        stats["files"] += 1
        stats["seconds"] += outcome.seconds or 0.0
        why = judge(row, outcome)
        if why is None:
            stats["ok"] += 1
        else:
            problems.append({"path": row.path, "expect": row.expect, "problem": why})
        if outcome.result is None:
            stats["failed"] += 1
        peak_rss = max(peak_rss, outcome.worker_rss_mb or 0.0)
    wall = time.monotonic() - started
    text_rows = [r for r in rows if r.expect == "text"]
    text_bad = [p for p in problems if p["expect"] == "text"]
    return {
        "wall_seconds": round(wall, 2),
        "files": len(rows),
        "text_rows": len(text_rows),
        "text_ok_percent": round(100 * (len(text_rows) - len(text_bad)) / max(1, len(text_rows)), 2),
        "peak_worker_rss_mb": round(peak_rss, 1),
        "per_format": {k: {**v, "seconds": round(v["seconds"], 3)} for k, v in sorted(per.items())},
        "problems": problems,
    }


def bench_pdfs(count: int, workers: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-pdf-") as tmp:
        paths = []
        for i in range(count):
            path = Path(tmp) / f"doc-{i:04d}.pdf"
            make_pdf(path, 10, i)
            paths.append(str(path))
        started = time.monotonic()
        ok = pages = 0
        for outcome in extract_many(paths, ExtractLimits(), workers=workers):
            if outcome.result is not None and "quick brown fox" in outcome.result.text:
                ok += 1
                pages += outcome.result.page_count
        wall = time.monotonic() - started
    return {
        "pdfs": count,
        "pages_each": 10,
        "ok": ok,
        "pages": pages,
        "wall_seconds": round(wall, 2),
        "pdfs_per_minute": round(count / wall * 60, 1),
        "workers": workers,
    }


def to_markdown(report: dict) -> str:
    corpus = report["corpus"]
    lines = [
        "# Extraction benchmark",
        "",
        f"Machine: {report['machine']}; workers: {report['workers']}.",
        "",
        "| format | files | ok | failed | seconds |",
        "|---|---:|---:|---:|---:|",
    ]
    for fmt, s in corpus["per_format"].items():
        lines.append(f"| {fmt} | {s['files']} | {s['ok']} | {s['failed']} | {s['seconds']:.2f} |")
    lines += [
        "",
        f"Corpus: {corpus['files']} files in {corpus['wall_seconds']} s wall-clock; "
        f"text rows passing: {corpus['text_ok_percent']}% of {corpus['text_rows']}; "
        f"peak worker RSS {corpus['peak_worker_rss_mb']} MB (workers that were killed are capped by RLIMIT_AS).",
        "",
    ]
    if corpus["problems"]:
        lines += ["Rows not meeting their expectation:", ""]
        lines += [f"- `{p['path']}` ({p['expect']}): {p['problem']}" for p in corpus["problems"]]
        lines.append("")
    pdf = report["pdf_throughput"]
    lines += [
        f"PDF throughput: {pdf['pdfs']} generated {pdf['pages_each']}-page PDFs, {pdf['ok']} read correctly, "
        f"in {pdf['wall_seconds']} s = **{pdf['pdfs_per_minute']} PDFs/minute** on {pdf['workers']} workers "
        f"(goal: 1,000/min on 2 cores).",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pdfs", type=int, default=200)
    args = parser.parse_args()
    report: dict = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "workers": args.workers,
    }
    if (CORPUS / "MANIFEST.tsv").is_file():
        report["corpus"] = bench_corpus(args.workers)
    else:
        print(f"corpus not found at {CORPUS}; skipping the per-format table", file=sys.stderr)
        report["corpus"] = {
            "per_format": {},
            "problems": [],
            "files": 0,
            "wall_seconds": 0,
            "text_rows": 0,
            "text_ok_percent": 0,
            "peak_worker_rss_mb": 0,
        }
    report["pdf_throughput"] = bench_pdfs(args.pdfs, args.workers)
    print(f"{'format':<10}{'files':>7}{'ok':>6}{'failed':>8}{'seconds':>10}")
    for fmt, s in report["corpus"]["per_format"].items():
        print(f"{fmt:<10}{s['files']:>7}{s['ok']:>6}{s['failed']:>8}{s['seconds']:>10.2f}")
    c = report["corpus"]
    print(
        f"corpus wall {c['wall_seconds']} s, text ok {c['text_ok_percent']}%, "
        f"peak worker RSS {c['peak_worker_rss_mb']} MB"
    )
    for p in c["problems"]:
        print(f"  not ok: {p['path']} ({p['expect']}): {p['problem']}")
    pdf = report["pdf_throughput"]
    print(f"PDFs: {pdf['ok']}/{pdf['pdfs']} in {pdf['wall_seconds']} s = {pdf['pdfs_per_minute']} PDFs/minute")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "extract.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (RESULTS / "extract.md").write_text(to_markdown(report), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
