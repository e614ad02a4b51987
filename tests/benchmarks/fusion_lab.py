"""Shared by the fusion benchmarks: collect each query's ranked lists (keyword passages, names,
semantic passages) once from an eval index, then score any :class:`Fusion` on them offline, with the
very ``fuse`` the app runs (so a tuned setting is the setting that ships).

The lists are those ``Searcher.stages`` builds for ``limit`` results (pool = 3 x limit; the semantic
list 3 x pool passages).
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Any

from desktop_search.core.evaluate import load_beir, mrr_at, ndcg_at, recall_at
from desktop_search.core.search import Fusion, Hit, filerank, parse_query
from desktop_search.core.search import keyword as kw
from desktop_search.core.search import semantic as sem
from desktop_search.core.search.filters import FileFilter
from desktop_search.core.search.fusion import KEYWORD, NAMES, SEMANTIC, fuse
from desktop_search.core.service import Service

Lists = dict[str, list[tuple[int, int, float, float]]]  # kind -> (file id, passage id, score, weight)


def open_eval(data_dir: Path, dataset: str, model: Path) -> Service:
    """The eval index ``desktop-search eval`` built for ``dataset`` under ``data_dir``."""
    return Service(data_dir / "eval" / dataset / "index", model=str(model), allow_download=False)


def collect(service: Service, queries: dict[str, str], limit: int = 100) -> tuple[dict[str, Lists], dict[int, str],
                                                                                  dict[str, float]]:
    """Per query id its lists; file id -> document id (the file's stem); timings (ms, medians)."""
    c = service.reader()
    encoder = service.encoder()
    pool = max(limit * 3, 30)
    out: dict[str, Lists] = {}
    t_kw, t_sem = [], []
    for qid, text in queries.items():
        q = parse_query(text)
        filt = FileFilter.of(q)
        t0 = time.perf_counter()
        keyword = filerank.rank(c, q, filt, pool, True).hits  # as Searcher.stages builds it (coverage kept: tunable)
        names = kw.names(c, q, filt, pool)
        t1 = time.perf_counter()
        qv = encoder.encode_query(q.semantic_text)
        semantic = sem.passages(c, service.store, qv, pool * 3, None)
        t2 = time.perf_counter()
        t_kw.append((t1 - t0) * 1000)
        t_sem.append((t2 - t1) * 1000)
        out[qid] = {kind: [(h.file_id, h.passage_id, h.score, h.weight) for h in hits]
                    for kind, hits in ((KEYWORD, keyword), (NAMES, names), (SEMANTIC, semantic))}
    ids = sorted({fid for lists in out.values() for hits in lists.values() for fid, *_ in hits})
    files = {}
    for i in range(0, len(ids), 500):
        for fid, row in c.result_files(ids[i : i + 500]).items():
            files[fid] = Path(row[1]).stem
    timing = {"keyword_ms_median": statistics.median(t_kw), "semantic_ms_median": statistics.median(t_sem)}
    return out, files, timing


def save(path: Path, lists: dict[str, Lists], files: dict[int, str]) -> None:
    path.write_text(json.dumps({"lists": lists, "files": {str(k): v for k, v in files.items()}}))


def load(path: Path) -> tuple[dict[str, Lists], dict[int, str]]:
    data = json.loads(path.read_text())
    return data["lists"], {int(k): v for k, v in data["files"].items()}


_HITS: dict[int, dict[str, list[Hit]]] = {}  # lists -> their Hits, built once (scoring runs many settings)


def _hits(lists: Lists) -> dict[str, list[Hit]]:
    key = id(lists)
    if key not in _HITS:
        _HITS[key] = {kind: [Hit(*h) for h in hits] for kind, hits in lists.items()}
    return _HITS[key]


def ranking(lists: Lists, files: dict[int, str], params: Fusion, kinds: tuple[str, ...]) -> list[str]:
    hits = _hits(lists)
    return [files[f.file_id] for f in fuse([(kind, hits[kind]) for kind in kinds], params)[:100]]


MODE_KINDS = {"hybrid": (KEYWORD, NAMES, SEMANTIC), "keyword": (KEYWORD, NAMES), "semantic": (SEMANTIC,)}


def score(all_lists: dict[str, Lists], files: dict[int, str], qrels: dict[str, dict[str, int]], params: Fusion,
          mode: str) -> dict[str, float]:
    qids = [q for q in all_lists if q in qrels]
    ranked = {q: ranking(all_lists[q], files, params, MODE_KINDS[mode]) for q in qids}
    return {
        "ndcg@10": round(statistics.fmean(ndcg_at(ranked[q], qrels[q]) for q in qids), 4),
        "recall@100": round(statistics.fmean(recall_at(ranked[q], qrels[q]) for q in qids), 4),
        "mrr@10": round(statistics.fmean(mrr_at(ranked[q], qrels[q]) for q in qids), 4),
    }


def beir_queries(folder: Path, split: str = "test") -> tuple[dict[str, str], dict[str, dict[str, int]]]:
    _, queries, qrels = load_beir(folder, split)
    return {q: queries[q] for q in qrels if q in queries}, qrels


def floor_report(all_lists: dict[str, Lists], files: dict[int, str], qrels: dict[str, dict[str, int]],
                 params: Fusion) -> dict[str, Any]:
    """How the relevance floor splits the top 10: the share of relevant and of other results that land
    below the divider."""
    rel_weak = rel = other_weak = other = 0
    for q, lists in all_lists.items():
        if q not in qrels:
            continue
        hits = _hits(lists)
        fused = fuse([(k, hits[k]) for k in MODE_KINDS["hybrid"]], params)[:10]
        if not fused:
            continue
        cut = fused[0].score * params.floor
        for f in fused:
            relevant = qrels[q].get(files[f.file_id], 0) > 0
            weak = f.score < cut
            if relevant:
                rel += 1
                rel_weak += weak
            else:
                other += 1
                other_weak += weak
    return {"floor": params.floor, "relevant_in_top10": rel, "relevant_marked_weak": rel_weak,
            "others_in_top10": other, "others_marked_weak": other_weak}


def latency(service: Service, queries: dict[str, str], modes: tuple[str, ...] = ("keyword", "hybrid", "semantic"),
            limit: int = 100) -> dict[str, dict[str, float]]:
    """End-to-end ``Service.search`` time per query (limit 100, no snippets: what ``eval`` times), per mode."""
    import numpy as np

    out = {}
    texts = list(queries.values())
    for mode in modes:
        service.search(texts[0], limit=limit, mode=mode, snippets=False)  # warm-up: model load
        times = []
        for text in texts:
            t0 = time.perf_counter()
            service.search(text, limit=limit, mode=mode, snippets=False)
            times.append((time.perf_counter() - t0) * 1000)
        out[mode] = {"p50_ms": round(float(np.percentile(times, 50)), 1),
                     "p95_ms": round(float(np.percentile(times, 95)), 1), "queries": len(times)}
    return out


def exact_gap(service: Service, queries: dict[str, str], qrels: dict[str, dict[str, int]],
              n: int) -> dict[str, float]:
    """nDCG@10 of semantic search and of exact MaxSim (raw vectors, every passage) on the first ``n`` queries."""
    from desktop_search.core.evaluate import _exact_runner

    qids = list(queries)[:n]
    rank = _exact_runner(service)
    exact, semantic = [], []
    for q in qids:
        exact.append(ndcg_at(rank(queries[q]), qrels[q]))
        response = service.search(queries[q], limit=100, mode="semantic", snippets=False)
        semantic.append(ndcg_at([Path(r.path).stem for r in response.results], qrels[q]))
    return {"queries": len(qids), "semantic_ndcg@10": round(statistics.fmean(semantic), 4),
            "exact_ndcg@10": round(statistics.fmean(exact), 4),
            "semantic_minus_exact": round(statistics.fmean(semantic) - statistics.fmean(exact), 4)}
