"""What the encoder hands out: token vectors with their char spans, and the stop signal."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class EncodingStopped(Exception):
    """``encode_documents`` was asked to stop; nothing of the batch is returned."""


@dataclass
class PassageVectors:
    vectors: np.ndarray  # (tokens, dim) float16, L2-normalised
    spans: np.ndarray  # (tokens, 2) uint16 char offsets relative to the passage start


@dataclass
class QueryVectors:
    vectors: np.ndarray  # (tokens, dim) float32
    spans: list[tuple[int, int]]  # char span in the query of each vector ((0, 0) for specials)
    model_key: str = ""  # the model that made them: search uses only segments of the same model
