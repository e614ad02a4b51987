"""OCR benchmark (issue 15): planted phrases found by keyword search, throughput, worker memory, and the two
large cases (a 20 MP photo, a 500-page scanned PDF) under the default worker caps.

Run: ``python tests/benchmarks/bench_ocr.py [--pages N] [--pdf-pages N] [--big-pages N]``. Writes
``tests/benchmarks/results/ocr.json`` and ``ocr.md``.

1. The generated set (tests/extract/ocr_set.py: several fonts and sizes, PNG/JPEG/TIFF/WebP, one page
   turned a quarter, an image-only PDF) is extracted by the pool (one worker, default caps) for per-page
   seconds and worker peak RSS, then indexed by the real indexer (Service.index, OCR on, keyword-only)
   and every planted phrase is searched as a quoted phrase in keyword mode: found = its file is a result.
2. A 20 MP JPEG photo (noise, a tilted lighter block, text of a few sizes) and an image-only PDF of
   ``--big-pages`` A4 pages go through ``extract_one`` with the default limits: they must end with a
   result or a one-line reason inside the time limit, with the worker's peak RSS under the cap.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "extract"))

from ocr_set import fonts, make_set, render_page  # noqa: E402
from PIL import Image  # noqa: E402

from desktop_search.core.extract import ExtractLimits, extract_many  # noqa: E402
from desktop_search.core.extract.pool import extract_one  # noqa: E402

RESULTS = ROOT / "tests" / "benchmarks" / "results"


def photo_20mp(path: Path) -> list[str]:
    """A 5472 x 3648 JPEG (20 MP): noisy background, a lighter tilted sheet with text on it."""
    rng = random.Random(20)
    width, height = 5472, 3648
    noise = Image.effect_noise((width // 8, height // 8), 40).resize((width, height)).convert("RGB")
    sheet = render_page(
        ["Harbor inspection notice", "Cobalt lantern permit 7731 approved", "Visitors must sign in at the gate"],
        fonts()[-1][1], 120, width=3600, height=1800,
    ).convert("RGB").rotate(rng.uniform(-3, 3), expand=True, fillcolor=(90, 90, 90))
    noise.paste(sheet, (900, 900))
    noise.save(path, quality=88)
    return ["harbor inspection notice", "cobalt lantern permit 7731"]


def big_scan(path: Path, pages: int) -> None:
    """An image-only PDF of ``pages`` A4 pages at 150 dpi (a few distinct pages repeated)."""
    font = fonts()[-1][1]
    distinct = [render_page([f"Archive box {i} ledger", "Entries continue on the next page"] * 6, font, 28)
                for i in range(4)]
    images = [distinct[i % 4] for i in range(pages)]
    images[0].save(path, save_all=True, append_images=images[1:], resolution=150.0)


def run(args: argparse.Namespace) -> dict:
    out: dict = {"machine": f"{platform.machine()}, {os.cpu_count()} cores", "fonts": [n for n, _ in fonts()]}
    limits = ExtractLimits(ocr=True)
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        docs = base / "docs"
        planted = make_set(docs, args.pages, pdf_pages=args.pdf_pages)
        started = time.monotonic()
        outcomes = list(extract_many([p.path for p in planted], limits, workers=1))
        wall = time.monotonic() - started
        pages = sum(int((o.result.metadata if o.result else {}).get("ocr_pages", 0)) for o in outcomes)
        seconds = [o.seconds or 0.0 for o in outcomes]
        out["extract"] = {
            "files": len(outcomes), "failed": [f"{Path(o.path).name}: {o.error}" for o in outcomes if o.error],
            "ocr_pages": pages, "wall_s": round(wall, 1), "pages_per_minute_one_worker": round(60 * pages / wall, 1),
            "median_file_s": round(statistics.median(seconds), 1), "max_file_s": round(max(seconds), 1),
            "worker_peak_rss_mb": round(max(o.worker_rss_mb or 0 for o in outcomes)),
            "memory_cap_mb": limits.memory_mb, "timeout_s": limits.timeout_s,
        }
        from desktop_search.core.service import Service

        with Service(base / "data", allow_download=False) as service:
            service.update_settings(ocr="on")
            started = time.monotonic()
            service.index([str(docs)])
            index_wall = time.monotonic() - started
            rows = []
            for p in planted:
                for phrase in p.phrases:
                    hits = [Path(r.path).name for r in service.search(f'"{phrase}"', mode="keyword").results]
                    rows.append({"file": Path(p.path).name, "font": p.font, "size": p.size, "rotated": p.rotated,
                                 "phrase": phrase, "found": Path(p.path).name in hits})
            status = service.status()
        found = sum(r["found"] for r in rows)
        out["search"] = {
            "phrases": len(rows), "found": found, "found_share": round(found / len(rows), 3),
            "missed": [f"{r['file']} ({r['font']} {r['size']}px{', rotated' if r['rotated'] else ''}): {r['phrase']}"
                       for r in rows if not r["found"]],
            "rotated_page": f"{sum(r['found'] for r in rows if r['rotated'])}/{sum(1 for r in rows if r['rotated'])}",
            "index_wall_s": round(index_wall, 1), "status_ocr_files": status["ocr_files"],
            "status_ocr_pages": status["ocr_pages"],
        }

        photo = base / "photo-20mp.jpg"
        want = photo_20mp(photo)
        o = extract_one(photo, limits)
        text = " ".join((o.result.text if o.result else "").lower().split())
        out["photo_20mp"] = {
            "megapixels": 20.0, "bytes": photo.stat().st_size, "ok": o.result is not None, "error": o.error,
            "seconds": round(o.seconds or 0, 1), "worker_peak_rss_mb": round(o.worker_rss_mb or 0),
            "phrases_found": f"{sum(w in text for w in want)}/{len(want)}",
        }
        scan = base / "scan-big.pdf"
        t0 = time.monotonic()
        big_scan(scan, args.big_pages)
        make_s = time.monotonic() - t0
        o = extract_one(scan, limits)
        meta = o.result.metadata if o.result else {}
        out["scan_big_pdf"] = {
            "pages": args.big_pages, "bytes": scan.stat().st_size, "generate_s": round(make_s, 1),
            "ok": o.result is not None, "error": o.error, "seconds": round(o.seconds or 0, 1),
            "worker_peak_rss_mb": round(o.worker_rss_mb or 0), "ocr_pages": meta.get("ocr_pages"),
            "ocr_unread_pages": meta.get("ocr_unread_pages"), "within_time_limit": (o.seconds or 0) < limits.timeout_s,
        }
    return out


def markdown(r: dict) -> str:
    e, s, p, b = r["extract"], r["search"], r["photo_20mp"], r["scan_big_pdf"]
    lines = [
        "# OCR benchmark (issue 15)", "",
        f"Machine: {r['machine']}, shared with other work (timings are noisy; one worker, medians).",
        f"Fonts: {', '.join(r['fonts'])}. Default caps: {e['memory_cap_mb']} MB address space, {e['timeout_s']:.0f} s.",
        "", "| measure | value |", "|---|---|",
        f"| planted phrases found by keyword search | {s['found']}/{s['phrases']} ({100 * s['found_share']:.1f} %) |",
        f"| phrases on the page turned a quarter | {s['rotated_page']} |",
        f"| files / OCR'd pages (pool, 1 worker) | {e['files']} / {e['ocr_pages']} |",
        f"| throughput, one worker | {e['pages_per_minute_one_worker']} pages/min |",
        f"| seconds per file, median / max | {e['median_file_s']} / {e['max_file_s']} |",
        f"| worker peak RSS | {e['worker_peak_rss_mb']} MB |",
        f"| index run (Service.index, keyword-only) | {s['index_wall_s']} s; status ocr_files {s['status_ocr_files']}, "
        f"ocr_pages {s['status_ocr_pages']} |",
        f"| 20 MP photo | {'read' if p['ok'] else 'failed: ' + str(p['error'])} in {p['seconds']} s, peak RSS "
        f"{p['worker_peak_rss_mb']} MB, phrases {p['phrases_found']} |",
        f"| {b['pages']}-page scanned PDF ({b['bytes'] // 1_000_000} MB) | "
        f"{'read' if b['ok'] else 'failed: ' + str(b['error'])} in {b['seconds']} s, peak RSS "
        f"{b['worker_peak_rss_mb']} MB, OCR'd pages {b['ocr_pages']}, left {b['ocr_unread_pages']} |",
    ]
    if s["missed"]:
        lines += ["", "Missed: " + "; ".join(s["missed"])]
    if e["failed"]:
        lines += ["", "Failed: " + "; ".join(e["failed"])]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=16)
    parser.add_argument("--pdf-pages", type=int, default=4)
    parser.add_argument("--big-pages", type=int, default=500)
    args = parser.parse_args()
    result = run(args)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "ocr.json").write_text(json.dumps(result, indent=1) + "\n")
    (RESULTS / "ocr.md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
