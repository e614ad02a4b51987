"""Small Word 97 (.doc), PowerPoint 97 (.ppt) and Outlook (.msg) files made from scratch for the tests.

No library on PyPI writes these formats, so this module writes them: an OLE2 compound file (CFB version 3:
512-byte sectors, streams under 4,096 bytes in the mini stream, as [MS-CFB] says) holding the streams
each format needs, laid out as [MS-DOC], [MS-PPT] and [MS-OXMSG] describe: a FIB and a one-piece piece
table for Word, a record tree with a slide list and a slide drawing for PowerPoint, MAPI property
streams, recipients and attachments for Outlook. The tests read them back with olefile (an independent
OLE2 reader). Checked once by hand with other readers: catdoc 0.95 reads the 8-bit .doc, catppt 0.95 the
.ppt's slides, extract-msg 0.57.0 the .msg's subject, body, sender, date and attachment.
"""

from __future__ import annotations

import struct
from pathlib import Path

SECTOR = 512
MINI = 64
CUTOFF = 4096
FREE, END, FATSECT, NOSTREAM = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF


class _Node:
    def __init__(self, name: str, data: bytes | None):
        self.name = name
        self.data = data  # None: a storage
        self.children: dict[str, _Node] = {}
        self.index = 0
        self.start = END
        self.size = 0


def _cfb_key(name: str) -> tuple[int, str]:
    return (len(name), name.upper())


def write_cfb(path: Path, streams: dict[str, bytes]) -> Path:
    """An OLE2 compound file with ``streams`` ("storage/sub/stream" -> bytes)."""
    root = _Node("Root Entry", None)
    for full, data in streams.items():
        node = root
        parts = full.split("/")
        for part in parts[:-1]:
            node = node.children.setdefault(part, _Node(part, None))
        node.children[parts[-1]] = _Node(parts[-1], data)
    order: list[_Node] = []

    def number(node: _Node) -> None:
        node.index = len(order)
        order.append(node)
        for child in sorted(node.children.values(), key=lambda n: _cfb_key(n.name)):
            number(child)

    number(root)
    sectors: list[bytes] = []
    fat: dict[int, int] = {}

    def chain(data: bytes) -> int:
        if not data:
            return END
        first = len(sectors)
        count = (len(data) + SECTOR - 1) // SECTOR
        for i in range(count):
            sectors.append(data[i * SECTOR : (i + 1) * SECTOR].ljust(SECTOR, b"\x00"))
            fat[first + i] = first + i + 1 if i < count - 1 else END
        return first

    mini = bytearray()
    minifat: list[int] = []
    for node in order:
        if node.data is None:
            continue
        node.size = len(node.data)
        if node.size >= CUTOFF:
            node.start = chain(node.data)
        elif node.size:
            first = len(mini) // MINI
            count = (node.size + MINI - 1) // MINI
            mini += node.data.ljust(count * MINI, b"\x00")
            minifat += [first + i + 1 if i < count - 1 else END for i in range(count)]
            node.start = first
    root.start = chain(bytes(mini)) if mini else END
    root.size = len(mini)
    minifat_bytes = struct.pack(f"<{len(minifat)}I", *minifat) if minifat else b""
    minifat_bytes = minifat_bytes.ljust(-(-len(minifat_bytes) // SECTOR) * SECTOR, b"\xff")
    minifat_start = chain(minifat_bytes) if minifat else END
    entries = bytearray()
    for node in order:
        kids = sorted(node.children.values(), key=lambda n: _cfb_key(n.name))
        child = kids[len(kids) // 2].index if kids else NOSTREAM  # the middle one: the root of a balanced tree
        name = node.name.encode("utf-16-le") + b"\x00\x00"
        kind = 5 if node is root else (1 if node.data is None else 2)
        entry = name.ljust(64, b"\x00") + struct.pack("<HBB", len(name), kind, 1)
        entry += struct.pack("<III", NOSTREAM, NOSTREAM, child) + b"\x00" * 36
        entry += struct.pack("<IQ", node.start if kind != 1 else 0, node.size)
        entries += entry
    def link(kids: list[_Node], lo: int, hi: int) -> int:
        """Siblings as a balanced search tree in the CFB order (readers walk it recursively)."""
        if lo >= hi:
            return NOSTREAM
        mid = (lo + hi) // 2
        struct.pack_into("<II", entries, kids[mid].index * 128 + 0x44, link(kids, lo, mid), link(kids, mid + 1, hi))
        return kids[mid].index

    for parent in order:
        kids = sorted(parent.children.values(), key=lambda n: _cfb_key(n.name))
        link(kids, 0, len(kids))
    entries = entries.ljust(-(-len(entries) // SECTOR) * SECTOR, b"\x00")
    for i in range(len(order), len(entries) // 128):  # unused entries
        struct.pack_into("<III", entries, i * 128 + 0x44, NOSTREAM, NOSTREAM, NOSTREAM)
    dir_start = chain(bytes(entries))
    n_fat = 1
    while n_fat * (SECTOR // 4) < len(sectors) + n_fat:
        n_fat += 1
    fat_sectors = list(range(len(sectors), len(sectors) + n_fat))
    assert n_fat <= 109, "sample too large for a header-only DIFAT"
    table = [FREE] * (n_fat * SECTOR // 4)
    for s, nxt in fat.items():
        table[s] = nxt
    for s in fat_sectors:
        table[s] = FATSECT
    fat_bytes = struct.pack(f"<{len(table)}I", *table)
    header = bytearray(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 16)
    header += struct.pack("<HHHHH", 0x003E, 3, 0xFFFE, 9, 6) + b"\x00" * 6
    header += struct.pack("<IIIIIIIII", 0, n_fat, dir_start, 0, CUTOFF, minifat_start,
                          len(minifat_bytes) // SECTOR, END, 0)
    header += struct.pack("<109I", *(fat_sectors + [FREE] * (109 - n_fat)))
    assert len(header) == SECTOR
    path.write_bytes(bytes(header) + b"".join(sectors) + fat_bytes)
    return path


# --- Word 97 ----------------------------------------------------------------------------------------
def summary_information(props: dict[int, str], *, count: int | None = None) -> bytes:
    """A SummaryInformation property set with string properties (2 title, 3 subject, 4 author, 5 keywords);
    ``count`` overrides the number of properties it declares."""
    values = b""
    entries = []
    offset = 8 + 8 * (len(props) + 1)
    entries.append((1, offset))
    values += struct.pack("<Ih", 0x0002, 1252) + b"\x00\x00"
    for pid, text in props.items():
        entries.append((pid, offset + len(values)))
        raw = text.encode("cp1252") + b"\x00"
        values += struct.pack("<II", 0x001E, len(raw)) + raw.ljust(-(-len(raw) // 4) * 4, b"\x00")
    body = b"".join(struct.pack("<II", pid, off) for pid, off in entries) + values
    section = struct.pack("<II", 8 + len(body), len(entries) if count is None else count) + body
    fmtid = bytes.fromhex("e0859ff2f94f6810ab9108002b27b3d9")
    return struct.pack("<HHI", 0xFFFE, 0, 0x00020006) + b"\x00" * 16 + struct.pack("<I", 1) + fmtid + \
        struct.pack("<I", 48) + section


def make_doc(path: Path, paragraphs: list[str], *, unicode: bool = False, encrypted: bool = False,
             nfib: int = 0x00C1, summary: bytes | None = None) -> Path:
    """A Word 97 document whose text is ``paragraphs`` (one piece: 8-bit cp1252 or UTF-16)."""
    text = "\r".join(paragraphs) + "\r"
    fc = 0x800
    word = bytearray(fc)
    struct.pack_into("<HH", word, 0, 0xA5EC, nfib)
    struct.pack_into("<H", word, 0x0A, 0x0200 | (0x0100 if encrypted else 0))  # 1Table; encrypted
    struct.pack_into("<H", word, 0x20, 14)
    struct.pack_into("<H", word, 0x3E, 22)
    struct.pack_into("<I", word, 0x4C, len(text))  # ccpText
    struct.pack_into("<H", word, 0x98, 93)
    body = text.encode("utf-16-le") if unicode else text.encode("cp1252")
    struct.pack_into("<II", word, 0x18, fc, fc + len(body))  # FibBase's old fcMin/fcMac, which Word still fills
    word += body
    piece_fc = fc if unicode else (fc * 2) | 0x40000000
    plc = struct.pack("<II", 0, len(text)) + struct.pack("<HIH", 0, piece_fc, 0)
    clx = b"\x01" + struct.pack("<h", 2) + b"\x00\x00" + b"\x02" + struct.pack("<I", len(plc)) + plc
    table = bytearray(b"\x00" * 0x40) + clx
    struct.pack_into("<II", word, 0x01A2, 0x40, len(clx))
    streams = {"WordDocument": bytes(word).ljust(CUTOFF, b"\x00"), "1Table": bytes(table)}
    if summary is not None:
        streams["\x05SummaryInformation"] = summary
    return write_cfb(path, streams)


# --- PowerPoint 97 ----------------------------------------------------------------------------------
def _record(rtype: int, body: bytes, *, container: bool = False, instance: int = 0) -> bytes:
    ver_inst = (instance << 4) | (0xF if container else 0)
    return struct.pack("<HHI", ver_inst, rtype, len(body)) + body


def _text_atom(text: str) -> bytes:
    if all(ord(c) < 256 for c in text):
        return _record(0x0FA8, text.encode("latin-1"))
    return _record(0x0FA0, text.encode("utf-16-le"))


def make_ppt(path: Path, slides: list[list[str]], drawing_text: str | None = None, *,
             encrypted: bool = False, stale_copy: bool = False, relist_first: int = 0) -> Path:
    """A PowerPoint 97 presentation: each slide's placeholder texts in the document's slide list, a slide
    container per slide (the first one's drawing holds ``drawing_text`` in a text box), the persist
    directory and user edit that the Current User stream points at. ``stale_copy`` puts an older document
    (as an incremental save leaves it) before the live one; ``relist_first`` lists the first slide that many
    more times (as a hostile file could)."""
    entries = b""
    for i, texts in enumerate(slides):
        entries += _record(0x03F3, struct.pack("<IIiII", 2 + i, 0, len(texts), 256 + i, 0))
        for kind, text in enumerate(texts):
            entries += _record(0x0F9F, struct.pack("<I", 0 if kind == 0 else 1)) + _text_atom(text)
    entries += _record(0x03F3, struct.pack("<IIiII", 2, 0, 0, 256, 0)) * relist_first
    document = _record(0x03E8, _record(0x03E9, b"\x00" * 40) + _record(0x0FF0, entries, container=True),
                       container=True)
    stream = b""
    if stale_copy:
        old = _record(0x0FF0, _record(0x03F3, struct.pack("<IIiII", 2, 0, 1, 256, 0)) + _text_atom("Outdated draft"),
                      container=True)
        stream += _record(0x03E8, _record(0x03E9, b"\x00" * 40) + old, container=True)
    offsets = [len(stream)]
    stream += document
    for i in range(len(slides)):
        drawing = b""
        if i == 0 and drawing_text is not None:
            textbox = _record(0xF00D, _record(0x0F9F, struct.pack("<I", 4)) + _text_atom(drawing_text),
                              container=True)
            drawing = _record(0x040C, _record(0xF002, _record(0xF004, textbox, container=True), container=True),
                              container=True)
        offsets.append(len(stream))
        stream += _record(0x03EE, _record(0x03EF, b"\x00" * 24) + drawing, container=True)
    if encrypted:
        stream += _record(0x2F14, b"\x00" * 16, container=True)
    directory = len(stream)
    stream += _record(0x1772, struct.pack("<I", (len(offsets) << 20) | 1) + struct.pack(f"<{len(offsets)}I", *offsets))
    edit = len(stream)
    stream += _record(0x0FF5, struct.pack("<IHBBIIIIHH", 256, 0, 0, 3, 0, directory, 1, len(offsets) + 1, 1, 0))
    user = struct.pack("<IIIHHBBH", 0x14, 0xE391C05F, edit, 4, 0x03F4, 3, 0, 0) + b"test"
    current_user = struct.pack("<HHI", 0, 0x0FF6, len(user)) + user
    return write_cfb(path, {"PowerPoint Document": stream.ljust(CUTOFF, b"\x00"), "Current User": current_user})


# --- Outlook -----------------------------------------------------------------------------------------
def _unicode(tag: int, text: str) -> tuple[str, bytes]:
    return f"__substg1.0_{tag:04X}001F", text.encode("utf-16-le")


_RTF_PREBUF = (
    b"{\\rtf1\\ansi\\mac\\deff0\\deftab720{\\fonttbl;}{\\f0\\fnil \\froman \\fswiss \\fmodern \\fscript "
    b"\\fdecor MS Sans SerifSymbolArialTimes New RomanCourier{\\colortbl\\red0\\green0\\blue0\r\n\\par "
    b"\\pard\\plain\\f0\\fs20\\b\\i\\u\\tab\\tx"
)


def compress_rtf(rtf: bytes) -> bytes:
    """``rtf`` as [MS-OXRTFCP] compressed RTF ("LZFu"): greedy longest matches in the 4,096-byte dictionary
    that starts with the fixed preamble, the end marked by a reference to the write position, and the
    header's CRC (CRC-32 table, start 0, no final inversion)."""
    import zlib

    window = bytearray(4096)
    window[: len(_RTF_PREBUF)] = _RTF_PREBUF
    write = len(_RTF_PREBUF)
    tokens: list[bytes | int] = []  # a literal byte (bytes) or a reference (int token)
    i = 0
    while i < len(rtf):
        best_len, best_off = 0, 0
        for off in range(4096):
            if off == write or window[off] != rtf[i]:
                continue
            n = 0
            while n < 17 and i + n < len(rtf):
                at = (off + n) & 0x0FFF
                ahead = (at - write) & 0x0FFF
                byte = rtf[i + ahead] if ahead < n else window[at]  # overlapping what this match writes
                if byte != rtf[i + n]:
                    break
                n += 1
            if n > best_len:
                best_len, best_off = n, off
        count = best_len if best_len >= 2 else 1
        tokens.append((best_off << 4) | (count - 2) if best_len >= 2 else rtf[i : i + 1])
        for byte in rtf[i : i + count]:
            window[write] = byte
            write = (write + 1) & 0x0FFF
        i += count
    tokens.append(write << 4)  # the end
    payload = bytearray()
    for start in range(0, len(tokens), 8):
        group = tokens[start : start + 8]
        payload.append(sum(1 << k for k, t in enumerate(group) if isinstance(t, int)))
        for t in group:
            payload += struct.pack(">H", t) if isinstance(t, int) else t
    crc = zlib.crc32(bytes(payload), 0xFFFFFFFF) ^ 0xFFFFFFFF
    return struct.pack("<IIII", len(payload) + 12, len(rtf), 0x75465A4C, crc) + bytes(payload)


def make_msg(path: Path, *, subject: str, body: str | None = None, html: str | None = None,
             rtf: bytes | None = None, sender: str = "", sender_email: str = "", to: str = "",
             recipients: list[tuple[str, str]] = (), attachments: list[tuple[str, bytes]] = (),
             submit_filetime: int | None = None) -> Path:
    """An Outlook message with Unicode properties, recipients and attachments (by value); ``rtf`` is
    stored as the compressed RTF body (PR_RTF_COMPRESSED)."""
    streams: dict[str, bytes] = dict([_unicode(0x001A, "IPM.Note"), _unicode(0x0037, subject)])
    if body is not None:
        streams.update([_unicode(0x1000, body)])
    if html is not None:
        streams["__substg1.0_10130102"] = html.encode("utf-8")
    if rtf is not None:
        streams["__substg1.0_10090102"] = compress_rtf(rtf)
    if sender:
        streams.update([_unicode(0x0C1A, sender)])
    if sender_email:
        streams.update([_unicode(0x5D01, sender_email)])
    if to:
        streams.update([_unicode(0x0E04, to)])
    props = b"\x00" * 8 + struct.pack("<IIII", len(recipients), len(attachments), len(recipients),
                                      len(attachments)) + b"\x00" * 8
    if submit_filetime is not None:
        props += struct.pack("<HHI", 0x0040, 0x0039, 0x6) + struct.pack("<Q", submit_filetime)
    streams["__properties_version1.0"] = props
    for stream in ("00020102", "00030102", "00040102"):  # the named-property map (empty), which Outlook writes
        streams[f"__nameid_version1.0/__substg1.0_{stream}"] = b""
    for i, (name, address) in enumerate(recipients):
        base = f"__recip_version1.0_#{i:08X}"
        streams[f"{base}/__substg1.0_3001001F"] = name.encode("utf-16-le")
        streams[f"{base}/__substg1.0_39FE001F"] = address.encode("utf-16-le")
        streams[f"{base}/__properties_version1.0"] = b"\x00" * 8
    for i, (name, data) in enumerate(attachments):
        base = f"__attach_version1.0_#{i:08X}"
        streams[f"{base}/__substg1.0_3707001F"] = name.encode("utf-16-le")
        streams[f"{base}/__substg1.0_37010102"] = data
        streams[f"{base}/__properties_version1.0"] = b"\x00" * 8
    return write_cfb(path, streams)
