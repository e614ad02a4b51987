"""Storage (issue 14) on SciFact: vector bytes per token, index size, nDCG@10 and merge time, the old
layout against codec-keeping merges, on the same vectors.

    python tests/benchmarks/bench_storage.py --source DATA_DIR --model MODEL_DIR [--work DIR] [--beir DIR]

``--source`` is a data folder in which ``desktop-search eval`` indexed SciFact before this change (what
tests/benchmarks/bench_scifact.py builds: fast-plaid segments plus every vector archived as float16,
because eval kept raw vectors for ``--exact``). It is copied into ``--work`` and left alone. In the copy:

1. *before*: the index as it is (status sizes; semantic nDCG@10 through Service.search; exact MaxSim
   over the raw archived vectors);
2. *replay*: the raw vectors are committed again as an indexing run commits them (flat segments of
   ``batch_files`` files in content order, the indexer's Compactor after each batch and at the end),
   so the segments are what a fresh index writes now, without re-encoding 1.5M tokens (~40 minutes);
   the old segments are left to the policy's clean-up (empty, archives dropped after the first merge);
3. *after*: the same measurements, exact MaxSim now over the decoded PLAID vectors (no raw copy is
   kept), plus the time of a lossless merge of every PLAID segment (copying codes; not committed).

Writes tests/benchmarks/results/storage.json and storage.md. Timings are wall-clock on a shared,
loaded machine: read them as orders of magnitude.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
import uuid
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "tests" / "benchmarks" / "results"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from desktop_search.core.compaction import Compactor  # noqa: E402
from desktop_search.core.config import Settings  # noqa: E402
from desktop_search.core.evaluate import load_beir, mrr_at, ndcg_at, recall_at  # noqa: E402
from desktop_search.core.index.merge import MergeSource, merge_segments  # noqa: E402
from desktop_search.core.index.merge_policy import MergePlan  # noqa: E402
from desktop_search.core.index.segments import FlatSegment, PlaidSegment  # noqa: E402
from desktop_search.core.service import Service  # noqa: E402


def folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def vector_bytes(store_root: Path) -> dict[str, int]:
    """Bytes on disk by what they hold: quantised vectors (codes, residuals, IVF, codec), raw float16
    vectors (flat and archived segments), and the rest (spans, passage ids, lengths, manifests)."""
    out = {"plaid": 0, "raw": 0, "other": 0}
    seen = set()  # a codec file hard-linked into several segments is on disk once
    for f in store_root.rglob("*"):
        if not f.is_file():
            continue
        st = f.stat()
        if (st.st_dev, st.st_ino) in seen:
            continue
        seen.add((st.st_dev, st.st_ino))
        if "plaid" in f.relative_to(store_root).parts:
            out["plaid"] += st.st_size
        elif f.name == "vectors.npy":
            out["raw"] += st.st_size
        else:
            out["other"] += st.st_size
    return out


def measure(service: Service, beir: Path, label: str, exact: bool) -> dict:
    corpus, queries, qrels = load_beir(beir, "test")
    qids = [q for q in qrels if q in queries]
    status = service.status()
    store = service.store
    store.refresh(service.reader(), force=True)
    view = store.view
    live_tokens = sum(int(e.segment.lengths[e.live].sum()) for e in view.live)
    kinds = vector_bytes(store.root)
    result = {
        "label": label, "index_bytes": status["index_bytes"], "vector_bytes": status["vector_bytes"],
        "catalog_bytes": status["index_bytes"] - status["vector_bytes"], "live_tokens": live_tokens,
        "segments": [{"kind": e.kind, "state": e.state, "passages": e.segment.n_passages,
                      "tokens": int(e.segment.lengths.sum()),
                      "codec": getattr(e.segment, "codec_id", None)} for e in view.entries],
        "bytes_by_kind": kinds,
        "plaid_bytes_per_token": round(kinds["plaid"] / max(live_tokens, 1), 1),
        "segment_bytes_per_token": round(status["vector_bytes"] / max(live_tokens, 1), 1),
    }
    service.search(queries[qids[0]], limit=100, mode="semantic", snippets=False)  # model load
    rankings, times = {}, []
    for qid in qids:
        t0 = time.perf_counter()
        response = service.search(queries[qid], limit=100, mode="semantic", snippets=False)
        times.append((time.perf_counter() - t0) * 1000)
        rankings[qid] = [Path(r.path).stem for r in response.results]
    result["semantic"] = metrics(rankings, qrels, qids) | {
        "search_p50_ms": round(float(np.percentile(times, 50)), 1),
        "search_p95_ms": round(float(np.percentile(times, 95)), 1)}
    if exact:
        result["exact"] = exact_metrics(service, beir)
    return result


def exact_metrics(service: Service, beir: Path) -> dict:
    """Exact MaxSim of every live passage (SegmentStore.exact_scores), best passage per document."""
    _, queries, qrels = load_beir(beir, "test")
    qids = [q for q in qrels if q in queries]
    owner = {pid: Path(p).stem for pid, p in service.reader().passage_paths().items()}
    encoder = service.encoder()
    rankings = {}
    t0 = time.perf_counter()
    for qid in qids:
        scores = service.store.exact_scores(encoder.encode_query(queries[qid]).vectors)
        best: dict[str, float] = {}
        for pid, score in scores.items():
            doc = owner.get(pid)
            if doc is not None and score > best.get(doc, -1e9):
                best[doc] = score
        rankings[qid] = sorted(best, key=lambda d: -best[d])[:100]
    return metrics(rankings, qrels, qids) | {"seconds": round(time.perf_counter() - t0, 1)}


def metrics(rankings: dict, qrels: dict, qids: list) -> dict:
    return {
        "ndcg@10": round(statistics.fmean(ndcg_at(rankings[q], qrels[q]) for q in qids), 4),
        "recall@100": round(statistics.fmean(recall_at(rankings[q], qrels[q]) for q in qids), 4),
        "mrr@10": round(statistics.fmean(mrr_at(rankings[q], qrels[q]) for q in qids), 4),
    }


class ReplayCompactor(Compactor):
    """The indexer's Compactor, blind to the segments that existed before the replay. With ``seed``
    (a source PLAID segment), the first flush keeps that segment's codec instead of training one."""

    old: frozenset[str] = frozenset()
    seed = None

    def _mine(self, view):  # type: ignore[no-untyped-def]
        return [e for e in super()._mine(view) if e.dir not in self.old]

    def _merge(self, chosen, view):  # type: ignore[no-untyped-def]
        if chosen.reason == "flush" and chosen.codec_from is None and self.seed is not None:
            chosen = MergePlan(chosen.reason, chosen.sources, self.seed)
        return super()._merge(chosen, view)


def replay(service: Service, seed_codec: bool = False) -> dict:
    """Commit every passage's raw vectors again as flat segments, batch by batch, compacting as the
    indexer does; returns the merges and their times."""
    store, reader, writer = service.store, service.reader(), service.writer
    store.refresh(reader, force=True)
    key = reader.get_setting("model_key", "")
    raw: dict[int, tuple[FlatSegment, int]] = {}
    for e in store.view.entries:
        if isinstance(e.segment, FlatSegment):
            for local, pid in enumerate(e.segment.passage_ids.tolist()):
                raw[pid] = (e.segment, local)
    live_pids = [int(e.segment.passage_ids[i]) for e in store.view.live for i in np.flatnonzero(e.live)]
    missing = [p for p in live_pids if p not in raw]
    if missing:
        raise SystemExit(f"{len(missing)} live passages have no raw vectors in the source folder")
    order = reader.passage_order(live_pids)
    by_file: dict[str, list[int]] = {}
    for pid in sorted(live_pids, key=lambda p: order[p]):
        by_file.setdefault(order[pid][0], []).append(pid)
    files = list(by_file)
    compactor = ReplayCompactor(store, writer, reader, service.settings, key, message=lambda m: print(m, flush=True))
    compactor.old = frozenset(e.dir for e in store.view.entries)
    if seed_codec:
        plaids = [e for e in store.view.live if isinstance(e.segment, PlaidSegment)]
        compactor.seed = max(plaids, key=lambda e: e.n_live, default=None)
        if compactor.seed is not None:
            print(f"first flush keeps the codec of {compactor.seed.dir} ({compactor.seed.segment.codec.k} centroids)",
                  flush=True)
    batch = service.settings.batch_files
    started = time.monotonic()
    merge_seconds = 0.0
    for start in range(0, len(files), batch):
        pids = [p for f in files[start : start + batch] for p in by_file[f]]
        # the batch's raw vectors are held by the old (archived) flats; copy them out before writing
        vectors = [raw[p][0].vectors([raw[p][1]])[0].astype(np.float16) for p in pids]
        spans = [raw[p][0].spans(raw[p][1]) for p in pids]
        name = f"flat-{uuid.uuid4().hex[:12]}"
        from desktop_search.core.index.segments import write_segment

        write_segment(store.root, name, "flat", pids, vectors, spans)
        n_tokens = int(sum(len(v) for v in vectors))

        def commit(c, name=name, pids=pids, n_tokens=n_tokens, dim=vectors[0].shape[1]):
            with c.transaction():
                sid = c.add_flat_segment(name, key, int(dim), len(pids), n_tokens)
                c.assign_vectors(sid, pids)
                c.bump_generation()

        writer.call(commit)
        t0 = time.monotonic()
        compactor.run(final=False)
        merge_seconds += time.monotonic() - t0
    t0 = time.monotonic()
    compactor.run(final=True)
    merge_seconds += time.monotonic() - t0
    Compactor(store, writer, reader, service.settings, key).run(final=True)  # the policy's clean-up
    store.refresh(reader, force=True)
    return {"replay_seconds": round(time.monotonic() - started, 1), "compaction_seconds": round(merge_seconds, 1),
            "merges": [vars(m) for m in compactor.done]}


def lossless_merge_time(service: Service, scratch: Path) -> dict:
    """Merge every live PLAID segment into one (copying codes), timed, in a scratch folder."""
    store = service.store
    with store.acquire() as view:
        plaids = [e for e in view.live if isinstance(e.segment, PlaidSegment)]
        main = max(plaids, key=lambda e: e.n_live)
        scratch.mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        result = merge_segments(scratch, "all", [MergeSource(e.segment, e.live) for e in plaids],
                                main.segment.codec)
        seconds = time.monotonic() - t0
    out = {"segments": len(plaids), "tokens": result.n_tokens, "seconds": round(seconds, 2),
           "copied_tokens": result.copied_tokens, "recoded_tokens": result.recoded_tokens}
    shutil.rmtree(scratch, ignore_errors=True)
    return out


def table(before: dict, after: dict, rep: dict, merge_all: dict) -> str:
    def row(name: str, r: dict) -> str:
        return (f"| {name} | {r['index_bytes'] / 1e6:.0f} | {r['vector_bytes'] / 1e6:.0f} | "
                f"{r['segment_bytes_per_token']} | {r['plaid_bytes_per_token']} | {r['semantic']['ndcg@10']:.4f} | "
                f"{r['exact']['ndcg@10'] if 'exact' in r else '-'} | {r['semantic']['recall@100']:.4f} | "
                f"{r['semantic']['search_p50_ms']} / {r['semantic']['search_p95_ms']} |")

    lines = [
        f"SciFact, stand-in model (384-d, nbits 2), {after['live_tokens']:,} live tokens. Same vectors both rows: "
        "'after' replays the raw vectors through the new compaction (see bench_storage.py).",
        "",
        "| layout | index MB | segments MB | segment bytes/token | PLAID bytes/token | nDCG@10 semantic | "
        "nDCG@10 exact | recall@100 | search p50 / p95 ms |",
        "|---|---|---|---|---|---|---|---|---|",
        row(f"{before['label']}: fast-plaid segments + float16 archive", before),
        row("after: codec-keeping merges, no archive", after),
        "",
        f"Index {before['index_bytes'] / after['index_bytes']:.1f}x smaller; nDCG@10 semantic "
        f"{after['semantic']['ndcg@10'] - before['semantic']['ndcg@10']:+.4f}. 'exact' before = exact MaxSim over "
        "the raw float16 vectors; after = exact MaxSim over the decoded PLAID vectors (no raw copy is kept).",
        "",
        ("The replay's first flush kept the codec the old build trained on its first flush (fast-plaid's "
         "create: the same k-means and bucket quantiles as Codec.train), to save one k-means; later merges "
         "keep it as a fresh index would keep its own. " if rep.get("seed_codec") else "")
        + "Merges during the replay (compaction total "
        f"{rep['compaction_seconds']} s of a {rep['replay_seconds']} s replay):",
        "",
        "| reason | sources | tokens | copied | compressed | re-coded | trained codec | seconds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for m in rep["merges"]:
        lines.append(f"| {m['reason']} | {m['sources']} | {m['tokens']:,} | {m['copied_tokens']:,} | "
                     f"{m['compressed_tokens']:,} | {m['recoded_tokens']:,} | {m['trained']} | {m['seconds']} |")
    lines += ["", f"Lossless merge of all {merge_all['segments']} PLAID segments ({merge_all['tokens']:,} tokens, "
              f"{merge_all['copied_tokens']:,} copied, {merge_all['recoded_tokens']:,} re-coded): "
              f"{merge_all['seconds']} s.", ""]
    return "\n".join(lines)


def copy_index(src: Path, dst: Path) -> None:
    """Copy an index folder that another process may still be writing: the catalog through SQLite's
    backup API (one consistent snapshot), segments without half-written ``.tmp-*`` folders or locks."""
    import sqlite3

    shutil.rmtree(dst, ignore_errors=True)
    dst.mkdir(parents=True)
    source = sqlite3.connect(f"file:{src / 'catalog.db'}?mode=ro", uri=True)
    target = sqlite3.connect(dst / "catalog.db")
    source.backup(target)
    source.close()
    target.close()
    shutil.copytree(src / "segments", dst / "segments",
                    ignore=lambda d, names: [n for n in names if n.startswith(".tmp-") or n.endswith(".lock")])
    for name in ("state.json",):
        if (src / name).exists():
            shutil.copy2(src / name, dst / name)


def documented_before() -> dict:
    """The old layout's numbers as tests/benchmarks/results/scifact.json recorded them (same model,
    same corpus, same vectors: encoding is deterministic)."""
    d = json.loads((RESULTS / "scifact.json").read_text())
    sem, ex = d["semantic"], d["exact"]
    return {
        "label": "before (results/scifact.json)", "index_bytes": sem["index_bytes"],
        "vector_bytes": sem["vector_bytes"], "live_tokens": sem["vectors"], "plaid_bytes_per_token": "",
        "segment_bytes_per_token": round(sem["vector_bytes"] / sem["vectors"], 1),
        "semantic": {k: sem[k] for k in ("ndcg@10", "recall@100", "mrr@10", "search_p50_ms", "search_p95_ms")},
        "exact": {k: ex[k] for k in ("ndcg@10", "recall@100", "mrr@10")},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, required=True)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--work", type=Path, default=Path("/tmp/h14store"))
    parser.add_argument("--beir", type=Path, default=ROOT.parent / "shared" / "data" / "scifact")
    parser.add_argument("--no-exact", action="store_true", help="skip exact MaxSim (minutes per run)")
    parser.add_argument("--flat-max-tokens", type=int, default=0,
                        help="the replay's flat limit (0: the shipped default, Settings().flat_max_tokens)")
    parser.add_argument("--seed-codec", action="store_true",
                        help="the first flush keeps the codec of the source's largest PLAID segment (trained by "
                             "fast-plaid's create on the first flush of the old build: the same k-means and "
                             "buckets) instead of training again: saves one k-means of ~1M tokens")
    parser.add_argument("--documented-before", action="store_true",
                        help="take the old layout's numbers from results/scifact.json instead of measuring the copy "
                             "(when the source is copied before its last merge)")
    args = parser.parse_args()
    src = args.source / "eval" / "scifact" / "index"
    copy = args.work / "scifact-index"
    copy_index(src, copy)
    with Service(copy, model=str(args.model), allow_download=False) as service:
        service.settings.keep_raw_vectors = False
        service.settings.flat_max_tokens = args.flat_max_tokens or Settings().flat_max_tokens
        service.save_settings(service.settings)
        if args.documented_before:
            before = documented_before()
        else:
            before = measure(service, args.beir, "before", exact=not args.no_exact)
        print(json.dumps(before, indent=1), flush=True)
        rep = replay(service, seed_codec=args.seed_codec)
        rep["seed_codec"] = args.seed_codec
        after = measure(service, args.beir, "after", exact=False)
        print(json.dumps(after, indent=1), flush=True)
        merge_all = lossless_merge_time(service, args.work / "scratch")
        write(before, after, rep, merge_all)
        if not args.no_exact:  # minutes: the results above are written first
            after["exact"] = exact_metrics(service, args.beir)
            write(before, after, rep, merge_all)
    return 0


def write(before: dict, after: dict, rep: dict, merge_all: dict) -> None:
    out = {"before": before, "after": after, "replay": rep, "merge_all": merge_all}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "storage.json").write_text(json.dumps(out, indent=1))
    text = table(before, after, rep, merge_all)
    (RESULTS / "storage.md").write_text(text)
    print(text, flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
