"""Segments: flat (exact MaxSim) and PLAID (our codec, NumPy search) agree with brute force and with fast-plaid."""

import shutil

import numpy as np
import pytest

from desktop_search.core.index.codec import load_plaid
from desktop_search.core.index.segments import FlatSegment, PlaidSegment, verify_dir, write_segment


def _docs(n: int, dim: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    topics = rng.normal(size=(12, dim))
    docs = []
    for i in range(n):
        base = topics[i % len(topics)]
        vecs = base + 0.6 * rng.normal(size=(int(rng.integers(5, 40)), dim))
        docs.append((vecs / np.linalg.norm(vecs, axis=1, keepdims=True)).astype(np.float16))
    return docs


def _brute(query: np.ndarray, docs: list[np.ndarray]) -> np.ndarray:
    return np.array([(query @ d.astype(np.float32).T).max(axis=1).sum() for d in docs])


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("segments")
    docs = _docs(400, 64)
    spans = [np.zeros((len(d), 2), dtype=np.uint16) for d in docs]
    ids = list(range(1000, 1000 + len(docs)))
    write_segment(root, "flat-a", "flat", ids, docs, spans)
    write_segment(root, "plaid-a", "plaid", ids, docs, spans, nbits=4)
    return root, docs


def test_flat_search_is_exact(built):
    root, docs = built
    seg = FlatSegment(root / "flat-a")
    rng = np.random.default_rng(1)
    for _ in range(5):
        q = docs[int(rng.integers(len(docs)))][:8].astype(np.float32)
        expected = _brute(q, docs)
        hits = seg.search(q, 10, np.ones(seg.n_passages, bool))
        assert [h[0] for h in hits] == list(np.argsort(-expected)[:10])
        assert np.allclose([h[1] for h in hits], np.sort(expected)[::-1][:10], atol=1e-3)


def _fast_plaid_index(path, docs, nbits=4):
    """An index as fast-plaid's create writes it (format 1: what data folders from before format 2 hold)."""
    import torch
    from fast_plaid import search as fp_search

    index = fp_search.FastPlaid(index=str(path), device="cpu")
    with torch.random.fork_rng():
        torch.manual_seed(0)
        index.create(documents_embeddings=[torch.from_numpy(d) for d in docs], nbits=nbits, start_from_scratch=0,
                     kmeans_niters=4)
    return index


def test_plaid_decoding_and_compression_match_fast_plaid(built, tmp_path):
    """Decoding matches fast-plaid's get_embeddings, and our compressor, given fast-plaid's codec,
    writes the codes and residual bytes fast-plaid wrote (its fp16 arithmetic may round a value at a
    bucket boundary the other way: a handful of bytes)."""
    root, docs = built
    reference = _fast_plaid_index(tmp_path / "fp", docs)
    data = load_plaid(tmp_path / "fp")
    assert data.meta.get("format", 1) == 1 and data.doclens == [len(d) for d in docs]
    offsets = np.concatenate([[0], np.cumsum([len(d) for d in docs])])
    for i, theirs in zip([0, 7, 399], reference.get_embeddings(subset=[0, 7, 399]), strict=True):
        tokens = np.arange(offsets[i], offsets[i + 1])
        ours = data.codec.decompress(data.codes[tokens], data.residuals[tokens])
        assert np.abs(ours - theirs.float().numpy()).max() < 2e-3
    codes, residuals, _ = data.codec.compress(np.concatenate(docs))
    assert (codes == data.codes).mean() > 0.995
    assert (residuals == data.residuals).mean() > 0.99


def test_a_segment_in_fast_plaids_format_still_loads_and_searches(built, tmp_path):
    root, docs = built
    shutil.copytree(root / "plaid-a", tmp_path / "plaid-old")
    shutil.rmtree(tmp_path / "plaid-old" / "plaid")
    _fast_plaid_index(tmp_path / "plaid-old" / "plaid", docs).close()
    for copy in (tmp_path / "plaid-old" / "plaid").glob("merged_*"):
        copy.unlink()
    old = PlaidSegment(tmp_path / "plaid-old")
    assert old.codes.dtype == np.int32 and len(old.codes) == sum(len(d) for d in docs)
    q = docs[5][:8].astype(np.float32)
    assert old.search(q, 1, np.ones(old.n_passages, bool))[0][0] == 5


def test_plaid_vectors_take_at_most_40_bytes_per_token_at_64_dims(built):
    """Issue 14: codes (uint16), 4-bit residuals and the IVF; no float copy of any vector."""
    root, docs = built
    plaid = root / "plaid-a" / "plaid"
    tokens = sum(len(d) for d in docs)
    vector_bytes = sum((plaid / f).stat().st_size for f in ("codes.npy", "residuals.npy", "ivf.npy"))
    assert vector_bytes / tokens <= 40
    seg = PlaidSegment(root / "plaid-a")
    assert seg.codes.dtype == np.uint16 and isinstance(seg.residuals, np.memmap)


def test_plaid_search_agrees_with_brute_force_and_respects_tombstones(built):
    root, docs = built
    seg = PlaidSegment(root / "plaid-a")
    decompressed = seg.vectors(list(range(seg.n_passages)))
    live = np.ones(seg.n_passages, bool)
    rng = np.random.default_rng(2)
    agree = 0
    for _ in range(20):
        target = int(rng.integers(len(docs)))
        q = docs[target][:8].astype(np.float32)
        expected = _brute(q, decompressed)
        hits = seg.search(q, 10, live)
        agree += hits[0][0] == int(np.argmax(expected))
        assert abs(hits[0][1] - expected.max()) < 1e-3 or hits[0][0] != int(np.argmax(expected))
    assert agree >= 19
    live[target] = False
    assert target not in [h[0] for h in seg.search(docs[target][:8].astype(np.float32), 50, live)]
    scores = [h[1] for h in seg.search(q, 200, np.ones(seg.n_passages, bool))]
    assert scores == sorted(scores, reverse=True)  # exact head and approximate tail stay ordered


def test_no_raw_copy_or_merged_files_are_kept(built):
    root, _ = built
    files = {p.name for p in (root / "plaid-a" / "plaid").iterdir()}
    assert not any(name.startswith("merged") or name == "embeddings.npy" for name in files)
    assert verify_dir(root / "plaid-a", deep=True) == []
    assert verify_dir(root / "flat-a", deep=True) == []
