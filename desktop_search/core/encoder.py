"""Turn text into ColBERT token vectors with char offsets.

A file's text is tokenized once with offsets and cut into windows of up to the context length
(overlapping when the file is longer); every token takes its vector from the window where it sits
furthest from an edge, so each passage is a slice of a contextualised window. The attention of the
model is whatever :func:`prepare_model` leaves in place: for ModernBERT that is the blocked attention of
:mod:`.attention` (no n×n mask), so a window can be 32k tokens in about 1.5 GB.

Also here: the memory check that picks a smaller context length when the requested one does not fit
(:func:`fit_context_length`, reported through :func:`context_length_note`), the optional int8
quantisation with a fidelity check (:func:`quantize_if_close`) and the low OS priority of indexing
(:func:`lower_priority`).

Owners and threads: an :class:`Encoder` is shared by the indexing thread (documents) and any number of
search threads (queries). A Hugging Face fast tokenizer is not thread-safe (a call that changes its
truncation or padding while another call runs raises ``RuntimeError: Already borrowed``), so each role
owns its own copy: documents use ``doc_tokenizer`` under ``_doc_lock`` (one document at a time, so a
``count_tokens`` from elsewhere waits for one document, never a batch), queries use
``query_tokenizer`` under ``_query_lock``, held for the tokenization of one query only. A query never
waits on document work. The model's forward pass holds no per-call state (inference mode, attention
masks built per call) and runs concurrently for both roles; PyLate's ``model.tokenize`` is never
called on the query path because it rewrites the shared module's ``max_seq_length``.
"""

from __future__ import annotations

import bisect
import copy
import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np


class EncodingStopped(Exception):
    """``encode_documents`` was asked to stop; nothing of the batch is returned."""


@contextmanager
def _stop_hooks(model: Any, should_stop: Callable[[], bool] | None) -> Iterator[None]:
    """Let a stop end a forward call at its next module: one call on a 32k-token window takes up to a
    minute on a laptop CPU, a layer of it a few seconds. Only this thread's calls check (a query
    encoded meanwhile on another thread is never stopped); the hooks go when encoding ends."""
    if should_stop is None or not hasattr(model, "modules"):
        yield
        return
    owner = threading.get_ident()

    def check(module: Any, args: Any) -> None:
        if threading.get_ident() == owner and should_stop():
            raise EncodingStopped()

    handles = [m.register_forward_pre_hook(check) for m in model.modules()]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


@dataclass
class PassageVectors:
    vectors: np.ndarray  # (tokens, dim) float16, L2-normalised
    spans: np.ndarray  # (tokens, 2) uint16 char offsets relative to the passage start


@dataclass
class QueryVectors:
    vectors: np.ndarray  # (tokens, dim) float32
    spans: list[tuple[int, int]]  # char span in the query of each vector ((0, 0) for specials)
    model_key: str = ""  # the model that made them: search uses only segments of the same model


def prepare_model(model: Any) -> Any:
    """Replace ModernBERT's attention with the blocked long-context path (others are left as they are)."""
    from .attention import install

    install(model)
    return model


# --- memory ------------------------------------------------------------------------------------------
MIN_CONTEXT = 512
# Peak RSS above the loaded model per window token on the blocked path, measured on the Ettin-32M shape
# (hidden 384): ~22 KB/token at 32k; 84 bytes × hidden (32 KB at 384) leaves a margin.
BLOCKED_BYTES_PER_TOKEN_PER_HIDDEN = 84


def available_memory_bytes() -> int | None:
    """Memory the OS can still hand out (Linux MemAvailable; physical memory elsewhere), or None."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def window_bytes(n: int, hidden: int, heads: int, blocked: bool) -> int:
    """Rough peak memory one n-token window adds on top of the loaded model."""
    linear = BLOCKED_BYTES_PER_TOKEN_PER_HIDDEN * hidden * n
    if blocked:
        return linear
    return linear + 3 * 4 * heads * n * n  # stock: n×n mask plus scores and probabilities in fp32


def fit_context_length(requested: int, hidden: int, heads: int, blocked: bool,
                       available: int | None = None, share: float = 0.5) -> tuple[int, str | None]:
    """The largest length ≤ requested (halving) whose window fits in ``share`` of available memory."""
    available = available_memory_bytes() if available is None else available
    if available is None:
        return requested, None
    n = requested
    while n > MIN_CONTEXT and window_bytes(n, hidden, heads, blocked) > share * available:
        n //= 2
    n = max(min(requested, MIN_CONTEXT), n)
    if n == requested:
        return n, None
    need = window_bytes(requested, hidden, heads, blocked) / 2**30
    return n, (f"context length {requested} needs ~{need:.1f} GB per window but only "
               f"{available / 2**30:.1f} GB is available; using {n}")


def context_length_note(encoder: Encoder | None) -> str | None:
    """For ``Service.status()``: why the encoder uses a shorter context than asked (None if it does not)."""
    return getattr(encoder, "context_note", None) if encoder is not None else None


# --- int8 ----------------------------------------------------------------------------------------------
PROBE_TEXT = (
    "Invoices must be paid within thirty days. The train to Berlin leaves from platform four at noon. "
    "Photosynthesis converts light into chemical energy; volcanoes erupt when magma rises through the crust."
)


def quantize_if_close(model: Any, min_cosine: float = 0.99, probe: str = PROBE_TEXT) -> tuple[Any, str]:
    """int8 dynamic quantisation of the Linear layers, kept only if every probe token vector stays within
    ``min_cosine`` of fp32. Returns (model to use, one-line note)."""
    import copy
    import warnings

    import torch

    try:
        from torch.ao.quantization import quantize_dynamic
    except ImportError:
        return model, "int8 unavailable in this torch; using fp32"
    features = model.tokenize([probe], is_query=False)
    with torch.inference_mode():
        ref = model(dict(features))["token_embeddings"].float()
        try:
            with warnings.catch_warnings():  # torch.ao.quantization's deprecation notice
                warnings.simplefilter("ignore", DeprecationWarning)
                quantized = quantize_dynamic(copy.deepcopy(model), {torch.nn.Linear}, dtype=torch.qint8)
            got = quantized(dict(features))["token_embeddings"].float()
        except Exception as exc:  # no int8 engine on this CPU, an unsupported layer, ...
            return model, f"int8 failed ({type(exc).__name__}); using fp32"
    cosine = float(torch.nn.functional.cosine_similarity(ref, got, dim=-1).min())
    if cosine < min_cosine:
        return model, f"int8 token cosine {cosine:.4f} < {min_cosine}; using fp32"
    return quantized, f"int8 linear layers (min token cosine {cosine:.4f})"


# --- priority ------------------------------------------------------------------------------------------
NICE_ENV = "DESKTOP_SEARCH_NICE"
_lowered: set[int] = set()


def _thread_name(tid: int) -> str | None:
    try:
        with open(f"/proc/self/task/{tid}/comm") as f:
            return f.read().strip()
    except OSError:
        return None


def lower_priority(increment: int | None = None) -> str:
    """Run document encoding at a lower OS priority so the desktop stays responsive.

    Linux schedules threads, so we renice threads rather than the process: called from the main
    thread (the CLI indexing in its own process), every thread of the process; called from a worker
    thread (the GUI's indexing thread), that thread and the unnamed native threads (torch's OpenMP
    and the BLAS workers it drives), but not the main thread nor threads that carry a name of their
    own (Qt's pools: searching and preview must keep their priority while encoding yields). Other
    POSIX systems: the whole process only when called from the main thread. Windows:
    skipped. ``DESKTOP_SEARCH_NICE`` sets the increment (default 10; 0 turns this off). Niceness is
    one-way for an unprivileged process, so this runs once per thread set.
    """
    if increment is None:
        try:
            increment = int(os.environ.get(NICE_ENV, "10"))
        except ValueError:
            increment = 10
    if increment <= 0 or sys.platform == "win32" or not hasattr(os, "setpriority"):
        return "skipped"
    main = threading.current_thread() is threading.main_thread()
    if sys.platform.startswith("linux"):
        try:
            tids = [int(t) for t in os.listdir("/proc/self/task")]
        except OSError:
            return "skipped"
        pid = os.getpid()
        me = threading.get_native_id()
        process_name = _thread_name(pid)
        done = 0
        for tid in tids:
            if tid in _lowered or (not main and tid == pid):
                continue
            if not main and tid != me and _thread_name(tid) != process_name:
                continue  # a named thread (a Qt pool: search, preview): not ours to slow down
            try:
                current = os.getpriority(os.PRIO_PROCESS, tid)
                os.setpriority(os.PRIO_PROCESS, tid, min(19, current + increment))
                _lowered.add(tid)
                done += 1
            except OSError:
                pass
        return f"{done} threads reniced"
    if main and os.getpid() not in _lowered:
        try:
            os.setpriority(os.PRIO_PROCESS, 0, min(19, os.getpriority(os.PRIO_PROCESS, 0) + increment))
            _lowered.add(os.getpid())
            return "process reniced"
        except OSError:
            return "skipped"
    return "skipped"


class Encoder:
    def __init__(self, model: Any, context_length: int, batch_tokens: int = 8192, max_batch: int = 32,
                 key: str = ""):
        import torch

        self.torch = torch
        self.model = prepare_model(model)
        self.key = key  # the model key (``model.model_key``) recorded with the segments it writes
        # one tokenizer per role (see the module docstring): documents keep the model's own, queries a copy
        self.tokenizer = self.doc_tokenizer = model.tokenizer
        self.query_tokenizer = copy.deepcopy(model.tokenizer)
        self._doc_lock = threading.Lock()
        self._query_lock = threading.Lock()
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
        from .attention import find_modernbert

        backbone = find_modernbert(model)
        self.blocked = bool(backbone is not None and getattr(backbone, "_desktop_search_blocked", False))
        self.requested_context_length = context_length
        self.context_note: str | None = None
        self.context_length = min(context_length, max_positions)
        if backbone is not None:  # ModernBERT reads long windows: check that one fits in memory now
            hidden = int(getattr(config, "hidden_size", 384))
            heads = int(getattr(config, "num_attention_heads", 6))
            self.context_length, self.context_note = fit_context_length(self.context_length, hidden, heads,
                                                                        self.blocked)
        self.window = max(16, self.context_length - extra)
        self.overlap = min(self.window // 4, 512)
        self.skip_ids = np.array(sorted(set(getattr(model, "skiplist", []) or [])), dtype=np.int64)
        self.pad_id = self.tokenizer.pad_token_id or 0
        self.batch_tokens = batch_tokens
        self.max_batch = max_batch
        self.long_window = 1024  # longer windows are batched only with windows of the same length
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
        torch.set_num_threads(1)
        try:
            with torch.inference_mode():
                vectors, spans = self._query_vectors(query)
        finally:
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
        if getattr(model, "default_prompt_name", None) or model.device.type != "cpu":
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
        out = model.forward(input=features)
        emb = out["token_embeddings"][0]
        if not model.do_query_expansion:  # expansion keeps every [MASK]; otherwise padding goes
            emb = emb[out["attention_mask"][0].bool()]
        return torch.nn.functional.normalize(emb.float(), p=2, dim=1).numpy(), spans

    # documents --------------------------------------------------------------------------------------
    def count_tokens(self, text: str) -> int:
        with self._doc_lock:
            return len(self.doc_tokenizer(text, add_special_tokens=False, truncation=False,
                                          verbose=False)["input_ids"])

    def _windows(self, n_tokens: int) -> list[tuple[int, int, int, int]]:
        """(start, end, own_start, own_end) of each window; owned ranges tile [0, n)."""
        if n_tokens <= self.window:
            return [(0, n_tokens, 0, n_tokens)]
        # as few windows as the overlap allows, all of one (balanced) size: a file just over the context
        # length becomes two half-size windows, not two full ones (attention cost grows with size²)
        stride = self.window - self.overlap
        count = -(-(n_tokens - self.overlap) // stride)
        size = min(self.window, -(-(n_tokens + (count - 1) * self.overlap) // count))
        starts = [round(k * (n_tokens - size) / (count - 1)) for k in range(count)]
        ends = [s + size for s in starts]
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
        self, texts: Sequence[str], passages: Sequence[Sequence[tuple[int, int]]],
        should_stop: Callable[[], bool] | None = None,
    ) -> list[list[PassageVectors]]:
        """Vectors for each passage (char ranges) of each text. ``should_stop`` is polled before each
        document's tokenization, each forward call and each module inside one (_stop_hooks); true raises
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
        order = sorted(range(len(jobs)), key=lambda j: len(jobs[j][2]))
        batch: list[int] = []

        def flush() -> None:
            if not batch:
                return
            if should_stop is not None and should_stop():
                raise EncodingStopped()
            results = self._forward([jobs[j][2] for j in batch])
            for j, res in zip(batch, results, strict=True):
                outputs[(jobs[j][0], jobs[j][1])] = res
            batch.clear()

        with _stop_hooks(self.model, should_stop):
            for j in order:
                length = len(jobs[j][2])
                longest = len(jobs[batch[-1]][2]) if batch else 0
                if batch and (
                    length * (len(batch) + 1) > self.batch_tokens
                    or len(batch) >= self.max_batch
                    or (length > self.long_window and length != longest)  # long windows: no padding
                ):
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
