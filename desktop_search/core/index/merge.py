"""Writing merged PLAID segments: what the merge policy (merge_policy.py) decided, done.

A merge reads the live passages of its sources and writes one new PLAID segment with one codec:

* a PLAID source already on that codec gives its stored codes and residual bytes, copied verbatim:
  its passages decode to exactly the vectors they decoded to before (lossless; tests/unit/test_merge.py);
* a flat source gives raw vectors, compressed with the codec (fixed centroids: fast-plaid's update);
* a PLAID source on another codec (a data folder from before format 2, or one older than a rebuild)
  is decoded and compressed again, once: from then on it shares the codec.

With no codec given the merge trains one (the first PLAID segment, or a deliberate rebuild) on the
raw vectors where a flat or archived segment still holds them, else on decoded ones.

Work is done in chunks of passages; ``pace()`` runs between chunks and may sleep (throttling) or
raise (cancelling: the half-written segment is removed, nothing else changed). Sources are open
segments the caller holds (a store view); the outputs are memory-mapped, so a merge holds one chunk,
the spans and the passage ids in memory, never the merged segment.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .codec import Codec, training_sample
from .segments import FlatSegment, PlaidSegment, Segment, default_nbits, write_plaid_segment

CHUNK_PASSAGES = 512


@dataclass
class MergeSource:
    segment: Segment
    live: np.ndarray  # bool per local id: only these passages are carried over


@dataclass
class MergeResult:
    path: Path
    passage_ids: np.ndarray
    n_tokens: int
    codec: Codec
    copied_tokens: int = 0  # codes and residuals copied verbatim (lossless)
    compressed_tokens: int = 0  # raw vectors compressed with the codec
    recoded_tokens: int = 0  # decoded from another codec and compressed again
    trained: bool = False
    seconds: float = 0.0


def merge_segments(
    root: Path, name: str, sources: Sequence[MergeSource], codec: Codec | None = None, nbits: int = 0,
    raw: dict[int, tuple[FlatSegment, int]] | None = None, order: Callable[[np.ndarray], np.ndarray] | None = None,
    pace: Callable[[], None] = lambda: None,
) -> MergeResult | None:
    """Write segment ``name`` from the live passages of ``sources``; None when none is live.

    ``codec``: the codec to keep (None: train one). ``raw``: passage id -> (flat segment, local id)
    of raw vectors kept elsewhere (archived segments): preferred to decoding when training and when
    re-coding. ``order(passage_ids)`` may return a permutation of the merged passages (content order
    when training, so a rebuild gives the same codec whatever order extraction ran in)."""
    started = time.monotonic()
    raw = raw or {}
    # (source index, local id) of every passage to carry, in output order: NumPy arrays, never a
    # Python object per passage
    chosen = [np.flatnonzero(s.live) for s in sources]
    if not sum(len(c) for c in chosen):
        return None
    which = np.concatenate([np.full(len(c), i, dtype=np.int64) for i, c in enumerate(chosen)])
    locals_ = np.concatenate(chosen).astype(np.int64)
    pids = np.concatenate([s.segment.passage_ids[c] for s, c in zip(sources, chosen, strict=True)]).astype(np.int64)
    lengths = np.concatenate([s.segment.lengths[c] for s, c in zip(sources, chosen, strict=True)]).astype(np.int64)
    if codec is None and order is not None:
        perm = order(pids)
        which, locals_, pids, lengths = which[perm], locals_[perm], pids[perm], lengths[perm]
    runs = np.split(np.arange(len(which)), np.flatnonzero(np.diff(which)) + 1)  # consecutive rows of one source
    spans = [sources[which[run[0]]].segment.spans_of(locals_[run]) for run in runs]
    dim = sources[0].segment.dim
    result = MergeResult(root / name, pids, int(lengths.sum()), codec or _placeholder(dim))

    def vectors_of(idx: np.ndarray) -> list[np.ndarray]:
        """Raw vectors where some flat segment holds them, else decoded ones, for output rows ``idx``."""
        seg = sources[which[idx[0]]].segment
        if len(idx) and (which[idx] == which[idx[0]]).all() and (
                isinstance(seg, FlatSegment) or not any(int(pids[r]) in raw for r in idx.tolist())):
            return seg.vectors(locals_[idx].tolist())  # one source, no raw copy elsewhere: at once
        out: list[np.ndarray] = []
        for r in idx.tolist():
            seg, local = sources[which[r]].segment, int(locals_[r])
            kept = raw.get(int(pids[r]))
            if isinstance(seg, FlatSegment):
                out.append(seg.vectors([local])[0])
            elif kept is not None:
                out.append(kept[0].vectors([kept[1]])[0])
            else:
                out.append(seg.vectors([local])[0])
        return out

    if codec is None:
        sample = training_sample(lengths)
        vectors: list[np.ndarray] = []  # float16, read a chunk at a time: 67 MB at most at 64-d
        for start in range(0, len(sample), CHUNK_PASSAGES):
            vectors += [v.astype(np.float16) for v in vectors_of(sample[start : start + CHUNK_PASSAGES])]
            pace()
        # a sample of decoded vectors gives no drift reference: their residuals are smaller than raw
        # ones (measured: a SciFact replay's growth rebuild then saw drift 1.25x and rebuilt 1.5M tokens)
        sample_raw = all(isinstance(sources[which[r]].segment, FlatSegment) or int(pids[r]) in raw
                         for r in sample.tolist())
        codec = Codec.train(vectors, nbits or default_nbits(dim), total_tokens=int(lengths.sum()), pace=pace,
                            raw=sample_raw)
        del vectors
        result.codec, result.trained = codec, True
        pace()
    use = codec
    offsets = np.concatenate([[0], np.cumsum(lengths)])

    def fill(codes: np.ndarray, residuals: np.ndarray) -> dict[str, Any]:
        norm_sum, measured, ref_sum, ref_n = 0.0, 0, 0.0, 0
        for start in range(0, len(pids), CHUNK_PASSAGES):
            rows = np.arange(start, min(start + CHUNK_PASSAGES, len(pids)))
            # runs of rows from one source keep their order: copy or compress each run at once
            cut = np.flatnonzero(np.diff(which[rows])) + 1
            for run in np.split(rows, cut):
                seg = sources[which[run[0]]].segment
                t0, t1 = int(offsets[run[0]]), int(offsets[run[-1] + 1])
                if isinstance(seg, PlaidSegment) and seg.codec_id == use.id:
                    codes[t0:t1], residuals[t0:t1] = seg.encoded(locals_[run])
                    result.copied_tokens += t1 - t0
                    continue
                tokens = np.concatenate(vectors_of(run))
                norms = use.compress_into(tokens, codes[t0:t1], residuals[t0:t1])
                if isinstance(seg, FlatSegment) or all(int(pids[r]) in raw for r in run.tolist()):
                    result.compressed_tokens += t1 - t0  # from raw vectors
                    # drift: only raw vectors tell (decoded ones sit closer to any centroids), and only
                    # those the codec was not trained on; a codec trained here on decoded vectors takes
                    # its reference from the raw ones it compresses now
                    if not result.trained:
                        norm_sum += norms
                        measured += t1 - t0
                    else:
                        ref_sum += norms
                        ref_n += t1 - t0
                else:
                    result.recoded_tokens += t1 - t0
            pace()
        # drift statistics: the residual norms of raw vectors compressed with a codec trained before
        # them (by this merge, and by earlier ones: carried over from the PLAID sources)
        for s in sources:
            if isinstance(s.segment, PlaidSegment) and s.segment.codec_id == use.id and s.segment.n_passages:
                share = float(s.live.mean())
                norm_sum += share * float(s.segment.plaid_meta.get("residual_norm_sum", 0.0))
                measured += int(share * int(s.segment.plaid_meta.get("measured_tokens", 0)))
        stats: dict[str, Any] = {"residual_norm_sum": norm_sum, "measured_tokens": measured}
        if result.trained and not use.residual_norm and ref_n:
            stats["residual_norm"] = ref_sum / ref_n  # the drift reference (metadata.json's, read as the codec's)
        return stats

    write_plaid_segment(root, name, pids.tolist(), lengths, spans, use, fill)
    result.seconds = time.monotonic() - started
    return result


def _placeholder(dim: int) -> Codec:
    return Codec(np.zeros((1, dim), np.float16), np.zeros(1, np.float32), np.zeros(2, np.float32), 1)
