"""The codec's training stays bounded and sensible at any index size, and every on-disk format loads:
format 3 (uint16 IVF), format 2 (int32 IVF) and a format from a newer version refused with a reason."""

import json
import shutil

import numpy as np
import pytest

from desktop_search.core.index.codec import (
    KMEANS_POINTS,
    MAX_CENTROIDS,
    MAX_SAMPLE_TOKENS,
    MIN_POINTS_PER_CENTROID,
    MIN_SAMPLE_TOKENS,
    Codec,
    centroid_count,
    kmeans,
    training_sample,
)
from desktop_search.core.index.segments import PlaidSegment, SegmentDamaged, write_segment

DIM = 64


def _docs(n: int, seed: int = 0, topics: int = 12) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).normal(size=(topics, DIM))
    out = []
    for i in range(n):
        v = centres[i % topics] + 0.3 * rng.normal(size=(int(rng.integers(5, 30)), DIM))
        out.append((v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float16))
    return out


def test_the_centroid_count_follows_plaid_below_the_cap_and_never_outnumbers_its_points():
    assert centroid_count(1_000_000, KMEANS_POINTS) == 8_192  # PLAID's 2**floor(log2(16 sqrt(1M)))
    assert centroid_count(50_000_000, KMEANS_POINTS) == MAX_CENTROIDS  # PLAID would take 65,536
    assert centroid_count(100_000, 100_000) == 2_048  # 100k / 32 points -> 2,048 (PLAID: 4,096)
    for tokens in (1, 200, 5_000, 300_000, 10**8):
        k = centroid_count(tokens, min(tokens, KMEANS_POINTS))
        assert k >= 1 and k & (k - 1) == 0
        assert k == 1 or k * MIN_POINTS_PER_CENTROID <= min(tokens, KMEANS_POINTS)


def test_the_growth_test_predicts_what_training_gives(tmp_path):
    from desktop_search.core.index.codec import planned_centroids

    docs = _docs(2_000)
    tokens = sum(len(d) for d in docs)
    assert Codec.train(docs, 4).k == planned_centroids(tokens)
    assert planned_centroids(300_000) == 8_192 and planned_centroids(262_144) == 4_096  # held-out tokens
    assert planned_centroids(50_000_000) == MAX_CENTROIDS


def test_the_training_sample_reads_enough_tokens_and_never_too_many():
    many_short = np.full(200_000, 2, dtype=np.int64)  # PLAID's passage count alone would give 157k tokens
    chosen = training_sample(many_short)
    assert many_short[chosen].sum() >= MIN_SAMPLE_TOKENS and np.all(np.diff(chosen) > 0)
    huge = np.full(200_000, 250, dtype=np.int64)  # a 50M-token index
    chosen = training_sample(huge)
    assert huge[chosen].sum() <= MAX_SAMPLE_TOKENS and len(chosen) > 1_000
    small = np.full(300, 20, dtype=np.int64)
    assert np.array_equal(training_sample(small), np.arange(300))  # a small index trains on all it has


def test_kmeans_finds_separated_clusters_deterministically_and_paces_its_work():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(8, DIM))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    points = np.repeat(centres, 200, axis=0) + 0.05 * rng.normal(size=(1600, DIM))
    points = (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)
    calls = []
    found = kmeans(points, 8, 10, pace=lambda: calls.append(1))
    assert np.array_equal(found, kmeans(points, 8, 10))
    assert np.allclose(np.linalg.norm(found, axis=1), 1, atol=1e-5)
    # random seeding (no k-means++: its cost grows with k) may put two seeds in one cluster; most
    # true centres still get a centroid on them
    assert ((found @ centres.T).max(axis=0) > 0.95).sum() >= 5
    assert len(calls) >= 10

    def cancel():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        kmeans(points, 8, 10, pace=cancel)


def test_a_small_index_trains_few_centroids_each_with_enough_points():
    docs = _docs(20)  # a few hundred tokens
    tokens = sum(len(d) for d in docs)
    codec = Codec.train(docs, nbits=4)
    assert codec.k * MIN_POINTS_PER_CENTROID <= tokens and codec.k >= 4
    assert codec.trained_tokens == tokens and codec.residual_norm > 0
    codes, packed, _ = codec.compress(np.concatenate(docs).astype(np.float32))
    decoded = codec.decompress(codes, packed)
    cosine = np.einsum("ij,ij->i", decoded, np.concatenate(docs).astype(np.float32))
    assert cosine.mean() > 0.97


@pytest.fixture(scope="module")
def segment(tmp_path_factory):
    root = tmp_path_factory.mktemp("codec")
    docs = _docs(300)
    spans = [np.zeros((len(d), 2), np.uint16) for d in docs]
    write_segment(root, "plaid-new", "plaid", list(range(1, 301)), docs, spans, nbits=4)
    return root, docs


def test_new_segments_store_the_ivf_in_two_bytes(segment):
    root, _ = segment
    seg = PlaidSegment(root / "plaid-new")
    assert seg.plaid_meta["format"] == 3 and seg.ivf.dtype == np.uint16 and seg.codes.dtype == np.uint16


def test_a_format_2_segment_loads_and_searches_as_before(segment, tmp_path):
    """Format 2 (the previous version): the same files with an int32 IVF."""
    root, docs = segment
    old = tmp_path / "plaid-old"
    shutil.copytree(root / "plaid-new", old)
    ivf = np.load(old / "plaid" / "ivf.npy")
    np.save(old / "plaid" / "ivf.npy", ivf.astype(np.int32))
    meta = json.loads((old / "plaid" / "metadata.json").read_text())
    (old / "plaid" / "metadata.json").write_text(json.dumps({**meta, "format": 2}))
    was, new = PlaidSegment(old), PlaidSegment(root / "plaid-new")
    assert was.ivf.dtype == np.int32 and was.codec_id == new.codec_id
    live = np.ones(was.n_passages, dtype=bool)
    for i in (3, 40, 177):
        q = docs[i][:6].astype(np.float32)
        assert was.search(q, 5, live) == new.search(q, 5, live)
        assert was.search(q, 1, live)[0][0] == i


def test_a_segment_from_a_newer_version_is_refused_with_a_reason(segment, tmp_path):
    root, _ = segment
    newer = tmp_path / "plaid-newer"
    shutil.copytree(root / "plaid-new", newer)
    meta = json.loads((newer / "plaid" / "metadata.json").read_text())
    (newer / "plaid" / "metadata.json").write_text(json.dumps({**meta, "format": 99}))
    with pytest.raises(SegmentDamaged, match="newer than this version"):
        PlaidSegment(newer)


def test_segments_on_one_codec_share_its_files_and_the_store_counts_them_once(segment, tmp_path):
    from desktop_search.core.index.merge import MergeSource, merge_segments
    from desktop_search.core.index.store import SegmentStore

    root, docs = segment
    shutil.copytree(root / "plaid-new", tmp_path / "plaid-a")  # a copy: its own codec files
    first = PlaidSegment(tmp_path / "plaid-a")
    more = _docs(50, seed=5)
    write_segment(tmp_path, "flat-b", "flat", list(range(500, 550)), more, [np.zeros((len(d), 2), np.uint16)
                                                                            for d in more])
    from desktop_search.core.index.segments import FlatSegment

    flat = FlatSegment(tmp_path / "flat-b")
    merge_segments(tmp_path, "plaid-c", [MergeSource(flat, np.ones(50, bool))], first.codec)
    for name in ("centroids.npy", "bucket_cutoffs.npy", "bucket_weights.npy"):
        a, c = (tmp_path / "plaid-a" / "plaid" / name).stat(), (tmp_path / "plaid-c" / "plaid" / name).stat()
        assert (a.st_dev, a.st_ino) == (c.st_dev, c.st_ino) and a.st_nlink == 2
    merged = PlaidSegment(tmp_path / "plaid-c")
    assert merged.codec_id == first.codec_id
    store = SegmentStore(tmp_path)
    every = sum(f.stat().st_size for f in tmp_path.rglob("*") if f.is_file())
    assert store.disk_bytes() == every - (tmp_path / "plaid-a" / "plaid" / "centroids.npy").stat().st_size - sum(
        (tmp_path / "plaid-a" / "plaid" / n).stat().st_size for n in ("bucket_cutoffs.npy", "bucket_weights.npy"))
    shutil.rmtree(tmp_path / "plaid-a")  # the first segment retired: the other keeps the codec
    assert PlaidSegment(tmp_path / "plaid-c").codec_id == first.codec_id


@pytest.mark.parametrize("chunk", [1, 37, 5_000, 1 << 22])
def test_the_ivf_built_in_chunks_equals_the_whole_array_form(chunk, monkeypatch):
    """build_ivf reads the codes a chunk of whole documents at a time: the lists must be those of one
    sorted unique over every (centroid, doc) pair, whatever the chunk size."""
    from desktop_search.core.index import codec as codec_module

    rng = np.random.default_rng(chunk)
    lengths = rng.integers(1, 120, 700).astype(np.int64)
    codes = rng.integers(0, 64, int(lengths.sum())).astype(np.uint16)
    monkeypatch.setattr(codec_module, "IVF_CHUNK_TOKENS", chunk)
    ivf, ivf_lengths = codec_module.build_ivf(codes, lengths, 64)
    pairs = np.unique(codes.astype(np.int64) * len(lengths) + np.repeat(np.arange(len(lengths)), lengths))
    assert ivf.tolist() == (pairs % len(lengths)).tolist()
    assert ivf_lengths.tolist() == np.bincount(pairs // len(lengths), minlength=64).tolist()
    assert codec_module.sorted_unique(np.array([5, 1, 5, 3, 1])).tolist() == [1, 3, 5]
