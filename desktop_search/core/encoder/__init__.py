"""Turn text into ColBERT token vectors with char offsets (:class:`Encoder`), one module per job:

* :mod:`.encoding` -- the :class:`Encoder` (documents and queries; its thread rules are there);
* :mod:`.windows` -- cutting a text's tokens into windows, and length-bucketed batches by token budget;
* :mod:`.loading` -- the device a loaded model runs on (setting ``device``: auto | cpu | cuda | mps,
  with a fallback to the CPU and a one-line note) and the optional int8 quantisation;
* :mod:`.glue` -- the long-context attention switch (:mod:`..attention`) and the stop hooks;
* :mod:`.resources` -- how long a window fits in memory, and the low OS priority of indexing;
* :mod:`.vectors` -- what the encoder hands out.

The attention of the model is whatever :func:`prepare_model` leaves in place: for ModernBERT that is
the blocked attention of :mod:`..attention` (no n×n mask), so a window can be 32k tokens in about 1.5 GB.
"""

from __future__ import annotations

from .encoding import BATCH_BUDGET, DocStats, Encoder
from .glue import prepare_model, stop_hooks
from .loading import DEVICES, PROBE_TEXT, DeviceChoice, choose_device, move_to_device, quantize_if_close
from .resources import (
    BLOCKED_BYTES_PER_TOKEN_PER_HIDDEN,
    MIN_CONTEXT,
    NICE_ENV,
    available_memory_bytes,
    context_length_note,
    fit_context_length,
    lower_priority,
    window_bytes,
)
from .vectors import EncodingStopped, PassageVectors, QueryVectors
from .windows import BatchPlan, plan_batches, plan_windows

__all__ = [
    "BATCH_BUDGET", "BLOCKED_BYTES_PER_TOKEN_PER_HIDDEN", "DEVICES", "MIN_CONTEXT", "NICE_ENV", "PROBE_TEXT",
    "BatchPlan", "DeviceChoice", "DocStats", "Encoder", "EncodingStopped", "PassageVectors", "QueryVectors",
    "available_memory_bytes", "choose_device", "context_length_note", "fit_context_length", "lower_priority",
    "move_to_device", "plan_batches", "plan_windows", "prepare_model", "quantize_if_close", "stop_hooks",
    "window_bytes",
]
