"""Isolated extraction: each file is read in a worker process with a timeout."""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing as mp
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from .registry import run_extractor
from .types import ExtractionFailed, ExtractLimits, ExtractOutcome


def extract_one(path: str | os.PathLike[str], limits: ExtractLimits | None = None) -> ExtractOutcome:
    """Extract in this process (used by workers and by ``desktop-search extract``)."""
    limits = limits or ExtractLimits()
    p = Path(path)
    try:
        return ExtractOutcome(path=str(p), result=run_extractor(p, limits))
    except ExtractionFailed as exc:
        return ExtractOutcome(path=str(p), error=exc.reason)
    except FileNotFoundError:
        return ExtractOutcome(path=str(p), error="file disappeared before it could be read")
    except PermissionError:
        return ExtractOutcome(path=str(p), error="permission denied")
    except IsADirectoryError:
        return ExtractOutcome(path=str(p), error="is a directory")
    except MemoryError:
        return ExtractOutcome(path=str(p), error="ran out of memory")
    except Exception as exc:  # an extractor bug must never stop indexing
        return ExtractOutcome(path=str(p), error=f"extractor error: {type(exc).__name__}: {exc}"[:300])


def extract_many(
    paths: Iterable[str], limits: ExtractLimits | None = None, workers: int | None = None
) -> Iterator[ExtractOutcome]:
    """Yield one outcome per path (any order); never raises for a bad file."""
    limits = limits or ExtractLimits()
    workers = workers or max(1, min(2, os.cpu_count() or 1))
    ctx = mp.get_context("spawn")
    paths = list(paths)
    if not paths:
        return
    with cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as executor:
        futures = {executor.submit(extract_one, p, limits): p for p in paths}
        for future in cf.as_completed(futures):
            path = futures[future]
            try:
                yield future.result()
            except Exception as exc:
                yield ExtractOutcome(path=path, error=f"extraction worker crashed ({type(exc).__name__})")
