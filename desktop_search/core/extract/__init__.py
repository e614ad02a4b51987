"""Text extraction: one module per format family, a registry by type, and an isolated worker pool.

The indexer only needs :func:`extract_many` (isolated, never raises for a bad file) and the
data types below; ``desktop-search extract`` uses :func:`extract_one`.
"""

from __future__ import annotations

from .types import Extracted, ExtractionFailed, ExtractLimits, ExtractOutcome, page_at

__all__ = [
    "Extracted",
    "ExtractionFailed",
    "ExtractLimits",
    "ExtractOutcome",
    "page_at",
    "extract_one",
    "extract_many",
    "KeptPool",
    "is_candidate",
]

from .pool import KeptPool, extract_many, extract_one  # noqa: E402
from .registry import is_candidate  # noqa: E402
