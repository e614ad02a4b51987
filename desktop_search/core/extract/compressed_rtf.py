"""Compressed RTF ([MS-OXRTFCP]): the body an Outlook message keeps in ``PR_RTF_COMPRESSED`` (0x1009).

A 16-byte header (compressed size, raw size, ``LZFu`` compressed / ``MELA`` stored, CRC) and then, for
``LZFu``, runs of one control byte and eight tokens: a literal byte, or a 16-bit big-endian reference
(12-bit offset into a 4,096-byte circular dictionary, 4-bit length + 2) into the dictionary, which starts
filled with a fixed RTF preamble. The CRC is not checked: a damaged body decodes to damaged text, which
the RTF reader then reads as far as it can. Output stops at the raw size the header declares, which must
be within ``cap`` (a message states it; a hostile one cannot make us allocate more).
"""

from __future__ import annotations

import struct

from .types import ExtractionFailed

_PREBUF = (
    b"{\\rtf1\\ansi\\mac\\deff0\\deftab720{\\fonttbl;}{\\f0\\fnil \\froman \\fswiss \\fmodern \\fscript "
    b"\\fdecor MS Sans SerifSymbolArialTimes New RomanCourier{\\colortbl\\red0\\green0\\blue0\r\n\\par "
    b"\\pard\\plain\\f0\\fs20\\b\\i\\u\\tab\\tx"
)
_COMPRESSED, _STORED = 0x75465A4C, 0x414C454D  # "LZFu", "MELA" read as little-endian numbers


def decompress_rtf(data: bytes, cap: int) -> bytes:
    """The RTF held in a compressed-RTF stream, or :class:`ExtractionFailed` with a one-line reason."""
    if len(data) < 16:
        raise ExtractionFailed("corrupt Outlook message (compressed RTF body too short)")
    comp_size, raw_size, magic, _crc = struct.unpack_from("<IIII", data, 0)
    if raw_size > cap:
        raise ExtractionFailed(f"Outlook message body is larger than {cap // (1024 * 1024)} MB")
    if magic == _STORED:
        return data[16 : 16 + raw_size]
    if magic != _COMPRESSED:
        raise ExtractionFailed("corrupt Outlook message (unknown compressed RTF format)")
    end = min(len(data), 4 + comp_size)  # the compressed size counts from after its own field
    dictionary = bytearray(4096)
    dictionary[: len(_PREBUF)] = _PREBUF
    write = len(_PREBUF)
    out = bytearray()
    pos = 16
    while pos < end and len(out) < raw_size:
        control = data[pos]
        pos += 1
        for bit in range(8):
            if pos >= end or len(out) >= raw_size:
                break
            if control & (1 << bit):  # a reference into the dictionary
                if pos + 2 > end:
                    break
                (token,) = struct.unpack_from(">H", data, pos)
                pos += 2
                offset, length = token >> 4, (token & 0x0F) + 2
                if offset == write:  # a reference to the write position marks the end
                    return bytes(out)
                for _ in range(length):  # byte by byte: a reference may overlap what it writes
                    byte = dictionary[offset]
                    out.append(byte)
                    dictionary[write] = byte
                    write = (write + 1) & 0x0FFF
                    offset = (offset + 1) & 0x0FFF
            else:
                byte = data[pos]
                pos += 1
                out.append(byte)
                dictionary[write] = byte
                write = (write + 1) & 0x0FFF
    return bytes(out[:raw_size])
