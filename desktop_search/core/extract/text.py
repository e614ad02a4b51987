"""Plain text, Markdown and source code in any common encoding."""

from __future__ import annotations

import codecs
from pathlib import Path

from .types import Extracted, ExtractionFailed, ExtractLimits

_BOMS = [
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
]


def decode_bytes(data: bytes) -> str:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(encoding, errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if b"\x00" in data[:4096]:
        raise ExtractionFailed("binary file")
    return data.decode("cp1252", errors="replace")


def extract_text(path: Path, limits: ExtractLimits) -> Extracted:
    with open(path, "rb") as handle:
        data = handle.read(limits.max_text_chars * 4)
    text = decode_bytes(data)
    title = None
    if path.suffix.lower() in {".md", ".markdown"}:
        for line in text.splitlines():
            if line.startswith("# "):
                title = line[2:].strip() or None
                break
    return Extracted(text=text, title=title, extractor="text")
