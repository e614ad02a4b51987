"""7z archives for :mod:`.archive`: py7zr inflates a solid archive in one pass, so members stream through a
writer factory into numbered scratch files and are read as each one is closed. Same guards as the other
archives: declared sizes first, inflated bytes counted while writing, unsafe names and links not read."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import IO, Any

from .archive import _Entry, _Reader, _skip_reason, _too_large, safe_member_name
from .types import ExtractionFailed, ExtractLimits, Member


def _damaged(exc: BaseException) -> ExtractionFailed:
    """A one-line reason for whatever py7zr and its codecs raise on a damaged archive (LZMAError, CrcError,
    Bad7zFile, struct errors... found by fuzzing); I/O errors and memory exhaustion are not this."""
    if isinstance(exc, ExtractionFailed):
        return exc
    if isinstance(exc, MemoryError) or (isinstance(exc, OSError) and exc.errno not in (None, errno.EINVAL)):
        raise exc
    if "password" in f"{type(exc).__name__} {exc}".lower():
        return ExtractionFailed("password-protected 7z archive")
    return ExtractionFailed(f"corrupt 7z archive ({type(exc).__name__})")


def read_7z(reader: _Reader, path: Path, prefix: str, depth: int) -> None:
    import py7zr

    try:
        archive = py7zr.SevenZipFile(path, "r")
        with archive:
            if archive.needs_password():
                raise ExtractionFailed("password-protected 7z archive")
            _read(reader, archive, path, prefix, depth)
    except RecursionError:
        raise
    except Exception as exc:  # noqa: BLE001 - mapped to one line by _damaged
        raise _damaged(exc) from exc


def _read(reader: _Reader, archive: Any, _path: Path, prefix: str, depth: int) -> None:
    infos = archive.list()
    wanted: dict[str, Any] = {}
    for info in infos:
        kind = "dir" if info.is_directory else ("link" if _7z_is_link(info) else "file")
        entry = _Entry(info.filename, int(info.uncompressed or 0), kind)
        if kind == "file" and _7z_wanted(entry, reader.limits):
            wanted[info.filename] = entry
            reader.budget.count_member()
        else:
            reader._entry(entry, prefix, depth)
    if not wanted:
        return
    reader.budget.check_declared(sum(e.size for e in wanted.values()))
    sink = _SevenZipSink(reader, prefix, depth, wanted)
    try:
        archive.extract(targets=list(wanted), factory=sink)
    finally:
        sink.cleanup()
    if sink.failure is not None:
        raise sink.failure


def _7z_is_link(info: Any) -> bool:
    return bool(getattr(info, "is_symlink", False))


def _7z_wanted(entry: _Entry, limits: ExtractLimits) -> bool:
    """A 7z member worth inflating: a safe name, a document type, within the size limit."""
    name = safe_member_name(entry.raw_name)
    return name is not None and _skip_reason(name) is None and entry.size <= limits.max_file_bytes


class _SevenZipSink:
    """py7zr's writer factory: each member streams into a numbered scratch file, which is read and deleted
    when py7zr closes it (a solid 7z is inflated in one pass)."""

    def __init__(self, reader: _Reader, prefix: str, depth: int, wanted: dict[str, _Entry]):
        self.reader = reader
        self.prefix = prefix
        self.depth = depth
        self.wanted = wanted
        self.failure: ExtractionFailed | None = None
        self.open_files: list[Path] = []

    def create(self, filename: str) -> Any:
        return _SevenZipMember(self, filename)

    def cleanup(self) -> None:
        for p in self.open_files:
            p.unlink(missing_ok=True)


class _SevenZipMember:
    def __init__(self, sink: _SevenZipSink, filename: str):
        self.sink = sink
        self.filename = filename
        name = safe_member_name(filename) or "member"
        self.name = name
        self.path = sink.reader.scratch(name)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
        self.handle: IO[bytes] | None = open(fd, "wb")  # noqa: SIM115 (kept open across py7zr's writes; closed in close())
        sink.open_files.append(self.path)
        self.written = 0
        self.too_large = False

    def write(self, data: bytes | bytearray) -> int:
        if self.sink.failure is not None or self.handle is None:
            return len(data)
        try:
            self.sink.reader.budget.take(len(data))
        except ExtractionFailed as exc:
            self.sink.failure = exc
            raise
        self.written += len(data)
        if self.written > self.sink.reader.limits.max_file_bytes:
            self.too_large = True
            return len(data)
        self.handle.write(data)
        return len(data)

    def read(self, size: int | None = None) -> bytes:  # noqa: ARG002 (the file-object interface)
        return b""

    def seek(self, offset: int, whence: int = 0) -> int:  # noqa: ARG002 (the file-object interface)
        return 0

    def flush(self) -> None:
        if self.handle is not None:
            self.handle.flush()

    def size(self) -> int:
        return self.written

    def close(self) -> None:
        if self.handle is None:
            return
        self.handle.close()
        self.handle = None
        reader = self.sink.reader
        shown = self.sink.prefix + self.name
        try:
            if self.sink.failure is None:
                if self.too_large:
                    reader.members.append(Member(shown, error=_too_large(reader.limits), size=self.written))
                else:
                    reader.extract(self.path, self.name, shown, self.written, self.sink.depth)
        except ExtractionFailed as exc:
            self.sink.failure = exc
        finally:
            self.path.unlink(missing_ok=True)
