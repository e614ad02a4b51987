"""Guarded access to ZIP containers and XML parts (OOXML, ODF, EPUB).

Two attacks matter here and both are refused before any real work is done:

* decompression bombs: every member's declared size and compression ratio is checked on the central
  directory before a single byte is inflated, and :class:`zipfile.ZipExtFile` never yields more than the
  declared size, so a lying header only truncates;
* XML entity expansion ("billion laughs") and external entities (XXE): parts are parsed with
  ``resolve_entities=False``, ``load_dtd=False``, ``no_network=True`` and without ``huge_tree``, and a
  part that declares any entity in its DTD is refused outright (no OOXML/ODF/OPF part has a legitimate
  reason to).
"""

from __future__ import annotations

import errno
import posixpath
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from .types import ExtractionFailed, ExtractLimits

# Members smaller than this are never refused for their ratio (tiny highly repetitive XML is normal).
_RATIO_FLOOR_BYTES = 8 * 1024 * 1024


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):,.0f} MB"


class SafeZip:
    """A ZIP file whose members are checked for size and compression ratio before inflating."""

    def __init__(self, path: Path, limits: ExtractLimits, *, what: str = "ZIP container"):
        self.limits = limits
        self.what = what
        try:
            self.zf = zipfile.ZipFile(path)
            infos = self.zf.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, OSError, NotImplementedError) as exc:
            # a real I/O error, not a format problem (EINVAL: zipfile seeking to a negative offset read from a
            # damaged header)
            if (isinstance(exc, OSError) and not isinstance(exc, zipfile.BadZipFile) and exc.errno is not None
                    and exc.errno != errno.EINVAL):
                raise
            raise ExtractionFailed(f"corrupt {what}") from exc
        self._by_name: dict[str, zipfile.ZipInfo] = {}
        self._by_lower: dict[str, zipfile.ZipInfo] = {}
        total = 0
        for info in infos:
            if info.is_dir():
                continue
            name = info.filename.replace("\\", "/").lstrip("/")
            self._by_name[name] = info
            self._by_lower.setdefault(name.lower(), info)
            total += info.file_size
        if total > limits.max_unpacked_bytes:
            raise ExtractionFailed(
                f"ZIP bomb refused: {what} would unpack to {_mb(total)} (limit {_mb(limits.max_unpacked_bytes)})"
            )

    def close(self) -> None:
        self.zf.close()

    def __enter__(self) -> SafeZip:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def names(self) -> list[str]:
        return list(self._by_name)

    def info(self, name: str) -> zipfile.ZipInfo | None:
        name = name.replace("\\", "/").lstrip("/")
        return self._by_name.get(name) or self._by_lower.get(name.lower())

    def has(self, name: str) -> bool:
        return self.info(name) is not None

    def _checked(self, name: str) -> zipfile.ZipInfo:
        info = self.info(name)
        if info is None:
            raise ExtractionFailed(f"corrupt {self.what} (missing {name})")
        if info.flag_bits & 0x1:
            raise ExtractionFailed(f"encrypted {self.what}")
        if info.file_size > _RATIO_FLOOR_BYTES and info.file_size > info.compress_size * max(
            1, self.limits.max_compression_ratio
        ):
            ratio = info.file_size / max(1, info.compress_size)
            raise ExtractionFailed(
                f"ZIP bomb refused: {info.filename} would unpack to {_mb(info.file_size)} "
                f"(compression ratio {ratio:,.0f}:1)"
            )
        return info

    def open(self, name: str) -> IO[bytes]:
        info = self._checked(name)
        try:
            return _GuardedStream(self.zf.open(info), self.what)
        except (zipfile.BadZipFile, zlib.error, NotImplementedError, EOFError, ValueError) as exc:
            raise ExtractionFailed(f"corrupt {self.what} ({info.filename})") from exc
        except OSError as exc:
            if exc.errno == errno.EINVAL:  # a damaged local header offset (found by fuzzing)
                raise ExtractionFailed(f"corrupt {self.what} ({info.filename})") from exc
            raise

    def read(self, name: str) -> bytes:
        with self.open(name) as stream:
            return stream.read()


class _GuardedStream:
    """Translate low-level inflate/CRC errors into a human reason."""

    def __init__(self, raw: IO[bytes], what: str):
        self.raw = raw
        self.what = what

    def read(self, n: int = -1) -> bytes:
        try:
            return self.raw.read(n)
        except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, NotImplementedError) as exc:
            raise ExtractionFailed(f"corrupt {self.what} (damaged data)") from exc
        except OSError as exc:
            if exc.errno == errno.EINVAL:
                raise ExtractionFailed(f"corrupt {self.what} (damaged data)") from exc
            raise

    def close(self) -> None:
        self.raw.close()

    def __enter__(self) -> _GuardedStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def join_part(base_part: str, target: str) -> str:
    """Resolve a relationship/href target relative to the part that references it."""
    target = target.split("#", 1)[0]
    from urllib.parse import unquote

    target = unquote(target)
    if target.startswith("/"):
        return posixpath.normpath(target.lstrip("/"))
    return posixpath.normpath(posixpath.join(posixpath.dirname(base_part), target))


# --------------------------------------------------------------------------------------------- XML


def local(tag: Any) -> str:
    """Local name of an lxml tag ("{ns}p" -> "p"); comments/PIs give ""."""
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def iterparse(
    stream: IO[bytes] | bytes, events: tuple[str, ...] = ("start", "end"), *, part: str = "XML part"
) -> Iterator[tuple[str, Any]]:
    """Stream (event, element) pairs from an untrusted XML part, refusing DTD entities.

    The caller should ``elem.clear()`` finished elements it no longer needs to keep memory flat.
    """
    import io

    from lxml import etree

    source = io.BytesIO(stream) if isinstance(stream, bytes | bytearray) else stream
    wanted = set(events)
    context = etree.iterparse(
        source,
        events=tuple(sorted(wanted | {"start"})),
        resolve_entities=False,
        load_dtd=False,
        no_network=True,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    checked = False
    try:
        for event, elem in context:
            if not checked:
                checked = True
                dtd = elem.getroottree().docinfo.internalDTD
                if dtd is not None and any(True for _ in dtd.iterentities()):
                    raise ExtractionFailed("XML entity expansion refused")
            if event in wanted:
                yield event, elem
    except etree.XMLSyntaxError as exc:
        msg = str(exc)
        if "entit" in msg.lower() or "amplification" in msg.lower():
            raise ExtractionFailed("XML entity expansion refused") from exc
        raise ExtractionFailed(f"malformed XML in {part}") from exc


def iterparse_outside(
    stream: IO[bytes], skip: frozenset[str] | set[str], *, part: str = "XML part"
) -> Iterator[tuple[str, str, Any]]:
    """(event, local name, element) of an XML part, leaving out the subtrees of the elements named in
    ``skip`` (deleted text, fallbacks, annotations); each left-out subtree is cleared at its end."""
    depth = 0
    for event, elem in iterparse(stream, part=part):
        name = local(elem.tag)
        if name in skip:
            if event == "start":
                depth += 1
            else:
                depth -= 1
                elem.clear()
        elif not depth:
            yield event, name, elem


def parse_small(data: bytes, *, part: str = "XML part") -> Any:
    """Parse a small untrusted XML part into a tree (same protections as :func:`iterparse`)."""
    root = None
    for event, elem in iterparse(data, ("end",), part=part):
        if event == "end" and elem.getparent() is None:
            root = elem
    if root is None:
        raise ExtractionFailed(f"malformed XML in {part}")
    return root


def document_properties(z: SafeZip, part: str, fields: dict[str, str]) -> dict[str, str]:
    """The document properties in the XML ``part`` of ``z`` (ODF meta.xml, OOXML core.xml): for each
    element whose local name is a key of ``fields``, its text under the name ``fields`` gives (the first
    value wins, 500 characters at most). A part that does not parse gives none (the text still counts),
    unless it declares entities (a hostile file: that fails)."""
    try:
        root = parse_small(z.read(part), part=part)
    except ExtractionFailed as exc:
        if "entity" in exc.reason:
            raise
        return {}
    meta: dict[str, str] = {}
    for elem in root.iter():
        name = local(elem.tag)
        value = (elem.text or "").strip()
        if value and name in fields:
            meta.setdefault(fields[name], value[:500])
    return meta
