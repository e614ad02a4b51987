"""Which segments to merge next: a tiered policy (Lucene's, simplified) over the open segments.

Reads only what the store's view already holds (manifests, liveness masks): choosing never opens or
reads a segment file. One decision per call; the indexer merges, commits, refreshes and asks again.

In order of precedence:

1. **rebuild**: every segment of the model is re-encoded with a newly trained codec. The one merge
   that re-quantises; deliberate and rare. When the codec has drifted (new raw vectors land, on
   average, ``drift_limit`` times farther from their centroids than the training sample did): only at
   the end of an indexing run (``final``), never in the middle of encoding. When the index outgrew it
   (a codec trained now would get ``growth_factor`` times its centroids): at once, also mid-run, since
   that happens only while the index is small: the centroid count is capped (codec.MAX_CENTROIDS:
   8,192 from ~300k tokens on), so a first codec trained on one flush of a big first run
   (2,048 centroids from ~131k tokens) is replaced once, near 300k tokens (one re-compression of those
   300k tokens), instead of by a rebuild of the whole index at the end of the run.
2. **flush**: the flat segments (exact, unquantised, slow to search) hold ``flat_limit`` live tokens
   (4x that in the middle of a run; less at the end of a run in a big index, see :func:`flush_at`):
   they become one PLAID segment on the index's codec. PLAID
   segments that are mostly dead ride along (rewriting them costs a copy).
3. **expunge**: a PLAID segment with under ``min_live`` of its passages live is rewritten.
4. **tier**: PLAID segments fall in size tiers (``flat_limit`` x ``tier_factor`` ** n live tokens);
   ``per_tier`` segments in one tier merge into one of the next. Merging is a copy of codes (no
   re-quantising), so a token is rewritten about log_tier_factor(index / flat_limit) times in all.

The index's codec is the codec of its largest PLAID segment (a dead passage's codes stay valid, so
it keeps that role while being rewritten); segments on other codecs (older data folders, or before a
rebuild) join it when they take part in a merge.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from .codec import planned_centroids
from .segments import PlaidSegment
from .store import Entry


@dataclass(frozen=True)
class Policy:
    flat_limit: int  # live flat tokens that make a PLAID segment
    final: bool = True  # end of an indexing run (else: between encoding batches)
    tier_factor: int = 4
    per_tier: int = 4
    min_live: float = 0.5
    drift_limit: float = 1.25
    growth_factor: int = 4


@dataclass(frozen=True)
class MergePlan:
    reason: str  # rebuild | flush | expunge | tier
    sources: tuple[Entry, ...]
    codec_from: Entry | None  # the PLAID segment whose codec the result keeps (None: train a new one)


def live_tokens(e: Entry) -> int:
    return int(e.segment.lengths[e.live].sum()) if e.n_live else 0


def main_plaid(entries: Sequence[Entry]) -> Entry | None:
    """The PLAID segment whose codec the index keeps: the one with the most live tokens."""
    plaids = [e for e in entries if isinstance(e.segment, PlaidSegment) and e.n_live]
    return max(plaids, key=lambda e: (live_tokens(e), -e.id), default=None)


def drift(entries: Sequence[Entry], main: Entry) -> float:
    """Mean residual norm of the raw vectors compressed with ``main``'s codec after it was trained (the
    segments' ``residual_norm_sum`` / ``measured_tokens``), over the norm of its training sample (1.0:
    new data fits like the training data; 0.0: nothing measured yet)."""
    seg = main.segment
    assert isinstance(seg, PlaidSegment)
    if not seg.codec.residual_norm:
        return 0.0
    norm_sum = measured = 0.0
    for e in entries:
        if isinstance(e.segment, PlaidSegment) and e.segment.codec_id == seg.codec_id:
            norm_sum += float(e.segment.plaid_meta.get("residual_norm_sum", 0.0))
            measured += float(e.segment.plaid_meta.get("measured_tokens", 0))
    return norm_sum / measured / seg.codec.residual_norm if measured else 0.0


def flush_at(policy: Policy, total: int, has_codec: bool) -> int:
    """Live flat tokens that make a flush. Mid-run: 4x the flat limit. At the end of a run: the
    limit, or, once the index has a codec, less in a big index: a flat tail costs ~130 bytes a 64-d
    token against PLAID's ~38, so it may hold 1/64 of the index (<= 2 bytes a token on the whole), but
    never under a quarter of the limit (a small tail is cheaper searched exactly than as one more
    PLAID segment)."""
    if not policy.final:
        return 4 * policy.flat_limit
    if not has_codec:
        return policy.flat_limit
    return min(policy.flat_limit, max(policy.flat_limit // 4, total // 64))


def plan(entries: Sequence[Entry], policy: Policy) -> MergePlan | None:
    """The next merge among ``entries`` (live segments of one model and dimension), or None."""
    entries = [e for e in entries if e.state == "live" and e.n_live]
    flats = [e for e in entries if e.kind == "flat"]
    plaids = [e for e in entries if isinstance(e.segment, PlaidSegment)]
    main = main_plaid(plaids)
    total = sum(live_tokens(e) for e in entries)

    if main is not None:
        k = main.segment.codec.k  # type: ignore[attr-defined]
        grown = planned_centroids(total) >= policy.growth_factor * k
        if grown or (policy.final and drift(plaids, main) > policy.drift_limit):
            return MergePlan("rebuild", tuple(sorted(entries, key=lambda e: e.id)), None)

    dead = [e for e in plaids if e.live.mean() < policy.min_live]
    flat_tokens = sum(live_tokens(e) for e in flats)
    if flats and flat_tokens >= flush_at(policy, total, main is not None):
        return MergePlan("flush", tuple(flats + dead), main)
    if dead:
        return MergePlan("expunge", tuple(dead), main)

    tiers: dict[int, list[Entry]] = {}
    for e in plaids:
        ratio = max(live_tokens(e), 1) / max(policy.flat_limit, 1)
        tiers.setdefault(max(0, math.floor(math.log(ratio, policy.tier_factor))) if ratio > 1 else 0, []).append(e)
    for tier in sorted(tiers):
        group = tiers[tier]
        if len(group) >= policy.per_tier:
            return MergePlan("tier", tuple(sorted(group, key=lambda e: e.id)), main)
    return None
