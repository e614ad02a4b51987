"""The NumPy query encoder gives the PyTorch encoder's query vectors, spans and key, on both model
families we ship or test with (ModernBERT: the default model's backbone; BERT: the MiniLM stand-in), and
declines what it cannot reproduce."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from desktop_search.core.encoder import Encoder
from desktop_search.core.encoder.light_query import load_light_query_encoder
from desktop_search.core.model import ModelLocation, load_colbert

QUERIES = [
    "volcanoes erupt when magma rises",
    "  Bread with FLOUR, water & salt?  ",
    "x",
    "the quick brown fox jumps over the lazy dog " * 12,  # longer than the query length: truncated
    "Ünïcödé café naïve résumé",
    "北京 volcano パン",
]


def _compare(folder, key: str) -> None:
    reference = Encoder(load_colbert(ModelLocation(folder, key), threads=1), context_length=256, key=key)
    light = load_light_query_encoder(folder, key=key)
    assert light is not None
    for query in QUERIES:
        want, got = reference.encode_query(query), light.encode_query(query)
        assert got.vectors.shape == want.vectors.shape, query
        assert np.abs(got.vectors - want.vectors).max() < 2e-4, query
        assert got.spans == want.spans, query
        assert got.model_key == want.model_key == key


def test_matches_the_torch_encoder_on_modernbert(tiny_model):
    _compare(tiny_model, "tiny")


def test_matches_the_torch_encoder_on_bert(standin_model):
    _compare(standin_model, "standin")


def test_declines_what_it_cannot_reproduce(tiny_model, tmp_path):
    for change in ("architecture", "activation", "prompt"):
        folder = tmp_path / change
        shutil.copytree(tiny_model, folder)
        if change == "architecture":
            config = json.loads((folder / "config.json").read_text())
            (folder / "config.json").write_text(json.dumps({**config, "model_type": "xlm-roberta"}))
        elif change == "activation":
            dense = folder / "1_Dense" / "config.json"
            dense.write_text(json.dumps({**json.loads(dense.read_text()),
                                         "activation_function": "torch.nn.modules.activation.Tanh"}))
        else:
            st = folder / "config_sentence_transformers.json"
            st.write_text(json.dumps({**json.loads(st.read_text()), "prompts": {"query": "query: "}}))
        assert load_light_query_encoder(folder) is None, change
    assert load_light_query_encoder(tmp_path / "missing") is None


def test_needs_no_torch(tiny_model):
    code = ("import sys; from desktop_search.core.encoder.light_query import load_light_query_encoder as load; "
            f"e = load({str(tiny_model)!r}); v = e.encode_query('magma rises'); "
            "assert v.vectors.shape[0] > 0; "
            "assert not {'torch', 'transformers', 'pylate'} & set(sys.modules), sorted(sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.parametrize("query", ["", "   "])
def test_blank_queries_do_not_crash(tiny_model, query):
    light = load_light_query_encoder(tiny_model)
    assert light is not None
    assert light.encode_query(query).vectors.ndim == 2
