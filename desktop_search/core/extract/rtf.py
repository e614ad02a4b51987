"""RTF via striprtf, with the code page taken from ``\\ansicpg`` and two fixes around it.

* ``\\*`` only marks an ignorable destination at the very start of a group; Word and LibreOffice also
  emit it mid-group (``{\\loch\\f2 \\*\\cs7 The quick ...}``), which makes striprtf drop the whole group.
  Such stray ``\\*`` are removed before parsing.
* ``\\uN`` escapes outside the BMP arrive as UTF-16 surrogate pairs; they are joined, and lone halves
  become U+FFFD (lone surrogates cannot be stored as UTF-8).
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from .builder import join_surrogates
from .types import Extracted, ExtractionFailed, ExtractLimits

_ANSICPG = re.compile(rb"\\ansicpg(\d+)")
_STRAY_STAR = re.compile(r"(?<!\{)\\\*(?=\\)")
_UNICODE_ESCAPE = re.compile(r"\\u(-?\d+)")
_BARE_UC = re.compile(r"\\uc(?![\d-])")
_INFO_FIELD = re.compile(r"\{\\(title|author|subject|keywords)\s+((?:[^{}\\]|\\[^a-z])*)\}")


def _codepage(head: bytes) -> str:
    m = _ANSICPG.search(head)
    if m:
        name = "cp" + m.group(1).decode("ascii")
        try:
            return codecs.lookup(name).name
        except LookupError:
            pass
    if b"\\mac" in head[:200]:
        return "mac_roman"
    return "cp1252"


def _clamp_unicode(m: re.Match[str]) -> str:
    """``\\uN`` is a signed 16-bit number: striprtf calls chr() on anything else and fails (fuzzing)."""
    digits = m.group(1)
    if len(digits) <= 6 and -32768 <= int(digits) <= 65535:
        return m.group(0)
    return "\\u65533"


def rtf_to_plain(data: bytes) -> str:
    from striprtf.striprtf import rtf_to_text

    encoding = _codepage(data[:8192])
    source = data.decode("latin-1")  # byte-preserving: \'xx escapes are decoded by striprtf
    source = _STRAY_STAR.sub("", source)
    source = _UNICODE_ESCAPE.sub(_clamp_unicode, source)
    source = _BARE_UC.sub(r"\\uc1", source)  # "\\uc" without its number: int(None) in striprtf (fuzzing)
    text = rtf_to_text(source, encoding=encoding, errors="replace")
    return join_surrogates(text)


def extract_rtf(path: Path, limits: ExtractLimits) -> Extracted:  # noqa: ARG001 (every extractor's signature)
    with open(path, "rb") as handle:
        data = handle.read()
    if not data.lstrip().startswith(b"{\\rtf"):
        raise ExtractionFailed("not a valid RTF file")
    try:
        text = rtf_to_plain(data)
    except RecursionError as exc:
        raise ExtractionFailed("RTF nested too deeply") from exc
    except (TypeError, ValueError, IndexError, KeyError) as exc:  # striprtf on damaged control words
        raise ExtractionFailed("damaged RTF file") from exc
    meta: dict[str, str] = {}
    head = data[:65536].decode("latin-1")
    for m in _INFO_FIELD.finditer(head):
        value = m.group(2).strip()
        if value:
            meta.setdefault(m.group(1), value[:500])
    if not text.strip():
        text = ""
    return Extracted(text=text, title=meta.get("title"), extractor="striprtf", metadata=meta)
