"""The :class:`Encoder`: text to ColBERT token vectors with char offsets, for documents and queries.

A file's text is tokenized once with offsets and cut into windows of up to the context length
(:func:`.windows.plan_windows`, overlapping when the file is longer); every token takes its vector from
the window where it sits furthest from an edge, so each passage is a slice of a contextualised window.
Windows are encoded in length-bucketed batches under a token budget (:func:`.windows.plan_batches`).

Owners and threads: an :class:`Encoder` is shared by the indexing thread (documents) and any number of
search threads (queries). A Hugging Face fast tokenizer is not thread-safe (a call that changes its
truncation or padding while another call runs raises ``RuntimeError: Already borrowed``), so each role
owns its own copy: documents use ``doc_tokenizer`` under ``_doc_lock`` (one document at a time, so a
``count_tokens`` from elsewhere waits for one document, never a batch), queries use
``query_tokenizer`` under ``_query_lock``, held for the tokenization of one query only. A query never
waits on document work. The model's forward pass holds no per-call state (inference mode, attention
masks built per call) and runs concurrently for both roles; PyLate's ``model.tokenize`` is never
called on the query path because it rewrites the shared module's ``max_seq_length``. ``doc_stats`` is
updated under ``_stats_lock`` (documents may be encoded from more than one thread in tests and tools).
"""

from __future__ import annotations

import bisect
import copy
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import resources
from .glue import is_blocked, prepare_model, stop_hooks
from .loading import DeviceChoice, choose_device, move_to_device
from .resources import fit_context_length, lower_priority
from .vectors import EncodingStopped, PassageVectors, QueryVectors
from .windows import plan_batches, plan_windows

# padded tokens per forward call and windows per call: the CPU gains nothing from bigger batches (and a
# bigger batch holds more memory); an accelerator needs wide batches to be busy
BATCH_BUDGET = {"cpu": (8192, 32), "cuda": (65536, 256), "mps": (32768, 128)}


@dataclass
class DocStats:
    """Document encoding so far: windows' real and padded tokens, forward calls and their seconds."""

    tokens: int = 0
    padded: int = 0
    calls: int = 0
    forward_s: float = 0.0


class Encoder:
    def __init__(self, model: Any, context_length: int, batch_tokens: int | None = None,
                 max_batch: int | None = None, key: str = "", device: str | DeviceChoice = "cpu"):
        import torch

        self.torch = torch
        choice = device if isinstance(device, DeviceChoice) else choose_device(device)
        model, choice = move_to_device(model, choice)
        self.device = choice.name  # the device in use: cpu | cuda | mps
        self.device_note = choice.note  # why it is not the one asked for (None when it is)
        self.model = prepare_model(model)
        self.key = key  # the model key (``model.model_key``) recorded with the segments it writes
        # one tokenizer per role (see the module docstring): documents keep the model's own, queries a copy
        self.tokenizer = self.doc_tokenizer = model.tokenizer
        self.query_tokenizer = copy.deepcopy(model.tokenizer)
        self._doc_lock = threading.Lock()
        self._query_lock = threading.Lock()
        self._stats_lock = threading.Lock()
        self.doc_stats = DocStats()
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
        backbone, self.blocked = is_blocked(model)
        self.context_note: str | None = None
        self.context_length = min(context_length, max_positions)
        if backbone is not None:  # ModernBERT reads long windows: check that one fits in memory now
            hidden = int(getattr(config, "hidden_size", 384))
            heads = int(getattr(config, "num_attention_heads", 6))
            available = resources.device_memory_bytes(self.device) or resources.available_memory_bytes()
            self.context_length, self.context_note = fit_context_length(self.context_length, hidden, heads,
                                                                        self.blocked, available=available)
        self.window = max(16, self.context_length - extra)
        self.overlap = min(self.window // 4, 512)
        self.skip_ids = np.array(sorted(set(getattr(model, "skiplist", []) or [])), dtype=np.int64)
        self.pad_id = self.tokenizer.pad_token_id or 0
        default_budget, default_batch = BATCH_BUDGET.get(self.device, BATCH_BUDGET["cpu"])
        self.batch_tokens = batch_tokens or default_budget
        self.max_batch = max_batch or default_batch
        self.long_window = 1024  # longer windows are batched only with windows of the same length
        # tokens worth handing to one encode_documents call (the indexer's commit batch): several full
        # batches, so the last, partly filled one wastes little; capped for the memory the outputs take
        self.pool_tokens = min(8 * self.batch_tokens, 131072)
        self.dim = int(model.get_sentence_embedding_dimension() or 0) or self._probe_dim()

    def _probe_dim(self) -> int:
        return int(self._forward([self.head + [self.pad_id] + self.tail])[0].shape[-1])

    # queries ----------------------------------------------------------------------------------------
    def encode_query(self, query: str) -> QueryVectors:
        """Safe from any number of threads at once, and while documents are being encoded."""
        torch = self.torch
        # one thread: a query is a few dozen tokens, and on a busy machine (indexing, other apps) a
        # two-thread pool waits on its slowest thread: 16 ms on one thread vs 400+ ms measured on two
        threads = torch.get_num_threads()
        on_cpu = self.device == "cpu"
        if on_cpu:
            torch.set_num_threads(1)
        try:
            with torch.inference_mode():
                vectors, spans = self._query_vectors(query)
        finally:
            if on_cpu:
                torch.set_num_threads(threads)
        if self.model.query_prefix_id is not None and spans:
            spans.insert(1, (0, 0))
        spans = spans[: len(vectors)] + [(0, 0)] * max(0, len(vectors) - len(spans))
        return QueryVectors(vectors.astype(np.float32), spans, self.key)

    def _query_spans(self, query: str, max_length: int) -> list[tuple[int, int]]:
        with self._query_lock:
            enc = self.query_tokenizer(query, add_special_tokens=True, return_offsets_mapping=True,
                                       truncation=True, max_length=max_length)
        return [(int(s), int(e)) for s, e in enc["offset_mapping"]]

    def _query_vectors(self, query: str) -> tuple[np.ndarray, list[tuple[int, int]]]:
        """PyLate's ``encode`` for one query without its per-call overhead (moving the whole model to
        its device again: 2-7 ms of a ~20 ms query) and without its shared tokenizer: the features are
        PyLate's ``tokenize(is_query=True)`` made with this encoder's query tokenizer. Also returns each
        input token's char span in ``query`` (before the prefix token is inserted)."""
        model, torch = self.model, self.torch
        prefix_id = model.query_prefix_id
        max_length = max(2, int(model.query_length or 32) - (1 if prefix_id is not None else 0))
        if getattr(model, "default_prompt_name", None):
            with self._doc_lock:  # PyLate's own path tokenizes with the model's (document) tokenizer
                out = model.encode([query], is_query=True, show_progress_bar=False, convert_to_numpy=False,
                                   convert_to_tensor=False)
            vectors = out[0].float().cpu().numpy() if hasattr(out[0], "float") else np.asarray(out[0], np.float32)
            return vectors, self._query_spans(query, max_length)
        text = query.strip()
        module = model._first_module()
        if getattr(module, "do_lower_case", False):
            text = text.lower()
        lead = len(query) - len(query.lstrip())
        with self._query_lock:
            features = self.query_tokenizer(
                text, padding="max_length" if model.do_query_expansion else True, truncation="longest_first",
                return_tensors="pt", max_length=max_length, return_offsets_mapping=True,
            )
        offsets = features.pop("offset_mapping")[0].tolist()
        if len(text) == len(query.strip()):  # offsets map into ``query`` once shifted past its leading blanks
            spans = [(s + lead, e + lead) if e > s else (0, 0) for s, e in offsets]
            spans = spans[: int(features["attention_mask"][0].sum())]
        else:  # lower-casing changed the length (rare scripts): ask for offsets in the original text
            spans = self._query_spans(query, max_length)
        features = dict(features)
        if prefix_id is not None:
            for name, fill in (("input_ids", prefix_id), ("attention_mask", 1), ("token_type_ids", 0)):
                if name in features:
                    features[name] = model.insert_prefix_token(features[name], fill)
        if model.attend_to_expansion_tokens:
            features["attention_mask"].fill_(1)
        if self.device != "cpu":
            features = {name: value.to(self.device) for name, value in features.items()}
        out = model.forward(input=features)
        emb = out["token_embeddings"][0]
        if not model.do_query_expansion:  # expansion keeps every [MASK]; otherwise padding goes
            emb = emb[out["attention_mask"][0].bool()]
        return torch.nn.functional.normalize(emb.float(), p=2, dim=1).cpu().numpy(), spans

    # documents --------------------------------------------------------------------------------------
    def count_tokens(self, text: str) -> int:
        with self._doc_lock:
            return len(self.doc_tokenizer(text, add_special_tokens=False, truncation=False,
                                          verbose=False)["input_ids"])

    def _windows(self, n_tokens: int) -> list[tuple[int, int, int, int]]:
        """(start, end, own_start, own_end) of each window; owned ranges tile [0, n)."""
        return plan_windows(n_tokens, self.window, self.overlap)

    def _forward(self, sequences: list[list[int]]) -> list[np.ndarray]:
        torch = self.torch
        longest = max(len(s) for s in sequences)
        ids = torch.full((len(sequences), longest), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(sequences), longest), dtype=torch.long)
        for i, seq in enumerate(sequences):
            ids[i, : len(seq)] = torch.tensor(seq, dtype=torch.long)
            mask[i, : len(seq)] = 1
        if self.device != "cpu":
            ids, mask = ids.to(self.device), mask.to(self.device)
        with torch.inference_mode():
            out = self.model({"input_ids": ids, "attention_mask": mask})
            emb = torch.nn.functional.normalize(out["token_embeddings"].float(), p=2, dim=-1).cpu()
        return [emb[i, : len(seq)].numpy() for i, seq in enumerate(sequences)]

    def encode_documents(
        self, texts: Sequence[str], passages: Sequence[Sequence[tuple[int, int]]],
        should_stop: Callable[[], bool] | None = None,
    ) -> list[list[PassageVectors]]:
        """Vectors for each passage (char ranges) of each text. ``should_stop`` is polled before each
        document's tokenization, each forward call and each module inside one (stop_hooks); true raises
        EncodingStopped, so a stop ends encoding within one layer's work, not after the batch."""
        lower_priority()
        docs = []
        jobs: list[tuple[int, int, list[int]]] = []  # (doc, window index, input ids)
        for d, text in enumerate(texts):
            if should_stop is not None and should_stop():
                raise EncodingStopped()
            with self._doc_lock:  # one document at a time: a count_tokens elsewhere never waits for a batch
                enc = self.doc_tokenizer(text, add_special_tokens=False, return_offsets_mapping=True,
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
        plan = plan_batches([len(job[2]) for job in jobs], self.batch_tokens, self.max_batch, self.long_window)
        forward_s = 0.0
        with stop_hooks(self.model, should_stop):
            for batch in plan.batches:
                if should_stop is not None and should_stop():
                    raise EncodingStopped()
                started = time.perf_counter()
                results = self._forward([jobs[j][2] for j in batch])
                forward_s += time.perf_counter() - started
                for j, res in zip(batch, results, strict=True):
                    outputs[(jobs[j][0], jobs[j][1])] = res
        with self._stats_lock:
            self.doc_stats.tokens += plan.tokens
            self.doc_stats.padded += plan.padded
            self.doc_stats.calls += len(plan.batches)
            self.doc_stats.forward_s += forward_s

        skip_front = len(self.head) + (1 if self.doc_prefix_id is not None else 0)
        results_: list[list[PassageVectors]] = []
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
            results_.append(per_passage)
        return results_
