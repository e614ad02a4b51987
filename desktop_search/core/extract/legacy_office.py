"""Word 97-2003 ``.doc`` and PowerPoint 97-2003 ``.ppt`` text, from their OLE2 streams (olefile).

Word ([MS-DOC]): the text lives in the ``WordDocument`` stream in pieces listed by the piece table (the
``Clx`` in the ``0Table``/``1Table`` stream, found through the FIB): each piece is either 8-bit (cp1252) or
UTF-16. Field instructions (between the 0x13 and 0x14 marks) are dropped and their results kept; cell and
paragraph marks become tabs and line breaks. Word 6/95 files and encrypted ones fail with a reason.

PowerPoint ([MS-PPT]): the ``PowerPoint Document`` stream is a tree of records; text is held in
TextCharsAtom (UTF-16) and TextBytesAtom (8-bit) records. The newest edit (the ``Current User`` stream
points at it; older, incrementally saved copies stay in the file) names the document and, through the
persist directory, each slide: a slide is a section (page) holding its placeholders' text from the
document's slide list, then its drawing's other text. Masters' template text is left out. Without a
usable edit chain every text record is read in stream order. An encrypted presentation fails with a reason.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .builder import TextBuilder
from .ole import ole_errors, open_ole
from .types import Extracted, ExtractionFailed, ExtractLimits

_FIELD_BEGIN, _FIELD_SEP, _FIELD_END = "\x13", "\x14", "\x15"
_WORD_MAP = str.maketrans({
    **{chr(c): "" for c in range(0x20) if chr(c) not in "\t\n"},  # object anchors, stray field marks, ...
    "\r": "\n", "\x0b": "\n", "\x0c": "\n", "\x07": "\t", "\x1e": "-", "\xa0": " ",
})


_SUMMARY = "\x05SummaryInformation"
_SUMMARY_FIELDS = {2: "title", 3: "subject", 4: "author", 5: "keywords"}


def _metadata(ole: Any) -> tuple[str | None, dict[str, str]]:
    """Title, subject, author and keywords from the SummaryInformation property set, when there is one.
    Read here with bounds on every count (olefile's own parser loops for minutes on a property set that
    declares billions of entries: found by fuzzing)."""
    if not ole.exists(_SUMMARY) or ole.get_size(_SUMMARY) > 1024 * 1024:
        return None, {}
    data = bytes(ole.openstream(_SUMMARY).read())
    try:
        found = _property_set(data)
    except (struct.error, ValueError):
        return None, {}
    meta = {name: value for pid, name in _SUMMARY_FIELDS.items() if (value := found.get(pid))}
    return meta.pop("title", None), meta


def _property_set(data: bytes) -> dict[int, str]:
    """String properties (VT_LPSTR, VT_LPWSTR) of the first section of a property set stream."""
    if len(data) < 48 or struct.unpack_from("<I", data, 24)[0] < 1:
        return {}
    (section,) = struct.unpack_from("<I", data, 44)
    _, count = struct.unpack_from("<II", data, section)
    count = max(0, min(count, (len(data) - section - 8) // 8, 1000))
    codepage = "cp1252"
    entries = [struct.unpack_from("<II", data, section + 8 + 8 * k) for k in range(count)]
    for pid, offset in entries:
        if pid == 1 and section + offset + 6 <= len(data):  # the code page (VT_I2)
            vt, number = struct.unpack_from("<Ih", data, section + offset)
            if vt == 0x0002:
                codepage = "utf-8" if number in (-535, 65001) else f"cp{number & 0xFFFF}"
    out: dict[int, str] = {}
    for pid, offset in entries:
        at = section + offset
        if pid not in _SUMMARY_FIELDS or at + 8 > len(data):
            continue
        vt, size = struct.unpack_from("<II", data, at)
        if vt == 0x001E:
            raw = data[at + 8 : at + 8 + min(size, 4096)]
            try:
                value = raw.decode(codepage, "replace")
            except LookupError:
                value = raw.decode("cp1252", "replace")
        elif vt == 0x001F:
            value = data[at + 8 : at + 8 + 2 * min(size, 4096)].decode("utf-16-le", "replace")
        else:
            continue
        value = value.replace("\x00", "").strip()
        if value:
            out[pid] = value[:500]
    return out


def _stream(ole: Any, name: str, limits: ExtractLimits) -> bytes:
    if ole.exists("EncryptedPackage"):  # an encrypted .docx/.pptx keeps its OOXML inside an OLE2 file
        raise ExtractionFailed("password-protected Office document (encrypted package)")
    if not ole.exists(name):
        raise ExtractionFailed(f"corrupt file (no {name} stream)")
    if ole.get_size(name) > limits.max_file_bytes:
        raise ExtractionFailed(f"{name} stream is larger than the {limits.max_file_bytes // (1024 * 1024)} MB limit")
    return bytes(ole.openstream(name).read())


# --- Word ------------------------------------------------------------------------------------------
def _word_pieces(word: bytes, table: bytes, limit: int) -> str:
    fc_clx, lcb_clx = struct.unpack_from("<II", word, 0x01A2)
    if fc_clx + lcb_clx > len(table) or lcb_clx < 5:
        raise ExtractionFailed("corrupt Word document (no piece table)")
    pos = fc_clx
    end = fc_clx + lcb_clx
    while pos < end and table[pos] == 0x01:  # Prc: formatting, skipped
        (cb,) = struct.unpack_from("<h", table, pos + 1)
        pos += 3 + max(cb, 0)
    if pos >= end or table[pos] != 0x02:
        raise ExtractionFailed("corrupt Word document (no piece table)")
    (lcb,) = struct.unpack_from("<I", table, pos + 1)
    plc = table[pos + 5 : pos + 5 + lcb]
    n = (len(plc) - 4) // 12
    if n <= 0:
        return ""
    cps = struct.unpack_from(f"<{n + 1}I", plc, 0)
    parts: list[str] = []
    total = 0
    for i in range(n):
        (fc,) = struct.unpack_from("<I", plc, 4 * (n + 1) + 8 * i + 2)
        count = cps[i + 1] - cps[i]
        if count <= 0:
            continue
        if fc & 0x40000000:  # 8-bit piece at fc/2
            start = (fc & 0x3FFFFFFF) // 2
            parts.append(word[start : start + count].decode("cp1252", "replace"))
        else:
            parts.append(word[fc : fc + 2 * count].decode("utf-16-le", "replace"))
        total += count
        if total >= limit:
            break
    return "".join(parts)


def _drop_field_codes(text: str) -> str:
    """Keep a field's result (between 0x14 and 0x15), drop its instructions (between 0x13 and 0x14)."""
    if _FIELD_BEGIN not in text:
        return text
    out: list[str] = []
    hiding: list[bool] = []  # per open field: still in its instructions
    hidden = 0  # how many of them are (a count, not any(hiding): a hostile file nests fields by the million)
    for ch in text:
        if ch == _FIELD_BEGIN:
            hiding.append(True)
            hidden += 1
        elif ch == _FIELD_SEP:
            if hiding and hiding[-1]:
                hiding[-1] = False
                hidden -= 1
        elif ch == _FIELD_END:
            if hiding:
                hidden -= hiding.pop()
        elif not hidden:
            out.append(ch)
    return "".join(out)


@ole_errors("Word")
def extract_doc(path: Path, limits: ExtractLimits) -> Extracted:
    ole = open_ole(path, "Word")
    try:
        word = _stream(ole, "WordDocument", limits)
        if len(word) < 0x01AA:
            raise ExtractionFailed("corrupt Word document (header too short)")
        ident, nfib = struct.unpack_from("<HH", word, 0)
        (flags,) = struct.unpack_from("<H", word, 0x0A)
        if ident != 0xA5EC:
            raise ExtractionFailed("not a Word 97-2003 document")
        if flags & 0x0100:
            raise ExtractionFailed("password-protected Word document")
        if nfib < 0x00C1:
            raise ExtractionFailed("Word 6/95 document: only Word 97-2003 .doc files are read")
        table_name = "1Table" if flags & 0x0200 else "0Table"
        table = _stream(ole, table_name, limits)
        title, meta = _metadata(ole)
    finally:
        ole.close()
    try:
        raw = _word_pieces(word, table, limits.max_text_chars)
    except struct.error as exc:
        raise ExtractionFailed("corrupt Word document (damaged piece table)") from exc
    text = _drop_field_codes(raw).translate(_WORD_MAP)
    return Extracted(text=text, title=title, extractor="word-97", metadata=meta)


# --- PowerPoint ------------------------------------------------------------------------------------
_TEXT_CHARS, _TEXT_BYTES = 0x0FA0, 0x0FA8
_SLIDE_LIST, _SLIDE_PERSIST = 0x0FF0, 0x03F3
_USER_EDIT, _PERSIST_DIRECTORY = 0x0FF5, 0x1772
_CRYPT_SESSION = 0x2F14
_MASTERS = {0x03F8, 0x0FC9}  # MainMaster, Handout: template text ("Click to edit Master title style")
_MAX_DEPTH = 64
_U32 = struct.Struct("<I")


def _walk(data: bytes, start: int, end: int) -> Iterator[tuple[int, int, int, int]]:
    """(record type, instance, body start, body end) of every record under [start, end), in document
    order, without recursion (a hostile file can nest deeply); masters' subtrees are left out."""
    stack = [(start, min(end, len(data)))]
    while stack:
        pos, stop = stack.pop()
        while pos + 8 <= stop:
            ver_inst, rtype, rlen = struct.unpack_from("<HHI", data, pos)
            body, nxt = pos + 8, min(pos + 8 + rlen, stop)
            if rtype == _CRYPT_SESSION:
                raise ExtractionFailed("password-protected PowerPoint presentation")
            yield rtype, ver_inst >> 4, body, nxt
            if ver_inst & 0x000F == 0x000F and rtype not in _MASTERS:
                if len(stack) >= _MAX_DEPTH:
                    raise ExtractionFailed("document structure nested too deeply")
                stack.append((nxt, stop))
                pos, stop = body, nxt
                continue
            pos = nxt


def _atom_text(data: bytes, rtype: int, body: int, end: int) -> str:
    raw = data[body:end]
    text = raw.decode("utf-16-le", "replace") if rtype == _TEXT_CHARS else raw.decode("latin-1")
    return text.replace("\r", "\n").replace("\x0b", "\n")


def _persist(data: bytes, current_user: bytes) -> tuple[dict[int, int], int] | None:
    """The persist directory of the newest edit (persist id -> stream offset; older edits fill the gaps)
    and the document's persist id, following the edit chain from the Current User stream."""
    if len(current_user) < 20:
        return None
    offset = _U32.unpack_from(current_user, 16)[0]
    where: dict[int, int] = {}
    doc_ref: int | None = None
    seen: set[int] = set()
    read: set[int] = set()  # directories already read: edits may share one
    budget = len(data) // 4  # directory entries over all edits: more than the stream holds means overlap
    while offset and offset not in seen and offset + 32 <= len(data):
        seen.add(offset)
        _, rtype, rlen = struct.unpack_from("<HHI", data, offset)
        if rtype != _USER_EDIT:
            return None
        if rlen >= 0x20 and offset + 40 <= len(data) and _U32.unpack_from(data, offset + 36)[0]:  # encryption session
            raise ExtractionFailed("password-protected PowerPoint presentation")
        last_edit, directory, doc = struct.unpack_from("<III", data, offset + 16)
        doc_ref = doc if doc_ref is None else doc_ref
        if directory + 8 > len(data) or struct.unpack_from("<HHI", data, directory)[1] != _PERSIST_DIRECTORY:
            return None
        pos, stop = directory + 8, min(directory + 8 + struct.unpack_from("<I", data, directory + 4)[0], len(data))
        if directory in read:
            pos = stop
        read.add(directory)
        while pos + 4 <= stop and budget > 0:
            entry = _U32.unpack_from(data, pos)[0]
            first, count = entry & 0xFFFFF, entry >> 20
            for k in range(min(count, (stop - pos - 4) // 4, budget)):
                where.setdefault(first + k, _U32.unpack_from(data, pos + 4 + 4 * k)[0])
            budget -= count + 1
            pos += 4 + 4 * count
        offset = last_edit
    return (where, doc_ref) if doc_ref is not None and doc_ref in where else None


def _slides(data: bytes, where: dict[int, int], doc_ref: int) -> list[list[str]]:
    """Each slide's text: its placeholders from the document's slide list, then its drawing's other text."""
    start = where[doc_ref]
    if start + 8 > len(data):
        return []
    doc_end = start + 8 + struct.unpack_from("<I", data, start + 4)[0]
    slides: list[tuple[int | None, list[str]]] = []
    in_list_end = -1
    for rtype, instance, body, end in _walk(data, start, doc_end):
        if rtype == _SLIDE_LIST:
            in_list_end = end if instance == 0 else -1
        elif body >= in_list_end:
            continue
        elif rtype == _SLIDE_PERSIST and end - body >= 4:
            slides.append((where.get(_U32.unpack_from(data, body)[0]), []))
        elif rtype in (_TEXT_CHARS, _TEXT_BYTES) and slides:
            slides[-1][1].append(_atom_text(data, rtype, body, end))
    out = []
    walked: set[int] = set()  # a slide listed twice is read once (a hostile list repeats a big one)
    for offset, texts in slides:
        if offset is not None and offset + 8 <= len(data) and offset not in walked:
            walked.add(offset)
            listed = set(texts)
            slide_end = offset + 8 + struct.unpack_from("<I", data, offset + 4)[0]
            for rtype, _, body, end in _walk(data, offset, slide_end):
                if rtype in (_TEXT_CHARS, _TEXT_BYTES) and (text := _atom_text(data, rtype, body, end)) not in listed:
                    texts.append(text)
        out.append(texts)
    return out


@ole_errors("PowerPoint")
def extract_ppt(path: Path, limits: ExtractLimits) -> Extracted:
    ole = open_ole(path, "PowerPoint")
    try:
        if ole.exists("EncryptedSummary"):
            raise ExtractionFailed("password-protected PowerPoint presentation")
        data = _stream(ole, "PowerPoint Document", limits)
        current_user = bytes(ole.openstream("Current User").read(4096)) if ole.exists("Current User") else b""
        title, meta = _metadata(ole)
    finally:
        ole.close()
    builder = TextBuilder(limits.max_text_chars)
    try:
        pos = 0
        while pos + 8 <= len(data):  # the top-level records: an encryption session means encrypted text
            _, rtype, rlen = struct.unpack_from("<HHI", data, pos)
            if rtype == _CRYPT_SESSION:
                raise ExtractionFailed("password-protected PowerPoint presentation")
            pos += 8 + rlen
        persist = _persist(data, current_user)
        slides = _slides(data, *persist) if persist else []
        if slides:
            for texts in slides:
                builder.section()
                for text in texts:
                    builder.add(text)
                    builder.newline()
        else:  # no usable edit chain: every text record in stream order
            for rtype, _, body, end in _walk(data, 0, len(data)):
                if rtype in (_TEXT_CHARS, _TEXT_BYTES):
                    builder.add(_atom_text(data, rtype, body, end))
                    builder.newline()
                if builder.full:
                    break
    except struct.error as exc:
        raise ExtractionFailed("corrupt PowerPoint presentation (damaged records)") from exc
    return Extracted(text=builder.text(), title=title, extractor="powerpoint-97", page_starts=builder.page_starts,
                     metadata=meta)
