"""Plain text, Markdown and source code in any common encoding.

Order of evidence: a BOM, then strict UTF-8, then UTF-16 without BOM (NUL byte pattern), then
charset-normalizer's detection over the bytes. Data that is none of these (random bytes, NULs, control
characters) is reported as binary instead of being "decoded" into garbage.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from .builder import read_capped
from .types import Extracted, ExtractionFailed, ExtractLimits

_BOMS = [
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
]

_EBCDIC = {"cp037", "cp273", "cp424", "cp500", "cp875", "cp1026", "cp1140"}
# Bytes that never occur in text (everything below 0x20 except \t \n \v \f \r and ESC).
_CONTROL = bytes(b for b in range(32) if b not in (9, 10, 11, 12, 13, 27)) + b"\x7f"
_CONTROL_TABLE = bytes.maketrans(b"", b"")


class BinaryData(ExtractionFailed):
    """The bytes are not text in any encoding we recognise."""

    def __init__(self, reason: str = "not a document (binary)"):
        super().__init__(reason)


def bom_encoding(data: bytes) -> tuple[str, int] | None:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return encoding, len(bom)
    return None


def _utf16_without_bom(sample: bytes) -> str | None:
    """Recognise BOM-less UTF-16 by where its NUL bytes sit (mostly-ASCII text)."""
    even = sample[0::2]
    odd = sample[1::2]
    if not even or not odd:
        return None
    even_nul = even.count(0) / len(even)
    odd_nul = odd.count(0) / len(odd)
    if odd_nul > 0.4 and even_nul < 0.05:
        return "utf-16-le"
    if even_nul > 0.4 and odd_nul < 0.05:
        return "utf-16-be"
    return None


def control_ratio(sample: bytes) -> float:
    if not sample:
        return 0.0
    stripped = sample.translate(_CONTROL_TABLE, _CONTROL)
    return 1.0 - len(stripped) / len(sample)


def looks_binary(sample: bytes) -> bool:
    """Cheap sniff on the first few KB: NULs (outside UTF-16/32) or many control bytes."""
    if not sample or bom_encoding(sample):
        return False
    if b"\x00" in sample:
        return _utf16_without_bom(sample) is None
    return control_ratio(sample) > 0.05


def _strict(data: bytes, encoding: str, truncated: bool) -> str | None:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        # A read cut inside a multi-byte character is not an encoding problem.
        if truncated and exc.start >= len(data) - 4:
            try:
                return data[: exc.start].decode(encoding)
            except UnicodeDecodeError:
                return None
        return None


def decode_bytes(data: bytes, *, truncated: bool = False, declared: str | None = None) -> tuple[str, str]:
    """Decode text of unknown encoding; returns (text, encoding). Raises BinaryData for non-text."""
    found = bom_encoding(data)
    if found:
        encoding, skip = found
        return data[skip:].decode(encoding, errors="replace"), encoding
    if not data:
        return "", "utf-8"
    sample = data[:8192]
    if b"\x00" in sample:
        encoding16 = _utf16_without_bom(sample)
        if encoding16 is None:
            raise BinaryData()
        return data.decode(encoding16, errors="replace"), encoding16
    text = _strict(data, "utf-8", truncated)
    if text is not None:
        if control_ratio(sample) > 0.05:
            raise BinaryData()
        return text, "utf-8"
    if declared:
        try:
            codecs.lookup(declared)
            text = _strict(data, declared, truncated)
            if text is not None:
                return text, declared
        except LookupError:
            pass
    if control_ratio(sample) > 0.05:
        raise BinaryData()
    from charset_normalizer import from_bytes

    best = from_bytes(data[: 4 * 1024 * 1024]).best()
    if best is None or best.encoding is None:
        raise BinaryData()
    encoding = best.encoding
    if encoding in _LATIN_FAMILY and _reads_as_western(data):
        encoding = "cp1252"
    if encoding in _EBCDIC:
        raise ExtractionFailed(f"unsupported text encoding (EBCDIC {encoding})")
    return data.decode(encoding, errors="replace"), encoding


# Single-byte Latin code pages that charset-normalizer confuses with windows-1252 on short text
# (French text comes back as Baltic cp1257, smart quotes as cp1250).
_LATIN_FAMILY = {
    "cp1250", "cp1252", "cp1254", "cp1257", "cp775", "cp850", "cp437", "cp858", "latin_1", "mac_roman",
    "mac_latin2", "mac_iceland", "iso8859_2", "iso8859_3", "iso8859_4", "iso8859_9", "iso8859_10",
    "iso8859_13", "iso8859_14", "iso8859_15", "iso8859_16",
}  # fmt: skip
_WESTERN_PUNCT = set(
    "\u2018\u2019\u201a\u201c\u201d\u201e\u2013\u2014\u2026\u20ac\u2022\u00a0\u00ab\u00bb\u00b0\u00a9\u00ae\u2122\u00a7"
)


def _reads_as_western(data: bytes) -> bool:
    """Whether windows-1252 turns every non-ASCII byte into a Latin-1 letter or common punctuation."""
    try:
        text = data[:65536].decode("cp1252")
    except UnicodeDecodeError:
        return False
    other = [ch for ch in text if ord(ch) > 127]
    if not other:
        return True
    good = sum(1 for ch in other if ("\u00c0" <= ch <= "\u00ff" and ch not in "\u00d7\u00f7") or ch in _WESTERN_PUNCT)
    return good / len(other) >= 0.95


_MD_ATX = re.compile(r"^\s{0,3}#\s+(.+?)\s*#*\s*$")
_MD_SETEXT = re.compile(r"^\s{0,3}=+\s*$")
_FRONT_TITLE = re.compile(r"^title:\s*[\"']?(.+?)[\"']?\s*$", re.IGNORECASE)


def markdown_title(text: str) -> str | None:
    lines = text[:20000].splitlines()
    if lines and lines[0].strip() == "---":  # YAML front matter
        for line in lines[1:50]:
            if line.strip() == "---":
                break
            m = _FRONT_TITLE.match(line)
            if m:
                return m.group(1).strip() or None
    for i, line in enumerate(lines[:400]):
        m = _MD_ATX.match(line)
        if m:
            return m.group(1).strip() or None
        if i > 0 and _MD_SETEXT.match(line) and lines[i - 1].strip():
            return lines[i - 1].strip()
    return None


def extract_text(path: Path, limits: ExtractLimits) -> Extracted:
    data, truncated = read_capped(path, limits.max_text_chars * 4)
    try:
        text, encoding = decode_bytes(data, truncated=truncated)
    except BinaryData as exc:
        raise BinaryData(f"binary data in a {path.suffix or 'text'} file") from exc
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    title = None
    if path.suffix.lower() in {".md", ".markdown", ".mdown", ".mkd"}:
        title = markdown_title(text)
    meta = {"encoding": encoding}
    if truncated:
        meta["truncated"] = "yes"
    return Extracted(text=text, title=title, extractor="text", metadata=meta)
