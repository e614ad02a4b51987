"""Merging segments in the background: the policy (index/merge_policy.py) picks, index/merge.py
writes, the catalog commits, the store swaps its view.

Owners and threads: a Compactor belongs to the indexing thread that made it (one index run at a time
per data folder), which already runs at a lowered OS priority (encoder.resources.lower_priority).
Searches never wait for a merge: they go on with the store's current view, and the merged segment
appears with the catalog commit that also retires its sources (removed from disk once no search holds
them). A merge yields to searches: while someone searches (a search started in the last
``SEARCHING_S``) it sleeps a share of the time it works (``duty``), and otherwise runs at full speed,
since an idle machine gains nothing from the pause (on a first index of 240 SciFact files the sleep
was ~0.6 of the 3 s of merging). It is cancellable between chunks of work (``check`` raises: the
half-written segment is removed, nothing committed).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .catalog import Catalog, Writer
from .config import Settings
from .index import SegmentStore
from .index.merge import MergeSource, merge_segments
from .index.merge_policy import MergePlan, Policy, live_tokens, plan
from .index.segments import FlatSegment, PlaidSegment, default_nbits
from .index.store import Entry, View

SEARCHING_S = 2.0  # a search this recent means someone is typing: merges throttle to ``duty``


@dataclass
class MergeReport:
    reason: str
    sources: int
    tokens: int
    copied_tokens: int
    compressed_tokens: int
    recoded_tokens: int
    trained: bool
    seconds: float


@dataclass
class Compactor:
    store: SegmentStore
    writer: Writer
    reader: Catalog
    settings: Settings
    model_key: str
    message: Callable[[str], None] = lambda _m: None  # progress line for the person watching
    check: Callable[[], None] = lambda: None  # raises to cancel
    duty: float = 0.8  # share of wall time a merge may work while searches run; it sleeps the rest
    max_merges: int = 8  # per call: a run never spends unbounded time merging
    done: list[MergeReport] = field(default_factory=list)

    def flat_limit(self, dim: int) -> int:
        return max(1_000, int(self.settings.flat_max_tokens * 64 / max(dim, 1)))

    def _mine(self, view: View) -> list[Entry]:
        """Live segments of this model, all of one dimension (the first flat's, else the largest's)."""
        mine = [e for e in view.live if e.model_key == self.model_key]
        if not mine:
            return []
        dim = next((e.dim for e in mine if e.kind == "flat"), max(mine, key=lambda e: e.n_live).dim)
        return [e for e in mine if e.dim == dim]

    def run(self, final: bool) -> list[MergeReport]:
        """Merge until the policy is satisfied (at most ``max_merges`` merges)."""
        self.store.refresh(self.reader)
        # all re-encoded (new model) or deleted
        if any(not e.n_live for e in self.store.view.live) and self.writer.call(lambda c: c.drop_empty_segments()):
            self._settle()
        merged = []
        for _ in range(self.max_merges):
            with self.store.acquire() as view:  # the sources stay open (and on disk) while they are read
                mine = self._mine(view)
                if not mine:
                    break
                chosen = plan(mine, Policy(self.flat_limit(mine[0].dim), final=final))
                if chosen is None:
                    break
                merged.append(self._merge(chosen, view))
        archives = any(e.state == "archived" for e in self.store.view.entries)
        # archives are derived: the codes are the vectors now
        if (merged and archives and not self.settings.keep_raw_vectors
                and self.writer.call(lambda c: c.drop_archived_segments())):
            self._settle()
        return merged

    def rebuild(self) -> MergeReport | None:
        """Re-train the codec on every live vector of this model (raw where a flat or archived segment
        holds it, decoded otherwise) and write them as one PLAID segment: the deliberate rebuild the
        policy also starts on its own when the data drifted."""
        self.store.refresh(self.reader)
        with self.store.acquire() as view:
            mine = self._mine(view)
            if not mine:
                return None
            return self._merge(MergePlan("rebuild", tuple(mine), None), view)

    # ---------------------------------------------------------------------------------------------
    def _merge(self, chosen: MergePlan, view: View) -> MergeReport:
        dim = chosen.sources[0].dim
        tokens = sum(live_tokens(e) for e in chosen.sources)
        self.message(f"merging {len(chosen.sources)} segment(s), {tokens:,} vectors ({chosen.reason})")
        codec_from = chosen.codec_from.segment if chosen.codec_from is not None else None
        codec = codec_from.codec if isinstance(codec_from, PlaidSegment) else None
        raw: dict[int, tuple[FlatSegment, int]] = {}
        if codec is None:  # training: raw vectors kept by archived segments beat decoded ones
            for e in view.entries:
                if e.state == "archived" and isinstance(e.segment, FlatSegment) and e.dim == dim:
                    for local, pid in enumerate(e.segment.passage_ids.tolist()):
                        raw[pid] = (e.segment, local)
        name = f"plaid-{uuid.uuid4().hex[:12]}"
        since = time.monotonic()

        def pace() -> None:
            nonlocal since
            self.check()
            worked = time.monotonic() - since
            if 0 < self.duty < 1 and self.store.searched_within(SEARCHING_S):
                time.sleep(worked * (1 - self.duty) / self.duty)
            since = time.monotonic()

        def order(pids: np.ndarray) -> np.ndarray:
            # content order (path, passage), not id order: ids follow the order extraction finished in
            where = self.reader.passage_order(pids.tolist())
            keys = [where.get(int(p), ("\uffff", int(p))) for p in pids]
            return np.array(sorted(range(len(pids)), key=keys.__getitem__), dtype=np.int64)

        result = merge_segments(self.store.root, name, [MergeSource(e.segment, e.live) for e in chosen.sources],
                                codec, self.settings.plaid_nbits or default_nbits(dim), raw, order, pace)
        source_ids = [e.id for e in chosen.sources]
        archive = [e.id for e in chosen.sources if self.settings.keep_raw_vectors and e.kind == "flat"]
        if result is not None:
            pids = result.passage_ids.tolist()
            self.writer.call(lambda c: c.commit_merge(name, "plaid", self.model_key, dim, pids, result.n_tokens,
                                                      source_ids, archive))
        self._settle()
        report = MergeReport(chosen.reason, len(source_ids), result.n_tokens if result else 0,
                             result.copied_tokens if result else 0, result.compressed_tokens if result else 0,
                             result.recoded_tokens if result else 0, bool(result and result.trained),
                             round(result.seconds, 3) if result else 0.0)
        self.done.append(report)
        return report

    def _settle(self) -> None:
        self.store.refresh(self.reader)
        self.store.remove_orphans(self.store.check(self.reader).orphans)  # deleted once no search holds them
