"""``desktop-search eval``: index a BEIR folder as files and measure retrieval quality and speed.

The documents become ``<data dir>/eval/<name>/docs/<id>.txt`` (title, blank line, text) and are indexed
by the normal indexer, so the numbers are those of the app, into an index of their own in
``<data dir>/eval/<name>/index`` (a Service on that folder, with the same model and run options). The
data folder's own watched folders, settings and index are never touched; the eval index is kept
between runs of the same data dir. ``--exact`` scores every document by exact MaxSim over the raw
vectors (no PLAID, no fusion).
"""

from __future__ import annotations

import contextlib
import json
import math
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from . import paths as P
from .indexer import Progress
from .search import MODES


class EvalError(Exception):
    pass


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def load_beir(folder: Path, split: str) -> tuple[list[dict[str, Any]], dict[str, str], dict[str, dict[str, int]]]:
    corpus_path, queries_path = folder / "corpus.jsonl", folder / "queries.jsonl"
    qrels_path = folder / "qrels" / f"{split}.tsv"
    for needed in (corpus_path, queries_path, qrels_path):
        if not needed.is_file():
            raise EvalError(f"{folder} is not a BEIR folder: {needed.name} is missing")
    corpus = _read_jsonl(corpus_path)
    queries = {str(q["_id"]): q["text"] for q in _read_jsonl(queries_path)}
    qrels: dict[str, dict[str, int]] = {}
    with open(qrels_path, encoding="utf-8") as handle:
        for i, line in enumerate(handle):
            parts = line.rstrip("\n").split("\t")
            if i == 0 and not parts[-1].lstrip("-").isdigit():
                continue
            if len(parts) >= 3:
                qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    return corpus, queries, qrels


def ndcg_at(ranked: list[str], rels: dict[str, int], k: int = 10) -> float:
    dcg = sum(rels.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted(rels.values(), reverse=True)[:k]
    idcg = sum(r / math.log2(i + 2) for i, r in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at(ranked: list[str], rels: dict[str, int], k: int = 100) -> float:
    relevant = {d for d, r in rels.items() if r > 0}
    return len(relevant & set(ranked[:k])) / len(relevant) if relevant else 0.0


def mrr_at(ranked: list[str], rels: dict[str, int], k: int = 10) -> float:
    for i, d in enumerate(ranked[:k]):
        if rels.get(d, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


def _materialise(corpus: list[dict[str, Any]], docs: Path) -> None:
    marker = docs / ".complete"
    if marker.exists() and marker.read_text() == str(len(corpus)):
        return
    docs.mkdir(parents=True, exist_ok=True)
    for doc in corpus:
        name = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in str(doc["_id"]))
        title = (doc.get("title") or "").strip()
        body = (doc.get("text") or "").strip()
        (docs / f"{name}.txt").write_text(f"{title}\n\n{body}\n" if title else f"{body}\n", encoding="utf-8")
    marker.write_text(str(len(corpus)))


def _eval_service(main: Any, dataset: str) -> Any:
    """A Service on ``<data dir>/eval/<dataset>/index`` using the main service's model (the folder it
    resolved to, so nothing is downloaded twice) and its run options."""
    from .model import ModelUnavailable
    from .service import Service

    model = main._model_option
    # keyword-only eval, or the error comes back from the eval index with its own words
    with contextlib.suppress(ModelUnavailable):
        model = str(main.model_location().path)
    sub = Service(main.data_dir / "eval" / dataset / "index", model=model,
                  context_length=main.settings.context_length, threads=main.settings.threads,
                  allow_download=False)
    for name in ("batch_files", "flat_max_tokens", "plaid_nbits", "quantize"):  # tests and benchmarks tune these
        if hasattr(main.settings, name):
            setattr(sub.settings, name, getattr(main.settings, name))
    # --exact scores the stored vectors (decoded PLAID codes): no raw archive, so the eval index is
    # as small as a person's; one from before that drops its archive at its next merge
    sub.settings.keep_raw_vectors = False
    if sub.writer.call(lambda c: c.load_settings()).keep_raw_vectors:
        sub.save_settings(sub.settings)  # the eval index's own settings, not the data folder's
    return sub


def run_eval(
    service: Any, beir_dir: str, split: str = "test", mode: str = "semantic", exact: bool = False,
    progress: Callable[[Progress], None] | None = None, limit_queries: int = 0,
) -> dict[str, Any]:
    folder = Path(beir_dir).expanduser().absolute()
    if not folder.is_dir():
        raise EvalError(f"no such folder: {beir_dir}")
    corpus, queries, qrels = load_beir(folder, split)
    docs = service.data_dir / "eval" / folder.name / "docs"
    _materialise(corpus, docs)
    with _eval_service(service, folder.name) as sub:
        return _run(sub, folder, docs, corpus, queries, qrels, split, mode, exact, progress, limit_queries)


def _run(
    service: Any, folder: Path, docs: Path, corpus: list[dict[str, Any]], queries: dict[str, str],
    qrels: dict[str, dict[str, int]], split: str, mode: str, exact: bool,
    progress: Callable[[Progress], None] | None, limit_queries: int,
) -> dict[str, Any]:
    started = time.perf_counter()
    report = service.index([str(docs)], progress=progress)
    took = time.perf_counter() - started
    if report.new or report.changed:
        service.writer.call(lambda c: c.set_setting(f"eval_index_seconds:{folder.name}", took))
    index_seconds = service.reader().get_setting(f"eval_index_seconds:{folder.name}", took)
    if not report.semantic and (mode != "keyword" or exact):
        raise EvalError("semantic search is unavailable: " + "; ".join(report.warnings))

    qids = [q for q in qrels if q in queries]
    if limit_queries:
        qids = qids[:limit_queries]
    if not qids:
        raise EvalError(f"no queries of split {split!r} have judgements")

    runner = _exact_runner(service) if exact else None

    def run(run_mode: str) -> tuple[dict[str, list[str]], list[float]]:
        rankings, times = {}, []
        service.search(queries[qids[0]], limit=100, mode=run_mode, snippets=False)  # warm-up: model load
        for i, qid in enumerate(qids):
            t0 = time.perf_counter()
            if runner is not None:
                ranked = runner(queries[qid])
            else:
                response = service.search(queries[qid], limit=100, mode=run_mode, snippets=False)
                ranked = [Path(r.path).stem for r in response.results]
            times.append((time.perf_counter() - t0) * 1000)
            rankings[qid] = ranked
            if progress:
                progress(Progress(f"eval {run_mode}{' exact' if exact else ''}", i + 1, len(qids)))
        return rankings, times

    def metrics(rankings: dict[str, list[str]]) -> dict[str, float]:
        return {
            "ndcg@10": round(statistics.fmean(ndcg_at(rankings[q], qrels[q]) for q in qids), 4),
            "recall@100": round(statistics.fmean(recall_at(rankings[q], qrels[q]) for q in qids), 4),
            "mrr@10": round(statistics.fmean(mrr_at(rankings[q], qrels[q]) for q in qids), 4),
        }

    rankings, times = run(mode)
    status = service.status()
    result: dict[str, Any] = {
        "dataset": folder.name, "split": split, "mode": "exact" if exact else mode,
        **metrics(rankings),
        "docs": len(corpus), "queries": len(qids),
        "index_seconds": round(float(index_seconds), 1),
        "search_p50_ms": round(float(np.percentile(times, 50)), 1),
        "search_p95_ms": round(float(np.percentile(times, 95)), 1),
        "index_bytes": status["index_bytes"], "vector_bytes": status["vector_bytes"],
        "vectors": status["vectors"], "segments": status["segments"], "model": status["model"],
    }
    if not exact:
        others = {}
        for other in MODES:
            if other != mode:
                other_rankings, other_times = run(other)
                others[other] = {
                    **metrics(other_rankings),
                    "search_p50_ms": round(float(np.percentile(other_times, 50)), 1),
                    "search_p95_ms": round(float(np.percentile(other_times, 95)), 1),
                }
        result["other_modes"] = others
    return result


def _exact_runner(service: Any) -> Callable[[str], list[str]]:
    """Reference ranking: exact MaxSim of every passage (raw vectors where kept, else decoded PLAID
    codes: SegmentStore.exact_scores), best passage per file."""
    c = service.reader()
    service.store.refresh(c, force=True)
    owner = {pid: Path(P.from_db(path)).stem for pid, path in c.passage_paths().items()}
    encoder = service.encoder()

    def rank(query: str) -> list[str]:
        qv = encoder.encode_query(query)
        scores = service.store.exact_scores(qv.vectors)
        best: dict[str, float] = {}
        for pid, score in scores.items():
            doc = owner.get(pid)
            if doc is not None and score > best.get(doc, -math.inf):
                best[doc] = score
        return sorted(best, key=lambda d: -best[d])[:100]

    return rank
