"""Shared pieces of the fuzzers: seed inputs, byte mutations, and what counts as a finding.

Seeds are small files of each format: a few built here (so the fuzzers run without the shared corpus)
plus, when ``../shared/corpus`` is present, up to :data:`SEEDS_PER_KIND` of its small files per kind,
read in place (never copied into the repository). Hostile corpus files (bombs, deep nesting) are not
used as seeds: the in-process fuzzers must not allocate gigabytes; the isolated pool covers those.

A mutation is a short list of byte operations (flip, overwrite with an interesting token, insert,
delete, duplicate a slice, truncate). For ZIP containers (OOXML, ODF, EPUB) half the mutations are
applied to one member and the archive is rebuilt, so the XML parsers see damaged XML instead of the ZIP
layer rejecting a bad CRC every time. The same code drives hypothesis (``HypothesisChooser``, which
shrinks findings to a minimal input) and the long on-demand runs (``random.Random``).
"""

from __future__ import annotations

import io
import os
import struct
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from desktop_search.testing.documents import one_page_pdf

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "corpus" / "files"
REGRESSIONS = Path(__file__).resolve().parent / "regressions"
SEEDS_PER_KIND = 6
MAX_SEED_BYTES = 160 * 1024

# format kind -> (suffix the file gets, extractor "module:function")
TARGETS: dict[str, tuple[str, str]] = {
    "text": (".txt", "text:extract_text"),
    "html": (".html", "html:extract_html"),
    "pdf": (".pdf", "pdf:extract_pdf"),
    "docx": (".docx", "ooxml:extract_docx"),
    "pptx": (".pptx", "ooxml:extract_pptx"),
    "xlsx": (".xlsx", "ooxml:extract_xlsx"),
    "odf": (".odt", "odf:extract_odf"),
    "epub": (".epub", "epub:extract_epub"),
    "rtf": (".rtf", "rtf:extract_rtf"),
    "mail": (".eml", "mail:extract_mail"),
    "mbox": (".mbox", "mail:extract_mbox"),
    "xls": (".xls", "xls:extract_xls"),
    "doc": (".doc", "legacy_office:extract_doc"),
    "ppt": (".ppt", "legacy_office:extract_ppt"),
    "msg": (".msg", "msg:extract_msg"),
}
# the registry target: any seed, under a suffix that may or may not match its content
REGISTRY_SUFFIXES = ["", ".txt", ".html", ".pdf", ".docx", ".xlsx", ".odt", ".epub", ".rtf", ".eml", ".xml",
                     ".svg", ".report", ".md", ".mbox", ".pptx", ".xls", ".doc", ".ppt", ".msg"]

_CORPUS_SUFFIX_KIND = {
    ".txt": "text", ".md": "text", ".csv": "text", ".json": "text", ".xml": "text", ".c": "text", ".js": "text",
    ".html": "html", ".htm": "html", ".pdf": "pdf", ".docx": "docx", ".docm": "docx", ".dotx": "docx",
    ".pptx": "pptx", ".pptm": "pptx", ".xlsx": "xlsx", ".xlsm": "xlsx", ".odt": "odf", ".ods": "odf",
    ".odp": "odf", ".epub": "epub", ".rtf": "rtf", ".eml": "mail", ".mbox": "mbox", ".xls": "xls",
    ".doc": "doc", ".ppt": "ppt", ".msg": "msg",
}
_HOSTILE_WORDS = ("bomb", "billion", "nested", "deep", "5MB", "password", "cyclic", "loop")

INTERESTING: list[bytes] = [
    b"\x00", b"\xff", b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf", b"\x80", b"\xc3", b"\xed\xa0\x80", b"\r", b"\n\n",
    b"0", b"-1", b"4294967295", b"2147483648", b"1073741824", b"99999999999999999999", b"1e308", b"NaN",
    b"<", b">", b"&", b"&lol;", b"&#0;", b"&#xD800;", b"&#1114112;", b"<![CDATA[", b"]]>", b"<!--", b"-->",
    b'<!DOCTYPE x [<!ENTITY e SYSTEM "http://127.0.0.1:9/x">]>', b"&e;", b'<!ENTITY a "aaaa">',
    b'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="http://127.0.0.1:9/x"/>',
    b"<p>", b"</p>", b"<div>" * 64, b"<w:p>", b"<w:t>", b"</w:t>", b"<a:t>", b"<c r=\"A1\" t=\"s\"><v>999</v></c>",
    b"<text:p>", b"<text:s text:c=\"99999999999\"/>", b"table:number-columns-repeated=\"1073741824\"",
    b"{\\rtf1", b"{", b"}", b"{" * 200, b"\\u-1?", b"\\u55296?", b"\\bin999999999 ", b"\\ansicpg99999",
    b"\\'ff", b"\\*", b"\\par ",
    b"Content-Type: multipart/mixed; boundary=\"b\"\n", b"\n--b\n", b"\n--b--\n", b"=?utf-8?b?/w==?=",
    b"Content-Transfer-Encoding: base64\n", b"charset=\"x-unknown\"", b"\nFrom x@y Thu Jan  1 00:00:00 1970\n",
    b"%PDF-1.7\n", b"obj", b"endobj", b"stream\n", b"endstream", b"/Length 999999999", b"/Kids [", b"R",
    b"/Filter /FlateDecode", b"xref", b"trailer", b"startxref\n0\n%%EOF", b"/Encrypt", b"/Type /Page",
    b"PK\x03\x04", b"PK\x05\x06", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"<html>", b"<?xml version=\"1.0\"?>",
    b"<meta charset=\"utf-16\">", b"<meta charset=\"x-none\">", b"From: \n", b"Subject: =?x?q?a?=\n",
]


class Chooser(Protocol):
    def randint(self, a: int, b: int) -> int: ...

    def choice(self, seq: list[Any]) -> Any: ...


class HypothesisChooser:
    """``random.Random``'s two methods we use, backed by hypothesis draws (so findings shrink)."""

    def __init__(self, draw: Callable[[Any], Any]):
        from hypothesis import strategies as st

        self.draw = draw
        self.st = st

    def randint(self, a: int, b: int) -> int:
        return self.draw(self.st.integers(a, b))

    def choice(self, seq: list[Any]) -> Any:
        return seq[self.draw(self.st.integers(0, len(seq) - 1))]


@dataclass(frozen=True)
class Seed:
    name: str
    kind: str
    data: bytes


def mutate_bytes(data: bytes, rng: Chooser, max_ops: int = 6) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, max_ops)):
        op = rng.randint(0, 6)
        pos = rng.randint(0, len(buf))
        if op == 0 and buf:  # flip bits of one byte
            i = min(pos, len(buf) - 1)
            buf[i] ^= 1 << rng.randint(0, 7)
        elif op == 1:  # overwrite with an interesting token
            token = rng.choice(INTERESTING)
            buf[pos : pos + len(token)] = token
        elif op == 2:  # insert an interesting token
            buf[pos:pos] = rng.choice(INTERESTING)
        elif op == 3:  # delete a slice
            buf[pos : pos + rng.randint(1, 256)] = b""
        elif op == 4 and buf:  # duplicate a slice (repetition, nesting)
            start = rng.randint(0, len(buf) - 1)
            piece = bytes(buf[start : start + rng.randint(1, 512)])
            buf[pos:pos] = piece * rng.randint(1, 8)
        elif op == 5:  # truncate
            del buf[pos:]
        else:  # random byte
            buf[pos:pos] = bytes([rng.randint(0, 255)])
    return bytes(buf)


_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def _is_zip(data: bytes) -> bool:
    return data.startswith(b"PK\x03\x04")


def mutate_zip_member(data: bytes, rng: Chooser) -> bytes | None:
    """Mutate one member of a ZIP and rebuild it (same names, order and compression)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            members = [(info, zf.read(info)) for info in zf.infolist()]
    except Exception:
        return None
    if not members:
        return None
    xmlish = [i for i, (info, _) in enumerate(members)
              if info.filename.lower().endswith((".xml", ".rels", ".xhtml", ".html", ".opf", ".ncx"))]
    index = rng.choice(xmlish or list(range(len(members))))
    out = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(out, "w") as zw:
        warnings.simplefilter("ignore")  # duplicate member names are part of what is being fuzzed
        for i, (info, body) in enumerate(members):
            if i == index:
                body = mutate_bytes(body, rng)
            zi = zipfile.ZipInfo(info.filename, date_time=(2020, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_STORED if info.filename == "mimetype" else zipfile.ZIP_DEFLATED
            zw.writestr(zi, body)
    return out.getvalue()


def mutate_ole_stream(data: bytes, rng: Chooser) -> bytes | None:
    """Mutate one stream of an OLE2 compound file (.doc/.ppt/.msg) and rebuild it, so the format's own
    parser sees damaged records instead of olefile rejecting a damaged container every time."""
    import olefile

    from desktop_search.testing.legacy_office import write_cfb

    try:
        with olefile.OleFileIO(data) as ole:
            streams = {"/".join(e): bytes(ole.openstream(e).read()) for e in ole.listdir()}
    except Exception:
        return None
    if not streams:
        return None
    name = rng.choice(sorted(streams))
    streams[name] = mutate_bytes(streams[name], rng)
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        try:
            return write_cfb(Path(folder) / "x", streams).read_bytes()
        except (AssertionError, struct.error):  # grown past what the small writer lays out
            return None


def mutate(seed: Seed, rng: Chooser) -> bytes:
    if _is_zip(seed.data) and rng.randint(0, 1):
        rebuilt = mutate_zip_member(seed.data, rng)
        if rebuilt is not None:
            return rebuilt
    if seed.kind in ("doc", "ppt", "msg") and seed.data.startswith(_OLE) and rng.randint(0, 1):
        rebuilt = mutate_ole_stream(seed.data, rng)
        if rebuilt is not None:
            return rebuilt
    return mutate_bytes(seed.data, rng)


# ------------------------------------------------------------------------------------------- seeds
def _zip(parts: dict[str, str | bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zw:
        for name, body in parts.items():
            zi = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_STORED if name == "mimetype" else zipfile.ZIP_DEFLATED
            zw.writestr(zi, body)
    return out.getvalue()


_CT = '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>'
_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def _rels(*rels: tuple[str, str, str]) -> str:
    body = "".join(f'<Relationship Id="{i}" Type="{_R}/{t}" Target="{target}"/>' for i, t, target in rels)
    return f'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{body}</Relationships>'


def builtin_seeds() -> list[Seed]:
    w = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    docx = _zip({
        "[Content_Types].xml": _CT,
        "_rels/.rels": _rels(("rId1", "officeDocument", "word/document.xml")),
        "word/document.xml": f"<w:document {w}><w:body><w:p><w:r><w:t>Hello fuzz</w:t></w:r></w:p>"
                             f"<w:p><w:r><w:t>second</w:t><w:tab/><w:t>para</w:t></w:r></w:p></w:body></w:document>",
        "word/_rels/document.xml.rels": _rels(("rId2", "footnotes", "footnotes.xml")),
        "word/footnotes.xml": f"<w:footnotes {w}><w:footnote><w:p><w:r><w:t>note</w:t></w:r></w:p></w:footnote>"
                              f"</w:footnotes>",
    })
    a = 'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"'
    p = 'xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"'
    pptx = _zip({
        "[Content_Types].xml": _CT,
        "_rels/.rels": _rels(("rId1", "officeDocument", "ppt/presentation.xml")),
        "ppt/presentation.xml": f'<p:presentation {p} xmlns:r="{_R}"><p:sldIdLst><p:sldId id="256" r:id="rId2"/>'
                                f"</p:sldIdLst></p:presentation>",
        "ppt/_rels/presentation.xml.rels": _rels(("rId2", "slide", "slides/slide1.xml")),
        "ppt/slides/slide1.xml": f"<p:sld {p} {a}><a:p><a:r><a:t>Slide text</a:t></a:r></a:p></p:sld>",
    })
    s = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    xlsx = _zip({
        "[Content_Types].xml": _CT,
        "_rels/.rels": _rels(("rId1", "officeDocument", "xl/workbook.xml")),
        "xl/workbook.xml": f'<workbook {s} xmlns:r="{_R}"><sheets><sheet name="S1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": _rels(("rId1", "worksheet", "worksheets/sheet1.xml"),
                                            ("rId2", "sharedStrings", "sharedStrings.xml")),
        "xl/sharedStrings.xml": f"<sst {s}><si><t>shared</t></si><si><r><t>rich</t></r></si></sst>",
        "xl/worksheets/sheet1.xml": f'<worksheet {s}><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c>'
                                    f'<c r="B1"><v>42</v></c><c r="C1" t="inlineStr"><is><t>inl</t></is></c></row>'
                                    f"</sheetData></worksheet>",
    })
    t = ('xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
         'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
         'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"')
    odt = _zip({
        "mimetype": "application/vnd.oasis.opendocument.text",
        "content.xml": f"<office:document-content {t}><office:body><office:text><text:p>Open <text:s text:c=\"3\"/>"
                       f"doc</text:p><table:table><table:table-row><table:table-cell><text:p>cell</text:p>"
                       f"</table:table-cell></table:table-row></table:table></office:text></office:body>"
                       f"</office:document-content>",
        "meta.xml": '<office:document-meta xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
                    'xmlns:dc="http://purl.org/dc/elements/1.1/"><office:meta><dc:title>T</dc:title></office:meta>'
                    "</office:document-meta>",
    })
    epub = _zip({
        "mimetype": "application/epub+zip",
        "META-INF/container.xml": '<container xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>'
                                  '<rootfile full-path="OEBPS/book.opf"/></rootfiles></container>',
        "OEBPS/book.opf": '<package xmlns="http://www.idpf.org/2007/opf" xmlns:dc="http://purl.org/dc/elements/1.1/">'
                          "<metadata><dc:title>Book</dc:title></metadata><manifest>"
                          '<item id="c1" href="c1.xhtml" media-type="application/xhtml+xml"/></manifest>'
                          '<spine><itemref idref="c1"/></spine></package>',
        "OEBPS/c1.xhtml": "<html><head><title>C1</title></head><body><p>Chapter one text.</p></body></html>",
    })
    pdf = one_page_pdf("Fuzzing a tiny PDF")
    return _legacy_seeds() + [
        Seed("builtin.txt", "text", "Plain text, caf\u00e9, \u65e5\u672c\u8a9e.\n# Title\nmore\n".encode()),
        Seed("builtin.html", "html", b"<!doctype html><html><head><meta charset='utf-8'><title>T</title>"
                                     b"<style>x{}</style></head><body><p>Para <b>bold</b></p><div hidden>no</div>"
                                     b"<img src='http://127.0.0.1:9/x.png'></body></html>"),
        Seed("builtin.rtf", "rtf", b"{\\rtf1\\ansi\\ansicpg1252{\\info{\\title Fz}}{\\fonttbl{\\f0 Arial;}}"
                                   b"\\f0 Hello \\'e9t\\'e9 \\u8364? world\\par}"),
        Seed("builtin.eml", "mail", b"From: a@b.c\nTo: d@e.f\nSubject: fuzz\nMIME-Version: 1.0\n"
                                    b"Content-Type: multipart/alternative; boundary=\"XX\"\n\n--XX\n"
                                    b"Content-Type: text/plain; charset=utf-8\n\nbody text\n--XX\n"
                                    b"Content-Type: text/html\n\n<p>html body</p>\n--XX--\n"),
        Seed("builtin.mbox", "mbox", b"From a@b Thu Jan  1 00:00:00 1970\nSubject: one\n\nfirst\n\n"
                                     b"From c@d Thu Jan  1 00:00:00 1970\nSubject: two\n\nsecond\n"),
        Seed("builtin.docx", "docx", docx),
        Seed("builtin.pptx", "pptx", pptx),
        Seed("builtin.xlsx", "xlsx", xlsx),
        Seed("builtin.odt", "odf", odt),
        Seed("builtin.epub", "epub", epub),
        Seed("builtin.pdf", "pdf", pdf),
    ]


def _legacy_seeds() -> list[Seed]:
    """Word 97, PowerPoint 97 and Outlook files from the test writer (fields, Unicode, slides, a drawing,
    an old edit, recipients, an attachment, an HTML and a compressed RTF body)."""
    import tempfile

    from desktop_search.testing.legacy_office import make_doc, make_msg, make_ppt

    with tempfile.TemporaryDirectory() as folder:
        d = Path(folder)
        made = [
            ("builtin.doc", "doc", make_doc(d / "a.doc", ["Fuzz \x13 PAGE \x14 1\x15 doc", "cell\x07two\x07\x07"])),
            ("builtin-utf16.doc", "doc", make_doc(d / "u.doc", ["\u00c9t\u00e9 \u65e5\u672c"], unicode=True)),
            ("builtin.ppt", "ppt", make_ppt(d / "a.ppt", [["Title", "body"], ["Two"]], drawing_text="box",
                                             stale_copy=True)),
            ("builtin.msg", "msg", make_msg(d / "a.msg", subject="fuzz", body="plain body", sender="A",
                                             sender_email="a@b.c", recipients=[("B", "b@c.d")],
                                             attachments=[("n.txt", b"attached text")],
                                             submit_filetime=133_000_000_000_000_000)),
            ("builtin-html.msg", "msg", make_msg(d / "h.msg", subject="h", html="<p>html <b>body</b></p>")),
            ("builtin-rtf.msg", "msg", make_msg(d / "r.msg", subject="r",
                                                 rtf=b"{\\rtf1\\ansi rich \\b text\\b0\\par}")),
        ]
        return [Seed(name, kind, path.read_bytes()) for name, kind, path in made]


def corpus_seeds(per_kind: int = SEEDS_PER_KIND) -> list[Seed]:
    if not CORPUS.is_dir():
        return []
    by_kind: dict[str, list[tuple[int, str, Path]]] = {}
    for path in CORPUS.rglob("*"):
        try:
            if not path.is_file() or path.is_symlink():
                continue
            size = path.stat().st_size
        except OSError:
            continue
        name = os.fsdecode(path.name)
        kind = _CORPUS_SUFFIX_KIND.get(path.suffix.lower())
        if kind is None or size == 0 or size > MAX_SEED_BYTES or any(w in name for w in _HOSTILE_WORDS):
            continue
        by_kind.setdefault(kind, []).append((size, str(path.relative_to(CORPUS)), path))
    seeds = []
    for kind, found in sorted(by_kind.items()):
        found.sort()
        step = max(1, len(found) // per_kind)  # spread over sizes, deterministic
        for _size, rel, path in found[::step][:per_kind]:
            seeds.append(Seed(rel, kind, path.read_bytes()))
    return seeds


_SEEDS: list[Seed] | None = None


def all_seeds() -> list[Seed]:
    global _SEEDS
    if _SEEDS is None:
        _SEEDS = builtin_seeds() + corpus_seeds()
    return _SEEDS


def seeds_for(kind: str) -> list[Seed]:
    found = [s for s in all_seeds() if s.kind == kind]
    if kind == "xls" and not found:  # no built-in .xls: any CFB-looking bytes still exercise xlrd's checks
        found = [Seed("builtin.xls", "xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504)]
    return found


# ------------------------------------------------------------------------------------------ checks
def extractor_function(kind: str) -> Callable[..., Any]:
    import importlib

    module, name = TARGETS[kind][1].split(":")
    return getattr(importlib.import_module(f"desktop_search.core.extract.{module}"), name)


def check_direct(kind: str, path: Path) -> str | None:
    """Call the format module's function itself; a finding is any exception other than a refusal."""
    from desktop_search.core.extract import ExtractLimits
    from desktop_search.core.extract.types import Extracted, ExtractionFailed

    limits = ExtractLimits(max_file_bytes=4 * 1024 * 1024, max_text_chars=200_000, memory_mb=512,
                           max_unpacked_bytes=64 * 1024 * 1024)
    try:
        result = extractor_function(kind)(path, limits)
    except (ExtractionFailed, RecursionError, MemoryError):
        return None  # a reason for the person / handled by the worker's catch
    except Exception as exc:
        import traceback

        frame = traceback.extract_tb(exc.__traceback__)[-1]
        where = f"{Path(frame.filename).name}:{frame.lineno}"
        return f"{type(exc).__name__}: {exc} (at {where})"[:300]
    if not isinstance(result, Extracted) or not isinstance(result.text, str):
        return f"returned {type(result).__name__}"
    return None


def check_outcome(outcome: Any) -> str | None:
    """What the indexer relies on from any outcome: a finding is an uncaught extractor error, a crash,
    a timeout, or a result that would break storage (lone surrogates, NULs, page offsets out of order)."""
    if outcome.result is None:
        error = outcome.error or ""
        for bad in ("extractor error", "extractor crashed", "timed out", "malformed reply", "could not be started"):
            if error.startswith(bad):
                return error[:300]
        return None
    res = outcome.result
    text = res.text
    if "\x00" in text or any("\ud800" <= ch <= "\udfff" for ch in text):
        return "text holds NUL or lone surrogates"
    try:
        text.encode("utf-8")
        (res.title or "").encode("utf-8")
    except UnicodeEncodeError:
        return "text or title is not valid UTF-8"
    starts = res.page_starts
    if starts != sorted(starts) or any(p < 0 or p > len(text) for p in starts):
        return f"page_starts out of order or range ({starts[:5]}… for {len(text)} chars)"
    return None


def limits_for_fuzz() -> Any:
    from desktop_search.core.extract import ExtractLimits

    return ExtractLimits(max_file_bytes=4 * 1024 * 1024, max_text_chars=200_000, timeout_s=20.0, memory_mb=1024,
                         max_unpacked_bytes=64 * 1024 * 1024)


def save_regression(target: str, data: bytes, suffix: str, note: str) -> Path:
    """Keep a finding as ``regressions/<target>-<hash><suffix>`` with a note beside it."""
    import hashlib

    REGRESSIONS.mkdir(exist_ok=True)
    name = f"{target}-{hashlib.blake2b(data, digest_size=6).hexdigest()}{suffix}"
    path = REGRESSIONS / name
    path.write_bytes(data)
    (REGRESSIONS / (name + ".note")).write_text(note.strip() + "\n")
    return path


# ------------------------------------------------------------------------------------ hypothesis
LONG = "FUZZ_EXAMPLES" in os.environ


def fuzz_settings(ci_examples: int) -> Any:
    """Bounded and derandomized in CI (the same inputs every run); ``FUZZ_EXAMPLES=N`` runs N random
    examples per target instead."""
    from hypothesis import HealthCheck, settings

    return settings(
        max_examples=int(os.environ["FUZZ_EXAMPLES"]) if LONG else ci_examples,
        deadline=None,  # timing varies on a shared CPU; hangs are the worker timeout's business
        derandomize=not LONG,
        database=None,  # no .hypothesis/ folder in the tree: findings become regression files
        print_blob=True,
        suppress_health_check=list(HealthCheck),
    )
