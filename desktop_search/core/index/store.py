"""The open segments of one data dir, their liveness, search across them and recovery checks."""

from __future__ import annotations

import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..catalog import Catalog
from .segments import PlaidSegment, Segment, SegmentDamaged, open_segment, rank_plaid, verify_dir


@dataclass
class Damage:
    segment_id: int
    reason: str


@dataclass
class CheckReport:
    orphans: list[str] = field(default_factory=list)  # dirs on disk no catalog row points at
    damaged: list[Damage] = field(default_factory=list)  # live segments that cannot be used
    dangling_passages: int = 0  # passages pointing at segments that are not live


class SegmentStore:
    """Keeps live segments open between queries; reloads when the catalog's generation changes."""

    def __init__(self, root: Path):
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.segments: dict[int, Segment] = {}
        self.archived: dict[int, Segment] = {}
        self.live: dict[int, np.ndarray] = {}
        self.damaged: dict[int, str] = {}
        self.generation: int | None = None
        self._lock = threading.RLock()

    # --- state -----------------------------------------------------------------------------------
    def refresh(self, catalog: Catalog, force: bool = False) -> None:
        with self._lock:
            generation = int(catalog.get_setting("index_generation", 0))
            if generation == self.generation and not force:
                return
            rows = catalog.query("SELECT id, kind, dir, state FROM segments WHERE state IN ('live', 'archived')")
            wanted = {r["id"]: r for r in rows}
            for sid in list(self.segments) + list(self.archived):
                if sid not in wanted:
                    seg = self.segments.pop(sid, None) or self.archived.pop(sid, None)
                    if seg is not None:
                        seg.close()
            self.damaged = {k: v for k, v in self.damaged.items() if k in wanted}
            for sid, row in wanted.items():
                target = self.segments if row["state"] == "live" else self.archived
                if sid in target or sid in self.damaged:
                    continue
                try:
                    target[sid] = open_segment(self.root / row["dir"], row["kind"])
                except SegmentDamaged as exc:
                    self.damaged[sid] = str(exc)
            self.live = {sid: np.zeros(seg.n_passages, dtype=bool) for sid, seg in self.segments.items()}
            cursor = catalog.db.execute(
                "SELECT segment_id, local_id FROM passages WHERE segment_id > 0 ORDER BY segment_id"
            )
            for sid, local in cursor:
                mask = self.live.get(sid)
                if mask is not None and 0 <= local < len(mask):
                    mask[local] = True
            self.generation = generation

    def close(self) -> None:
        with self._lock:
            for seg in list(self.segments.values()) + list(self.archived.values()):
                seg.close()
            self.segments.clear()
            self.archived.clear()
            self.generation = None

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {
                "segments": len(self.segments),
                "plaid_segments": sum(1 for s in self.segments.values() if s.kind == "plaid"),
                "flat_segments": sum(1 for s in self.segments.values() if s.kind == "flat"),
                "vectors": int(sum(int(s.lengths[self.live[i]].sum()) for i, s in self.segments.items())),
            }

    def disk_bytes(self) -> int:
        return sum(f.stat().st_size for f in self.root.rglob("*") if f.is_file())

    # --- search ----------------------------------------------------------------------------------
    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Top ``k`` live passages over all segments: (passage id, MaxSim score)."""
        with self._lock:
            hits: list[tuple[int, float]] = []
            pools = []
            for sid, seg in self.segments.items():
                if isinstance(seg, PlaidSegment):
                    pools.append((seg, *seg.candidates(query, self.live[sid])))
                    continue
                for local, score in seg.search(query, k, self.live[sid]):
                    hits.append((int(seg.passage_ids[local]), score))
            for (seg, _, _), ranked in zip(pools, rank_plaid(pools, query, k), strict=True):
                hits.extend((int(seg.passage_ids[local]), score) for local, score in ranked)
        hits.sort(key=lambda h: -h[1])
        return hits[:k]

    def exact_scores(self, query: np.ndarray) -> dict[int, float]:
        """Exact MaxSim of every passage that has raw vectors (flat and archived segments)."""
        from .segments import FlatSegment

        scores: dict[int, float] = {}
        with self._lock:
            for seg in list(self.segments.values()) + list(self.archived.values()):
                if isinstance(seg, FlatSegment):
                    for pid, score in zip(seg.passage_ids.tolist(), seg.scores(query).tolist(), strict=True):
                        scores[pid] = score
        return scores

    def passage_vectors(self, segment_id: int, local_id: int) -> tuple[np.ndarray, np.ndarray] | None:
        with self._lock:
            seg = self.segments.get(segment_id)
            if seg is None:
                return None
            return seg.vectors([local_id])[0], seg.spans(local_id)

    # --- checks ----------------------------------------------------------------------------------
    def check(self, catalog: Catalog, deep: bool = False) -> CheckReport:
        report = CheckReport()
        rows = catalog.query("SELECT id, kind, dir, state, n_passages FROM segments")
        known = {r["dir"] for r in rows}
        for child in sorted(self.root.iterdir()) if self.root.exists() else []:
            if child.name not in known:
                report.orphans.append(child.name)
        for r in rows:
            if r["state"] not in ("live", "archived"):
                continue
            path = self.root / r["dir"]
            problems = verify_dir(path, deep=deep) if path.is_dir() else ["folder is missing"]
            if not problems:
                try:
                    n = len(np.load(path / "passage_ids.npy", mmap_mode="r"))
                    if n != r["n_passages"]:
                        problems.append("passage count differs from the catalog")
                except (OSError, ValueError) as exc:
                    problems.append(f"unreadable passage ids ({type(exc).__name__})")
            if problems:
                report.damaged.append(Damage(r["id"], "; ".join(problems)))
        report.dangling_passages = int(
            catalog.scalar(
                "SELECT COUNT(*) FROM passages WHERE segment_id > 0 AND segment_id NOT IN "
                "(SELECT id FROM segments WHERE state = 'live')"
            )
            or 0
        )
        return report

    def remove_orphans(self, names: list[str]) -> None:
        for name in names:
            shutil.rmtree(self.root / name, ignore_errors=True)
