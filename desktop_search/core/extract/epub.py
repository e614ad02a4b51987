"""EPUB 2/3: chapters in spine order (chapter = section), title and author from the OPF package.

container.xml -> OPF -> spine -> XHTML, each step on the guarded ZIP and entity-free XML of
:mod:`.container`; chapter markup goes through the HTML extractor (an HTML5 parser, which never expands
DTD entities). Entries whose names try to escape the archive ("../../x") are harmless here: nothing is
ever written to disk.
"""

from __future__ import annotations

import posixpath
from pathlib import Path

from .builder import TextBuilder
from .container import SafeZip, join_part, local, parse_small
from .html import decode_html, html_text
from .types import Extracted, ExtractionFailed, ExtractLimits

_HTML_TYPES = {"application/xhtml+xml", "text/html", "application/x-dtbook+xml", "text/x-oeb1-document"}
_HTML_EXT = {".xhtml", ".html", ".htm", ".xml"}


def _opf_path(z: SafeZip) -> str | None:
    if z.has("META-INF/container.xml"):
        root = parse_small(z.read("META-INF/container.xml"), part="META-INF/container.xml")
        for elem in root.iter():
            if local(elem.tag) == "rootfile":
                full = (elem.get("full-path") or "").strip()
                if full and z.has(full):
                    return full
    candidates = [n for n in z.names if n.lower().endswith(".opf")]
    return sorted(candidates)[0] if candidates else None


def _encrypted_parts(z: SafeZip) -> set[str]:
    if not z.has("META-INF/encryption.xml"):
        return set()
    root = parse_small(z.read("META-INF/encryption.xml"), part="META-INF/encryption.xml")
    parts: set[str] = set()
    for elem in root.iter():
        if local(elem.tag) == "CipherReference":
            uri = elem.get("URI") or ""
            if uri:
                parts.add(join_part("", uri))
    return parts


def extract_epub(path: Path, limits: ExtractLimits) -> Extracted:
    with SafeZip(path, limits, what="ZIP container (EPUB)") as z:
        opf = _opf_path(z)
        meta: dict[str, str] = {}
        chapters: list[str] = []
        spine_seen = False
        if opf is not None:
            root = parse_small(z.read(opf), part=opf)
            manifest: dict[str, tuple[str, str]] = {}
            spine: list[str] = []
            for elem in root.iter():
                name = local(elem.tag)
                if name == "item":
                    manifest[elem.get("id") or ""] = (
                        join_part(opf, elem.get("href") or ""),
                        (elem.get("media-type") or "").lower(),
                    )
                elif name == "itemref":
                    spine.append(elem.get("idref") or "")
                    spine_seen = True
                elif name in ("title", "creator", "language", "publisher", "description", "date"):
                    value = (elem.text or "").strip()
                    if value:
                        meta.setdefault("author" if name == "creator" else name, value[:500])
            for idref in spine:
                item = manifest.get(idref)
                if not item:
                    continue
                href, media = item
                if ((media in _HTML_TYPES or posixpath.splitext(href)[1].lower() in _HTML_EXT) and z.has(href)
                        and href not in chapters):
                    chapters.append(href)
        if opf is None or not spine_seen:  # no usable package document: read every XHTML file by name
            chapters = sorted(n for n in z.names if posixpath.splitext(n)[1].lower() in (".xhtml", ".html", ".htm"))
        if not chapters and opf is None:
            raise ExtractionFailed("corrupt EPUB (no package document or chapters)")
        encrypted = _encrypted_parts(z)
        if chapters and all(c in encrypted for c in chapters):
            raise ExtractionFailed("DRM-protected EPUB (chapters are encrypted)")
        builder = TextBuilder(limits.max_text_chars)
        for chapter in chapters:
            if chapter in encrypted:
                continue
            builder.section()
            markup, _enc = decode_html(z.read(chapter))
            html_text(markup, builder)
            if builder.full:
                meta["truncated"] = "yes"
                break
        meta["chapters"] = str(len(chapters))
        text = builder.text() if builder.has_text() else ""
        return Extracted(
            text=text,
            title=meta.get("title"),
            extractor="epub",
            page_starts=builder.page_starts if text else [],
            metadata=meta,
        )
