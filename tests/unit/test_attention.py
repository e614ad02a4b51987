"""The blocked long-context attention equals transformers' stock ModernBERT attention."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from desktop_search.core import attention
from desktop_search.core.encoder import Encoder, fit_context_length, lower_priority, quantize_if_close
from desktop_search.core.model import ModelLocation, load_colbert
from desktop_search.testing.models import ETTIN_32M


@pytest.fixture(scope="module")
def tiny(tiny_model):
    return load_colbert(ModelLocation(tiny_model, "tiny"), threads=2)


@pytest.fixture(scope="module")
def ettin():
    """The ModernBERT backbone of mxbai-edge-colbert-v0-32m with random weights (no tokenizer needed)."""
    from transformers import ModernBertConfig, ModernBertModel

    torch.manual_seed(0)
    model = ModernBertModel(ModernBertConfig(**ETTIN_32M))
    model.config._attn_implementation = "sdpa"
    return model.eval()


@pytest.fixture(autouse=True)
def blocked_for_all_lengths(monkeypatch):
    """Short sequences normally take the stock path; compare the blocked path at every length here."""
    monkeypatch.setattr(attention, "STOCK_MAX", 0)


def _stock_and_new(model, ids, mask, key):
    attention.uninstall(model)
    with torch.inference_mode():
        stock = model(input_ids=ids, attention_mask=mask)[key] if key != "st" else None
        if key == "st":
            stock = model({"input_ids": ids, "attention_mask": mask})["token_embeddings"]
        assert attention.install(model)
        if key == "st":
            new = model({"input_ids": ids, "attention_mask": mask})["token_embeddings"]
        else:
            new = model(input_ids=ids, attention_mask=mask)[key]
    attention.uninstall(model)
    return stock, new


@pytest.mark.parametrize("n", [512, 2048, 8192])
def test_tiny_colbert_equals_stock(tiny, n):
    vocab = tiny[0].auto_model.config.vocab_size
    ids = torch.randint(5, vocab, (1, n), generator=torch.Generator().manual_seed(n))
    stock, new = _stock_and_new(tiny, ids, torch.ones_like(ids), "st")
    assert float((stock - new).abs().max()) < 1e-4


@pytest.mark.parametrize("n", [512, 2048])
def test_ettin_shape_equals_stock(ettin, n):
    ids = torch.randint(5, 50368, (1, n), generator=torch.Generator().manual_seed(n))
    stock, new = _stock_and_new(ettin, ids, torch.ones_like(ids), "last_hidden_state")
    assert float((stock - new).abs().max()) < 1e-4


@pytest.mark.parametrize("left", [False, True])
def test_padded_batches_equal_stock_on_real_tokens(ettin, left):
    ids = torch.randint(5, 50368, (3, 300), generator=torch.Generator().manual_seed(3))
    mask = torch.ones_like(ids)
    mask[1, 190:] = 0
    mask[2, 7:] = 0
    if left:  # not right-padded: the global layers take the key-padding mask path
        mask[0, :5] = 0
    stock, new = _stock_and_new(ettin, ids, mask, "last_hidden_state")
    assert not torch.isnan(new).any()  # the key-padding path: no n×n mask, no empty softmax row
    for i in range(3):
        real = mask[i].bool()
        assert float((stock[i][real] - new[i][real]).abs().max()) < 1e-4


def test_local_attention_matches_a_dense_band(monkeypatch):
    q, k, v = (torch.randn(2, 3, 101, 8, generator=torch.Generator().manual_seed(s)) for s in range(3))
    w = 5
    idx = torch.arange(101)
    band = (idx[:, None] - idx[None, :]).abs() <= w
    dense = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=band)
    for block in (1, 7, 64, 200):
        got = attention.local_attention(q, k, v, w, 8**-0.5, block=block)
        assert float((got - dense).abs().max()) < 1e-5
    monkeypatch.setattr(attention, "DENSE_MAX", 0)  # blocks also for short windows, with padding
    valid = torch.ones(2, 101, dtype=torch.bool)
    valid[1, 60:] = False
    got = attention.local_attention(q, k, v, w, 8**-0.5, valid=valid, block=16)
    ref = torch.nn.functional.scaled_dot_product_attention(q[1:, :, :60], k[1:, :, :60], v[1:, :, :60],
                                                           attn_mask=band[:60, :60])
    assert float((got[1:, :, :60] - ref).abs().max()) < 1e-5 and not torch.isnan(got).any()


def test_install_leaves_other_models_alone(standin_model):
    model = load_colbert(ModelLocation(standin_model, "standin"), threads=1)
    assert attention.install(model) is False


def test_encoder_uses_the_blocked_path_and_long_windows_are_not_padded(tiny):
    encoder = Encoder(tiny, context_length=1024)
    assert encoder.blocked and encoder.context_note is None
    try:
        seen = []
        forward = encoder._forward
        encoder._forward = lambda seqs: seen.append([len(s) for s in seqs]) or forward(seqs)
        text = "The train to Berlin leaves from platform four at noon. " * 400
        out = encoder.encode_documents([text, text[:3000], "short one"], [[(0, len(text))], [(0, 3000)], [(0, 9)]])
        assert len(out) == 3 and len(out[0][0].vectors) > 0
        assert all(len(set(lengths)) == 1 for lengths in seen if max(lengths) > encoder.long_window)
    finally:
        attention.uninstall(tiny)


def test_balanced_windows_are_as_few_and_as_even_as_the_overlap_allows(tiny):
    encoder = Encoder(tiny, context_length=1024)
    attention.uninstall(tiny)
    windows = encoder._windows(encoder.window + 10)
    assert len(windows) == 2
    sizes = {e - s for s, e, _, _ in windows}
    assert len(sizes) == 1 and sizes.pop() < encoder.window
    assert windows[0][1] - windows[1][0] >= encoder.overlap


def test_context_length_shrinks_when_memory_is_short():
    n, note = fit_context_length(32768, 384, 6, blocked=True, available=64 * 2**30)
    assert n == 32768 and note is None
    n, note = fit_context_length(32768, 384, 6, blocked=True, available=600 * 2**20)
    assert n < 32768 and note and "using" in note
    n, _ = fit_context_length(32768, 384, 6, blocked=False, available=4 * 2**30)  # stock n×n path
    assert n <= 8192


def test_int8_is_kept_only_when_faithful(tiny):
    _, note = quantize_if_close(tiny, min_cosine=0.99)
    assert "int8" in note
    model, note = quantize_if_close(tiny, min_cosine=1.01)  # impossible bar: falls back to fp32
    assert model is tiny and "using fp32" in note


def test_lower_priority_can_be_turned_off(monkeypatch):
    monkeypatch.setenv("DESKTOP_SEARCH_NICE", "0")
    assert lower_priority() == "skipped"
    assert np.isfinite(1.0)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="threads are reniced on Linux only")
def test_lower_priority_from_a_worker_spares_main_and_named_threads():
    """Run in a child process (niceness only goes up): the encoding thread and unnamed native threads
    yield; the main thread and named threads (the window's search and preview pools) keep priority."""
    code = textwrap.dedent('''
        import os, threading
        from desktop_search.core.encoder import lower_priority
        ready, done = threading.Barrier(3), threading.Event()  # both idle threads named, and main
        tids = {}
        def idle(key, name=None):
            tids[key] = threading.get_native_id()
            if name:
                with open(f"/proc/self/task/{tids[key]}/comm", "w") as f:
                    f.write(name)
            ready.wait()
            done.wait()
        # daemon threads: a failure in the main thread must end the child, not leave it waiting on them
        named = threading.Thread(target=idle, args=("named", "search"), daemon=True)
        plain = threading.Thread(target=idle, args=("plain",), daemon=True)
        named.start(); plain.start(); ready.wait()
        nice = {}
        def encode():
            tids["encoder"] = threading.get_native_id()
            lower_priority(10)
            # read while every thread still runs: a joined thread's tid may already be gone (ESRCH)
            nice.update({k: os.getpriority(os.PRIO_PROCESS, t) for k, t in tids.items()})
        worker = threading.Thread(target=encode); worker.start(); worker.join()
        nice["main"] = os.getpriority(os.PRIO_PROCESS, os.getpid())
        done.set(); named.join(); plain.join()
        print(sorted(nice.items()))
    ''')
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    base = os.getpriority(os.PRIO_PROCESS, 0)
    expected = [("encoder", min(19, base + 10)), ("main", base), ("named", base), ("plain", min(19, base + 10))]
    assert out.stdout.strip() == str(expected)
