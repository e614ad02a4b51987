"""Vector index made of immutable segments (Lucene-style): exact-MaxSim flat ones and PLAID ones."""

from .segments import FlatSegment, PlaidSegment, Segment, SegmentDamaged, open_segment, write_segment
from .store import SegmentStore

__all__ = [
    "FlatSegment",
    "PlaidSegment",
    "Segment",
    "SegmentDamaged",
    "SegmentStore",
    "open_segment",
    "write_segment",
]
