"""The scale benchmark's report (bench_scale.py): the phases' JSON summarised per size, sizes not run
extrapolated, and results/scale.json + scale.md written."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import scale_corpus as SC

RESULTS = Path(__file__).resolve().parent / "results"
SIZES = {"200K": 200_000, "1M": 1_000_000, "3M": 3_000_000, "10M": 10_000_000, "50M": 50_000_000}


def _summarize_measure(row: dict[str, Any], measure: dict[str, Any], encoders: dict[str, Any]) -> None:
    row["rss_index_open_mb"] = measure["rss_index_open_tiny_model"]["VmRSS"]
    row["rss_searching_peak_mb"] = measure["rss_after_searching"]["VmHWM"]
    tiny = measure["tiny_encode_ms"]
    for mode in ("semantic", "hybrid"):
        ms = measure[f"{mode}_ms"]
        row[f"{mode}_p50_ms"], row[f"{mode}_p95_ms"] = SC.percentile(ms, 50), SC.percentile(ms, 95)
        if measure.get("index_model") == "32m":  # the 32M-sized model encoded the queries itself: nothing to swap
            row[f"{mode}_32m_p50_ms"], row[f"{mode}_32m_p95_ms"] = row[f"{mode}_p50_ms"], row[f"{mode}_p95_ms"]
            cpu = measure.get(f"{mode}_cpu_ms") or []
            row[f"{mode}_32m_cpu_p50_ms"], row[f"{mode}_32m_cpu_p95_ms"] = (SC.percentile(cpu, 50),
                                                                          SC.percentile(cpu, 95))
        elif "ettin32m" in encoders:
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
    if "rss_idle_index_and_32m_model" in measure:
        row["rss_idle_32m_model_mb"] = measure["rss_idle_index_and_32m_model"]["VmRSS"]


def summarize(size: str, build: dict[str, Any], measure: dict[str, Any], add: dict[str, Any] | None,
              encoders: dict[str, Any]) -> dict[str, Any]:
    tokens = build["vectors"] or 1
    row: dict[str, Any] = {
        "size": size, "tokens": build["vectors"], "files": build["files"], "passages": build["passages"],
        "vector_bytes_per_token": round(build["vector_bytes"] / tokens, 1),
        "data_bytes_per_token": round(build["index_bytes"] / tokens, 1),
        "index_seconds": build["index_seconds"], "merges": build["merges"],
        "build_peak_rss_mb": build["peak_rss_mb"],
    }
    if measure.get("semantic_ms"):  # phases left out of a run leave their columns empty
        _summarize_measure(row, measure, encoders)
    if measure.get("tuning"):  # the recall phase ran
        default = next(r for r in measure["tuning"] if r.get("default"))
        row["recall@10"] = default["recall@10"]
        row["recall@10_ties"] = default.get("recall@10_ties")
        row["tuning"] = measure["tuning"]
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
    if b["tokens"] == a["tokens"]:
        return out
    for key in ("index_seconds", "rss_idle_32m_model_mb"):
        if key in a and key in b:
            slope = (b[key] - a[key]) / (b["tokens"] - a["tokens"])
            out[key] = round(b[key] + slope * (tokens - b["tokens"]), 1)
    for key in ("vector_bytes_per_token", "data_bytes_per_token"):  # the bytes are linear, not the ratio
        if key in a and key in b:
            slope = (b[key] * b["tokens"] - a[key] * a["tokens"]) / (b["tokens"] - a["tokens"])
            out[key] = round((b[key] * b["tokens"] + slope * (tokens - b["tokens"])) / tokens, 1)
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
    lines += ["", "Merges during the build (wall seconds from the merge's start to the next progress line, "
              "throttled; on a busy machine):", "",
              "| size | kind | merges | seconds, all | seconds, longest | longest merged |",
              "|---|---|---|---|---|---|"]
    for r in rows:
        kinds: dict[str, list[dict[str, Any]]] = {}
        for m in r.get("merges", []):
            kinds.setdefault(m["message"].rsplit("(", 1)[-1].rstrip(")"), []).append(m)
        for kind, ms in kinds.items():
            top = max(ms, key=lambda m: m["seconds"])
            lines.append(f"| {r['size']} | {kind} | {len(ms)} | {round(sum(m['seconds'] for m in ms), 1)} "
                         f"| {top['seconds']} | {top['message'].split(' (')[0]} |")
    adds = [r for r in rows if r.get("add")]
    if adds:
        lines += ["", "Adding 100 small files under a running `watch` (the timeline is from the first write; the "
                  "watcher's CPU includes its extraction worker):", "",
                  "| size | file bytes min/median/max | keyword-searchable s | encoding starts s | all searchable "
                  "by meaning s | watcher CPU s | load (1 min) | found by own text (semantic) |",
                  "|---|---|---|---|---|---|---|---|"]
        for r in adds:
            a = r["add"]
            starts = next((t for t, line in a.get("watch_lines", []) if line.startswith("[encode] 0/")), None)
            sizes = "/".join(str(x) for x in a.get("files_bytes_min_median_max", []))
            lines.append(f"| {r['size']} | {sizes or '–'} | {a.get('keyword_searchable_s')} | {starts or '–'} "
                         f"| {a.get('searchable_by_meaning_s')} | {a.get('watch_cpu_s', '–')} "
                         f"| {round(a['load_during'][0], 1) if a.get('load_during') else '–'} "
                         f"| {a.get('found_by_own_text_semantic_of_20')}/20 |")
    lines += ["", "Candidate generation (PLAID probes per query token, exact-rerank budget) against exact MaxSim "
              "on the same index, store search only (no encoding, no catalog):", "",
              "| size | probes | rerank budget | recall@10 | min recall@10 | recall@10, ties counted "
              "| min, ties counted | store p50/p95 ms | store CPU p50/p95 ms |",
              "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        for t in r.get("tuning", []):
            mark = " (default)" if t.get("default") else ""
            lines.append(f"| {r['size']} | {t['n_ivf_probe']}{mark} | {t['n_full']} | {t['recall@10']} "
                         f"| {t['min_recall@10']} | {t.get('recall@10_ties', '–')} "
                         f"| {t.get('min_recall@10_ties', '–')} "
                         f"| {t['store_p50_ms']} / {t['store_p95_ms']} "
                         f"| {t.get('store_cpu_p50_ms', '–')} / {t.get('store_cpu_p95_ms', '–')} |")
    lines += ["", "Query encoding alone (one thread), and the process RSS with only the model loaded:", "",
              "| model | encoder | p50 ms | p95 ms | CPU p95 ms | RSS with model MB | encode the 100 added files s "
              "| same, CPU s | same on 1 thread: wall / CPU s |",
              "|---|---|---|---|---|---|---|---|---|"]
    for name, e in encoders.items():
        if "light_encoder" in e:
            torch = " (PyTorch imported)" if e.get("light_torch_imported") else " (no PyTorch)"
            lines.append(f"| {name} | {e['light_encoder']}{torch} | {e['light_p50_ms']} | {e['light_p95_ms']} "
                         f"| {e['light_cpu_p95_ms']} | {e['light_rss_mb']} | – | – | – |")
        one = f"{e.get('encode_100_files_1_thread_s', '–')} / {e.get('encode_100_files_1_thread_cpu_s', '–')}"
        lines.append(f"| {name} | PyTorch Encoder | {e['p50_ms']} | {e['p95_ms']} | {e.get('cpu_p95_ms', '–')} "
                     f"| {e['rss_model_loaded_mb']} | {e['encode_100_files_s']} "
                     f"| {e.get('encode_100_files_cpu_s', '–')} | {one} |")
    return "\n".join(lines) + "\n"


def report(rows: list[dict[str, Any]], encoders: dict[str, Any], sizes: str, label: str = "",
           out: Path = RESULTS / "scale") -> int:
    if len(rows) >= 2 and rows[-1]["tokens"] != rows[-2]["tokens"]:
        measured = list(rows)
        rows += [extrapolate(measured, SIZES[big]) for big in ("10M", "50M") if big not in sizes.split(",")]
    note = ("Synthetic: SciFact text recombined into new files; a random model of the default model's size and "
            "shape (Ettin-32M, 64-d) encodes queries and the added files for real, the build's documents by a "
            "per-token lookup of its outputs (see the script's docstring; vectors without meaning: recall is "
            "against exact MaxSim on the same index). Timings on 2 CPU cores shared with other work: noisy (the "
            "CPU-time columns are what the work costs). Rows marked extrapolated are linear from the two largest "
            "measured sizes." + (f" {label}" if label else ""))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps({"rows": rows, "encoders": encoders, "note": note,
                                                     "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())},
                                                    indent=1))
    text = markdown(rows, encoders, note)
    out.with_suffix(".md").write_text(text)
    print(text)
    return 0
