"""Outlook .msg, Word 97-2003 .doc and PowerPoint 97-2003 .ppt: made by desktop_search/testing/legacy_office.py."""

from __future__ import annotations

import zipfile
from pathlib import Path

import olefile
import pytest

from desktop_search.core.extract import extract_one
from desktop_search.core.extract.pool import extract_in_process
from desktop_search.testing.legacy_office import make_doc, make_msg, make_ppt, summary_information


def test_the_samples_are_compound_files_an_independent_reader_opens(tmp_path: Path) -> None:
    path = make_msg(tmp_path / "m.msg", subject="s", body="b" * 5000, attachments=[("a.txt", b"x" * 10)])
    with olefile.OleFileIO(str(path)) as ole:
        assert ole.openstream("__substg1.0_1000001F").read() == ("b" * 5000).encode("utf-16-le")  # big stream
        assert ole.openstream("__attach_version1.0_#00000000/__substg1.0_37010102").read() == b"x" * 10  # mini


def test_word_97_text_with_fields_tables_and_unicode(tmp_path: Path) -> None:
    paragraphs = ["Quarterly report on the aardvark census", "Cell one\x07Cell two\x07\x07",
                  'See \x13 HYPERLINK "http://example.org" \x14the survey page\x15 for details', "Caf\xe9 cr\xe8me"]
    result = extract_in_process(make_doc(tmp_path / "a.doc", paragraphs)).result
    assert result is not None and result.extractor == "word-97"
    assert "Quarterly report on the aardvark census\n" in result.text
    assert "Cell one\tCell two" in result.text
    assert "See the survey page for details" in result.text and "HYPERLINK" not in result.text
    assert "Caf\xe9 cr\xe8me" in result.text
    hello = "\u0417\u0434\u0440\u0430\u0432\u0441\u0442\u0432\u0443\u0439 \u4e16\u754c"
    wide = extract_in_process(make_doc(tmp_path / "u.doc", [hello], unicode=True))
    assert wide.result is not None and hello in wide.result.text


def test_powerpoint_97_slides_and_drawing_text(tmp_path: Path) -> None:
    path = make_ppt(tmp_path / "a.ppt", [["Migration of the arctic tern", "Route over the Atlantic"],
                                         ["\u00c9t\u00e9 \u2014 results", "Second slide body"]],
                    drawing_text="A text box about krill", stale_copy=True)
    result = extract_in_process(path).result
    assert result is not None and result.extractor == "powerpoint-97"
    assert result.page_count == 2
    first = result.text[result.page_starts[0] : result.page_starts[1]]
    assert "Migration of the arctic tern" in first and "Route over the Atlantic" in first
    assert "A text box about krill" in first  # the slide's drawing, found through the persist directory
    assert "\u00c9t\u00e9 \u2014 results" in result.text[result.page_starts[1] :]
    assert "Outdated draft" not in result.text  # an older copy left by an incremental save


def test_outlook_message_fields_body_and_attachments(tmp_path: Path) -> None:
    inner = zipfile.ZipFile(tmp_path / "notes.zip", "w")
    inner.writestr("minutes.txt", "minutes of the pelican committee")
    inner.close()
    path = make_msg(tmp_path / "a.msg", subject="Budget for the heron survey",
                    body="Dear all,\r\nthe budget is attached.",
                    sender="Ana Example", sender_email="ana@example.org", to="Bo Example",
                    attachments=[("budget.txt", b"total 1200 euros for binoculars"),
                                 ("notes.zip", (tmp_path / "notes.zip").read_bytes()),
                                 ("../../evil.txt", b"nothing")],
                    submit_filetime=133_000_000_000_000_000)
    outcome = extract_one(path)
    result = outcome.result
    assert result is not None, outcome.error
    assert result.title == "Budget for the heron survey"
    assert "From: Ana Example <ana@example.org>" in result.text and "To: Bo Example" in result.text
    assert "Date: 2022-" in result.text
    assert "the budget is attached." in result.text
    assert "Attachments: budget.txt, notes.zip, ../../evil.txt" in result.text
    members = {m.name: (m.result.text if m.result else None, m.error) for m in result.members}
    assert members["budget.txt"] == ("total 1200 euros for binoculars", None)
    assert members["notes.zip!/minutes.txt"] == ("minutes of the pelican committee", None)
    assert members[".._.._evil.txt"][1] is None  # a name is never a path: flattened, read from a scratch copy


def test_outlook_html_body_and_recipient_storages(tmp_path: Path) -> None:
    path = make_msg(tmp_path / "h.msg", subject="Newsletter",
                    html="<html><body><p>Spotted: a <b>kingfisher</b></p><script>x()</script></body></html>",
                    recipients=[("Cy Example", "cy@example.org")])
    result = extract_in_process(path).result
    assert result is not None
    assert "Spotted: a kingfisher" in result.text and "x()" not in result.text
    assert "To: Cy Example <cy@example.org>" in result.text


@pytest.mark.parametrize(
    ("name", "make", "reason"),
    [
        ("locked.doc", lambda p: make_doc(p, ["secret"], encrypted=True), "password-protected Word document"),
        ("old.doc", lambda p: make_doc(p, ["old"], nfib=0x0065),
         "Word 6/95 document: only Word 97-2003 .doc files are read"),
        ("locked.ppt", lambda p: make_ppt(p, [["x"]], encrypted=True), "password-protected PowerPoint presentation"),
        ("plain.ppt", lambda p: p.write_bytes(b"just some text") and p, "not a valid PowerPoint 97-2003 file"),
        ("bad.msg", lambda p: p.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100) and p,
         "corrupt Outlook message file (damaged OLE2 container)"),
    ],
)
def test_unreadable_files_fail_with_a_reason(tmp_path: Path, name: str, make, reason: str) -> None:  # type: ignore[no-untyped-def]
    make(tmp_path / name)
    outcome = extract_in_process(tmp_path / name)
    assert outcome.result is None and outcome.error == reason


def test_a_doc_that_is_really_rtf_or_docx_is_read_as_such(tmp_path: Path) -> None:
    (tmp_path / "rtf.doc").write_bytes(rb"{\rtf1\ansi Saved from WordPad about puffins\par}")
    assert "puffins" in extract_in_process(tmp_path / "rtf.doc").result.text  # type: ignore[union-attr]


def test_title_and_author_come_from_the_summary_and_a_hostile_summary_is_ignored(tmp_path: Path) -> None:
    summary = summary_information({2: "Census of aardvarks", 4: "Ana Example"})
    result = extract_in_process(make_doc(tmp_path / "t.doc", ["body text"], summary=summary)).result
    assert result is not None and result.title == "Census of aardvarks" and result.metadata["author"] == "Ana Example"
    # a property set declaring 2**31 entries (olefile's parser loops for minutes on it: found by fuzzing)
    hostile = summary_information({2: "x"}, count=2**31)
    outcome = extract_one(make_doc(tmp_path / "h.doc", ["still read"], summary=hostile))
    assert outcome.result is not None and "still read" in outcome.result.text


def test_a_storage_where_a_stream_belongs_fails_with_a_reason(tmp_path: Path) -> None:
    from desktop_search.testing.legacy_office import write_cfb

    write_cfb(tmp_path / "s.ppt", {"PowerPoint Document/inner": b"x" * 100, "Current User": b"\x00" * 20})
    outcome = extract_in_process(tmp_path / "s.ppt")
    assert outcome.result is None and outcome.error == "corrupt PowerPoint file (damaged OLE2 container)"
