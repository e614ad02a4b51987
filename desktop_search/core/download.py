"""Downloading a model from the hub with byte-level progress and cancellation (no Qt here).

``huggingface_hub.snapshot_download`` reports progress only through a ``tqdm_class``. We hand it a
tqdm subclass that prints nothing, forwards the byte counts to a callback, and raises
:class:`DownloadCancelled` from ``update()`` (called for every received chunk, on the download
threads) once ``should_cancel()`` is true. The exception unwinds the download: the partly written
file stays in ``<target>/.cache/huggingface/download/*.incomplete`` and the next call resumes it with
an HTTP ``Range`` request. Nothing marks the folder complete here; :func:`desktop_search.core.model.download_model`
writes its ``.complete`` marker only after this returns and the folder validates.

Xet storage is switched off for these downloads: its transfers run in native code whose progress
callback cannot stop a file mid-way, while the plain HTTP path checks for cancel on every chunk and
resumes partial files.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm.std import tqdm as _std_tqdm

PROGRESS_INTERVAL_S = 0.1  # progress callbacks at most this often (plus one at the end)
CHUNK_BYTES = 256 * 1024  # the hub reads 10 MB per chunk: cancel and progress would lag by 10 MB


class DownloadCancelled(Exception):
    """The download was cancelled; what was fetched so far is kept for the next attempt."""


@dataclass(frozen=True)
class DownloadProgress:
    done_bytes: int
    total_bytes: int | None  # grows while files start (each file's size is known when it starts); None: unknown
    files_done: int = 0
    files_total: int | None = None

    @property
    def fraction(self) -> float | None:
        if not self.total_bytes:
            return None
        return min(1.0, self.done_bytes / self.total_bytes)


class _NullWriter:
    def write(self, _: str) -> int:
        return 0

    def flush(self) -> None:
        pass


class _Reporter:
    """Collects the byte counts of every bar the hub creates and reports one progress figure."""

    def __init__(self, progress: Callable[[DownloadProgress], None] | None,
                 should_cancel: Callable[[], bool] | None, min_interval_s: float):
        self.progress = progress
        self.should_cancel = should_cancel
        self.min_interval_s = min_interval_s
        self.bars: list[Any] = []
        self.lock = threading.Lock()
        self.last_report = 0.0
        self.cancelled = False

    def check(self) -> None:
        if self.cancelled or (self.should_cancel is not None and self.should_cancel()):
            self.cancelled = True
            raise DownloadCancelled("download cancelled")

    def snapshot(self) -> DownloadProgress:
        with self.lock:
            byte_bars = [b for b in self.bars if getattr(b, "unit", "") == "B"]
            file_bars = [b for b in self.bars if getattr(b, "unit", "") != "B"]
        files_done = sum(int(b.n) for b in file_bars)
        files_total = sum(int(b.total or 0) for b in file_bars) or None
        if byte_bars:
            # hub 1.x keeps two byte bars (received and written) over the same files: the furthest one counts
            bar = max(byte_bars, key=lambda b: (b.n, b.total or 0))
            return DownloadProgress(int(bar.n), int(bar.total) if bar.total else None, files_done, files_total)
        return DownloadProgress(0, None, files_done, files_total)

    def changed(self, force: bool = False) -> None:
        if self.progress is None:
            return
        now = time.monotonic()
        if not force and now - self.last_report < self.min_interval_s:
            return
        self.last_report = now
        self.progress(self.snapshot())


def reporting_tqdm(reporter: _Reporter) -> type:
    """A tqdm class for ``snapshot_download(tqdm_class=...)`` bound to ``reporter``."""

    class ReportingTqdm(_std_tqdm):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.pop("name", None)  # the hub passes a bar name only to its own tqdm subclass
            kwargs["disable"] = False  # the counts must be kept; nothing is printed (null file)
            kwargs["file"] = _NullWriter()
            kwargs["mininterval"] = 3600.0
            reporter.check()
            super().__init__(*args, **kwargs)
            with self._lock:  # hidden bars must not take screen positions from other tqdm bars in the process
                self._instances.discard(self)
            with reporter.lock:
                reporter.bars.append(self)

        def update(self, n: float | None = 1) -> bool | None:
            if self.unit == "B":  # bytes arrive on a download thread: stop it there (file counts: from callbacks)
                reporter.check()
            result = super().update(n)
            reporter.changed()
            return result

        def __iter__(self) -> Any:
            for item in super().__iter__():
                reporter.check()
                yield item

    return ReportingTqdm


def _tune_hub() -> None:
    """Plain HTTP (no xet) in small chunks, so progress is smooth and a cancel is honoured within 256 kB."""
    from huggingface_hub import constants

    constants.HF_HUB_DISABLE_XET = True
    constants.DOWNLOAD_CHUNK_SIZE = min(constants.DOWNLOAD_CHUNK_SIZE, CHUNK_BYTES)


def download_snapshot(
    repo_id: str,
    target: Path,
    progress: Callable[[DownloadProgress], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
    *,
    snapshot_download: Callable[..., Any] | None = None,
    min_interval_s: float | None = None,
) -> Path:
    """Download every file of hub repo ``repo_id`` into ``target`` (resuming partial files).

    ``progress`` is called (from download threads, at most every ``min_interval_s``, default
    :data:`PROGRESS_INTERVAL_S`, plus once at the end) with a :class:`DownloadProgress`;
    ``should_cancel`` is polled on every chunk and makes the call raise :class:`DownloadCancelled`.
    ``snapshot_download`` replaces the hub's function (tests).
    """
    if snapshot_download is None:
        _tune_hub()
        from huggingface_hub import snapshot_download as hub_snapshot_download

        snapshot_download = hub_snapshot_download
    target.mkdir(parents=True, exist_ok=True)
    interval = PROGRESS_INTERVAL_S if min_interval_s is None else min_interval_s
    reporter = _Reporter(progress, should_cancel, interval)
    reporter.check()
    try:
        snapshot_download(repo_id=repo_id, local_dir=str(target), tqdm_class=reporting_tqdm(reporter))
    finally:
        for bar in reporter.bars:
            bar.close()
    reporter.changed(force=True)  # every file is in place: a cancel that came too late changes nothing
    return target


__all__ = ["DownloadCancelled", "DownloadProgress", "download_snapshot"]
