"""Archives: zip, tar (plain, .gz, .bz2, .xz), 7z, and single files compressed with gzip/bzip2/xz.

Every member is a document of its own, read by its own format's extractor and indexed as
``archive.zip!/path/in/archive`` (a member of a nested archive: ``a.zip!/b.tar!/c.txt``). This runs inside
an isolated extraction worker, under its time and memory caps, and is written for hostile archives:

* nothing is ever written under a member's name: a member is copied, one at a time, to a numbered file in
  a private temporary folder (``ds-archive-*`` under the system's temp folder), read, and deleted; the
  folder goes when the archive is done. A member whose name leads outside the archive (``../../x``, an
  absolute path, a drive letter) is not read and fails with a reason; links are never followed;
* bombs: the declared sizes are checked before anything is inflated, and the bytes really inflated are
  counted while copying (headers can lie) against ``max_unpacked_bytes`` for the whole archive, nested ones
  included, and against ``max_compression_ratio`` times the archive's size (past an 8 MB floor); more than
  :data:`MAX_MEMBERS` members, or a breach of either cap, fails the whole archive with a reason;
* nesting: archives inside archives are opened :data:`MAX_DEPTH` levels deep; a deeper one fails, as a
  member, with a reason.

The archive's own text is the list of its members' paths, so a search for a file name finds the archive.
"""

from __future__ import annotations

import errno
import io
import os
import re
import shutil
import stat
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from .types import Extracted, ExtractionFailed, ExtractLimits, Member

MAX_DEPTH = 3  # the archive on disk is depth 1
MAX_MEMBERS = 10_000  # all levels together
SEPARATOR = "!/"  # between an archive's path and a member's path in it
_RATIO_FLOOR_BYTES = 8 * 1024 * 1024
_CHUNK = 1024 * 1024
_SUFFIX_OK = re.compile(r"^\.[A-Za-z0-9_-]{1,16}$")
_COMPRESSED_SINGLE = {b"\x1f\x8b": "gzip", b"BZh": "bz2", b"\xfd7zXZ\x00": "xz"}
_7Z_MAGIC = b"7z\xbc\xaf\x27\x1c"


def _mb(n: float) -> str:
    return f"{n / (1024 * 1024):,.0f} MB"


def safe_member_name(raw: str) -> str | None:
    """The member's path in the archive, normalised ("a/./b" -> "a/b"), or None when it is unsafe: absolute,
    with a drive letter, a NUL, or a ``..`` that leads out of the archive."""
    name = raw.replace("\\", "/")
    if not name or "\x00" in name or name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return None
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        return None
    return "/".join(parts)


@dataclass
class _Entry:
    """One member as an opener lists it, before anything is inflated."""

    raw_name: str
    size: int  # declared (may lie)
    kind: str  # file | dir | link | special | encrypted
    open: Callable[[], IO[bytes]] | None = None


class _Budget:
    """What one archive (nested ones included) may still unpack; shared by every level."""

    def __init__(self, limits: ExtractLimits, archive_bytes: int):
        self.limits = limits
        self.members = 0
        self.unpacked = 0
        self.text_chars = 0
        self.max_bytes = limits.max_unpacked_bytes
        self.max_by_ratio = max(_RATIO_FLOOR_BYTES, archive_bytes * max(1, limits.max_compression_ratio))

    def count_member(self) -> None:
        self.members += 1
        if self.members > MAX_MEMBERS:
            raise ExtractionFailed(f"archive bomb refused: more than {MAX_MEMBERS:,} files in the archive")

    def check_declared(self, total: int) -> None:
        if self.unpacked + total > self.max_bytes:
            raise ExtractionFailed(
                f"archive bomb refused: it would unpack to {_mb(self.unpacked + total)} "
                f"(limit {_mb(self.max_bytes)})"
            )

    def take(self, n: int) -> None:
        self.unpacked += n
        if self.unpacked > self.max_bytes:
            raise ExtractionFailed(f"archive bomb refused: it unpacks to more than {_mb(self.max_bytes)}")
        if self.unpacked > self.max_by_ratio:
            raise ExtractionFailed(
                f"archive bomb refused: it unpacks to more than {self.limits.max_compression_ratio} times "
                f"its size ({_mb(self.unpacked)} so far)"
            )


# --- openers: list the members of one archive ------------------------------------------------------
def _zip_entries(path: Path) -> Iterator[_Entry]:
    try:
        zf = zipfile.ZipFile(path)
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, NotImplementedError) as exc:
        raise ExtractionFailed("corrupt ZIP archive") from exc
    with zf:
        for info in infos:
            mode = info.external_attr >> 16
            if not info.filename:  # a damaged central directory: nothing to name it by
                yield _Entry("", info.file_size, "file", None)
                continue
            if info.is_dir():
                kind = "dir"
            elif stat.S_ISLNK(mode):
                kind = "link"
            elif info.flag_bits & 0x1:
                kind = "encrypted"
            else:
                kind = "file"
            yield _Entry(info.filename, info.file_size, kind, lambda info=info: zf.open(info))


def _tar_entries(path: Path) -> Iterator[_Entry]:
    try:
        tf = tarfile.open(path, "r:*")  # noqa: SIM115 (closed by the `with tf:` below, after the error check)
    except (tarfile.TarError, EOFError, zlib.error, ValueError) as exc:
        raise ExtractionFailed("corrupt or unsupported archive") from exc
    with tf:
        try:
            for info in tf:
                if info.isdir():
                    kind = "dir"
                elif info.issym() or info.islnk():
                    kind = "link"
                elif info.isfile():
                    kind = "file"
                else:
                    kind = "special"
                opener = (lambda info=info: tf.extractfile(info)) if kind == "file" else None
                yield _Entry(info.name, info.size, kind, opener)  # type: ignore[arg-type]
        except (tarfile.TarError, EOFError, zlib.error) as exc:
            raise ExtractionFailed("corrupt tar archive (damaged data)") from exc


def _single_entries(path: Path, codec: str) -> Iterator[_Entry]:
    """A single compressed file (notes.txt.gz): one member, named without the compression suffix."""
    import bz2
    import gzip
    import lzma

    opener = {"gzip": gzip.open, "bz2": bz2.open, "xz": lzma.open}[codec]
    name = path.name
    stem, suffix = os.path.splitext(name)
    if suffix.lower() in (".gz", ".bz2", ".xz", ".tgz", ".tbz2", ".txz"):
        name = stem if suffix.lower() in (".gz", ".bz2", ".xz") else stem + ".tar"
    yield _Entry(name, 0, "file", lambda: opener(path, "rb"))  # type: ignore[no-any-return]


def _entries(path: Path) -> Iterator[_Entry]:
    with open(path, "rb") as handle:
        head = handle.read(512 + 8)
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _zip_entries(path)
    if head.startswith(_7Z_MAGIC):
        return iter(())  # read through _read_7z (py7zr streams a solid archive in one pass)
    if len(head) >= 262 and head[257:262] == b"ustar":
        return _tar_entries(path)
    for magic, codec in _COMPRESSED_SINGLE.items():
        if head.startswith(magic):
            if _is_compressed_tar(path):
                return _tar_entries(path)
            return _single_entries(path, codec)
    raise ExtractionFailed("not a ZIP, tar or 7z archive")


def _is_compressed_tar(path: Path) -> bool:
    try:
        with tarfile.open(path, "r:*") as tf:
            return tf.next() is not None
    except (tarfile.TarError, EOFError, zlib.error, ValueError, OSError):
        return False


# --- reading -----------------------------------------------------------------------------------------
class _Reader:
    def __init__(self, limits: ExtractLimits, budget: _Budget, tmp: Path):
        self.limits = limits
        self.budget = budget
        self.tmp = tmp
        self.members: list[Member] = []
        self._n = 0

    def scratch(self, name: str) -> Path:
        """A fresh numbered file in the private folder, with the member's suffix when it is a plain one."""
        self._n += 1
        suffix = os.path.splitext(name.rsplit("/", 1)[-1])[1]
        return self.tmp / f"{self._n:06d}{suffix if _SUFFIX_OK.match(suffix) else ''}"

    def read(self, path: Path, prefix: str, depth: int) -> None:
        if _starts_7z(path):
            from .archive_7z import read_7z

            read_7z(self, path, prefix, depth)
            return
        for entry in _entries(path):
            self._entry(entry, prefix, depth)

    def _entry(self, entry: _Entry, prefix: str, depth: int) -> None:
        if entry.kind == "dir":
            return
        self.budget.count_member()
        name = safe_member_name(entry.raw_name)
        shown = prefix + (name or entry.raw_name)
        if name is None:
            self.members.append(Member(shown, error="unsafe path in the archive (it leads outside): not read"))
            return
        if entry.kind == "link":
            self.members.append(Member(shown, error="link inside the archive: not followed", skipped=True))
            return
        if entry.kind == "special":
            self.members.append(Member(shown, error="device or pipe inside the archive: not read", skipped=True))
            return
        if entry.kind == "encrypted":
            self.members.append(Member(shown, error="password-protected file in the archive", size=entry.size))
            return
        if (skip := _skip_reason(name)) is not None:
            self.members.append(Member(shown, error=skip, skipped=True, size=entry.size))
            return
        if entry.size > self.limits.max_file_bytes:
            self.members.append(Member(shown, error=_too_large(self.limits), size=entry.size))
            return
        self.budget.check_declared(entry.size)
        assert entry.open is not None
        target = self.scratch(name)
        try:
            try:
                with entry.open() as stream:
                    size = self._copy(stream, target)
            except _TooLarge:
                self.members.append(Member(shown, error=_too_large(self.limits), size=entry.size))
                return
            except (zipfile.BadZipFile, zlib.error, EOFError, tarfile.TarError, NotImplementedError, ValueError) as exc:
                self.members.append(Member(shown, error=f"damaged data in the archive ({type(exc).__name__})"))
                return
            except OSError as exc:
                if exc.errno not in (None, errno.EINVAL):  # EINVAL: a seek to a damaged header's offset
                    raise
                self.members.append(Member(shown, error=f"damaged data in the archive ({type(exc).__name__})"))
                return
            self.extract(target, name, shown, size, depth)
        finally:
            target.unlink(missing_ok=True)

    def _copy(self, stream: IO[bytes], target: Path) -> int:
        size = 0
        # O_EXCL: the scratch name is new; nothing already there (a planted link) is followed or overwritten
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
        with open(fd, "wb") as out:
            while chunk := stream.read(_CHUNK):
                size += len(chunk)
                self.budget.take(len(chunk))
                if size > self.limits.max_file_bytes:
                    raise _TooLarge()
                out.write(chunk)
        return size

    def extract(self, target: Path, name: str, shown: str, size: int, depth: int) -> None:
        if _is_archive(target, name):
            if depth >= MAX_DEPTH:
                self.members.append(
                    Member(shown, error=f"archive nested more than {MAX_DEPTH} levels deep: not opened", size=size)
                )
                return
            before = len(self.members)
            try:
                self.read(target, shown + SEPARATOR, depth + 1)
            except ExtractionFailed as exc:
                if exc.reason.startswith("archive bomb"):
                    raise
                del self.members[before:]
                self.members.append(Member(shown, error=exc.reason, size=size))
                return
            listing = "\n".join(m.name[len(shown) + len(SEPARATOR) :] for m in self.members[before:])
            self.members.insert(before, Member(shown, result=Extracted(text=listing, extractor="archive"), size=size))
            return
        from .pool import extract_in_process

        outcome = extract_in_process(target, self.limits)
        result = outcome.result
        if result is not None:
            room = self.limits.max_text_chars - self.budget.text_chars
            if room <= 0:
                self.members.append(Member(shown, error="not read: the archive's text limit was reached", size=size))
                return
            if len(result.text) > room:
                result.text = result.text[:room]
                result.metadata["truncated"] = "yes"
            self.budget.text_chars += len(result.text)
        inner = result.members if result is not None else []
        if result is not None:
            result.members = []
        self.members.append(Member(shown, result=result, error=outcome.error, skipped=outcome.skipped, size=size))
        for m in inner:  # a document with members of its own (a message's attachments): flattened under it
            m.name = shown + SEPARATOR + m.name
            self.members.append(m)


def _starts_7z(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(6) == _7Z_MAGIC


class _TooLarge(Exception):
    pass


def _too_large(limits: ExtractLimits) -> str:
    return f"file is larger than the {limits.max_file_bytes // (1024 * 1024)} MB limit"


def _skip_reason(name: str) -> str | None:
    from .registry import skip_reason

    return skip_reason(name.rsplit("/", 1)[-1])


def _is_archive(_path: Path, name: str) -> bool:
    from .registry import is_archive_name

    return is_archive_name(name)


def extract_archive(path: Path, limits: ExtractLimits) -> Extracted:
    budget = _Budget(limits, path.stat().st_size)
    tmp = Path(tempfile.mkdtemp(prefix="ds-archive-"))
    try:
        reader = _Reader(limits, budget, tmp)
        reader.read(path, "", 1)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    listing = "\n".join(m.name for m in reader.members)
    return Extracted(
        text=listing, extractor="archive", members=reader.members, metadata={"members": str(len(reader.members))}
    )


def read_blobs(items: list[tuple[str, bytes]], limits: ExtractLimits) -> list[Member]:
    """Files held in memory by a container that is not an archive (a message's attachments), read as
    members with the same guards: names as given (one level), nested archives opened as above."""
    budget = _Budget(limits, sum(len(data) for _, data in items))
    tmp = Path(tempfile.mkdtemp(prefix="ds-archive-"))
    try:
        reader = _Reader(limits, budget, tmp)
        for name, data in items:
            shown = name.replace("/", "_").replace("\\", "_") or "attachment"
            reader._entry(_Entry(shown, len(data), "file", lambda data=data: io.BytesIO(data)), "", 1)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return reader.members
