"""Helpers of the scale benchmark (bench_scale.py): the synthetic corpus, the models it uses, exact
MaxSim over a whole index, and process memory.

The corpus is SciFact text recombined: each file holds 1-4 abstracts picked at random (seeded), their
sentences shuffled, so the words, their statistics and the passage lengths are real while the files
are new. Files go 500 to a folder. Token counts come from the tokenizer of the model that indexes them.
"""

from __future__ import annotations

import json
import random
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np

SENTENCE = re.compile(r"(?<=[.!?])\s+")


def scifact_texts(beir: Path) -> list[str]:
    texts = []
    with open(beir / "corpus.jsonl", encoding="utf-8") as handle:
        for line in handle:
            doc = json.loads(line)
            texts.append(f"{doc.get('title', '')}\n\n{doc.get('text', '')}".strip())
    return texts


def scifact_queries(beir: Path, n: int) -> list[str]:
    out = []
    with open(beir / "queries.jsonl", encoding="utf-8") as handle:
        for line in handle:
            out.append(json.loads(line)["text"])
            if len(out) >= n:
                break
    return out


def make_corpus(folder: Path, target_tokens: int, texts: list[str], tokenizer: Any, seed: int = 0,
                per_folder: int = 500, skip_ids: set[int] | None = None) -> dict[str, int]:
    """Write files of recombined SciFact text into ``folder`` until they hold ``target_tokens`` tokens
    (as ``tokenizer`` counts them, special tokens left out, and ``skip_ids`` too: the model's skiplist,
    punctuation, gets no vector, so the count is the index's vectors). Reuses a complete earlier corpus."""
    stamp = folder / ".corpus.json"
    skip = sorted(skip_ids or ())
    if stamp.exists():
        meta = json.loads(stamp.read_text())
        if meta.get("target_tokens") == target_tokens and meta.get("seed") == seed and meta.get("skip", []) == skip:
            return meta
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    rng = random.Random(seed)
    sentences = [SENTENCE.split(t) for t in texts]
    tokens = files = chars = 0
    while tokens < target_tokens:
        batch = []
        for _ in range(256):
            parts: list[str] = []
            for _ in range(rng.randint(1, 4)):
                pick = list(sentences[rng.randrange(len(sentences))])
                rng.shuffle(pick)
                parts.append(" ".join(pick))
            batch.append("\n\n".join(parts))
        counts = [len(ids) - sum(i in skip_ids for i in ids) if skip_ids else len(ids)
                  for ids in tokenizer(batch, add_special_tokens=False)["input_ids"]]
        for text, n in zip(batch, counts, strict=True):
            sub = folder / f"d{files // per_folder:04d}"
            sub.mkdir(exist_ok=True)
            (sub / f"f{files:07d}.txt").write_text(text, encoding="utf-8")
            files += 1
            tokens += n
            chars += len(text)
            if tokens >= target_tokens:
                break
    meta = {"target_tokens": target_tokens, "seed": seed, "files": files, "tokens": tokens, "chars": chars,
            "skip": skip}
    stamp.write_text(json.dumps(meta))
    return meta


def skiplist_ids(tokenizer: Any) -> set[int]:
    """Token ids of PyLate's default skiplist (string.punctuation): document tokens that get no vector."""
    import string

    ids = {tokenizer.convert_tokens_to_ids(c) for c in string.punctuation}
    return ids - {tokenizer.unk_token_id, None}


def build_tiny64(target: Path, texts: list[str]) -> Path:
    """The tiny random ModernBERT ColBERT of the tests with the default model's 64-d output and a
    WordPiece vocabulary of 8,000 trained on SciFact (so a token is about as long as a real one)."""
    from desktop_search.testing.models import TINY, build_modernbert_colbert

    if not (target / "modules.json").exists():
        shutil.rmtree(target, ignore_errors=True)
        build_modernbert_colbert(target, TINY, texts[:3000], embedding_size=64, query_length=32, vocab_size=8000)
    return target


def build_ettin32m(target: Path, texts: list[str]) -> Path:
    """A random-weight model of the default model's size and shape (Ettin-32M backbone, 64-d output,
    32 query tokens): for query-encoding latency and the memory of a loaded 32M model."""
    from desktop_search.testing.models import ETTIN_32M, build_modernbert_colbert

    if not (target / "modules.json").exists():
        shutil.rmtree(target, ignore_errors=True)
        shape = {k: v for k, v in ETTIN_32M.items() if k != "vocab_size"}
        build_modernbert_colbert(target, shape, texts[:3000], embedding_size=64, query_length=32,
                                 vocab_size=ETTIN_32M["vocab_size"])
    return target


def rss_mb(pid: int | str = "self") -> dict[str, float]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            out[line.split(":")[0]] = round(int(line.split()[1]) / 1024, 1)
    return out


def exact_topk(store: Any, queries: list[np.ndarray], k: int = 10, chunk_tokens: int = 16384,
               model_key: str | None = None) -> list[list[int]]:
    """Exact MaxSim of every live passage of ``store``'s current view for every query, over the vectors
    the index itself holds (PLAID: decompressed codes), so the difference to the store's search is the
    candidate generation alone. All queries are scored together per chunk of passages. Returns the
    passage ids of each query's top ``k``."""
    return exact_topk_scored(store, queries, k, chunk_tokens, model_key)[0]


def exact_topk_scored(store: Any, queries: list[np.ndarray], k: int = 10, chunk_tokens: int = 16384,
                      model_key: str | None = None) -> tuple[list[list[int]], list[list[float]]]:
    """:func:`exact_topk` with each query's top ``k`` exact scores (best first) beside the ids."""
    qall = np.ascontiguousarray(np.concatenate(queries).astype(np.float32))
    q_bounds = np.concatenate([[0], np.cumsum([len(q) for q in queries])[:-1]]).astype(np.int64)
    best_ids = np.zeros((len(queries), 0), dtype=np.int64)
    best_scores = np.zeros((len(queries), 0), dtype=np.float32)
    with store.acquire() as view:
        for e in view.serving(model_key, qall.shape[1]):
            seg = e.segment
            locals_all = np.nonzero(e.live)[0]
            lengths = np.asarray(seg.lengths)[locals_all]
            start = 0
            while start < len(locals_all):
                stop = start + max(1, int(np.searchsorted(np.cumsum(lengths[start:]), chunk_tokens)))
                chunk = locals_all[start:stop]
                vecs = seg.vectors(chunk.tolist())
                bounds = np.concatenate([[0], np.cumsum([len(v) for v in vecs])[:-1]]).astype(np.int64)
                sims = np.concatenate(vecs).astype(np.float32) @ qall.T  # (tokens, all query tokens)
                per_doc = np.maximum.reduceat(sims, bounds, axis=0)  # (docs, all query tokens)
                scores = np.add.reduceat(per_doc, q_bounds, axis=1).T  # (queries, docs)
                ids = np.broadcast_to(np.asarray(seg.passage_ids)[chunk], scores.shape)
                all_scores = np.concatenate([best_scores, scores], axis=1)
                all_ids = np.concatenate([best_ids, ids], axis=1)
                keep = min(k, all_scores.shape[1])
                top = np.argpartition(-all_scores, keep - 1, axis=1)[:, :keep]
                best_scores = np.take_along_axis(all_scores, top, axis=1)
                best_ids = np.take_along_axis(all_ids, top, axis=1)
                start = stop
    order = np.argsort(-best_scores, axis=1)
    return (np.take_along_axis(best_ids, order, axis=1).tolist(),
            np.take_along_axis(best_scores, order, axis=1).astype(float).tolist())


def percentile(values: list[float], p: float) -> float:
    return round(float(np.percentile(values, p)), 1) if values else float("nan")


def synthetic_forward(encoder: Any, context: float = 0.5, width: int = 4, batch: int = 256,
                      cache: Path | None = None) -> None:
    """Make ``encoder`` (a loaded Encoder of the tiny model) fast enough for 10M tokens on 2 cores:
    its network call (``_forward``) becomes a lookup of each token's vector (the model's own output for
    that token alone, computed once per vocabulary entry) mixed with the mean of its neighbours within
    ``width`` tokens (``context``), L2-normalised. Everything around it, tokenization, windows,
    passage slicing and char spans, stays the product's code. Query encoding is left real. ``cache``: a
    .npy file keeping the table between builds (a 32M model takes minutes to fill it on 2 cores)."""
    real = encoder._forward
    vocab = len(encoder.tokenizer)
    prefix = [encoder.doc_prefix_id] if encoder.doc_prefix_id is not None else []
    skip = len(encoder.head) + len(prefix)
    if cache is not None and cache.exists():
        lookup = np.load(cache)
    else:
        table = []
        for start in range(0, vocab, batch):
            outs = real([encoder.head + prefix + [t] + encoder.tail for t in range(start, min(vocab, start + batch))])
            table += [o[skip] for o in outs]
        lookup = np.stack(table).astype(np.float32)
        if cache is not None:
            np.save(cache, lookup)

    def forward(sequences: list[list[int]]) -> list[np.ndarray]:
        out = []
        for seq in sequences:
            v = lookup[np.asarray(seq, dtype=np.int64)]
            n = len(v)
            sums = np.concatenate([np.zeros((1, v.shape[1]), np.float32), np.cumsum(v, axis=0)])
            idx = np.arange(n)
            lo, hi = np.clip(idx - width, 0, n), np.clip(idx + width + 1, 0, n)
            v = v + context * (sums[hi] - sums[lo]) / (hi - lo)[:, None]
            v /= np.linalg.norm(v, axis=1, keepdims=True) + 1e-12
            out.append(v)
        return out

    encoder._forward = forward
