"""Semantic retrieval: ColBERT MaxSim over the vector segments, restricted to the passages that pass
the query's filters before ranking. Runs on the searching thread; the store is shared (its views are
reference-counted, see :mod:`..index.store`).
"""

from __future__ import annotations

import numpy as np

from ..catalog import Catalog
from ..encoder import QueryVectors
from ..index import SegmentStore
from .results import Hit


def passages(c: Catalog, store: SegmentStore, qv: QueryVectors, limit: int,
             allowed: np.ndarray | None) -> list[Hit]:
    """Up to ``limit`` passages by MaxSim, best first, several per file when they rank (each file's
    passages are grouped under it later). ``allowed``: the passages the filters let through."""
    store.refresh(c)
    if allowed is not None and len(allowed) == 0:
        return []
    # only vectors of the query's own model (ModelMismatch when the index holds none of them)
    hits = store.search(qv.vectors, limit, qv.model_key or None, allowed=allowed)
    if not hits:
        return []
    owners = c.passage_file_ids([pid for pid, _ in hits], "1", [])
    return [Hit(owners[pid], pid, score) for pid, score in hits if pid in owners]
