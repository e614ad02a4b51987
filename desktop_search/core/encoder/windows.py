"""Windows and batches: where a text's tokens are cut into model windows, and which windows share a
forward call.

Batches are length-bucketed under a token budget: windows are sorted by length and taken in that order
while the batch's padded size (its count × its longest window) stays within ``budget`` tokens, so a
batch holds windows of nearly one length and padding is a few per cent (``BatchPlan.padding``), never
a short text padded to a long one. Windows longer than ``long_window`` share a batch only with windows
of exactly their length (no padding at all: attention cost grows with the square of the padded length).

Pure functions of lengths: no model, no torch, safe from any thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


def plan_windows(n_tokens: int, window: int, overlap: int) -> list[tuple[int, int, int, int]]:
    """(start, end, own_start, own_end) of each window; owned ranges tile [0, n)."""
    if n_tokens <= window:
        return [(0, n_tokens, 0, n_tokens)]
    # as few windows as the overlap allows, all of one (balanced) size: a file just over the context
    # length becomes two half-size windows, not two full ones (attention cost grows with size²)
    stride = window - overlap
    count = -(-(n_tokens - overlap) // stride)
    size = min(window, -(-(n_tokens + (count - 1) * overlap) // count))
    starts = [round(k * (n_tokens - size) / (count - 1)) for k in range(count)]
    ends = [s + size for s in starts]
    # a token belongs to the window where it is furthest from an edge: cut overlaps in the middle
    own_starts = [0] + [(starts[k] + ends[k - 1]) // 2 for k in range(1, len(starts))]
    own_ends = own_starts[1:] + [n_tokens]
    return list(zip(starts, ends, own_starts, own_ends, strict=True))


@dataclass
class BatchPlan:
    batches: list[list[int]] = field(default_factory=list)  # indices into the lengths, shortest first
    tokens: int = 0  # real tokens
    padded: int = 0  # tokens the forward calls process (count × longest, per batch)

    @property
    def padding(self) -> float:
        """Share of the processed tokens that are padding."""
        return 1.0 - self.tokens / self.padded if self.padded else 0.0


def plan_batches(lengths: Sequence[int], budget: int, max_batch: int, long_window: int = 1024) -> BatchPlan:
    """Length-bucketed batches: sorted by length, each batch's padded tokens (count × longest) within
    ``budget`` (a single window longer than the budget is a batch of its own), at most ``max_batch``
    windows, and windows longer than ``long_window`` only with windows of their very length."""
    plan = BatchPlan()
    order = sorted(range(len(lengths)), key=lambda j: lengths[j])
    batch: list[int] = []

    def close() -> None:
        if batch:
            plan.batches.append(list(batch))
            plan.padded += len(batch) * lengths[batch[-1]]
            batch.clear()

    for j in order:
        length = lengths[j]
        plan.tokens += length
        if batch and (
            length * (len(batch) + 1) > budget
            or len(batch) >= max_batch
            or (length > long_window and length != lengths[batch[-1]])
        ):
            close()
        batch.append(j)
    close()
    return plan
