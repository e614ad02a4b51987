"""Metadata as fields (issue 13): the author and title a PDF, DOCX or EPUB carries are stored with the file
and searchable as ``author:`` and ``title:``; changing the file's metadata changes what the fields find."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop_search.testing.documents import pdf_from_objects

PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def make_docx(path: Path, text: str, title: str, author: str, keywords: str) -> Path:
    w = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    core = ('<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
            f'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>{title}</dc:title>'
            f"<dc:creator>{author}</dc:creator><cp:keywords>{keywords}</cp:keywords></cp:coreProperties>")
    rels = (f'<Relationships xmlns="{PKG}"><Relationship Id="r1" Type="{REL}/officeDocument" '
            'Target="word/document.xml"/><Relationship Id="r2" Type="http://schemas.openxmlformats.org/package/'
            '2006/relationships/metadata/core-properties" Target="docProps/core.xml"/></Relationships>')
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("_rels/.rels", rels)
        z.writestr("word/document.xml", f"<w:document {w}><w:body><w:p><w:r><w:t>{text}</w:t></w:r></w:p>"
                                        "</w:body></w:document>")
        z.writestr("docProps/core.xml", core)
    return path


def make_epub(path: Path, text: str, title: str, author: str) -> Path:
    opf = ('<package xmlns="http://www.idpf.org/2007/opf" version="3.0"><metadata '
           f'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>{title}</dc:title><dc:creator>{author}'
           '</dc:creator></metadata><manifest><item id="c1" href="c1.xhtml" media-type="application/xhtml+xml"/>'
           '</manifest><spine><itemref idref="c1"/></spine></package>')
    container = ('<container xmlns="urn:oasis:names:tc:opendocument:xmlns:container" version="1.0"><rootfiles>'
                 '<rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
                 "</rootfiles></container>")
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("mimetype", "application/epub+zip")
        z.writestr("META-INF/container.xml", container)
        z.writestr("OEBPS/content.opf", opf)
        z.writestr("OEBPS/c1.xhtml", f'<html xmlns="http://www.w3.org/1999/xhtml"><body><p>{text}</p></body></html>')
    return path


def make_pdf(path: Path, text: str, title: str, author: str) -> Path:
    """One page of Helvetica text with an Info dictionary, written by hand."""
    stream = f"BT /F1 12 Tf 50 780 Td ({text}) Tj ET".encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 842] /Resources << /Font << /F1 4 0 R >> >> "
        b"/Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        f"<< /Title ({title}) /Author ({author}) >>".encode("latin-1"),
    ]
    path.write_bytes(pdf_from_objects(objects, info=6))
    return path


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("metadata") / "docs"
    root.mkdir()
    make_docx(root / "engine.docx", "Notes on the analytical engine and punched cards.", "Engine Notes",
              "Ada Lovelace", "computing, looms")
    make_epub(root / "novel.epub", "It is a truth universally acknowledged.", "Pride and Prejudice",
              "Jane Austen")
    make_pdf(root / "compiler.pdf", "A report on the first compiler for business languages.", "Compiler Report",
             "Grace Hopper")
    (root / "austen-essay.txt").write_text("An essay about novels that mentions no author field at all.")
    return root


@pytest.fixture(scope="module")
def service(docs: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from desktop_search.core.service import Service

    with Service(tmp_path_factory.mktemp("metadata-data"), allow_download=False) as svc:
        svc.index([str(docs)], encode=False)
        yield svc


def names(service: object, query: str) -> list[str]:
    return [Path(r.path).name for r in service.search(query, mode="keyword").results]  # type: ignore[attr-defined]


def test_author_field_finds_pdf_docx_and_epub_by_their_metadata(service):
    assert names(service, "author:lovelace") == ["engine.docx"]
    assert names(service, 'author:"jane austen"') == ["novel.epub"]  # not the essay whose *name* says austen
    assert names(service, "author:hopper") == ["compiler.pdf"]
    assert names(service, "author:hop*") == ["compiler.pdf"]
    assert names(service, "author:babbage") == []
    assert names(service, "author:austen truth") == ["novel.epub"]  # a field narrows a word query too
    assert names(service, "title:prejudice") == ["novel.epub"]
    assert names(service, "title:compiler") == ["compiler.pdf"]


def test_metadata_is_stored_and_follows_a_changed_file(service, docs):
    import os

    rows = {r["name"]: r for r in service.reader().query("SELECT name, author, keywords FROM files")}  # type: ignore
    assert rows["engine.docx"]["author"] == "Ada Lovelace"
    assert rows["engine.docx"]["keywords"] == "computing, looms"
    make_docx(docs / "engine.docx", "Notes on the analytical engine.", "Engine Notes", "Charles Babbage", "")
    os.utime(docs / "engine.docx", (2_000_000_000, 2_000_000_000))
    service.index([str(docs)], encode=False)  # type: ignore[attr-defined]
    assert names(service, "author:babbage") == ["engine.docx"]
    assert names(service, "author:lovelace") == []
