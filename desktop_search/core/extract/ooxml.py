"""Office Open XML: Word (.docx/.docm/.dotx), PowerPoint (.pptx/.pptm), Excel (.xlsx/.xlsm).

Read straight from the package parts with streaming, entity-free lxml (see :mod:`.container`) rather than
python-docx/python-pptx/openpyxl, because the text people search for often lives outside what those
object models expose: text boxes and content controls, SmartArt data, altChunk HTML, footnotes and
comments, drawing text boxes on sheets, Strict (ISO 29500) namespaces. Namespaces are matched by local
name so Transitional and Strict documents read the same. Parts are found through the relationship
graph, so packages with parts at non-standard paths work too.

Spreadsheets are streamed cell by cell: a sheet's declared ``<dimension>`` is never used, so a sheet that
claims 17 billion cells costs only what it really holds.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path
from typing import Any

from .builder import TextBuilder
from .container import SafeZip, document_properties, iterparse, iterparse_outside, join_part, local, parse_small
from .types import Extracted, ExtractionFailed, ExtractLimits

Rels = dict[str, tuple[str, str, bool]]  # rId -> (type suffix, target part, external)


def _rels(z: SafeZip, part: str) -> Rels:
    rels_part = posixpath.join(posixpath.dirname(part), "_rels", posixpath.basename(part) + ".rels")
    if not z.has(rels_part):
        return {}
    root = parse_small(z.read(rels_part), part=rels_part)
    out: Rels = {}
    for rel in root:
        if local(rel.tag) != "Relationship":
            continue
        rid = rel.get("Id") or ""
        kind = (rel.get("Type") or "").rsplit("/", 1)[-1]
        target = rel.get("Target") or ""
        external = (rel.get("TargetMode") or "").lower() == "external"
        out[rid] = (kind, target if external else join_part(part, target), external)
    return out


def _main_part(z: SafeZip, default: str) -> str:
    for kind, target, external in _rels(z, "").values():
        if kind == "officeDocument" and not external and z.has(target):
            return target
    if z.has(default):
        return default
    raise ExtractionFailed("corrupt Office document (no main part)")


def _rel_attr(elem: Any, name: str = "id") -> str | None:
    """An r:id-style attribute regardless of (Transitional/Strict) namespace."""
    for key, value in elem.attrib.items():
        if key.startswith("{") and key.rsplit("}", 1)[-1] == name:
            return value
    return None


def _core_props(z: SafeZip) -> dict[str, str]:
    part = None
    for kind, target, external in _rels(z, "").values():
        if kind in ("core-properties", "metadata/core-properties") and not external and z.has(target):
            part = target
    part = part or ("docProps/core.xml" if z.has("docProps/core.xml") else None)
    if part is None:
        return {}
    return document_properties(z, part, {
        "title": "title", "creator": "author", "subject": "subject", "description": "description",
        "keywords": "keywords", "lastModifiedBy": "lastModifiedBy", "created": "created", "modified": "modified",
    })


_SKIP = {"Fallback", "delText", "instrText", "rPh", "fldData", "binData"}
_BREAKS = {"br": "\n", "cr": "\n", "tab": "\t", "noBreakHyphen": "-", "softHyphen": ""}


def _walk(z: SafeZip, part: str, builder: TextBuilder) -> None:
    """Text of a WordprocessingML/DrawingML part: every ``t`` run, paragraph breaks at ``p``."""
    with z.open(part) as stream:
        for event, name, elem in iterparse_outside(stream, _SKIP, part=part):
            if event == "start":
                continue
            if name == "t":
                if elem.text:
                    builder.add(elem.text)
            elif name in _BREAKS:
                builder.add(_BREAKS[name])
            elif name in ("p", "tc", "txbxContent"):
                builder.newline()
                if name == "p":
                    elem.clear()
                    parent = elem.getparent()
                    while parent is not None and elem.getprevious() is not None:
                        del parent[0]
            if builder.full:
                return


def _open_package(path: Path, limits: ExtractLimits, what: str) -> SafeZip:
    return SafeZip(path, limits, what=f"ZIP container ({what})")


def _finish(builder: TextBuilder, meta: dict[str, str], extractor: str) -> Extracted:
    if builder.full:
        meta["truncated"] = "yes"
    text = builder.text() if builder.has_text() else ""
    return Extracted(
        text=text,
        title=meta.get("title"),
        extractor=extractor,
        page_starts=builder.page_starts if text else [],
        metadata=meta,
    )


# ------------------------------------------------------------------------------------------- Word


def extract_docx(path: Path, limits: ExtractLimits) -> Extracted:
    from .html import decode_html, html_text

    with _open_package(path, limits, "Word document") as z:
        main = _main_part(z, "word/document.xml")
        meta = _core_props(z)
        builder = TextBuilder(limits.max_text_chars)
        _walk(z, main, builder)
        rels = _rels(z, main)
        order = ("footnotes", "endnotes", "comments", "header", "footer")
        extra = sorted(
            (r for r in rels.values() if r[0] in order and not r[2] and z.has(r[1])),
            key=lambda r: (order.index(r[0]), r[1]),
        )
        for _kind, target, _ext in extra:
            builder.newline()
            _walk(z, target, builder)
        for kind, target, external in rels.values():
            if kind != "aFChunk" or external or not z.has(target):
                continue
            builder.newline()
            data = z.read(target)
            ext = posixpath.splitext(target)[1].lower()
            if ext in (".htm", ".html", ".xhtml", ".mht", ".mhtml"):
                html_text(decode_html(data)[0], builder)
            elif ext == ".rtf":
                from .rtf import rtf_to_plain

                builder.add(rtf_to_plain(data))
            elif ext in (".txt", ".text"):
                from .text import decode_bytes

                builder.add(decode_bytes(data)[0])
        return _finish(builder, meta, "ooxml-docx")


# ------------------------------------------------------------------------------------- PowerPoint


def _slide_parts(z: SafeZip, main: str) -> list[str]:
    rels = _rels(z, main)
    root = parse_small(z.read(main), part=main)
    slides: list[str] = []
    for elem in root.iter():
        if local(elem.tag) == "sldId":
            rid = _rel_attr(elem)
            rel = rels.get(rid or "")
            if rel and not rel[2] and z.has(rel[1]) and rel[1] not in slides:
                slides.append(rel[1])
    if not slides:  # no slide list: fall back to file names, in numeric order
        found = [n for n in z.names if re.fullmatch(r"ppt/slides/slide\d+\.xml", n)]
        slides = sorted(found, key=lambda n: int(re.findall(r"\d+", n)[-1]))
    return slides


def _walk_comments(z: SafeZip, part: str, builder: TextBuilder) -> None:
    with z.open(part) as stream:
        for event, elem in iterparse(stream, ("end",), part=part):
            if event == "end" and local(elem.tag) == "text" and elem.text:
                builder.newline()
                builder.add(elem.text)


def extract_pptx(path: Path, limits: ExtractLimits) -> Extracted:
    with _open_package(path, limits, "PowerPoint presentation") as z:
        main = _main_part(z, "ppt/presentation.xml")
        meta = _core_props(z)
        builder = TextBuilder(limits.max_text_chars)
        slides = _slide_parts(z, main)
        for slide in slides:
            builder.section()
            _walk(z, slide, builder)
            for kind, target, external in _rels(z, slide).values():
                if external or not z.has(target):
                    continue
                if kind in ("diagramData", "chart", "notesSlide"):
                    builder.newline()
                    _walk(z, target, builder)
                elif kind in ("comments",):
                    _walk_comments(z, target, builder)
            if builder.full:
                break
        meta["slides"] = str(len(slides))
        return _finish(builder, meta, "ooxml-pptx")


# ------------------------------------------------------------------------------------------ Excel


def _shared_strings(z: SafeZip, part: str, limits: ExtractLimits) -> list[str]:
    strings: list[str] = []
    total = 0
    with z.open(part) as stream:
        for event, elem in iterparse(stream, ("end",), part=part):
            if event != "end" or local(elem.tag) != "si":
                continue
            pieces: list[str] = []
            for child in elem:
                name = local(child.tag)
                if name == "t":
                    pieces.append(child.text or "")
                elif name == "r":
                    for t in child:
                        if local(t.tag) == "t":
                            pieces.append(t.text or "")
            value = "".join(pieces)
            total += len(value)
            strings.append(value)
            elem.clear()
            while elem.getprevious() is not None:
                del elem.getparent()[0]
            if total > limits.max_text_chars * 2:
                break
    return strings


def _walk_sheet(z: SafeZip, part: str, sst: list[str], builder: TextBuilder, budget: list[int]) -> None:
    row: list[str] = []
    with z.open(part) as stream:
        for _event, elem in iterparse(stream, ("end",), part=part):
            name = local(elem.tag)
            if name == "c":
                kind = elem.get("t")
                value: str | None = None
                if kind == "inlineStr":
                    value = "".join(t.text or "" for t in elem.iter() if local(t.tag) == "t")
                else:
                    for child in elem:
                        if local(child.tag) == "v":
                            value = child.text
                            break
                    if value is not None:
                        if kind == "s":
                            try:
                                value = sst[int(value)]
                            except (ValueError, IndexError):
                                value = None
                        elif kind == "b":
                            value = "TRUE" if value.strip() == "1" else "FALSE"
                        elif kind == "e":
                            value = None
                if value and value.strip():
                    row.append(value.strip("\r\n"))
                    budget[0] -= 1
                elem.clear()
            elif name == "row":
                if row:
                    builder.add("\t".join(row))
                    builder.add("\n")
                    row = []
                elem.clear()
                while elem.getprevious() is not None:
                    del elem.getparent()[0]
                if builder.full or budget[0] <= 0:
                    return
            elif name in ("oddHeader", "oddFooter", "evenHeader", "evenFooter", "firstHeader", "firstFooter"):
                text = re.sub(r"&[A-Za-z]|&\"[^\"]*\"|&\d+", " ", elem.text or "").strip()
                if text:
                    row.append(text)
        if row:
            builder.add("\t".join(row))
            builder.add("\n")


def extract_xlsx(path: Path, limits: ExtractLimits) -> Extracted:
    with _open_package(path, limits, "Excel workbook") as z:
        main = _main_part(z, "xl/workbook.xml")
        meta = _core_props(z)
        rels = _rels(z, main)
        sst: list[str] = []
        for kind, target, external in rels.values():
            if kind == "sharedStrings" and not external and z.has(target):
                sst = _shared_strings(z, target, limits)
        root = parse_small(z.read(main), part=main)
        sheets: list[tuple[str, str]] = []
        for elem in root.iter():
            if local(elem.tag) == "sheet":
                rel = rels.get(_rel_attr(elem) or "")
                if rel and not rel[2] and z.has(rel[1]):
                    sheets.append((elem.get("name") or "", rel[1]))
        if not sheets:
            found = [n for n in z.names if re.fullmatch(r"xl/worksheets/sheet\d+\.xml", n)]
            sheets = [(posixpath.basename(n), n) for n in sorted(found)]
        builder = TextBuilder(limits.max_text_chars)
        budget = [limits.max_cells]
        for name, part in sheets:
            builder.section()
            # The sheet's own text first, then its name as a heading if it had any (an empty sheet must
            # leave the workbook empty).
            sheet = TextBuilder(limits.max_text_chars - builder.length)
            _walk_sheet(z, part, sst, sheet, budget)
            for kind, target, external in _rels(z, part).values():
                if external or not z.has(target):
                    continue
                if kind == "drawing":
                    _walk(z, target, sheet)
                    for k2, t2, e2 in _rels(z, target).values():
                        if k2 == "chart" and not e2 and z.has(t2):
                            _walk(z, t2, sheet)
                elif kind == "comments":
                    sheet.newline()
                    _walk(z, target, sheet)
            if sheet.has_text():
                if name:
                    builder.add(name + "\n")
                builder.add(sheet.text())
            if builder.full or sheet.full or budget[0] <= 0:
                meta["truncated"] = "yes"
                break
        meta["sheets"] = ", ".join(name for name, _ in sheets)[:500]
        return _finish(builder, meta, "ooxml-xlsx")
