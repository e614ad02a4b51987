"""OpenDocument: text (.odt), spreadsheets (.ods, sheet = section), presentations (.odp, slide = page).

``content.xml`` is streamed with entity-free lxml (see :mod:`.container`); odfpy would build the whole
DOM and resolves nothing we need. Repeated rows/cells (``number-columns-repeated="1073741824"``, a known
DoS) are never materialised: a repeated cell contributes its text once.
"""

from __future__ import annotations

from pathlib import Path

from .builder import TextBuilder
from .container import SafeZip, document_properties, iterparse_outside, local, parse_small
from .types import Extracted, ExtractionFailed, ExtractLimits

_SKIP = {"tracked-changes", "annotation-end", "notes-configuration", "sequence-decls", "forms"}
_PARAGRAPH = {"p", "h", "list-item"}


def _meta(z: SafeZip) -> dict[str, str]:
    if not z.has("meta.xml"):
        return {}
    return document_properties(z, "meta.xml", {
        "title": "title", "subject": "subject", "description": "description", "keyword": "keywords",
        "initial-creator": "author", "creator": "creator", "creation-date": "creation-date", "date": "modified",
    })


def _check_encryption(z: SafeZip) -> None:
    if not z.has("META-INF/manifest.xml"):
        return
    root = parse_small(z.read("META-INF/manifest.xml"), part="META-INF/manifest.xml")
    for elem in root.iter():
        if local(elem.tag) == "encryption-data":
            raise ExtractionFailed("encrypted OpenDocument file (password-protected)")


def extract_odf(path: Path, limits: ExtractLimits) -> Extracted:
    with SafeZip(path, limits, what="ZIP container (OpenDocument)") as z:
        _check_encryption(z)
        if not z.has("content.xml"):
            raise ExtractionFailed("corrupt OpenDocument file (no content.xml)")
        meta = _meta(z)
        builder = TextBuilder(limits.max_text_chars)
        kind = "odt"
        row: list[str] = []
        cell: list[str] | None = None
        with z.open("content.xml") as stream:
            for event, name, elem in iterparse_outside(stream, _SKIP, part="content.xml"):
                if event == "start":
                    if name == "spreadsheet":
                        kind = "ods"
                    elif name == "presentation":
                        kind = "odp"
                    elif name == "page" and kind == "odp" or name == "table" and kind == "ods":
                        builder.section()
                    elif name == "table-cell" or name == "covered-table-cell":
                        cell = []
                    continue
                # end events
                if name in _PARAGRAPH:
                    # Text of this paragraph: its own text, its descendants', and the tails, in order.
                    text = _paragraph_text(elem)
                    if cell is not None:
                        if text.strip():
                            cell.append(text)
                    else:
                        builder.add(text)
                        builder.newline()
                    _drop(elem)
                elif name in ("table-cell", "covered-table-cell"):
                    if cell:
                        row.append(" ".join(cell))
                    cell = None
                    elem.clear()
                elif name == "table-row":
                    if row:
                        if kind == "ods":
                            builder.add("\t".join(row))
                        else:
                            builder.add(" | ".join(row))
                        builder.newline()
                        row = []
                    _drop(elem)
                if builder.full:
                    meta["truncated"] = "yes"
                    break
        text = builder.text() if builder.has_text() else ""
        return Extracted(
            text=text,
            title=meta.get("title"),
            extractor=f"odf-{kind}",
            page_starts=builder.page_starts if (text and kind in ("ods", "odp")) else [],
            metadata=meta,
        )


def _paragraph_text(elem: object) -> str:
    pieces: list[str] = []

    def walk(node, depth: int = 0) -> None:  # type: ignore[no-untyped-def]
        name = local(node.tag)
        if name == "s":
            try:
                pieces.append(" " * min(int(node.get(_attr(node, "c")) or 1), 100))
            except ValueError:
                pieces.append(" ")
        elif name == "tab":
            pieces.append("\t")
        elif name == "line-break":
            pieces.append("\n")
        elif name in ("note-citation", "annotation-end"):
            pass
        elif depth > 0 and name in _PARAGRAPH:
            pieces.append("\n")
            if node.text:
                pieces.append(node.text)
        elif node.text:
            pieces.append(node.text)
        if depth < 50:
            for child in node:
                walk(child, depth + 1)
                if child.tail:
                    pieces.append(child.tail)
        if depth > 0 and name in _PARAGRAPH:
            pieces.append("\n")

    walk(elem)
    return "".join(pieces)


def _attr(node, name: str) -> str:  # type: ignore[no-untyped-def]
    for key in node.attrib:
        if key.rsplit("}", 1)[-1] == name:
            return key
    return name


def _drop(elem) -> None:  # type: ignore[no-untyped-def]
    elem.clear()
    parent = elem.getparent()
    while parent is not None and elem.getprevious() is not None:
        del parent[0]
