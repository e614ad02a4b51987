"""Nothing leaves the machine (issue 11): index, search, the window's start and a preview run under a guard
that records and blocks any host lookup or non-local socket use, in this process and in the extraction
workers; and documents built to make a reader fetch something (external entities, remote images,
XInclude, OOXML external relationships, remote DTDs, RTF INCLUDEPICTURE, e-mail external bodies) fetch
nothing and expand nothing.

Every URL in the hostile documents points at a listener on 127.0.0.1 that counts connections: that
catches a fetch by any process and any library, C ones included (libxml2 has its own HTTP client). File
entities point at a secret file whose text must never appear in what is extracted.
"""

from __future__ import annotations

import io
import socket
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import netguard
import pytest
from gui_helpers import search

from desktop_search.core.extract import extract_many
from desktop_search.core.extract.pool import extract_in_process
from desktop_search.testing.documents import pdf_from_objects

SECRET = "SECRET-MARKER-7731"


class Listener:
    """A TCP server on 127.0.0.1 that accepts and counts every connection (and answers nothing)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.hits = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.hits += 1
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()  # made before the guard is on: binding/listening is not what is under test
    yield server
    server.close()


@pytest.fixture
def guard(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """The guard on, here and in every worker started meanwhile (they run through a guarded interpreter)."""
    g = netguard.install()
    log = tmp_path / "worker-network.log"
    log.touch()
    monkeypatch.setenv(netguard.LOG_ENV, str(log))
    monkeypatch.setattr("sys.executable", str(netguard.guarded_python(tmp_path)))
    g.attempts.clear()
    g.imports.clear()
    g.active = True
    state = {"guard": g, "worker_log": log}
    try:
        yield state
    finally:
        g.active = False


def worker_lines(state: dict[str, Any]) -> list[str]:
    """What guarded subprocesses recorded, less their "started" lines (at least one must be there: the
    workers really ran under the guard)."""
    lines = [line for line in state["worker_log"].read_text().splitlines() if line.strip()]
    assert any(" started -m desktop_search.core.extract.worker" in line for line in lines)
    return [line for line in lines if " started " not in line]


def test_the_guard_sees_and_blocks_network_use(tmp_path: Path, listener: Listener, guard: dict) -> None:
    """The guard itself: a connect here and one in a guarded subprocess are recorded and blocked."""
    import subprocess
    import sys

    with pytest.raises(PermissionError):
        socket.create_connection(("127.0.0.1", listener.port), timeout=5)  # stopped at its host lookup
    with socket.socket() as raw, pytest.raises(PermissionError):
        raw.connect(("127.0.0.1", listener.port))
    assert [a.split()[0] for a in guard["guard"].attempts] == ["socket.getaddrinfo", "socket.connect"]
    guard["guard"].attempts.clear()
    (tmp_path / "probe.py").write_text(f"import socket\nsocket.create_connection(('127.0.0.1', {listener.port}))\n")
    done = subprocess.run([sys.executable, "-m", "probe"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "blocked by the test guard" in done.stderr
    lines = guard["worker_log"].read_text().splitlines()
    assert any("started -m probe" in line for line in lines)
    assert any("socket.getaddrinfo" in line for line in lines)
    assert listener.hits == 0


# ------------------------------------------------------------------------------------ hostile files
def _zip(path: Path, parts: dict[str, str]) -> Path:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, body in parts.items():
            zf.writestr(zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0)), body,
                        zipfile.ZIP_STORED if name == "mimetype" else zipfile.ZIP_DEFLATED)
    path.write_bytes(buf.getvalue())
    return path


R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
CT = '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>'


def _rels(*rels: str) -> str:
    return f'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{"".join(rels)}' \
           "</Relationships>"


def hostile_files(folder: Path, port: int, secret: Path) -> list[Path]:
    url = f"http://127.0.0.1:{port}"
    ent = (f'<!DOCTYPE d [<!ENTITY remote SYSTEM "{url}/entity"><!ENTITY local SYSTEM "file://{secret}">'
           f'<!ENTITY % pe SYSTEM "{url}/pe.dtd"> %pe;]>')
    xi = f'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="{url}/xinclude" parse="text"/>'
    files = []
    folder.mkdir(exist_ok=True)

    def put(name: str, text: str) -> None:
        (folder / name).write_text(text)
        files.append(folder / name)

    put("remote.html", f'<!DOCTYPE html SYSTEM "{url}/html.dtd"><html><head><title>Remote</title>'
                       f'<link rel="stylesheet" href="{url}/style.css"><script src="{url}/s.js"></script>'
                       f'<base href="{url}/"></head><body><p>hostile page lighthouse</p>'
                       f'<img src="{url}/img.png" srcset="{url}/a.png 2x"><iframe src="{url}/frame"></iframe>'
                       f'<object data="{url}/obj"></object><video src="{url}/v.mp4"></video>'
                       f'<p style="background:url({url}/bg.png)">styled</p></body></html>')
    put("entities.xhtml", f'<?xml version="1.0"?>{ent}<html xmlns="http://www.w3.org/1999/xhtml"><body>'
                          f"<p>xhtml &remote; &local; lighthouse</p>{xi}</body></html>")
    put("picture.svg", f'<?xml version="1.0"?>{ent}<svg xmlns="http://www.w3.org/2000/svg" '
                       f'xmlns:xlink="http://www.w3.org/1999/xlink"><text>svg &remote; &local;</text>'
                       f'<image xlink:href="{url}/svg.png"/>{xi}</svg>')
    put("data.xml", f'<?xml version="1.0"?>{ent}<root>xml &remote; &local;{xi}</root>')
    put("remote.rtf", "{\\rtf1\\ansi rtf lighthouse "
                      f'{{\\field{{\\*\\fldinst INCLUDEPICTURE "{url}/pic.png" \\\\d}}{{\\fldrslt pic}}}}'
                      f'{{\\field{{\\*\\fldinst INCLUDETEXT "{url}/text.txt"}}{{\\fldrslt txt}}}}\\par}}')
    put("remote.eml", "From: a@example.org\nTo: b@example.org\nSubject: remote parts\nMIME-Version: 1.0\n"
                      'Content-Type: multipart/mixed; boundary="B"\n\n--B\nContent-Type: text/html\n\n'
                      f'<p>mail lighthouse <img src="{url}/track.gif"></p>\n--B\n'
                      f'Content-Type: message/external-body; access-type=URL; URL="{url}/body"\n\n'
                      "Content-Type: text/plain\n\n--B--\n")
    body = (f'<w:document {W} xmlns:r="{R}"><w:body><w:p><w:r><w:t>docx lighthouse</w:t></w:r></w:p>'
            '<w:p><w:r><w:drawing><a:blip xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
            'r:link="rIdImg"/></w:drawing></w:r></w:p><w:altChunk r:id="rIdChunk"/></w:body></w:document>')
    files.append(_zip(folder / "external.docx", {
        "[Content_Types].xml": CT,
        "_rels/.rels": _rels(f'<Relationship Id="rId1" Type="{R}/officeDocument" Target="word/document.xml"/>'),
        "word/document.xml": body,
        "word/_rels/document.xml.rels": _rels(
            f'<Relationship Id="rIdImg" Type="{R}/image" Target="{url}/docx.png" TargetMode="External"/>',
            f'<Relationship Id="rIdSub" Type="{R}/subDocument" Target="{url}/sub.docx" TargetMode="External"/>',
            f'<Relationship Id="rIdHdr" Type="{R}/header" Target="{url}/header.xml" TargetMode="External"/>',
            f'<Relationship Id="rIdChunk" Type="{R}/aFChunk" Target="{url}/chunk.html" TargetMode="External"/>',
            f'<Relationship Id="rIdTpl" Type="{R}/attachedTemplate" Target="{url}/t.dotm" TargetMode="External"/>'),
    }))
    files.append(_zip(folder / "entity.docx", {
        "[Content_Types].xml": CT,
        "_rels/.rels": _rels(f'<Relationship Id="rId1" Type="{R}/officeDocument" Target="word/document.xml"/>'),
        "word/document.xml": f'<?xml version="1.0"?>{ent}<w:document {W}><w:body><w:p><w:r><w:t>&remote;&local;'
                             f"</w:t></w:r></w:p>{xi}</w:body></w:document>",
    }))
    s = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    files.append(_zip(folder / "external.xlsx", {
        "[Content_Types].xml": CT,
        "_rels/.rels": _rels(f'<Relationship Id="rId1" Type="{R}/officeDocument" Target="xl/workbook.xml"/>'),
        "xl/workbook.xml": f'<workbook {s} xmlns:r="{R}"><sheets><sheet name="S" r:id="rId1"/></sheets>'
                           '<externalReferences><externalReference r:id="rIdExt"/></externalReferences></workbook>',
        "xl/_rels/workbook.xml.rels": _rels(
            f'<Relationship Id="rId1" Type="{R}/worksheet" Target="worksheets/sheet1.xml"/>',
            f'<Relationship Id="rIdExt" Type="{R}/externalLink" Target="{url}/book.xlsx" TargetMode="External"/>'),
        "xl/worksheets/sheet1.xml": f'<worksheet {s}><sheetData><row r="1"><c r="A1" t="inlineStr"><is>'
                                    "<t>xlsx lighthouse</t></is></c></row></sheetData></worksheet>",
    }))
    p = 'xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"'
    a = 'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"'
    files.append(_zip(folder / "external.pptx", {
        "[Content_Types].xml": CT,
        "_rels/.rels": _rels(f'<Relationship Id="rId1" Type="{R}/officeDocument" Target="ppt/presentation.xml"/>'),
        "ppt/presentation.xml": f'<p:presentation {p} xmlns:r="{R}"><p:sldIdLst><p:sldId id="256" r:id="rId2"/>'
                                "</p:sldIdLst></p:presentation>",
        "ppt/_rels/presentation.xml.rels": _rels(
            f'<Relationship Id="rId2" Type="{R}/slide" Target="slides/slide1.xml"/>'),
        "ppt/slides/slide1.xml": f"<p:sld {p} {a}><a:p><a:r><a:t>pptx lighthouse</a:t></a:r></a:p></p:sld>",
        "ppt/slides/_rels/slide1.xml.rels": _rels(
            f'<Relationship Id="rIdV" Type="{R}/video" Target="{url}/v.mp4" TargetMode="External"/>',
            f'<Relationship Id="rIdN" Type="{R}/notesSlide" Target="{url}/notes.xml" TargetMode="External"/>'),
    }))
    t = ('xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
         'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
         'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" xmlns:xlink="http://www.w3.org/1999/xlink"')
    files.append(_zip(folder / "remote.odt", {
        "mimetype": "application/vnd.oasis.opendocument.text",
        "content.xml": f"<office:document-content {t}><office:body><office:text><text:p>odt lighthouse</text:p>"
                       f'<draw:frame><draw:image xlink:href="{url}/odt.png"/></draw:frame>{xi}'
                       "</office:text></office:body></office:document-content>",
    }))
    files.append(_zip(folder / "entity.epub", {  # an entity in the package document: refused
        "mimetype": "application/epub+zip",
        "book.opf": f'<?xml version="1.0"?>{ent}<package xmlns="http://www.idpf.org/2007/opf"><metadata>&remote;'
                    "&local;</metadata></package>",
    }))
    files.append(_zip(folder / "entity.odt", {
        "mimetype": "application/vnd.oasis.opendocument.text",
        "content.xml": f'<?xml version="1.0"?>{ent}<office:document-content {t}><office:body><office:text>'
                       "<text:p>&remote;&local;</text:p></office:text></office:body></office:document-content>",
    }))
    files.append(_zip(folder / "remote.epub", {
        "mimetype": "application/epub+zip",
        "META-INF/container.xml": '<container xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>'
                                  '<rootfile full-path="book.opf"/></rootfiles></container>',
        "book.opf": '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf"><manifest>'
                    '<item id="c" href="c.xhtml" media-type="application/xhtml+xml"/>'
                    f'<item id="r" href="{url}/remote.xhtml" media-type="application/xhtml+xml"/></manifest>'
                    '<spine><itemref idref="c"/><itemref idref="r"/></spine></package>',
        "c.xhtml": f'<?xml version="1.0"?>{ent}<html xmlns="http://www.w3.org/1999/xhtml"><body><p>epub lighthouse '
                   f'&remote; &local;</p><img src="{url}/epub.png"/>{xi}</body></html>',
    }))
    files.append(_pdf(folder / "remote.pdf", url))
    return files


def _pdf(path: Path, url: str) -> Path:
    """A PDF whose opening action, link and embedded-file spec all point at ``url`` (readers must not go)."""
    content = b"BT /F1 12 Tf 72 720 Td (pdf lighthouse) Tj ET"
    objs = [
        f"<< /Type /Catalog /Pages 2 0 R /OpenAction << /S /URI /URI ({url}/open) >> "
        f"/AA << /WC << /S /Launch /F ({url}/launch) >> >> >>".encode(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> /Annots [6 0 R] >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        f"<< /Type /Annot /Subtype /Link /Rect [0 0 100 100] /A << /S /GoToR /F << /FS /URL /F ({url}/remote.pdf)"
        f" >> /D [0 /Fit] >> >>".encode(),
    ]
    path.write_bytes(pdf_from_objects(objs))
    return path


def test_hostile_documents_fetch_and_expand_nothing(tmp_path: Path, listener: Listener, guard: dict) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    files = hostile_files(tmp_path / "hostile", listener.port, secret)
    texts: dict[str, str] = {}
    for path in files:  # in this process, as a worker runs them
        outcome = extract_in_process(path)
        texts[path.name] = outcome.result.text if outcome.result else f"[{outcome.error}]"
    outcomes = list(extract_many([str(p) for p in files], workers=2))  # and in guarded worker processes
    assert len(outcomes) == len(files)
    for outcome in outcomes:
        text = outcome.result.text if outcome.result else ""
        assert SECRET not in text, outcome.path
    assert all(SECRET not in text for text in texts.values()), texts
    assert "lighthouse" in texts["remote.html"] and "styled" in texts["remote.html"]
    assert "lighthouse" in texts["external.docx"] and "lighthouse" in texts["remote.epub"]
    assert "lighthouse" in texts["remote.pdf"] and "lighthouse" in texts["remote.eml"]
    for name in ("entities.xhtml", "remote.epub"):  # HTML parsing leaves DTD entities as they are written
        assert "&remote; &local;" in texts[name], texts[name]
    for name in ("entity.docx", "entity.odt", "entity.epub"):
        assert texts[name] == "[XML entity expansion refused]", name
    assert listener.hits == 0  # no process, Python or C, connected to the URLs in the documents
    assert guard["guard"].attempts == [] and guard["guard"].imports == []
    assert worker_lines(guard) == []


CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "files"


@pytest.mark.skipif(not CORPUS.is_dir(), reason="the shared extraction corpus is not here")
def test_workers_read_the_corpus_without_network(guard: dict) -> None:
    """Every small file of the shared corpus (bombs and deep nesting left out for time), in guarded
    workers: no host lookup, no connection, no network client library imported."""
    hostile = ("bomb", "billion", "nested", "5MB")
    paths = sorted(str(p) for p in CORPUS.rglob("*") if p.is_file() and not p.is_symlink()
                   and p.stat().st_size < 256 * 1024 and not any(w in p.name for w in hostile))
    outcomes = list(extract_many(paths, workers=2))
    assert len(outcomes) == len(paths) > 100
    assert worker_lines(guard) == []


def test_index_search_window_and_preview_use_no_network(qtbot: Any, tmp_path: Path, docs: Path, tiny_model: Path,
                                                         make_service: Any, make_window: Any, listener: Listener,
                                                         guard: dict) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    hostile_files(docs / "hostile", listener.port, secret)
    service = make_service(model=str(tiny_model))
    report = service.index([str(docs)])  # extract in workers, load the model, encode
    assert report.semantic and report.encoded_files > 0
    assert service.search("lighthouse keeper", mode="hybrid").results
    window = make_window(service, load_model=True)  # the window's start, model included
    qtbot.waitUntil(lambda: window.searcher.semantic_ready, timeout=30000)
    search(qtbot, window, "lighthouse")
    qtbot.waitUntil(lambda: window.preview.data is not None, timeout=10000)  # a preview
    assert "lighthouse" in window.preview.text.toPlainText().lower()
    assert listener.hits == 0
    assert guard["guard"].attempts == [] and guard["guard"].imports == []
    assert worker_lines(guard) == []
