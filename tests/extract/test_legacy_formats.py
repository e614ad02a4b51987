""".msg/.doc/.ppt beyond the happy path: the compressed RTF body, damaged and hostile files, and search.

The samples come from :mod:`desktop_search.testing.legacy_office` (written from the specs; see
test_legacy_office.py for the text each format yields).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

import pytest

from desktop_search.core.extract.compressed_rtf import decompress_rtf
from desktop_search.core.extract.legacy_office import _drop_field_codes
from desktop_search.core.extract.pool import extract_in_process
from desktop_search.core.extract.types import ExtractionFailed
from desktop_search.core.service import Service
from desktop_search.testing.legacy_office import CUTOFF, _record, compress_rtf, make_doc, make_msg, make_ppt, write_cfb

# [MS-OXRTFCP] section 3.1's two examples: independent vectors for the decompressor (and our compressor)
SPEC_SIMPLE = bytes.fromhex("2d0000002b0000004c5a4675f1c5c7a703000a007263706731323542320af32068656c09002062"
                            "7705b06c647d0a800fa0")
SPEC_RUN = bytes.fromhex("1a0000001c0000004c5a4675e2d44b51410004205758595a0d6e7d010eb0")


def test_compressed_rtf_decodes_the_specification_examples() -> None:
    assert decompress_rtf(SPEC_SIMPLE, 1 << 20) == b"{\\rtf1\\ansi\\ansicpg1252\\pard hello world}\r\n"
    assert decompress_rtf(SPEC_RUN, 1 << 20) == b"{\\rtf1 WXYZWXYZWXYZWXYZWXYZ}"  # an overlapping reference
    assert compress_rtf(b"{\\rtf1\\ansi\\ansicpg1252\\pard hello world}\r\n") == SPEC_SIMPLE  # the writer, checked


def test_compressed_rtf_refuses_what_it_cannot_read() -> None:
    with pytest.raises(ExtractionFailed, match="larger than 1 MB"):
        decompress_rtf(struct.pack("<IIII", 12, 50 << 20, 0x75465A4C, 0), 1 << 20)  # a declared 50 MB body
    with pytest.raises(ExtractionFailed, match="unknown compressed RTF format"):
        decompress_rtf(struct.pack("<IIII", 12, 10, 0x12345678, 0), 1 << 20)
    with pytest.raises(ExtractionFailed, match="too short"):
        decompress_rtf(b"LZFu", 1 << 20)
    stored = struct.pack("<IIII", 17, 5, 0x414C454D, 0) + b"{\\rtf1}"  # "MELA": stored as is
    assert decompress_rtf(stored, 1 << 20) == b"{\\rtf"
    assert decompress_rtf(SPEC_SIMPLE[:30], 1 << 20).startswith(b"{\\rtf1\\ansi")  # cut short: what is there


def test_outlook_message_with_only_a_compressed_rtf_body(tmp_path: Path) -> None:
    rtf = (b"{\\rtf1\\ansi\\ansicpg1252{\\fonttbl{\\f0 Arial;}}\\f0 Sightings of the \\b osprey\\b0  this "
           b"nesting season\\par Caf\\'e9 meeting, cost \\u8364? 12\\par}")
    result = extract_in_process(make_msg(tmp_path / "r.msg", subject="Osprey report", rtf=rtf)).result
    assert result is not None
    assert "Sightings of the osprey this nesting season" in result.text
    assert "Caf\xe9 meeting, cost \u20ac 12" in result.text
    assert "fonttbl" not in result.text and "Arial" not in result.text
    plain = extract_in_process(make_msg(tmp_path / "p.msg", subject="x", body="the plain body wins", rtf=rtf))
    assert plain.result is not None and "osprey" not in plain.result.text  # plain body first, RTF unused


def test_outlook_message_with_a_damaged_rtf_body_fails_with_a_reason(tmp_path: Path) -> None:
    path = make_msg(tmp_path / "bad.msg", subject="x", rtf=b"{\\rtf1 x}")
    data = bytearray(path.read_bytes())
    header = struct.pack("<III", 12, 0xFFFFFF00, 0x75465A4C)  # now declares a 4 GB body
    at = bytes(data).index(compress_rtf(b"{\\rtf1 x}")[:12])
    data[at : at + 12] = header
    path.write_bytes(bytes(data))
    outcome = extract_in_process(path)
    assert outcome.result is None and outcome.error == "Outlook message body is larger than 200 MB"


# --- damaged files: each fails with a one-line reason, none with a traceback --------------------------
def _doc(p: Path) -> Path:
    return make_doc(p, ["A Word document about the great crested grebe " * 40])


def _ppt(p: Path) -> Path:
    return make_ppt(p, [["Slides about the grebe " * 60, "second"]])


def _msg(p: Path) -> Path:
    return make_msg(p, subject="grebe", body="A message about the grebe " * 300)


MAKERS: dict[str, Callable[[Path], Path]] = {".doc": _doc, ".ppt": _ppt, ".msg": _msg}


def _assert_one_line_reason(path: Path) -> str:
    outcome = extract_in_process(path)
    assert outcome.result is None, f"{path.name} was read"
    assert outcome.error and "\n" not in outcome.error and "Traceback" not in outcome.error
    return outcome.error


@pytest.mark.parametrize("suffix", sorted(MAKERS))
@pytest.mark.parametrize("keep", [0.5, 0.9, 0.99])
def test_a_truncated_file_fails_with_a_reason(tmp_path: Path, suffix: str, keep: float) -> None:
    whole = MAKERS[suffix](tmp_path / f"whole{suffix}").read_bytes()
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(whole[: int(len(whole) * keep)])
    assert "damaged OLE2 container" in _assert_one_line_reason(cut)


@pytest.mark.parametrize("suffix", sorted(MAKERS))
def test_garbage_with_the_right_suffix_fails_with_a_reason(tmp_path: Path, suffix: str) -> None:
    noise = bytes((i * 7919 + 13) % 251 for i in range(20_000))
    (tmp_path / f"noise{suffix}").write_bytes(noise)
    assert "not a valid" in _assert_one_line_reason(tmp_path / f"noise{suffix}")
    (tmp_path / f"magic{suffix}").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + noise)  # OLE2 magic, no OLE2
    assert "damaged OLE2 container" in _assert_one_line_reason(tmp_path / f"magic{suffix}")


def test_a_msg_that_is_plain_text_is_read_as_text(tmp_path: Path) -> None:
    (tmp_path / "it.msg").write_text('namespace eval ::tk {\n    ::msgcat::mcset it "&Abort" "&Interrompi"\n}\n')
    result = extract_in_process(tmp_path / "it.msg").result  # Tcl/Tk message catalogs are .msg files
    assert result is not None and result.extractor == "text" and "Interrompi" in result.text


def test_a_compound_file_without_the_formats_stream_fails_with_a_reason(tmp_path: Path) -> None:
    for suffix, stream in ((".doc", "WordDocument"), (".ppt", "PowerPoint Document")):
        path = write_cfb(tmp_path / f"other{suffix}", {"Something Else": b"x" * 100})
        assert _assert_one_line_reason(path) == f"corrupt file (no {stream} stream)"


# --- hostile structure: linear work (each of these took 8 to 60+ s before the guards) ---------------
def test_word_field_marks_nested_or_unbalanced() -> None:
    nested = '\x13 IF \x13 PAGE \x14 3 \x15 > 1 \x14shown\x15 after'
    assert _drop_field_codes(nested) == "shown after"
    assert _drop_field_codes("a\x15b\x14c\x13hidden") == "abc"  # marks of no open field dropped
    assert _drop_field_codes("\x13\x14" * 200_000 + "still read") == "still read"  # was quadratic


def test_word_document_with_many_fields_is_read(tmp_path: Path) -> None:
    path = make_doc(tmp_path / "fields.doc", ["\x13\x14" * 30_000 + "the visible grebe text"])
    result = extract_in_process(path).result
    assert result is not None and "the visible grebe text" in result.text
    stray = extract_in_process(make_doc(tmp_path / "stray.doc", ["stray\x15 end\x14 of\x01 \x08field"])).result
    assert stray is not None and stray.text == "stray end of field\n"  # and other controls


def test_powerpoint_edit_chain_sharing_one_directory_is_read_once(tmp_path: Path) -> None:
    """20,000 user edits, each pointing at the previous one and all at the same 4,000-entry persist
    directory: the directory is read once (it was read 20,000 times: 63 s)."""
    stream = _record(0x03E8, _record(0x0FA8, b"Shared directory grebe"), container=True)
    directory = len(stream)
    stream += _record(0x1772, struct.pack("<I", (4000 << 20) | 1) + b"\x00" * 16_000)
    last = 0
    for _ in range(20_000):
        offset = len(stream)
        stream += _record(0x0FF5, struct.pack("<IHBBIIIIHH", 256, 0, 0, 3, last, directory, 1, 4001, 1, 0))
        last = offset
    user = struct.pack("<IIIHHBBH", 0x14, 0xE391C05F, last, 4, 0x03F4, 3, 0, 0) + b"test"
    path = write_cfb(tmp_path / "edits.ppt", {"PowerPoint Document": stream.ljust(CUTOFF, b"\x00"),
                                              "Current User": _record(0x0FF6, user)})
    result = extract_in_process(path).result
    assert result is not None and "Shared directory grebe" in result.text


def test_powerpoint_slide_listed_many_times_is_read_once(tmp_path: Path) -> None:
    path = make_ppt(tmp_path / "many.ppt", [["Title about terns", "body"]], drawing_text="Box about terns",
                    relist_first=20_000)
    result = extract_in_process(path).result
    assert result is not None
    assert result.text.count("Box about terns") == 1 and "Title about terns" in result.text


def test_outlook_message_with_many_attachments_and_entries_is_read_in_linear_time(tmp_path: Path) -> None:
    """500 attachments beside 20,000 other entries (a balanced directory tree, as Outlook writes it):
    the entries are listed once, not once per attachment (19.8 s before, 0.3 s now)."""
    streams = {"__substg1.0_0037001F": "Many parts".encode("utf-16-le"), "__properties_version1.0": b"\x00" * 32}
    for i in range(500):
        streams[f"__attach_version1.0_#{i:08X}/__substg1.0_3707001F"] = f"part{i}.txt".encode("utf-16-le")
    for i in range(20_000):
        streams[f"other/s{i}"] = b""
    result = extract_in_process(write_cfb(tmp_path / "many.msg", streams)).result
    assert result is not None and result.title == "Many parts"
    assert "part0.txt, part1.txt" in result.text and "part499.txt" in result.text


# --- indexed and found ----------------------------------------------------------------------------
def test_msg_doc_and_ppt_are_found_by_keyword_search(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    make_doc(docs / "plan.doc", ["The zqgannet survey plan"])
    make_ppt(docs / "talk.ppt", [["zqshearwater migration"], ["Second slide: zqpetrel colonies"]])
    make_msg(docs / "mail.msg", subject="About zqfulmar counts", body="Counts attached.")
    make_msg(docs / "rich.msg", subject="Rich text", rtf=b"{\\rtf1\\ansi The zqpuffin burrows\\par}")
    (docs / "broken.doc").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600)
    with Service(tmp_path / "data", allow_download=False) as service:
        report = service.index([str(docs)])
        assert report.failed == 1

        def hits(word: str) -> list[str]:
            return [r.path for r in service.search(word, mode="keyword").results]

        assert hits("zqgannet") == [str(docs / "plan.doc")]
        assert hits("zqshearwater") == [str(docs / "talk.ppt")]
        assert hits("zqpetrel") == [str(docs / "talk.ppt")]
        assert hits("zqfulmar") == [str(docs / "mail.msg")]
        assert hits("zqpuffin") == [str(docs / "rich.msg")]
        failed = {f["path"]: f for f in service.failed()}
        assert any(p.endswith("broken.doc") for p in failed), failed
