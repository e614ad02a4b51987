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
resumes partial files. Those hub settings are process-wide constants: they are changed only for the
duration of a download and put back afterwards (:func:`hub_tuned`).

Integrity: a model with a :class:`ModelPin` is downloaded at that exact commit, only the pinned files,
and each file's SHA-256 must match before the folder is marked complete; a file that does not match is
set aside (``.rejected/``) and fetched again once, and a model that still fails is never marked complete,
so it is never loaded. Every completed download also records each file's size and SHA-256
(``.manifest.json``): a file damaged or cut short later is noticed before loading (sizes, at every
start) and downloaded again.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
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


_HUB_LOCK = threading.Lock()
_hub_users = 0
_hub_saved: dict[str, Any] = {}


@contextmanager
def hub_tuned() -> Iterator[None]:
    """Plain HTTP (no xet) in small chunks, so progress is smooth and a cancel is honoured within 256 kB,
    for as long as a download runs. The hub keeps these as module constants (process-wide): they are put
    back when the last download ends, so anything else in the process using the hub is not changed."""
    global _hub_users
    from huggingface_hub import constants

    with _HUB_LOCK:
        if _hub_users == 0:
            _hub_saved.update(HF_HUB_DISABLE_XET=constants.HF_HUB_DISABLE_XET,
                              DOWNLOAD_CHUNK_SIZE=constants.DOWNLOAD_CHUNK_SIZE)
            constants.HF_HUB_DISABLE_XET = True
            constants.DOWNLOAD_CHUNK_SIZE = min(constants.DOWNLOAD_CHUNK_SIZE, CHUNK_BYTES)
        _hub_users += 1
    try:
        yield
    finally:
        with _HUB_LOCK:
            _hub_users -= 1
            if _hub_users == 0:
                for name, value in _hub_saved.items():
                    setattr(constants, name, value)
                _hub_saved.clear()


def download_snapshot(
    repo_id: str,
    target: Path,
    progress: Callable[[DownloadProgress], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
    *,
    snapshot_download: Callable[..., Any] | None = None,
    min_interval_s: float | None = None,
    revision: str | None = None,
    allow_patterns: list[str] | None = None,
) -> Path:
    """Download every file of hub repo ``repo_id`` into ``target`` (resuming partial files).

    ``progress`` is called (from download threads, at most every ``min_interval_s``, default
    :data:`PROGRESS_INTERVAL_S`, plus once at the end) with a :class:`DownloadProgress`;
    ``should_cancel`` is polled on every chunk and makes the call raise :class:`DownloadCancelled`.
    ``snapshot_download`` replaces the hub's function (tests). ``revision`` and ``allow_patterns`` are
    handed to it (a pinned commit, only the pinned files).
    """
    if snapshot_download is None:
        from huggingface_hub import snapshot_download as hub_snapshot_download

        snapshot_download = hub_snapshot_download
    target.mkdir(parents=True, exist_ok=True)
    interval = PROGRESS_INTERVAL_S if min_interval_s is None else min_interval_s
    reporter = _Reporter(progress, should_cancel, interval)
    reporter.check()
    extra: dict[str, Any] = {}
    if revision is not None:
        extra["revision"] = revision
    if allow_patterns is not None:
        extra["allow_patterns"] = allow_patterns
    try:
        with hub_tuned():
            snapshot_download(repo_id=repo_id, local_dir=str(target), tqdm_class=reporting_tqdm(reporter), **extra)
    finally:
        for bar in reporter.bars:
            bar.close()
    reporter.changed(force=True)  # every file is in place: a cancel that came too late changes nothing
    return target


# ------------------------------------------------------------------------------------- integrity
@dataclass(frozen=True)
class ModelPin:
    """A hub model fixed to one commit, with the SHA-256 of every file the app needs from it."""

    revision: str  # a commit sha (40 hex digits): what is downloaded, whatever "main" becomes
    sha256: Mapping[str, str] = field(default_factory=dict)  # path in the repo -> hex SHA-256


# >>> THE DEFAULT MODEL'S PIN: FILL IN BEFORE A RELEASE <<<
# This code was written on a machine that cannot reach the hub, so the commit and hashes of
# mixedbread-ai/mxbai-edge-colbert-v0-32m are not known here and nothing is made up. On a connected
# machine run `python -m desktop_search.core.download pin mixedbread-ai/mxbai-edge-colbert-v0-32m` and paste
# its output below. While this is None the default model downloads from "main" (the hub checks each file's
# size), and its hashes are recorded at download so later damage is still caught before loading.
DEFAULT_MODEL_PIN: ModelPin | None = None

PINS: dict[str, ModelPin] = {}


def pin_for(repo_id: str) -> ModelPin | None:
    """The pin of a hub model, if the app has one (the default model, once filled in above)."""
    if repo_id in PINS:
        return PINS[repo_id]
    from .config import DEFAULT_MODEL

    return DEFAULT_MODEL_PIN if repo_id == DEFAULT_MODEL else None


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def verify_files(target: Path, expected: Mapping[str, str]) -> dict[str, str]:
    """Files of ``expected`` that are missing or whose SHA-256 differs: {name: what is wrong}."""
    bad: dict[str, str] = {}
    for name, want in sorted(expected.items()):
        path = target / name
        if not path.is_file():
            bad[name] = "missing"
            continue
        got = sha256_file(path)
        if got != want.lower():
            bad[name] = f"SHA-256 {got[:12]}… instead of {want[:12]}…"
    return bad


def model_files(target: Path) -> list[str]:
    """The model's own files (not the hub's cache, our markers or what was set aside), as repo paths."""
    out = []
    for path in sorted(target.rglob("*")):
        rel = path.relative_to(target).as_posix()
        if path.is_file() and not rel.startswith((".cache/", ".rejected/")) and not rel.startswith("."):
            out.append(rel)
    return out


MANIFEST = ".manifest.json"


def write_manifest(target: Path, repo_id: str, revision: str | None) -> dict[str, Any]:
    """Record every file's size and SHA-256 of a verified download (written before ``.complete``)."""
    files = {name: [(target / name).stat().st_size, sha256_file(target / name)] for name in model_files(target)}
    manifest = {"repo_id": repo_id, "revision": revision, "files": files}
    tmp = target / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=1))
    os.replace(tmp, target / MANIFEST)
    return manifest


def damaged_files(target: Path, *, deep: bool = False) -> dict[str, str]:
    """Files of a completed download that no longer match its manifest: sizes always (cheap, every
    start), SHA-256 too when ``deep``. An old download without a manifest is taken as it is."""
    try:
        manifest = json.loads((target / MANIFEST).read_text())
        files = manifest["files"]
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, KeyError, TypeError):
        return {MANIFEST: "unreadable"}
    bad: dict[str, str] = {}
    for name, (size, digest) in files.items():
        path = target / name
        try:
            got = path.stat().st_size
        except OSError:
            bad[name] = "missing"
            continue
        if got != size:
            bad[name] = f"{got} bytes instead of {size}"
        elif deep and sha256_file(path) != digest:
            bad[name] = "content changed (SHA-256)"
    return bad


def set_aside(target: Path, names: list[str]) -> Path:
    """Move damaged files (and the hub's partial/metadata files for them, which a resume would reuse)
    to ``.rejected/<time>/``, kept for a look; the next download fetches them afresh."""
    folder = target / ".rejected" / time.strftime("%Y%m%d-%H%M%S")
    hub_dir = target / ".cache" / "huggingface" / "download"
    for name in names:
        candidates = [target / name, *hub_dir.glob(name.replace("/", "--") + ".*"), *hub_dir.glob(name + ".*")]
        for path in candidates:
            if path.is_file():
                dest = folder / path.relative_to(target)
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.replace(path, dest)
    return folder


def make_pin(repo_id: str, revision: str | None = None) -> str:
    """Source text of a :class:`ModelPin` for ``repo_id`` (network: downloads it to a temporary folder)."""
    import tempfile

    from huggingface_hub import HfApi, snapshot_download

    info = HfApi().model_info(repo_id, revision=revision)
    with tempfile.TemporaryDirectory() as tmp:
        snapshot_download(repo_id=repo_id, revision=info.sha, local_dir=tmp)
        files = {name: sha256_file(Path(tmp) / name) for name in model_files(Path(tmp))}
    body = "".join(f'    "{name}": "{digest}",\n' for name, digest in files.items())
    return f'DEFAULT_MODEL_PIN = ModelPin(revision="{info.sha}", sha256={{\n{body}}})  # {repo_id}'


__all__ = ["DownloadCancelled", "DownloadProgress", "ModelPin", "download_snapshot", "pin_for", "verify_files"]


if __name__ == "__main__":  # python -m desktop_search.core.download pin REPO [REVISION]
    import sys

    if len(sys.argv) >= 3 and sys.argv[1] == "pin":
        print(make_pin(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None))
    else:
        sys.exit("usage: python -m desktop_search.core.download pin REPO_ID [REVISION]")
