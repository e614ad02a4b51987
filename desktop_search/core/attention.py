"""Inference attention for ModernBERT that never builds an n×n mask (long files on a laptop CPU).

Stock transformers materialises a (batch, 1, n, n) sliding-window mask for the local layers, so a
32k-token window needs ~17 GB and runs through SDPA's unfused math path. Here:

* local layers (|i - j| <= config.sliding_window, i.e. ±64 for local_attention=128) are computed
  in query blocks of ``BLOCK`` tokens against their ``BLOCK + 2w`` neighbouring keys, a few blocks
  at a time, so memory is O(n·(BLOCK+2w)) and bounded per chunk; windows of at most ``DENSE_MAX``
  tokens use a small band mask with the fused kernel instead (faster there, ≤ 4 MB per sequence);
* global layers go through ``scaled_dot_product_attention`` with no mask (the fused CPU flash
  kernel): the whole batch when it has no padding, one unpadded sequence at a time when it is
  right-padded, and with a (batch, 1, 1, n) key-padding mask only for any other padding.

It is wired in without forking transformers: :func:`install` registers the function in
transformers' ``AttentionInterface`` (and sdpa's mask builder under the same name in
``AttentionMaskInterface``), switches the model's ``config._attn_implementation`` to it, and wraps the
instance's ``forward`` so that a 2-D ``attention_mask`` becomes a per-layer-type dict of key-padding
masks (``ModernBertModel.forward`` accepts such a dict as-is and then builds no mask of its own).
Anything else -- sequences of at most ``STOCK_MAX`` tokens (where stock is as fast and its masks
are small), a 4-D mask, training mode, an attention-weights request -- falls back to stock SDPA with
the stock masks. Models that are not ModernBERT are left untouched.
"""

from __future__ import annotations

import types
from typing import Any

ATTN_NAME = "desktop_search_blocked"
BLOCK = 64  # query tokens per local-attention block (64 + 2·64 keys each)
STOCK_MAX = 2048  # sequences up to this length take the stock path (its n×n masks are ≤ 4 MB per sequence)
DENSE_MAX = 2048  # up to this many tokens the local layers use an n×n band mask (≤ 4 MB of bools)
CHUNK_ELEMENTS = 1 << 22  # score elements per local-attention chunk (16 MB in fp32)

_registered = False


class KeyPadding:
    """The mask handed to each layer by the wrapped forward: key validity, or None for no padding."""

    __slots__ = ("valid", "bias4d", "lengths", "cache")

    def __init__(self, valid: Any | None):
        self.valid = valid  # (batch, n) bool or None
        self.bias4d = None if valid is None else valid[:, None, None, :]  # SDPA bool mask: True = attend
        self.lengths: list[int] | None = None  # per sequence, when every row is right-padded
        self.cache: dict[Any, Any] = {}  # band masks, shared by the local layers of one forward
        if valid is not None:
            lengths = valid.sum(dim=1)
            positions = valid.new_ones(valid.shape, dtype=lengths.dtype).cumsum(dim=1)
            if bool(((positions <= lengths[:, None]) == valid).all()):
                self.lengths = [int(n) for n in lengths]


def local_attention(query: Any, key: Any, value: Any, window: int, scaling: float,
                    valid: Any | None = None, block: int = BLOCK, cache: dict[Any, Any] | None = None) -> Any:
    """Banded attention (|i - j| <= window) in blocks. q/k/v: (b, h, n, d); returns (b, h, n, d)."""
    import torch

    b, h, n, d = query.shape
    if n <= window + 1 and valid is None:  # every pair is within the window: plain fused attention
        return torch.nn.functional.scaled_dot_product_attention(query, key, value, scale=scaling)
    cache = {} if cache is None else cache
    if n <= DENSE_MAX:  # short windows: a small band mask and the fused kernel beat blocks
        band = cache.get(("dense", n, window))
        if band is None:
            idx = torch.arange(n, device=query.device)
            band = (idx[:, None] - idx[None, :]).abs() <= window
            if valid is not None:  # padded keys masked; a padding query sees itself, so no row is empty
                band = (band[None, None] & valid[:, None, None, :]) | torch.eye(n, dtype=torch.bool, device=band.device)
            cache[("dense", n, window)] = band
        return torch.nn.functional.scaled_dot_product_attention(query, key, value, attn_mask=band, scale=scaling)
    block = max(1, min(block, n))
    nb = -(-n // block)
    n_pad = nb * block
    span = block + 2 * window
    pad = (0, 0, window, n_pad - n + window)
    keys = torch.nn.functional.pad(key, pad).unfold(2, span, block)  # (b, h, nb, d, span) view
    values = torch.nn.functional.pad(value, pad).unfold(2, span, block)  # (b, h, nb, d, span) view
    queries = torch.nn.functional.pad(query, (0, 0, 0, n_pad - n)).view(b, h, nb, block, d)

    key_ = ("blocks", n, window, block)
    if key_ not in cache:
        ok = torch.zeros(b, n_pad + 2 * window, dtype=torch.bool, device=query.device)
        ok[:, window : window + n] = True if valid is None else valid
        dev = query.device
        rel = torch.arange(span, device=dev)[None, :] - window - torch.arange(block, device=dev)[:, None]
        cache[key_] = ok.unfold(1, span, block), rel.abs() <= window  # (b, nb, span), (block, span)
    ok_blocks, band = cache[key_]

    out = torch.empty(b, h, nb, block, d, dtype=query.dtype, device=query.device)
    step = max(1, CHUNK_ELEMENTS // max(1, b * h * block * span))
    low = torch.finfo(torch.float32).min  # finite: a fully masked (padding) row stays NaN-free
    for s in range(0, nb, step):
        e = min(nb, s + step)
        scores = torch.matmul(queries[:, :, s:e].float() * scaling, keys[:, :, s:e].float())  # (b, h, c, block, span)
        mask = band[None, None] & ok_blocks[:, s:e, None, :]  # (b, c, block, span)
        scores.masked_fill_(~mask[:, None], low)
        probs = torch.softmax(scores, dim=-1).to(value.dtype)
        out[:, :, s:e] = torch.matmul(probs, values[:, :, s:e].transpose(-1, -2))
    return out.view(b, h, n_pad, d)[:, :, :n]


def blocked_attention_forward(module: Any, query: Any, key: Any, value: Any, attention_mask: Any,
                              scaling: float | None = None, dropout: float = 0.0, **kwargs: Any) -> tuple[Any, None]:
    """AttentionInterface entry: (b, h, n, d) in, (b, n, h, d) out like transformers' sdpa."""
    import torch
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    if not isinstance(attention_mask, KeyPadding) or module.training or dropout:
        mask = attention_mask.bias4d if isinstance(attention_mask, KeyPadding) else attention_mask
        return sdpa_attention_forward(module, query, key, value, mask, scaling=scaling, dropout=dropout, **kwargs)
    scale = scaling if scaling is not None else query.shape[-1] ** -0.5
    sdpa = torch.nn.functional.scaled_dot_product_attention
    if getattr(module, "sliding_window", None) is not None:
        out = local_attention(query, key, value, int(module.config.sliding_window), scale, attention_mask.valid,
                              cache=attention_mask.cache)
    elif attention_mask.valid is None:
        out = sdpa(query, key, value, scale=scale)  # the fused kernel, no mask at all
    elif attention_mask.lengths is not None:  # right padding: each sequence unpadded, fused, no mask
        out = query.new_zeros(query.shape)
        for i, n in enumerate(attention_mask.lengths):
            out[i : i + 1, :, :n] = sdpa(query[i : i + 1, :, :n], key[i : i + 1, :, :n], value[i : i + 1, :, :n],
                                         scale=scale)
    else:
        out = sdpa(query, key, value, attn_mask=attention_mask.bias4d, scale=scale)  # key-padding mask only
    return out.transpose(1, 2).contiguous(), None


def _register() -> None:
    global _registered
    if _registered:
        return
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, AttentionMaskInterface

    AttentionInterface.register(ATTN_NAME, blocked_attention_forward)
    AttentionMaskInterface.register(ATTN_NAME, ALL_MASK_ATTENTION_FUNCTIONS["sdpa"])
    _registered = True


def find_modernbert(model: Any) -> Any | None:
    """The ModernBertModel inside a PyLate/sentence-transformers model, or None."""
    try:
        backbone = model[0].auto_model
    except (TypeError, IndexError, KeyError, AttributeError):
        backbone = model
    config = getattr(backbone, "config", None)
    if getattr(config, "model_type", None) != "modernbert" or not hasattr(backbone, "layers"):
        return None
    return backbone


def install(model: Any) -> bool:
    """Switch the ModernBERT inside ``model`` to the blocked path; False (untouched) if not applicable."""
    backbone = find_modernbert(model)
    if backbone is None:
        return False
    if getattr(backbone, "_desktop_search_blocked", False):
        return True
    _register()
    backbone.config._attn_implementation = ATTN_NAME
    stock_forward = backbone.forward

    def forward(self: Any, input_ids: Any = None, attention_mask: Any = None, *args: Any, **kwargs: Any) -> Any:
        source = input_ids if input_ids is not None else kwargs.get("inputs_embeds")
        if (
            source is not None
            and source.shape[1] > STOCK_MAX  # short sequences: the stock masks are small and as fast
            and not self.training
            and not kwargs.get("output_attentions")
            and (attention_mask is None or getattr(attention_mask, "dim", lambda: 0)() == 2)
        ):
            valid = None
            if attention_mask is not None and not bool(attention_mask.all()):
                valid = attention_mask.bool()
            padding = KeyPadding(valid)
            attention_mask = {"full_attention": padding, "sliding_attention": padding}
        return stock_forward(input_ids, attention_mask, *args, **kwargs)

    backbone.forward = types.MethodType(forward, backbone)
    backbone._desktop_search_blocked = True
    return True


def uninstall(model: Any) -> None:
    """Back to stock SDPA attention (for comparisons)."""
    backbone = find_modernbert(model)
    if backbone is None or not getattr(backbone, "_desktop_search_blocked", False):
        return
    del backbone.forward  # the instance attribute; the class method shows through again
    backbone.config._attn_implementation = "sdpa"
    backbone._desktop_search_blocked = False
