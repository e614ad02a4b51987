"""Format-level behaviour on small generated files (in-process; no corpus needed)."""

from __future__ import annotations

import time
import zipfile
from pathlib import Path

import pytest

from desktop_search.core.extract import ExtractLimits, is_candidate, page_at
from desktop_search.core.extract.pool import extract_in_process

W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
A = 'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"'
R = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG = "http://schemas.openxmlformats.org/package/2006/relationships"


def _rels(*rels: tuple[str, str, str]) -> str:
    body = "".join(f'<Relationship Id="{i}" Type="{REL}/{t}" Target="{target}"/>' for i, t, target in rels)
    return f'<Relationships xmlns="{PKG}">{body}</Relationships>'


def _zip(path: Path, parts: dict[str, str | bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)
    return path


def ok(path: Path, limits: ExtractLimits | None = None):  # type: ignore[no-untyped-def]
    outcome = extract_in_process(path, limits)
    assert outcome.result is not None, outcome.error
    return outcome.result


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.pdf", True),
        ("b.DOCX", True),
        ("c.xlsx", True),
        ("d.epub", True),
        ("e.eml", True),
        ("f.py", True),
        ("README", True),
        ("notes.2024", True),
        ("photo.JPG", True),  # images: read by OCR when it is on, skipped with that reason when off (issue 15)
        ("anim.gif", False),
        ("x.zip", True),  # archives: members are documents (issue 15)
        ("setup.exe", False),
        ("song.mp3", False),
        ("lib.so", False),
        ("old.doc", True),  # Word 97-2003 (issue 15)
    ],
)
def test_is_candidate(name: str, expected: bool) -> None:
    assert is_candidate(Path("/some/dir") / name) is expected


def test_unknown_binary_is_skipped_but_text_and_pdf_are_sniffed(tmp_path: Path) -> None:
    blob = tmp_path / "blob"
    blob.write_bytes(bytes(range(256)) * 64)
    outcome = extract_in_process(blob)
    assert outcome.skipped and outcome.result is None and outcome.error == "not a document (binary)"

    notes = tmp_path / "NOTES"
    notes.write_text("shopping list: apples\n", encoding="utf-8")
    assert ok(notes).text == "shopping list: apples\n"

    named_txt = tmp_path / "random.txt"
    named_txt.write_bytes(bytes(range(256)) * 64)
    outcome = extract_in_process(named_txt)
    assert not outcome.skipped and outcome.result is None and outcome.error == "binary data in a .txt file"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("Grüße aus Köln\n".encode("utf-16-le"), "Grüße aus Köln\n"),  # UTF-16 without BOM
        (b"\xef\xbb\xbfThe BOM must not leak\r\n", "The BOM must not leak\n"),
        ("Русский текст для проверки\n".encode("utf-16-be").join([b"\xfe\xff", b""]), "Русский текст для проверки\n"),
        (
            "Les élèves ont déjà mangé à la cantine, où l'été dernier était très chaud.\n".encode("cp1252"),
            "Les élèves ont déjà mangé à la cantine, où l'été dernier était très chaud.\n",
        ),
        (b"line one\rline two\r", "line one\nline two\n"),
    ],
)
def test_text_encodings(tmp_path: Path, data: bytes, expected: str) -> None:
    path = tmp_path / "t.txt"
    path.write_bytes(data)
    assert ok(path).text == expected


def test_markdown_title(tmp_path: Path) -> None:
    path = tmp_path / "n.md"
    path.write_text("Intro line\n\n# Real Title #\n\nbody\n", encoding="utf-8")
    assert ok(path).title == "Real Title"


def test_html_visible_text_and_late_charset(tmp_path: Path) -> None:
    preamble = "<!-- " + "x" * 50_000 + " -->"
    html = (
        f"<html><head>{preamble}<meta charset='windows-1251'><title>Заголовок</title>"
        "<style>.a{color:red}</style><script>var secret = 1;</script></head>"
        "<body><p>Привет, <b>мир</b>!</p><div hidden>invisible</div>"
        "<div style='display: none'>also invisible</div><img src='http://example.invalid/x.png'></body></html>"
    )
    path = tmp_path / "p.html"
    path.write_bytes(html.encode("cp1251"))
    result = ok(path)
    assert result.title == "Заголовок"
    assert "Привет, мир!" in result.text
    for hidden in ("secret", "color", "invisible"):
        assert hidden not in result.text


def test_docx_text_box_once_and_footnotes(tmp_path: Path) -> None:
    mc = 'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"'
    doc = (
        f"<w:document {W} {mc}><w:body>"
        "<w:p><w:r><w:t>Body text</w:t></w:r><w:r><w:tab/><w:t>after tab</w:t></w:r></w:p>"
        "<w:p><w:r><mc:AlternateContent><mc:Choice Requires='wps'><w:txbxContent><w:p><w:r>"
        "<w:t>Text box words</w:t></w:r></w:p></w:txbxContent></mc:Choice><mc:Fallback><w:txbxContent><w:p>"
        "<w:r><w:t>Text box words</w:t></w:r></w:p></w:txbxContent></mc:Fallback></mc:AlternateContent>"
        "</w:r></w:p></w:body></w:document>"
    )
    notes = f"<w:footnotes {W}><w:footnote><w:p><w:r><w:t>A footnote</w:t></w:r></w:p></w:footnote></w:footnotes>"
    core = (
        '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>My Doc</dc:title></cp:coreProperties>'
    )
    path = _zip(
        tmp_path / "d.docx",
        {
            "[Content_Types].xml": "<Types/>",
            "_rels/.rels": _rels(("r1", "officeDocument", "word/document.xml")).replace(
                "</Relationships>",
                '<Relationship Id="r2" Type="http://schemas.openxmlformats.org/package/2006/relationships/'
                'metadata/core-properties" Target="docProps/core.xml"/></Relationships>',
            ),
            "word/document.xml": doc,
            "word/_rels/document.xml.rels": _rels(("n1", "footnotes", "footnotes.xml")),
            "word/footnotes.xml": notes,
            "docProps/core.xml": core,
        },
    )
    result = ok(path)
    assert result.text.count("Text box words") == 1
    assert "Body text\tafter tab" in result.text
    assert "A footnote" in result.text
    assert result.title == "My Doc"


def test_pptx_slides_are_pages(tmp_path: Path) -> None:
    p = 'xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"'

    def slide(text: str) -> str:
        return (
            f"<p:sld {p} {A}><p:cSld><p:spTree><p:sp><p:txBody><a:p><a:r><a:t>{text}</a:t></a:r></a:p>"
            "</p:txBody></p:sp></p:spTree></p:cSld></p:sld>"
        )

    pres = (
        f'<p:presentation {p} {R}><p:sldIdLst><p:sldId id="256" r:id="s2"/><p:sldId id="257" r:id="s1"/>'
        "</p:sldIdLst></p:presentation>"
    )
    path = _zip(
        tmp_path / "s.pptx",
        {
            "[Content_Types].xml": "<Types/>",
            "_rels/.rels": _rels(("r1", "officeDocument", "ppt/presentation.xml")),
            "ppt/presentation.xml": pres,
            "ppt/_rels/presentation.xml.rels": _rels(
                ("s1", "slide", "slides/slide1.xml"), ("s2", "slide", "slides/slide2.xml")
            ),
            "ppt/slides/slide1.xml": slide("Second in order"),
            "ppt/slides/slide2.xml": slide("First in order"),
        },
    )
    result = ok(path)
    assert result.page_count == 2
    assert page_at(result.page_starts, result.text.index("First in order")) == 1
    assert page_at(result.page_starts, result.text.index("Second in order")) == 2


def _xlsx(path: Path, sheet_xml: str, shared: list[str]) -> Path:
    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    sst = f"<sst {ns}>" + "".join(f"<si><t>{s}</t></si>" for s in shared) + "</sst>"
    return _zip(
        path,
        {
            "[Content_Types].xml": "<Types/>",
            "_rels/.rels": _rels(("r1", "officeDocument", "xl/workbook.xml")),
            "xl/workbook.xml": f'<workbook {ns} {R}><sheets><sheet name="Data" sheetId="1" r:id="w1"/>'
            "</sheets></workbook>",
            "xl/_rels/workbook.xml.rels": _rels(
                ("w1", "worksheet", "worksheets/sheet1.xml"), ("w2", "sharedStrings", "sharedStrings.xml")
            ),
            "xl/sharedStrings.xml": sst,
            "xl/worksheets/sheet1.xml": f"<worksheet {ns}>{sheet_xml}</worksheet>",
        },
    )


def test_xlsx_declared_huge_dimension_is_not_materialised(tmp_path: Path) -> None:
    sheet = (
        '<dimension ref="A1:XFD1048576"/><sheetData>'
        '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1"><v>42</v></c></row>'
        '<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>far corner</t></is></c></row>'
        "</sheetData>"
    )
    started = time.monotonic()
    result = ok(_xlsx(tmp_path / "x.xlsx", sheet, ["Sparse sheet header"]))
    assert time.monotonic() - started < 5
    assert "Sparse sheet header\t42" in result.text
    assert "far corner" in result.text
    assert result.page_count == 1


def test_xlsx_empty_sheet_gives_empty_text(tmp_path: Path) -> None:
    result = ok(_xlsx(tmp_path / "e.xlsx", "<sheetData/>", []))
    assert result.text == ""


def test_zip_bomb_is_refused_before_inflating(tmp_path: Path) -> None:
    path = _zip(
        tmp_path / "bomb.docx",
        {
            "[Content_Types].xml": "<Types/>",
            "word/document.xml": f"<w:document {W}><w:body>" + " " * (40 * 1024 * 1024) + "</w:body></w:document>",
        },
    )
    outcome = extract_in_process(path)
    assert outcome.result is None and outcome.error is not None
    assert outcome.error.startswith("ZIP bomb refused: word/document.xml")
    limits = ExtractLimits(max_unpacked_bytes=10 * 1024 * 1024)
    assert extract_in_process(path, limits).error.startswith("ZIP bomb refused")  # type: ignore[union-attr]


def test_not_a_zip_with_office_extension(tmp_path: Path) -> None:
    path = tmp_path / "fake.xlsx"
    path.write_bytes(b"this is not a workbook at all\n")
    assert extract_in_process(path).error == "corrupt ZIP container (not a valid Excel file)"


def test_ods_repeated_cells_are_not_expanded(tmp_path: Path) -> None:
    content = (
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"><office:body><office:spreadsheet>'
        '<table:table table:name="S1"><table:table-row table:number-rows-repeated="1048576">'
        '<table:table-cell table:number-columns-repeated="1073741824"><text:p>Repeated</text:p></table:table-cell>'
        "</table:table-row></table:table></office:spreadsheet></office:body></office:document-content>"
    )
    path = _zip(
        tmp_path / "r.ods",
        {"mimetype": "application/vnd.oasis.opendocument.spreadsheet", "content.xml": content},
    )
    started = time.monotonic()
    result = ok(path)
    assert time.monotonic() - started < 5
    assert result.text.strip() == "Repeated"


def test_rtf_stray_star_and_astral_characters(tmp_path: Path) -> None:
    path = tmp_path / "r.rtf"
    path.write_bytes(
        rb"{\rtf1\ansi\ansicpg1252{\fonttbl{\f0 Times;}}"
        rb"{\loch\f0\*\cs7 The quick brown fox}\par "
        rb"Gothic \u55296?\u57138? and caf\'e9\par}"
    )
    text = ok(path).text
    assert "The quick brown fox" in text
    assert "\U00010332" in text and "café" in text


def test_eml_html_body_and_attachment_names(tmp_path: Path) -> None:
    path = tmp_path / "m.eml"
    path.write_bytes(
        b"From: Ann <ann@example.org>\r\nTo: bob@example.org\r\nSubject: =?utf-8?q?Quarterly_r=C3=A9sum=C3=A9?=\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XYZ\r\n\r\n"
        b"--XYZ\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        b"<html><body><p>Numbers look <b>good</b> this quarter</p><script>x()</script></body></html>\r\n"
        b'--XYZ\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename="report.pdf"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--XYZ--\r\n"
    )
    result = ok(path)
    assert result.title == "Quarterly résumé"
    assert "Numbers look good this quarter" in " ".join(result.text.split())
    assert "x()" not in result.text
    assert "Attachments: report.pdf" in result.text
    assert "JVBERi0" not in result.text


def test_page_starts_are_valid_offsets(tmp_path: Path) -> None:
    from desktop_search.core.extract.pool import extract_in_process as run

    pdf = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_extract.py"
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_extract", pdf)
    assert spec and spec.loader
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    target = tmp_path / "ten.pdf"
    bench.make_pdf(target, 10, 7)
    result = run(target).result
    assert result is not None and result.extractor == "pdfium"
    assert result.page_count == 10
    assert result.page_starts == sorted(result.page_starts) and result.page_starts[0] == 0
    assert all(0 <= p <= len(result.text) for p in result.page_starts)
    assert page_at(result.page_starts, result.text.index("page 7:")) == 7
