"""Token spans in two bytes a token (index/spans.py): every span decodes exactly, odd ones included,
for one passage and for any list of passages (merges), and segments with the old uint16 file load."""

import json

import numpy as np

from desktop_search.core.index.segments import MANIFEST, FlatSegment, _file_table, verify_dir, write_segment
from desktop_search.core.index.spans import LEGACY, NARROW, WIDE


def _passage_spans(rng: np.random.Generator, n: int) -> np.ndarray:
    """Spans as a tokenizer gives them: words and word pieces one after another, a prefix token at
    (0, 0), now and then a huge token (an unknown 400-character word) or one that steps back."""
    out, pos = [(0, 0)], 0
    for _ in range(n - 1):
        roll = rng.random()
        if roll < 0.02:
            start, end = pos + 1, pos + 1 + int(rng.integers(256, 900))  # longer than a byte
        elif roll < 0.04:
            start = max(0, pos - int(rng.integers(1, 20)))  # before the previous end
            end = start + int(rng.integers(0, 8))
        elif roll < 0.05:
            start = pos + int(rng.integers(256, 2000))  # a gap longer than a byte
            end = start + 3
        else:
            start = pos + int(rng.integers(0, 3))
            end = start + int(rng.integers(1, 15))
        out.append((start, end))
        pos = max(pos, end)
    return np.array(out, dtype=np.uint16)


def _segment(tmp_path, name="flat-s"):
    rng = np.random.default_rng(7)
    spans = [_passage_spans(rng, int(rng.integers(1, 300))) for _ in range(120)]
    docs = [np.ones((len(s), 8), np.float16) for s in spans]
    write_segment(tmp_path, name, "flat", list(range(len(spans))), docs, spans)
    return FlatSegment(tmp_path / name), spans


def test_every_span_decodes_exactly_in_two_bytes_a_token(tmp_path):
    seg, spans = _segment(tmp_path)
    tokens = sum(map(len, spans))
    assert not (tmp_path / "flat-s" / LEGACY).exists()
    size = sum((tmp_path / "flat-s" / f).stat().st_size for f in (NARROW, WIDE))
    wide = len(np.load(tmp_path / "flat-s" / WIDE))
    assert 0 < wide < tokens / 10 and size <= 2 * tokens + 24 * wide + 512  # 2 bytes, 24 per odd token
    for local, expected in enumerate(spans):
        assert np.array_equal(seg.spans(local), expected)
    order = [5, 0, 119, 5, 33, 2]
    assert np.array_equal(seg.spans_of(order), np.concatenate([spans[i] for i in order]))
    assert verify_dir(tmp_path / "flat-s", deep=True) == []


def test_a_segment_with_the_old_uint16_spans_file_still_loads(tmp_path):
    seg, spans = _segment(tmp_path, "flat-old")
    path = tmp_path / "flat-old"
    (path / NARROW).unlink()
    (path / WIDE).unlink()
    np.save(path / LEGACY, np.concatenate(spans).astype(np.uint16))  # as segments were written before
    manifest = json.loads((path / MANIFEST).read_text())
    (path / MANIFEST).write_text(json.dumps({**manifest, "files": _file_table(path)}))
    old = FlatSegment(path)
    assert verify_dir(path, deep=True) == []
    assert all(np.array_equal(old.spans(i), s) for i, s in enumerate(spans))
    assert np.array_equal(old.spans_of([3, 1]), np.concatenate([spans[3], spans[1]]))
