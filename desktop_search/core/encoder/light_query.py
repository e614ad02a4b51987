"""Queries encoded with NumPy alone: the search path without PyTorch.

Importing PyTorch, transformers and PyLate costs ~830 MB of resident memory before any model loads
(the CUDA build of torch alone ~510 MB), which a window left in the tray for weeks would hold just to
encode a few dozen query tokens. A query is short (``query_length`` tokens, 48 for the default model),
so its forward pass is a few small matrix products that NumPy does in milliseconds. This module reads
the same model folder (PyLate layout: a ModernBERT or BERT backbone in safetensors, ``tokenizer.json``,
Dense projections) and reproduces :meth:`Encoder.encode_query` (same tokens, prefix, expansion,
projection and normalisation; ``tests/unit/test_light_query.py`` checks the vectors against the
PyTorch path). Documents are still encoded by the PyTorch :class:`Encoder`.

:func:`load_light_query_encoder` returns None for anything it does not know (another architecture,
bfloat16 weights, a prompt-based model): the caller then uses the PyTorch encoder.

Thread rule: a :class:`LightQueryEncoder` is immutable after loading except its tokenizer, which is
used under ``_lock`` (a ``tokenizers.Tokenizer`` holds truncation/padding state); the forward pass is
pure NumPy on per-call arrays, so any number of search threads may call :meth:`encode_query`.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .vectors import QueryVectors

_SUPPORTED_DENSE = {"torch.nn.modules.linear.Identity", "", None}
_blas: Any = None  # threadpoolctl's controller, made on first use (it inspects the loaded libraries once)
_blas_lock = threading.Lock()


def _one_blas_thread() -> Any:
    """A context in which BLAS uses one thread. A query's products are tiny, and OpenBLAS's helper thread
    spin-waits for work: on a busy machine a 48x64 product took 36 ms with it and 0.27 ms without."""
    global _blas
    with _blas_lock:
        if _blas is None:
            from threadpoolctl import ThreadpoolController

            _blas = ThreadpoolController()
    return _blas.limit(limits=1, user_api="blas")


def _erf(x: np.ndarray) -> np.ndarray:
    """erf within 1.5e-7 (Abramowitz & Stegun 7.1.26): NumPy has no erf, and SciPy would cost more
    memory than it saves; the error is below float32's resolution of the GELU outputs."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-a * a))


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + _erf(x * 0.7071067811865476))  # a Python float keeps float32 (NumPy 2 promotion)


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    out = (x - mean) / np.sqrt(var + eps) * weight
    return out + bias if bias is not None else out


def _linear(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
    out = x @ weight.T
    return out + bias if bias is not None else out


def _attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """q, k, v: (heads, n, head_dim); visible: (n, n) bool, query row -> key column. A row that sees no
    key (an expansion token whose whole sliding window is padding) gets zeros, as PyTorch's SDPA gives
    since 2.5. Returns (n, heads * head_dim)."""
    scores = q @ k.transpose(0, 2, 1) * (q.shape[-1] ** -0.5)
    scores = np.where(visible, scores, -np.inf)
    top = scores.max(-1, keepdims=True)
    weights = np.exp(scores - np.where(np.isfinite(top), top, 0.0))
    total = weights.sum(-1, keepdims=True)
    out = (weights / np.where(total > 0, total, 1.0)) @ v
    return out.transpose(1, 0, 2).reshape(q.shape[1], -1)


class _ModernBert:
    """ModernBERT's encoder (transformers' modeling_modernbert, eager attention) for one sequence."""

    def __init__(self, config: dict[str, Any], w: dict[str, np.ndarray]):
        self.w = w
        self.eps = float(config.get("norm_eps", 1e-5))
        self.heads = int(config["num_attention_heads"])
        n_layers = int(config["num_hidden_layers"])
        every = int(config.get("global_attn_every_n_layers", 1) or 1)
        self.layer_types = config.get("layer_types") or [
            "full_attention" if i % every == 0 else "sliding_attention" for i in range(n_layers)]
        rope = config.get("rope_parameters") or {}
        self.theta = {
            "full_attention": float((rope.get("full_attention") or {}).get("rope_theta")
                                    or config.get("global_rope_theta", 160000.0)),
            "sliding_attention": float((rope.get("sliding_attention") or {}).get("rope_theta")
                                       or config.get("local_rope_theta", 10000.0)),
        }
        self.half_window = int(config.get("sliding_window") or int(config.get("local_attention", 128)) // 2)
        self.head_dim = int(config["hidden_size"]) // self.heads

    def _norm(self, x: np.ndarray, name: str) -> np.ndarray:
        return _layer_norm(x, self.w[f"{name}.weight"], self.w.get(f"{name}.bias"), self.eps)

    def _rope(self, n: int, theta: float) -> tuple[np.ndarray, np.ndarray]:
        dim = self.head_dim
        inv_freq = 1.0 / (theta ** (np.arange(0, dim, 2, dtype=np.float32) / dim))
        freqs = np.outer(np.arange(n, dtype=np.float32), inv_freq)
        emb = np.concatenate([freqs, freqs], axis=-1)
        return np.cos(emb).astype(np.float32), np.sin(emb).astype(np.float32)

    @staticmethod
    def _rotate(x: np.ndarray, cos: np.ndarray, sin: np.ndarray) -> np.ndarray:
        half = x.shape[-1] // 2
        rotated = np.concatenate([-x[..., half:], x[..., :half]], axis=-1)
        return x * cos + rotated * sin

    def __call__(self, ids: np.ndarray, attention: np.ndarray) -> np.ndarray:
        w, n = self.w, len(ids)
        x = self._norm(w["embeddings.tok_embeddings.weight"][ids], "embeddings.norm")
        keys = np.broadcast_to(attention[None, :] > 0, (n, n))
        distance = np.abs(np.arange(n)[:, None] - np.arange(n)[None, :])
        masks = {"full_attention": keys, "sliding_attention": keys & (distance <= self.half_window)}
        ropes = {kind: self._rope(n, theta) for kind, theta in self.theta.items()}
        for i, kind in enumerate(self.layer_types):
            p = f"layers.{i}"
            h = x if i == 0 else self._norm(x, f"{p}.attn_norm")
            qkv = _linear(h, w[f"{p}.attn.Wqkv.weight"], w.get(f"{p}.attn.Wqkv.bias"))
            qkv = qkv.reshape(n, 3, self.heads, self.head_dim).transpose(1, 2, 0, 3)  # (3, heads, n, d)
            cos, sin = ropes[kind]
            q, k = self._rotate(qkv[0], cos, sin), self._rotate(qkv[1], cos, sin)
            x = x + _linear(_attention(q, k, qkv[2], masks[kind]), w[f"{p}.attn.Wo.weight"],
                            w.get(f"{p}.attn.Wo.bias"))
            up = _linear(self._norm(x, f"{p}.mlp_norm"), w[f"{p}.mlp.Wi.weight"], w.get(f"{p}.mlp.Wi.bias"))
            value, gate = np.split(up, 2, axis=-1)
            x = x + _linear(_gelu(value) * gate, w[f"{p}.mlp.Wo.weight"], w.get(f"{p}.mlp.Wo.bias"))
        return self._norm(x, "final_norm")


class _Bert:
    """BERT's encoder (post-norm, learned positions; e.g. MiniLM) for one sequence."""

    def __init__(self, config: dict[str, Any], w: dict[str, np.ndarray]):
        self.w = w
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        if config.get("hidden_act", "gelu") != "gelu" or config.get("position_embedding_type",
                                                                      "absolute") != "absolute":
            raise ValueError("unsupported BERT variant")

    def _norm(self, x: np.ndarray, name: str) -> np.ndarray:
        return _layer_norm(x, self.w[f"{name}.weight"], self.w.get(f"{name}.bias"), self.eps)

    def __call__(self, ids: np.ndarray, attention: np.ndarray) -> np.ndarray:
        w, n = self.w, len(ids)
        x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:n]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = self._norm(x, "embeddings.LayerNorm")
        visible = np.broadcast_to(attention[None, :] > 0, (n, n))
        head_dim = x.shape[-1] // self.heads
        for i in range(self.layers):
            p = f"encoder.layer.{i}"

            q, k, v = (_linear(x, w[f"{p}.attention.self.{name}.weight"], w[f"{p}.attention.self.{name}.bias"])
                       .reshape(n, self.heads, head_dim).transpose(1, 0, 2) for name in ("query", "key", "value"))
            context = _attention(q, k, v, visible)
            x = self._norm(x + _linear(context, w[f"{p}.attention.output.dense.weight"],
                                       w[f"{p}.attention.output.dense.bias"]), f"{p}.attention.output.LayerNorm")
            inner = _gelu(_linear(x, w[f"{p}.intermediate.dense.weight"], w[f"{p}.intermediate.dense.bias"]))
            x = self._norm(x + _linear(inner, w[f"{p}.output.dense.weight"], w[f"{p}.output.dense.bias"]),
                           f"{p}.output.LayerNorm")
        return x


_BACKBONES = {"modernbert": _ModernBert, "bert": _Bert}
_PREFIXES = ("model.", "bert.", "encoder_model.")


def _weights(path: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    raw = load_file(str(path))
    out: dict[str, np.ndarray] = {}
    for name, value in raw.items():
        for prefix in _PREFIXES:
            if name.startswith(prefix) and not name.startswith("encoder.layer"):
                name = name[len(prefix):]
                break
        if name.endswith(".gamma"):  # old BERT checkpoints name LayerNorm's parameters gamma/beta
            name = name[: -len("gamma")] + "weight"
        elif name.endswith(".beta"):
            name = name[: -len("beta")] + "bias"
        out[name] = value.astype(np.float32, copy=False)
    return out


@dataclass(frozen=True)
class _Settings:
    prefix_id: int | None
    query_length: int
    expansion: bool
    attend_to_expansion: bool
    lower_case: bool
    pad_id: int


class LightQueryEncoder:
    """:meth:`encode_query` like :class:`Encoder`'s, from NumPy arrays (see the module docstring)."""

    def __init__(self, tokenizer: Any, backbone: Any, dense: list[tuple[np.ndarray, np.ndarray | None]],
                 settings: _Settings, key: str):
        self._tokenizer = tokenizer
        self._lock = threading.Lock()
        self._backbone = backbone
        self._dense = dense
        self._settings = settings
        self.key = key
        self.dim = int(dense[-1][0].shape[0]) if dense else 0

    def _tokens(self, text: str, max_length: int) -> tuple[list[int], list[int], list[tuple[int, int]]]:
        with self._lock:
            self._tokenizer.enable_truncation(max_length, strategy="longest_first")
            if self._settings.expansion:
                self._tokenizer.enable_padding(length=max_length, pad_id=self._settings.pad_id)
            else:
                self._tokenizer.no_padding()
            enc = self._tokenizer.encode(text)
        return list(enc.ids), list(enc.attention_mask), [(int(s), int(e)) for s, e in enc.offsets]

    def encode_query(self, query: str) -> QueryVectors:
        s = self._settings
        max_length = max(2, s.query_length - (1 if s.prefix_id is not None else 0))
        text = query.strip()
        if s.lower_case:
            text = text.lower()
        lead = len(query) - len(query.lstrip())
        ids, attention, offsets = self._tokens(text, max_length)
        if len(text) == len(query.strip()):
            spans = [(a + lead, b + lead) if b > a else (0, 0) for a, b in offsets][: sum(attention)]
        else:  # lower-casing changed the length: offsets in the original text
            spans = [(a, b) if b > a else (0, 0) for a, b in self._tokens(query, max_length)[2]]
        if s.prefix_id is not None:
            ids.insert(1, s.prefix_id)
            attention.insert(1, 1)
        attention_arr = np.ones(len(ids), np.int64) if s.attend_to_expansion else np.asarray(attention, np.int64)
        with _one_blas_thread():
            hidden = self._backbone(np.asarray(ids, np.int64), attention_arr)
            for weight, bias in self._dense:
                hidden = _linear(hidden, weight, bias)
        if not s.expansion:
            hidden = hidden[attention_arr.astype(bool)]
        norms = np.linalg.norm(hidden, axis=1, keepdims=True)
        vectors = (hidden / np.maximum(norms, 1e-12)).astype(np.float32)
        if s.prefix_id is not None and spans:
            spans.insert(1, (0, 0))
        spans = spans[: len(vectors)] + [(0, 0)] * max(0, len(vectors) - len(spans))
        return QueryVectors(vectors, spans, self.key)


def load_light_query_encoder(folder: str | Path, key: str = "") -> LightQueryEncoder | None:
    """The NumPy query encoder for the PyLate model in ``folder``, or None when this module cannot
    reproduce it (the caller falls back to the PyTorch :class:`Encoder`)."""
    try:
        return _load(Path(folder), key)
    except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError):
        return None


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def _load(folder: Path, key: str) -> LightQueryEncoder | None:
    from tokenizers import Tokenizer

    modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
    st_config = _read_json(folder / "config_sentence_transformers.json")
    if st_config.get("default_prompt_name") or any((st_config.get("prompts") or {}).values()):
        return None  # prompt-based models tokenize through PyLate's own path
    backbone_dir: Path | None = None
    dense: list[tuple[np.ndarray, np.ndarray | None]] = []
    for module in modules:
        kind = str(module.get("type", ""))
        where = folder / module.get("path", "")
        if kind.endswith("models.Transformer") and backbone_dir is None:
            backbone_dir = where
        elif kind.endswith("Dense") and backbone_dir is not None:
            config = _read_json(where / "config.json")
            if config.get("activation_function") not in _SUPPORTED_DENSE or config.get("use_residual"):
                return None
            w = _weights(where / "model.safetensors")
            dense.append((w["linear.weight"], w.get("linear.bias")))
        else:
            return None
    if backbone_dir is None:
        return None
    config = _read_json(backbone_dir / "config.json")
    backbone_class = _BACKBONES.get(str(config.get("model_type", "")))
    if backbone_class is None:
        return None
    backbone = backbone_class(config, _weights(backbone_dir / "model.safetensors"))
    tokenizer = Tokenizer.from_file(str(backbone_dir / "tokenizer.json"))
    mask_id = tokenizer.token_to_id(_read_json(backbone_dir / "tokenizer_config.json").get("mask_token") or "[MASK]")
    prefix = st_config.get("query_prefix")
    prefix_id = tokenizer.token_to_id(prefix) if prefix else None
    expansion = bool(st_config.get("do_query_expansion", True))
    lower = bool(_read_json(backbone_dir / "sentence_bert_config.json").get("do_lower_case", False))
    pad_id = mask_id if mask_id is not None else int(config.get("pad_token_id") or 0)
    settings = _Settings(
        prefix_id=prefix_id, query_length=int(st_config.get("query_length") or 32), expansion=expansion,
        attend_to_expansion=bool(st_config.get("attend_to_expansion_tokens", False)) and expansion,
        lower_case=lower, pad_id=pad_id,
    )
    return LightQueryEncoder(tokenizer, backbone, dense, settings, key)
