"""The format table: which file types are read, by which extractor, under which limits.

One :class:`Format` entry per kind of document. :mod:`.registry` looks a file up by suffix here, then lets
its first bytes confirm (or decide) the kind. Adding a format is adding an entry (and its extractor module):
no other list to keep in step. The table is built at import and never changed afterwards (workers and the
scanner read it from any thread).

:data:`NOT_DOCUMENT_SUFFIXES` names what is never worth opening (images, media, executables...), each with
the category that the scanner's "skipped" report gives as the reason.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .types import Extracted, ExtractLimits

Extractor = Callable[[Path, ExtractLimits], Extracted]

# What registry.sniff() may call a file's first bytes.
SNIFF_CLASSES = frozenset({"pdf", "zip", "cfb", "rtf", "html", "mail", "text", "binary"})
_TEXTUAL = frozenset({"text", "html", "mail", "rtf", "pdf", "zip"})  # not binary (nor an OLE2/CFB container)
_NOT_CFB = SNIFF_CLASSES - {"cfb"}


def _suffixes(words: str) -> frozenset[str]:
    return frozenset(f".{w}" for w in words.split())


@dataclass(frozen=True)
class Format:
    """One kind of document.

    ``extractor`` is ``"module:function"`` inside this package, imported on first use (a worker imports only
    what its files need). ``accepts`` are the :func:`registry.sniff` classes the first bytes may have for a
    file named with one of ``suffixes``; other bytes fail with ``mismatch`` (``{suffix}`` and ``{label}`` are
    filled in), or, when ``mismatch`` is empty, are left to the extractor. A Compound File (OLE2) is only
    read by a format whose ``accepts`` names ``"cfb"``; any other is reported as legacy Office or encrypted.
    ``redirect`` hands bytes of a class to another kind (a PDF named ``.txt`` is read as a PDF). ``limits``
    overrides fields of :class:`ExtractLimits` for this format only; ``timeout_scale`` multiplies the
    pool's wall-clock limit for its files (an archive holds many documents).
    """

    kind: str
    suffixes: frozenset[str]
    extractor: str
    label: str = ""
    mime: tuple[str, ...] = ()
    accepts: frozenset[str] = SNIFF_CLASSES
    mismatch: str = ""
    redirect: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    timeout_scale: float = 1.0  # the pool gives a file of this format timeout_s times this
    limits: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def load(self) -> Extractor:
        module, _, function = self.extractor.partition(":")
        return getattr(importlib.import_module(f".{module}", __package__), function)  # type: ignore[no-any-return]

    def limits_for(self, limits: ExtractLimits) -> ExtractLimits:
        return dataclasses.replace(limits, **self.limits) if self.limits else limits


_ZIP = frozenset({"zip"})
_BAD_ZIP = "corrupt ZIP container (not a valid {label} file)"
_BINARY_IN_TEXT = "binary data in a {suffix} file"

TEXT_SUFFIXES = _suffixes(
    "txt text md markdown mdown mkd rst adoc org log csv tsv json jsonl xml yaml yml toml ini cfg conf properties "
    "env py pyi ipynb js mjs cjs ts tsx jsx c h cc cpp cxx hpp hh java kt kts scala groovy gradle rs go rb php pl "
    "pm lua r m mm swift cs fs vb sql sh bash zsh fish bat cmd ps1 psm1 tex bib sty cls css scss sass less vue "
    "svelte dart ex exs erl hs ml mli clj cljs lisp el scm jl nim zig v sv vhd asm s f f90 for pas d sas do cmake "
    "mk makefile dockerfile proto graphql tf srt vtt nfo diff patch po pot gitignore"
)

FORMATS: tuple[Format, ...] = (
    Format("pdf", _suffixes("pdf"), "pdf:extract_pdf", "PDF", ("application/pdf",), _NOT_CFB),  # PDFium decides
    Format(
        "docx",
        _suffixes("docx docm dotx dotm"),
        "ooxml:extract_docx",
        "Word",
        ("application/vnd.openxmlformats-officedocument.wordprocessingml.document",),
        _ZIP,
        _BAD_ZIP,
    ),
    Format(
        "pptx",
        _suffixes("pptx pptm potx potm ppsx ppsm"),
        "ooxml:extract_pptx",
        "PowerPoint",
        ("application/vnd.openxmlformats-officedocument.presentationml.presentation",),
        _ZIP,
        _BAD_ZIP,
    ),
    Format(
        "xlsx",
        _suffixes("xlsx xlsm xltx xltm"),
        "ooxml:extract_xlsx",
        "Excel",
        ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",),
        _ZIP,
        _BAD_ZIP,
    ),
    Format(
        "odf",
        _suffixes("odt ods odp ott ots otp"),
        "odf:extract_odf",
        "OpenDocument",
        ("application/vnd.oasis.opendocument.text",),
        _ZIP,
        _BAD_ZIP,
    ),
    Format("epub", _suffixes("epub"), "epub:extract_epub", "EPUB", ("application/epub+zip",), _ZIP, _BAD_ZIP),
    Format(
        "html",
        _suffixes("html htm xhtml xht shtml"),
        "html:extract_html",
        "HTML",
        ("text/html",),
        _TEXTUAL,
        _BINARY_IN_TEXT,
    ),
    Format(
        "rtf",
        _suffixes("rtf"),
        "rtf:extract_rtf",
        "RTF",
        ("application/rtf",),
        frozenset({"rtf", "text"}),
        "not a valid RTF file",
    ),
    Format("mail", _suffixes("eml"), "mail:extract_mail", "e-mail", ("message/rfc822",), _TEXTUAL, _BINARY_IN_TEXT),
    Format(
        "mbox", _suffixes("mbox mbx"), "mail:extract_mbox", "mailbox", ("application/mbox",), _TEXTUAL, _BINARY_IN_TEXT
    ),
    # members are documents of their own (archive.py); the first bytes decide zip/tar/7z/gzip/bzip2/xz
    Format(
        "archive",
        _suffixes("zip tar tgz gz bz2 tbz tbz2 xz txz 7z"),
        "archive:extract_archive",
        "archive",
        ("application/zip", "application/x-tar", "application/gzip", "application/x-7z-compressed"),
        _NOT_CFB,
        timeout_scale=5.0,
    ),
    # Word/PowerPoint 97-2003 and Outlook messages: OLE2 compound files (legacy_office.py, msg.py); a .doc that is
    # really RTF, HTML or a .docx (saved under the old name) is read as what it is
    Format(
        "doc",
        _suffixes("doc dot"),
        "legacy_office:extract_doc",
        "Word 97-2003",
        ("application/msword",),
        frozenset({"cfb"}),
        "not a valid {label} file",
        MappingProxyType({"rtf": "rtf", "html": "html", "zip": "docx", "text": "text"}),
    ),
    Format(
        "ppt",
        _suffixes("ppt pps"),
        "legacy_office:extract_ppt",
        "PowerPoint 97-2003",
        ("application/vnd.ms-powerpoint",),
        frozenset({"cfb"}),
        "not a valid {label} file",
        MappingProxyType({"zip": "pptx"}),
    ),
    Format(
        "msg",
        _suffixes("msg"),
        "msg:extract_msg",
        "Outlook message",
        ("application/vnd.ms-outlook",),
        frozenset({"cfb"}),
        "not a valid {label} file",
        MappingProxyType({"mail": "mail", "text": "text"}),  # text: Tcl/Tk message catalogs use .msg too
    ),
    Format("xls", _suffixes("xls"), "xls:extract_xls", "Excel 97-2003", ("application/vnd.ms-excel",)),
    # read by OCR when it is on (issue 15), skipped with that reason when it is off
    Format(
        "image",
        _suffixes("png jpg jpeg jpe tif tiff webp heic heif"),
        "image:extract_image",
        "image",
        ("image/png", "image/jpeg", "image/tiff", "image/webp", "image/heic"),
        frozenset({"binary"}),
        "not an image (the {suffix} file holds no picture)",
    ),
    Format(
        "text",
        TEXT_SUFFIXES,
        "text:extract_text",
        "text",
        ("text/plain",),
        _TEXTUAL,
        _BINARY_IN_TEXT,
        MappingProxyType({"pdf": "pdf"}),
    ),
)

# Never worth opening: the scanner rejects these by name alone. Category -> suffixes; the category is the
# reason a skipped file is listed with.
NOT_DOCUMENT_SUFFIXES: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "image": _suffixes(
            "jpg jpeg png gif bmp tif tiff webp heic heif ico icns psd raw cr2 nef arw dng avif jxl xcf"
        ),
        "audio or video": _suffixes(
            "mp3 wav flac ogg oga m4a aac wma opus mid midi mp4 m4v mkv avi mov wmv webm flv mpg mpeg 3gp"
        ),
        "archive or disk image": _suffixes(
            "zip 7z rar gz tgz bz2 xz zst lz lzma tar cab iso img dmg vhd vmdk qcow2 deb rpm apk jar war whl msi pkg "
            "snap appimage"
        ),
        "program or library": _suffixes("exe dll so dylib o a lib obj class pyc pyo pyd wasm bin dat sys elf"),
        "binary data": _suffixes(
            "ttf otf woff woff2 eot db sqlite sqlite3 mdb accdb pt pth onnx safetensors npy npz pkl pickle h5 parquet "
            "arrow lock swp blend fbx stl glb"
        ),
        "document format that is not read": _suffixes(
            "doc dot ppt pps pot msg pst ost pages numbers key xlsb sxw sxc sxi wpd wps mhtml mht fodt fods fodp djvu "
            "xps oxps mobi azw azw3 chm"
        ),
    }
)


def _index() -> tuple[dict[str, Format], dict[str, Format], dict[str, str]]:
    by_kind: dict[str, Format] = {}
    by_suffix: dict[str, Format] = {}
    for entry in FORMATS:
        assert entry.kind not in by_kind, f"format {entry.kind} is listed twice"
        assert entry.accepts <= SNIFF_CLASSES, f"format {entry.kind} accepts unknown byte classes"
        by_kind[entry.kind] = entry
    for entry in FORMATS:
        assert set(entry.redirect.values()) <= by_kind.keys(), f"format {entry.kind} redirects to an unknown kind"
        for suffix in entry.suffixes:
            assert suffix not in by_suffix, f"suffix {suffix} belongs to {by_suffix[suffix].kind} and {entry.kind}"
            by_suffix[suffix] = entry
    category: dict[str, str] = {}
    for name, suffixes in NOT_DOCUMENT_SUFFIXES.items():
        for suffix in suffixes - by_suffix.keys():  # a format read by an extractor wins over the deny list
            category[suffix] = name
    return by_kind, by_suffix, category


BY_KIND, BY_SUFFIX, NOT_DOCUMENT = _index()


def format_for_suffix(suffix: str) -> Format | None:
    return BY_SUFFIX.get(suffix.lower())


def not_document_category(suffix: str) -> str | None:
    """Why a file with this suffix is never opened ("image", "program or library"...), or None."""
    return NOT_DOCUMENT.get(suffix.lower())
