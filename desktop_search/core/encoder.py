"""Turn text into ColBERT token vectors with char offsets.

A file's text is tokenized once with offsets and cut into windows of up to the context length
(overlapping when the file is longer); every token takes its vector from the window where it sits
furthest from an edge, so each passage is a slice of a contextualised window. The attention of the
model is whatever :func:`prepare_model` leaves in place: the seam for memory-efficient long context.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class PassageVectors:
    vectors: np.ndarray  # (tokens, dim) float16, L2-normalised
    spans: np.ndarray  # (tokens, 2) uint16 char offsets relative to the passage start


@dataclass
class QueryVectors:
    vectors: np.ndarray  # (tokens, dim) float32
    spans: list[tuple[int, int]]  # char span in the query of each vector ((0, 0) for specials)


def prepare_model(model: Any) -> Any:
    """Hook for replacing the attention implementation at load time (long-context issue)."""
    return model


class Encoder:
    def __init__(self, model: Any, context_length: int, batch_tokens: int = 8192, max_batch: int = 32):
        import torch

        self.torch = torch
        self.model = prepare_model(model)
        self.tokenizer = model.tokenizer
        transformer = model[0]
        config = transformer.auto_model.config
        max_positions = int(getattr(config, "max_position_embeddings", context_length) or context_length)
        self.doc_prefix_id = model.document_prefix_id
        bare = self.tokenizer("hello", add_special_tokens=False)["input_ids"]
        full = self.tokenizer("hello", add_special_tokens=True)["input_ids"]
        pos = next(i for i in range(len(full)) if full[i : i + len(bare)] == bare)
        self.head = list(full[:pos])
        self.tail = list(full[pos + len(bare) :])
        extra = len(self.head) + len(self.tail) + (1 if self.doc_prefix_id is not None else 0)
        self.context_length = min(context_length, max_positions)
        self.window = max(16, self.context_length - extra)
        self.overlap = min(self.window // 4, 512)
        self.skip_ids = np.array(sorted(set(getattr(model, "skiplist", []) or [])), dtype=np.int64)
        self.pad_id = self.tokenizer.pad_token_id or 0
        self.batch_tokens = batch_tokens
        self.max_batch = max_batch
        self.dim = int(model.get_sentence_embedding_dimension() or 0) or self._probe_dim()

    def _probe_dim(self) -> int:
        return int(self._forward([self.head + [self.pad_id] + self.tail])[0].shape[-1])

    # queries ----------------------------------------------------------------------------------------
    def encode_query(self, query: str) -> QueryVectors:
        torch = self.torch
        with torch.inference_mode():
            out = self.model.encode(
                [query], is_query=True, show_progress_bar=False, convert_to_numpy=False, convert_to_tensor=False
            )
        vectors = out[0].float().cpu().numpy() if hasattr(out[0], "float") else np.asarray(out[0], np.float32)
        enc = self.tokenizer(query, add_special_tokens=True, return_offsets_mapping=True, truncation=True,
                             max_length=max(2, int(self.model.query_length or 32) - 1))
        spans = [tuple(o) for o in enc["offset_mapping"]]
        if self.model.query_prefix_id is not None and spans:
            spans.insert(1, (0, 0))
        spans = spans[: len(vectors)] + [(0, 0)] * max(0, len(vectors) - len(spans))
        return QueryVectors(vectors.astype(np.float32), spans)  # type: ignore[arg-type]

    # documents --------------------------------------------------------------------------------------
    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False, truncation=False, verbose=False)["input_ids"])

    def _windows(self, n_tokens: int) -> list[tuple[int, int, int, int]]:
        """(start, end, own_start, own_end) of each window; owned ranges tile [0, n)."""
        if n_tokens <= self.window:
            return [(0, n_tokens, 0, n_tokens)]
        stride = self.window - self.overlap
        starts = list(range(0, n_tokens - self.window, stride)) + [n_tokens - self.window]
        ends = [s + self.window for s in starts]
        # a token belongs to the window where it is furthest from an edge: cut overlaps in the middle
        own_starts = [0] + [(starts[k] + ends[k - 1]) // 2 for k in range(1, len(starts))]
        own_ends = own_starts[1:] + [n_tokens]
        return list(zip(starts, ends, own_starts, own_ends, strict=True))

    def _forward(self, sequences: list[list[int]]) -> list[np.ndarray]:
        torch = self.torch
        longest = max(len(s) for s in sequences)
        ids = torch.full((len(sequences), longest), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(sequences), longest), dtype=torch.long)
        for i, seq in enumerate(sequences):
            ids[i, : len(seq)] = torch.tensor(seq, dtype=torch.long)
            mask[i, : len(seq)] = 1
        with torch.inference_mode():
            out = self.model({"input_ids": ids, "attention_mask": mask})
            emb = torch.nn.functional.normalize(out["token_embeddings"].float(), p=2, dim=-1)
        return [emb[i, : len(seq)].numpy() for i, seq in enumerate(sequences)]

    def encode_documents(
        self, texts: Sequence[str], passages: Sequence[Sequence[tuple[int, int]]]
    ) -> list[list[PassageVectors]]:
        """Vectors for each passage (char ranges) of each text."""
        docs = []
        jobs: list[tuple[int, int, list[int]]] = []  # (doc, window index, input ids)
        for d, text in enumerate(texts):
            enc = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True,
                                 truncation=False, verbose=False)
            ids = np.asarray(enc["input_ids"], dtype=np.int64)
            offsets = np.asarray(enc["offset_mapping"], dtype=np.int64).reshape(-1, 2)
            windows = self._windows(len(ids))
            docs.append((ids, offsets, windows))
            if len(ids) == 0:
                continue
            for w, (s, e, _, _) in enumerate(windows):
                prefix = [self.doc_prefix_id] if self.doc_prefix_id is not None else []
                jobs.append((d, w, self.head + prefix + ids[s:e].tolist() + self.tail))

        outputs: dict[tuple[int, int], np.ndarray] = {}
        order = sorted(range(len(jobs)), key=lambda j: len(jobs[j][2]))
        batch: list[int] = []

        def flush() -> None:
            if not batch:
                return
            results = self._forward([jobs[j][2] for j in batch])
            for j, res in zip(batch, results, strict=True):
                outputs[(jobs[j][0], jobs[j][1])] = res
            batch.clear()

        for j in order:
            length = len(jobs[j][2])
            if batch and (length * (len(batch) + 1) > self.batch_tokens or len(batch) >= self.max_batch):
                flush()
            batch.append(j)
        flush()

        skip_front = len(self.head) + (1 if self.doc_prefix_id is not None else 0)
        results: list[list[PassageVectors]] = []
        for d, (ids, offsets, windows) in enumerate(docs):
            n = len(ids)
            token_vecs = np.zeros((n, self.dim), dtype=np.float16)
            for w, (s, _e, own_s, own_e) in enumerate(windows):
                if n == 0:
                    break
                out = outputs[(d, w)]
                token_vecs[own_s:own_e] = out[skip_front + (own_s - s) : skip_front + (own_e - s)]
            keep = ~np.isin(ids, self.skip_ids) if len(self.skip_ids) else np.ones(n, dtype=bool)
            keep &= offsets[:, 1] > offsets[:, 0]
            starts = offsets[:, 0]
            per_passage = []
            for p_start, p_end in passages[d]:
                lo = bisect.bisect_left(starts, p_start)  # type: ignore[arg-type]
                hi = bisect.bisect_left(starts, p_end)  # type: ignore[arg-type]
                sel = np.nonzero(keep[lo:hi])[0] + lo
                rel = np.clip(offsets[sel] - p_start, 0, min(65535, p_end - p_start)).astype(np.uint16)
                per_passage.append(PassageVectors(token_vecs[sel], rel))
            results.append(per_passage)
        return results
