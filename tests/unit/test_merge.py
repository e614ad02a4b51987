"""Merges keep the codec: a merge copies codes verbatim (a passage's decoded vectors never change), ten
successive merges equal one, a cancelled merge leaves nothing, older segments join by being re-coded
once, and the tiered policy picks what Lucene's would."""

import json
from pathlib import Path

import numpy as np
import pytest

from desktop_search.core.index.merge import MergeSource, merge_segments
from desktop_search.core.index.merge_policy import Policy, plan
from desktop_search.core.index.segments import FlatSegment, PlaidSegment, write_segment
from desktop_search.core.index.store import Entry

DIM = 64


def _docs(n: int, seed: int, shift: float = 0.0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    topics = np.random.default_rng(99).normal(size=(12, DIM)) + shift
    docs = []
    for i in range(n):
        vecs = topics[i % len(topics)] + 0.6 * rng.normal(size=(int(rng.integers(5, 30)), DIM))
        docs.append((vecs / np.linalg.norm(vecs, axis=1, keepdims=True)).astype(np.float16))
    return docs


def _spans(docs):
    return [np.tile(np.arange(len(d), dtype=np.uint16)[:, None], (1, 2)) for d in docs]


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A PLAID segment (trained codec) of 300 passages and ten flat segments of 40 passages each."""
    root = tmp_path_factory.mktemp("merge")
    docs = _docs(300, 0)
    write_segment(root, "plaid-base", "plaid", list(range(1, 301)), docs, _spans(docs), nbits=4)
    flats = []
    for i in range(10):
        more = _docs(40, 10 + i)
        pids = list(range(1000 + 100 * i, 1040 + 100 * i))
        write_segment(root, f"flat-{i}", "flat", pids, more, _spans(more))
        flats.append(f"flat-{i}")
    return root, flats


def _all(seg):
    return np.ones(seg.n_passages, dtype=bool)


def _decoded_by_pid(seg: PlaidSegment) -> dict[int, np.ndarray]:
    return {int(pid): v for pid, v in zip(seg.passage_ids, seg.vectors(range(seg.n_passages)), strict=True)}


def test_a_merge_never_changes_a_documents_decoded_vectors(base, tmp_path):
    root, flats = base
    plaid = PlaidSegment(root / "plaid-base")
    flat = FlatSegment(root / flats[0])
    before = _decoded_by_pid(plaid)
    result = merge_segments(tmp_path, "plaid-m", [MergeSource(plaid, _all(plaid)), MergeSource(flat, _all(flat))],
                            plaid.codec)
    merged = PlaidSegment(tmp_path / "plaid-m")
    assert merged.codec_id == plaid.codec_id and not result.trained
    assert result.copied_tokens == len(plaid.codes) and result.compressed_tokens == len(flat._all())
    after = _decoded_by_pid(merged)
    for pid, vectors in before.items():
        assert np.array_equal(after[pid], vectors)  # bit for bit: codes and residuals were copied
    # the flat passages were compressed once, with the kept centroids
    codes, residuals, _ = plaid.codec.compress(np.concatenate(flat.vectors(range(flat.n_passages))))
    expected = plaid.codec.decompress(codes, residuals)
    got = np.concatenate([after[int(pid)] for pid in flat.passage_ids])
    assert np.array_equal(got, expected)
    # spans travel with their passages
    local = int(np.flatnonzero(merged.passage_ids == flat.passage_ids[3])[0])
    assert np.array_equal(merged.spans(local), flat.spans(3))


def test_ten_successive_merges_equal_one(base, tmp_path):
    """Merging ten flat segments one after another (with deletions between them) gives the segment one
    merge of all gives: the same bytes, the same search results."""
    root, flats = base
    plaid = PlaidSegment(root / "plaid-base")
    flat_segs = [FlatSegment(root / f) for f in flats]
    rng = np.random.default_rng(5)
    dead = set(rng.choice(np.arange(1, 301), 30, replace=False).tolist())
    for i in range(10):
        dead |= {1000 + 100 * i + j for j in rng.choice(40, 4, replace=False).tolist()}

    def live(seg):
        return np.array([int(p) not in dead for p in seg.passage_ids])

    one = merge_segments(tmp_path, "one", [MergeSource(plaid, live(plaid))]
                         + [MergeSource(f, live(f)) for f in flat_segs], plaid.codec)
    current = plaid
    for i, f in enumerate(flat_segs):
        merge_segments(tmp_path, f"step-{i}", [MergeSource(current, live(current)), MergeSource(f, live(f))],
                       plaid.codec)
        current = PlaidSegment(tmp_path / f"step-{i}")
    single = PlaidSegment(tmp_path / "one")
    assert one.passage_ids.tolist() == current.passage_ids.tolist()
    for name in ("codes.npy", "residuals.npy", "ivf.npy", "ivf_lengths.npy"):
        assert (tmp_path / "one" / "plaid" / name).read_bytes() == (tmp_path / "step-9" / "plaid" / name).read_bytes()
    queries = _docs(8, 77)
    for q in queries:
        q = q[:6].astype(np.float32)
        a = [(int(single.passage_ids[i]), s) for i, s in single.search(q, 20, _all(single))]
        b = [(int(current.passage_ids[i]), s) for i, s in current.search(q, 20, _all(current))]
        assert a == b
        assert not dead & {pid for pid, _ in a}


def test_a_cancelled_merge_leaves_nothing(base, tmp_path):
    root, flats = base
    plaid = PlaidSegment(root / "plaid-base")
    flat = FlatSegment(root / flats[1])
    calls = []

    def pace():
        calls.append(1)
        raise KeyboardInterrupt  # any exception: the indexer raises Cancelled

    with pytest.raises(KeyboardInterrupt):
        merge_segments(tmp_path, "plaid-x", [MergeSource(plaid, _all(plaid)), MergeSource(flat, _all(flat))],
                       plaid.codec, pace=pace)
    assert calls and list(tmp_path.iterdir()) == []


def test_a_merge_that_trains_is_paced_and_cancellable_inside_the_k_means(base, tmp_path):
    root, flats = base
    srcs = [FlatSegment(root / f) for f in flats]
    calls = []

    def pace():
        calls.append(1)
        if len(calls) == 3:  # reading the sample, then inside the k-means
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        merge_segments(tmp_path, "plaid-t", [MergeSource(s, _all(s)) for s in srcs], None, nbits=4, pace=pace)
    assert len(calls) == 3 and list(tmp_path.iterdir()) == []


def test_a_segment_on_another_codec_is_recoded_once_then_copied(base, tmp_path):
    root, flats = base
    plaid = PlaidSegment(root / "plaid-base")
    other_docs = _docs(60, 3)
    write_segment(tmp_path, "plaid-other", "plaid", list(range(5000, 5060)), other_docs, _spans(other_docs), nbits=4)
    other = PlaidSegment(tmp_path / "plaid-other")
    assert other.codec_id != plaid.codec_id
    first = merge_segments(tmp_path, "m1", [MergeSource(plaid, _all(plaid)), MergeSource(other, _all(other))],
                           plaid.codec)
    assert first.recoded_tokens == len(other.codes) and first.copied_tokens == len(plaid.codes)
    m1 = PlaidSegment(tmp_path / "m1")
    flat = FlatSegment(root / flats[2])
    second = merge_segments(tmp_path, "m2", [MergeSource(m1, _all(m1)), MergeSource(flat, _all(flat))], plaid.codec)
    assert second.recoded_tokens == 0 and second.copied_tokens == len(m1.codes)
    before, after = _decoded_by_pid(m1), _decoded_by_pid(PlaidSegment(tmp_path / "m2"))
    assert all(np.array_equal(after[pid], v) for pid, v in before.items())


def test_training_prefers_raw_vectors_and_is_deterministic(base, tmp_path):
    root, flats = base
    srcs = [FlatSegment(root / f) for f in flats[:3]]
    a = merge_segments(tmp_path, "t1", [MergeSource(s, _all(s)) for s in srcs], None, nbits=4)
    b = merge_segments(tmp_path, "t2", [MergeSource(s, _all(s)) for s in srcs], None, nbits=4)
    assert a.trained and a.codec.id == b.codec.id and a.compressed_tokens == a.n_tokens
    meta = json.loads((tmp_path / "t1" / "plaid" / "metadata.json").read_text())
    assert meta["format"] == 3 and meta["codec"] == a.codec.id
    assert meta["measured_tokens"] == 0  # its own training data says nothing about drift


def test_a_codec_trained_on_decoded_vectors_takes_its_drift_reference_from_raw_ones_only(base, tmp_path):
    root, flats = base
    plaid, flat = PlaidSegment(root / "plaid-base"), FlatSegment(root / flats[4])
    decoded_only = merge_segments(tmp_path, "r1", [MergeSource(plaid, _all(plaid))], None, nbits=4)
    assert decoded_only.trained and PlaidSegment(tmp_path / "r1").codec.residual_norm == 0.0  # unknown
    mixed = merge_segments(tmp_path, "r2", [MergeSource(plaid, _all(plaid)), MergeSource(flat, _all(flat))],
                           None, nbits=4)
    seg = PlaidSegment(tmp_path / "r2")
    assert mixed.trained and mixed.compressed_tokens == int(flat.lengths.sum())
    raw = np.concatenate(flat.vectors(range(flat.n_passages))).astype(np.float32)
    _, _, norm_sum = seg.codec.compress(raw)
    assert seg.codec.residual_norm == pytest.approx(norm_sum / len(raw), rel=1e-5)
    assert seg.plaid_meta["measured_tokens"] == 0  # the reference is not drift


# --- the policy -------------------------------------------------------------------------------------
class FakeCodec:
    def __init__(self, cid: str, trained: int, norm: float = 0.5):
        from desktop_search.core.index.codec import centroid_count

        self.id, self.trained_tokens, self.residual_norm = cid, trained, norm
        self.k = centroid_count(trained, trained)


def fake(sid: int, kind: str, tokens: int, live_share: float = 1.0, codec: str = "c", trained: int = 40_000,
         norm_ratio: float = 1.0) -> Entry:
    n = max(tokens // 10, 1)
    seg = object.__new__(PlaidSegment if kind == "plaid" else FlatSegment)
    seg.lengths = np.full(n, 10, dtype=np.int64)
    seg.path = Path(f"/x/{sid}")
    if kind == "plaid":
        seg.codec = FakeCodec(codec, trained)
        seg.plaid_meta = {"residual_norm_sum": 0.5 * norm_ratio * tokens, "measured_tokens": tokens}
    live = np.zeros(n, dtype=bool)
    live[: int(round(n * live_share))] = True
    return Entry(sid, f"{kind}-{sid}", kind, "live", "m", DIM, seg, live, int(live.sum()))


def test_policy_flushes_flats_onto_the_largest_segments_codec():
    entries = [fake(1, "plaid", 50_000), fake(2, "plaid", 5_000), fake(3, "flat", 600), fake(4, "flat", 500)]
    assert plan(entries, Policy(flat_limit=1_000, final=False)) is None  # mid-run: waits for 4x the limit
    chosen = plan(entries, Policy(flat_limit=1_000, final=True))
    assert chosen.reason == "flush" and [e.id for e in chosen.sources] == [3, 4] and chosen.codec_from.id == 1


def test_a_big_index_flushes_a_smaller_flat_tail_at_the_end_of_a_run():
    big = fake(1, "plaid", 1_000_000, trained=300_000)
    tail = fake(2, "flat", 20_000)  # 2.6 bytes a token on the whole index if left flat
    assert plan([big, tail], Policy(flat_limit=32_768, final=False)) is None
    assert plan([big, tail], Policy(flat_limit=32_768)).reason == "flush"
    assert plan([big, fake(3, "flat", 8_000)], Policy(flat_limit=32_768)) is None  # under a quarter of the limit
    assert plan([fake(4, "flat", 20_000)], Policy(flat_limit=32_768)) is None  # no codec yet: the limit


def test_policy_merges_a_full_tier_and_rewrites_mostly_dead_segments():
    tier0 = [fake(i, "plaid", 1_000 + i, trained=1_000) for i in range(1, 5)]
    big = fake(9, "plaid", 20_000, trained=20_000)
    chosen = plan([big, *tier0], Policy(flat_limit=1_000))
    assert chosen.reason == "tier" and {e.id for e in chosen.sources} == {1, 2, 3, 4} and chosen.codec_from.id == 9
    assert plan([big, *tier0[:3]], Policy(flat_limit=1_000)) is None  # three of a tier wait for a fourth
    dying = fake(5, "plaid", 8_000, live_share=0.3, trained=20_000)
    chosen = plan([big, dying], Policy(flat_limit=1_000))
    assert chosen.reason == "expunge" and [e.id for e in chosen.sources] == [5]


def test_policy_rebuilds_when_the_data_drifted_at_the_end_or_outgrew_the_codec_while_small():
    steady = [fake(1, "plaid", 50_000, trained=40_000), fake(2, "plaid", 20_000, trained=40_000)]
    assert plan(steady, Policy(flat_limit=1_000)) is None
    drifted = [fake(1, "plaid", 50_000, trained=40_000), fake(2, "plaid", 20_000, trained=40_000, norm_ratio=2.5)]
    chosen = plan(drifted, Policy(flat_limit=1_000))
    assert chosen.reason == "rebuild" and chosen.codec_from is None and {e.id for e in chosen.sources} == {1, 2}
    assert plan(drifted, Policy(flat_limit=1_000, final=False)) is None
    grown = [fake(1, "plaid", 700_000, trained=40_000)]
    assert plan(grown, Policy(flat_limit=100_000)).reason == "rebuild"
    # growth may rebuild mid-run (it happens only while an index is small: the centroid count is capped)
    assert plan(grown, Policy(flat_limit=100_000, final=False)).reason == "rebuild"
    capped = [fake(1, "plaid", 50_000_000, trained=300_000)]  # 8,192 centroids: the cap, never outgrown
    assert plan(capped, Policy(flat_limit=100_000)) is None


def test_the_training_sample_is_capped_in_tokens_and_unchanged_below_the_cap():
    from desktop_search.core.index.codec import training_sample

    lengths = np.random.default_rng(3).integers(50, 400, size=20_000)
    capped = training_sample(lengths, max_tokens=500_000)
    assert lengths[capped].sum() <= 500_000 and len(capped) > 1_000
    assert np.array_equal(capped, training_sample(lengths, max_tokens=500_000))  # deterministic
    assert np.all(np.diff(capped) > 0)  # in order, each once
    small = lengths[:300]
    assert np.array_equal(training_sample(small), np.arange(300))  # below the cap: every passage, as before
