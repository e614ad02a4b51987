"""Outlook ``.msg`` messages: the MAPI property streams of an OLE2 compound file, read with olefile.

A message is a storage of ``__substg1.0_<tag><type>`` streams (``001F`` UTF-16 strings, ``001E`` 8-bit
strings in the message's code page, ``0102`` binary) plus ``__properties_version1.0`` (fixed-size values
such as the sent date), recipients under ``__recip_version1.0_#N`` and attachments under
``__attach_version1.0_#N``. The text is the subject, sender, recipients, date, body (the plain body; the
HTML body reduced to visible text when there is no plain one; else the compressed RTF body, see
:mod:`.compressed_rtf`) and the attachments' names; attachments are
also read as documents of their own, like an archive's members (``mail.msg!/report.pdf``), through
:mod:`.archive`. A message attached to a message is read the same way, nested.
"""

from __future__ import annotations

import datetime as dt
import struct
from pathlib import Path
from typing import Any

from .builder import TextBuilder
from .ole import ole_errors, open_ole
from .types import Extracted, ExtractionFailed, ExtractLimits

_SUBJECT, _BODY, _HTML, _RTF_COMPRESSED = 0x0037, 0x1000, 0x1013, 0x1009
_SENDER_NAME, _SENDER_EMAIL, _SENDER_SMTP = 0x0C1A, 0x0C1F, 0x5D01
_TO, _CC = 0x0E04, 0x0E03
_CODEPAGE, _INTERNET_CODEPAGE = 0x3FFD, 0x3FDE
_SUBMIT_TIME, _DELIVERY_TIME = 0x0039, 0x0E06
_ATTACH_LONG_NAME, _ATTACH_NAME, _ATTACH_DATA = 0x3707, 0x3704, 0x3701
_MAX_ATTACHMENTS = 500


class _Tree:
    """The compound file and its entries, listed once (a message with many attachments and a large
    directory was quadratic: 500 attachments, 20,000 entries: 19.8 s)."""

    def __init__(self, ole: Any):
        self.ole = ole
        self.streams: dict[tuple[str, ...], set[str]] = {}  # storage path -> names of its streams
        for entry in ole.listdir(streams=True, storages=False):
            self.streams.setdefault(tuple(entry[:-1]), set()).add(entry[-1])
        self.storages = {tuple(entry) for entry in ole.listdir(streams=False, storages=True)}


class _Props:
    """The properties of one message (or attachment, or recipient) storage."""

    def __init__(self, tree: _Tree, prefix: list[str], codepage: str = "cp1252"):
        self.ole = tree.ole
        self.prefix = prefix
        self.codepage = codepage
        self._names = tree.streams.get(tuple(prefix), set())

    def _stream(self, name: str, cap: int) -> bytes | None:
        if name not in self._names:
            return None
        size = self.ole.get_size("/".join([*self.prefix, name]))
        if size > cap:
            raise ExtractionFailed(f"message part {name} is larger than {cap // (1024 * 1024)} MB")
        return bytes(self.ole.openstream([*self.prefix, name]).read())

    def text(self, tag: int, cap: int = 64 * 1024 * 1024) -> str | None:
        data = self._stream(f"__substg1.0_{tag:04X}001F", cap)
        if data is not None:
            return data.decode("utf-16-le", "replace").rstrip("\x00")
        data = self._stream(f"__substg1.0_{tag:04X}001E", cap)
        if data is not None:
            return data.decode(self.codepage, "replace").rstrip("\x00")
        return None

    def binary(self, tag: int, cap: int) -> bytes | None:
        return self._stream(f"__substg1.0_{tag:04X}0102", cap)

    def fixed(self, header: int) -> dict[int, tuple[int, bytes]]:
        """tag -> (type, 8 value bytes) from ``__properties_version1.0`` (``header``: its header size)."""
        data = self._stream("__properties_version1.0", 16 * 1024 * 1024) or b""
        out: dict[int, tuple[int, bytes]] = {}
        for at in range(header, len(data) - 15, 16):
            ptype, tag = struct.unpack_from("<HH", data, at)
            out[tag] = (ptype, data[at + 8 : at + 16])
        return out


def _codepage(fixed: dict[int, tuple[int, bytes]]) -> str:
    import codecs

    for tag in (_INTERNET_CODEPAGE, _CODEPAGE):
        if tag in fixed and fixed[tag][0] == 0x0003:
            number = struct.unpack_from("<i", fixed[tag][1])[0]
            name = "utf-8" if number == 65001 else f"cp{number}"
            try:
                codecs.lookup(name)
                return name
            except LookupError:
                continue
    return "cp1252"


def _date(fixed: dict[int, tuple[int, bytes]]) -> str | None:
    for tag in (_SUBMIT_TIME, _DELIVERY_TIME):
        if tag in fixed and fixed[tag][0] == 0x0040:
            ticks = struct.unpack_from("<Q", fixed[tag][1])[0]
            try:
                when = dt.datetime(1601, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=ticks // 10)
            except OverflowError:
                return None
            return when.strftime("%Y-%m-%d %H:%M UTC")
    return None


def _rtf_body(data: bytes, limits: ExtractLimits) -> str:
    from .compressed_rtf import decompress_rtf
    from .rtf import rtf_to_plain

    try:
        return rtf_to_plain(decompress_rtf(data, limits.max_file_bytes)).replace("\r\n", "\n")
    except (RecursionError, TypeError, ValueError, IndexError, KeyError) as exc:  # striprtf on damaged RTF
        raise ExtractionFailed("corrupt Outlook message (damaged RTF body)") from exc


def _storages(tree: _Tree, prefix: list[str], kind: str) -> list[list[str]]:
    n = len(prefix)
    found = {e for e in tree.storages if len(e) == n + 1 and list(e[:n]) == prefix and e[n].startswith(kind)}
    return [list(e) for e in sorted(found)]


def _message(tree: _Tree, prefix: list[str], builder: TextBuilder, limits: ExtractLimits,
             attachments: list[tuple[str, bytes]], depth: int) -> dict[str, str]:
    top = _Props(tree, prefix)
    fixed = top.fixed(32 if not prefix else 24)
    props = _Props(tree, prefix, _codepage(fixed))
    meta: dict[str, str] = {}
    subject = props.text(_SUBJECT) or ""
    sender = props.text(_SENDER_NAME) or ""
    email = props.text(_SENDER_SMTP) or props.text(_SENDER_EMAIL) or ""
    if email and email not in sender:
        sender = f"{sender} <{email}>" if sender else email
    recipients = [props.text(_TO) or "", props.text(_CC) or ""]
    if not any(recipients):  # the display fields are missing: the recipient storages
        names = []
        for recip in _storages(tree, prefix, "__recip_version1.0_#"):
            r = _Props(tree, recip, props.codepage)
            name, addr = r.text(0x3001) or "", r.text(0x39FE) or r.text(0x3003) or ""
            names.append(f"{name} <{addr}>" if name and addr and addr not in name else name or addr)
        recipients[0] = "; ".join(n for n in names if n)
    date = _date(fixed)
    for label, value in (("Subject", subject), ("From", sender), ("To", recipients[0]), ("Cc", recipients[1]),
                         ("Date", date)):
        if value:
            builder.add(f"{label}: {value}\n")
            meta[label.lower()] = value[:500]
    builder.add("\n")
    body = props.text(_BODY, limits.max_file_bytes)
    if not (body and body.strip()):
        html = props.binary(_HTML, limits.max_file_bytes) or (props.text(_HTML, limits.max_file_bytes) or "").encode()
        rtf = None if html else props.binary(_RTF_COMPRESSED, limits.max_file_bytes)
        if html:
            from .html import decode_html, html_text

            html_text(decode_html(html)[0], builder)
        elif rtf:  # only the compressed RTF body (Outlook's rich text, or HTML encapsulated in RTF)
            builder.add(_rtf_body(rtf, limits))
    else:
        builder.add(body.replace("\r\n", "\n"))
    builder.newline()
    names = []
    for storage in _storages(tree, prefix, "__attach_version1.0_#")[:_MAX_ATTACHMENTS]:
        a = _Props(tree, storage, props.codepage)
        name = (a.text(_ATTACH_LONG_NAME) or a.text(_ATTACH_NAME) or "").strip() or f"attachment {len(names) + 1}"
        names.append(name)
        data = a.binary(_ATTACH_DATA, limits.max_file_bytes)
        if data is not None:
            attachments.append((name, data))
        elif depth < 3 and (*storage, "__substg1.0_3701000D") in tree.storages:
            builder.add(f"\nAttached message: {name}\n")  # an embedded message: read in place
            _message(tree, [*storage, "__substg1.0_3701000D"], builder, limits, attachments, depth + 1)
    if names:
        builder.add("\nAttachments: " + ", ".join(names) + "\n")
        meta.setdefault("attachments", ", ".join(names)[:1000])
    return meta


@ole_errors("Outlook message")
def extract_msg(path: Path, limits: ExtractLimits) -> Extracted:
    ole = open_ole(path, "Outlook message")
    attachments: list[tuple[str, bytes]] = []
    builder = TextBuilder(limits.max_text_chars)
    try:
        meta = _message(_Tree(ole), [], builder, limits, attachments, 1)
    except (struct.error, OSError, ValueError, IndexError, KeyError) as exc:
        if isinstance(exc, OSError) and exc.errno is not None:
            raise
        raise ExtractionFailed("corrupt Outlook message (damaged property streams)") from exc
    finally:
        ole.close()
    members = []
    if attachments:
        from .archive import read_blobs

        members = read_blobs(attachments, limits)
    return Extracted(text=builder.text(), title=meta.get("subject"), extractor="outlook-msg", metadata=meta,
                     members=members)
