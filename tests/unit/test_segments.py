"""Segments: flat (exact MaxSim) and PLAID (fast-plaid build, NumPy search) agree with brute force."""

import numpy as np
import pytest

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


def test_plaid_decompression_matches_fast_plaid(built, tmp_path):
    import shutil

    from fast_plaid import search as fp_search

    root, _ = built
    seg = PlaidSegment(root / "plaid-a")
    shutil.copytree(root / "plaid-a" / "plaid", tmp_path / "plaid")  # fast-plaid writes files when it loads
    reference = fp_search.FastPlaid(index=str(tmp_path / "plaid"), device="cpu")
    ours = seg.vectors([0, 7, 399])
    theirs = reference.get_embeddings(subset=[0, 7, 399])
    for a, b in zip(ours, theirs, strict=True):
        assert np.abs(a - b.float().numpy()).max() < 2e-3


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
