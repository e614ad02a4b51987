"""Which extractor reads which file: by extension, confirmed (or decided) by the file's first bytes."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

from .builder import clean
from .types import Extracted, ExtractionFailed, ExtractLimits, NotADocument

Extractor = Callable[[Path, ExtractLimits], Extracted]

TEXT_SUFFIXES = {
    ".txt",
    ".text",
    ".md",
    ".markdown",
    ".mdown",
    ".mkd",
    ".rst",
    ".adoc",
    ".org",
    ".log",
    ".csv",
    ".tsv",
    ".json",
    ".jsonl",
    ".xml",
    ".yaml",
    ".yml",
    ".toml",
    ".ini",
    ".cfg",
    ".conf",
    ".properties",
    ".env",
    ".py",
    ".pyi",
    ".ipynb",
    ".js",
    ".mjs",
    ".cjs",
    ".ts",
    ".tsx",
    ".jsx",
    ".c",
    ".h",
    ".cc",
    ".cpp",
    ".cxx",
    ".hpp",
    ".hh",
    ".java",
    ".kt",
    ".kts",
    ".scala",
    ".groovy",
    ".gradle",
    ".rs",
    ".go",
    ".rb",
    ".php",
    ".pl",
    ".pm",
    ".lua",
    ".r",
    ".m",
    ".mm",
    ".swift",
    ".cs",
    ".fs",
    ".vb",
    ".sql",
    ".sh",
    ".bash",
    ".zsh",
    ".fish",
    ".bat",
    ".cmd",
    ".ps1",
    ".psm1",
    ".tex",
    ".bib",
    ".sty",
    ".cls",
    ".css",
    ".scss",
    ".sass",
    ".less",
    ".vue",
    ".svelte",
    ".dart",
    ".ex",
    ".exs",
    ".erl",
    ".hs",
    ".ml",
    ".mli",
    ".clj",
    ".cljs",
    ".lisp",
    ".el",
    ".scm",
    ".jl",
    ".nim",
    ".zig",
    ".v",
    ".sv",
    ".vhd",
    ".asm",
    ".s",
    ".f",
    ".f90",
    ".for",
    ".pas",
    ".d",
    ".sas",
    ".do",
    ".cmake",
    ".mk",
    ".makefile",
    ".dockerfile",
    ".proto",
    ".graphql",
    ".tf",
    ".srt",
    ".vtt",
    ".nfo",
    ".diff",
    ".patch",
    ".po",
    ".pot",
    ".gitignore",
}
HTML_SUFFIXES = {".html", ".htm", ".xhtml", ".xht", ".shtml"}
DOCX_SUFFIXES = {".docx", ".docm", ".dotx", ".dotm"}
PPTX_SUFFIXES = {".pptx", ".pptm", ".potx", ".potm", ".ppsx", ".ppsm"}
XLSX_SUFFIXES = {".xlsx", ".xlsm", ".xltx", ".xltm"}
ODF_SUFFIXES = {".odt", ".ods", ".odp", ".ott", ".ots", ".otp"}
MAIL_SUFFIXES = {".eml", ".mbox", ".mbx"}

# Never worth opening: the scanner rejects these by name alone.
BINARY_SUFFIXES = {
    # images
    ".jpg",
    ".jpeg",
    ".png",
    ".gif",
    ".bmp",
    ".tif",
    ".tiff",
    ".webp",
    ".heic",
    ".heif",
    ".ico",
    ".icns",
    ".psd",
    ".raw",
    ".cr2",
    ".nef",
    ".arw",
    ".dng",
    ".avif",
    ".jxl",
    ".xcf",
    # audio / video
    ".mp3",
    ".wav",
    ".flac",
    ".ogg",
    ".oga",
    ".m4a",
    ".aac",
    ".wma",
    ".opus",
    ".mid",
    ".midi",
    ".mp4",
    ".m4v",
    ".mkv",
    ".avi",
    ".mov",
    ".wmv",
    ".webm",
    ".flv",
    ".mpg",
    ".mpeg",
    ".3gp",
    # archives / disk images / packages
    ".zip",
    ".7z",
    ".rar",
    ".gz",
    ".tgz",
    ".bz2",
    ".xz",
    ".zst",
    ".lz",
    ".lzma",
    ".tar",
    ".cab",
    ".iso",
    ".img",
    ".dmg",
    ".vhd",
    ".vmdk",
    ".qcow2",
    ".deb",
    ".rpm",
    ".apk",
    ".jar",
    ".war",
    ".whl",
    ".msi",
    ".pkg",
    ".snap",
    ".appimage",
    # executables / libraries / objects
    ".exe",
    ".dll",
    ".so",
    ".dylib",
    ".o",
    ".a",
    ".lib",
    ".obj",
    ".class",
    ".pyc",
    ".pyo",
    ".pyd",
    ".wasm",
    ".bin",
    ".dat",
    ".sys",
    ".elf",
    # fonts, databases, models, misc binary data
    ".ttf",
    ".otf",
    ".woff",
    ".woff2",
    ".eot",
    ".db",
    ".sqlite",
    ".sqlite3",
    ".mdb",
    ".accdb",
    ".pt",
    ".pth",
    ".onnx",
    ".safetensors",
    ".npy",
    ".npz",
    ".pkl",
    ".pickle",
    ".h5",
    ".parquet",
    ".arrow",
    ".lock",
    ".swp",
    ".blend",
    ".fbx",
    ".stl",
    ".glb",
    # document formats we do not read
    ".doc",
    ".dot",
    ".ppt",
    ".pps",
    ".pot",
    ".msg",
    ".pst",
    ".ost",
    ".pages",
    ".numbers",
    ".key",
    ".xlsb",
    ".sxw",
    ".sxc",
    ".sxi",
    ".wpd",
    ".wps",
    ".mhtml",
    ".mht",
    ".fodt",
    ".fods",
    ".fodp",
    ".djvu",
    ".xps",
    ".oxps",
    ".mobi",
    ".azw",
    ".azw3",
    ".chm",
}

_MAGIC_BINARY = [
    (b"\x89PNG", "PNG image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"GIF8", "GIF image"),
    (b"BM", None),
    (b"II*\x00", "TIFF image"),
    (b"MM\x00*", "TIFF image"),
    (b"RIFF", "RIFF media"),
    (b"7z\xbc\xaf\x27\x1c", "7-Zip archive"),
    (b"Rar!", "RAR archive"),
    (b"\x1f\x8b", "gzip archive"),
    (b"BZh", "bzip2 archive"),
    (b"\xfd7zXZ", "xz archive"),
    (b"\x28\xb5\x2f\xfd", "zstd archive"),
    (b"\x7fELF", "executable"),
    (b"MZ", None),
    (b"\xca\xfe\xba\xbe", "executable"),
    (b"\xcf\xfa\xed\xfe", "executable"),
    (b"ID3", "MP3 audio"),
    (b"OggS", "Ogg media"),
    (b"fLaC", "FLAC audio"),
    (b"SQLite format 3\x00", "SQLite database"),
    (b"\x00asm", "WebAssembly"),
    (b"wOFF", "font"),
    (b"wOF2", "font"),
    (b"\x1aE\xdf\xa3", "Matroska video"),
]
_CFB = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def sniff(head: bytes) -> str:
    """Classify a file from its first bytes: pdf, zip, cfb, rtf, html, mail, text or binary."""
    if head.startswith(b"%PDF") or b"%PDF-" in head[:1024]:
        return "pdf"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")):
        return "zip"
    if head.startswith(_CFB):
        return "cfb"
    if head.startswith(b"{\\rtf"):
        return "rtf"
    for magic, _name in _MAGIC_BINARY:
        if head.startswith(magic) and _name:
            return "binary"
    if head[4:8] == b"ftyp":
        return "binary"  # MP4/MOV/HEIC
    from .text import looks_binary

    if looks_binary(head[:8192]):
        return "binary"
    lowered = head[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if lowered.startswith((b"<!doctype html", b"<html", b"<?xml")) and b"<html" in head[:4096].lower():
        return "html"
    if lowered.startswith((b"from ", b"return-path:", b"received:", b"mime-version:", b"delivered-to:")):
        if b"\nsubject:" in head[:16384].lower() or b"\nfrom:" in head[:16384].lower():
            return "mail"
    return "text"


def _zip_kind(path: Path) -> str | None:
    """Which ZIP-based format is this, judged by its parts (for files with a wrong/no extension)."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            if "mimetype" in names:
                info = zf.getinfo("mimetype")
                if info.file_size < 200:
                    mimetype = zf.read("mimetype").decode("ascii", "replace").strip()
                    if mimetype == "application/epub+zip":
                        return "epub"
                    if mimetype.startswith("application/vnd.oasis.opendocument"):
                        return "odf"
            if "[Content_Types].xml" in names:
                if any(n.startswith("word/") for n in names):
                    return "docx"
                if any(n.startswith("ppt/") for n in names):
                    return "pptx"
                if any(n.startswith("xl/") for n in names):
                    return "xlsx"
            if "META-INF/container.xml" in names:
                return "epub"
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, KeyError, NotImplementedError, RuntimeError):
        return None  # (unsupported ZIP version, encrypted member: found by fuzzing)
    return None


def _cfb_reason(path: Path, suffix: str) -> str:
    """A Compound File Binary container: encrypted OOXML, or a legacy Office file."""
    with open(path, "rb") as handle:
        head = handle.read(256 * 1024)
    if "EncryptedPackage".encode("utf-16-le") in head or "EncryptionInfo".encode("utf-16-le") in head:
        return "password-protected Office document (encrypted package)"
    return f"legacy Office binary format ({suffix or 'OLE2'}) is not supported"


def _by_kind(kind: str) -> Extractor | None:
    if kind == "pdf":
        from .pdf import extract_pdf

        return extract_pdf
    if kind in ("docx", "pptx", "xlsx"):
        from . import ooxml

        return {"docx": ooxml.extract_docx, "pptx": ooxml.extract_pptx, "xlsx": ooxml.extract_xlsx}[kind]
    if kind == "odf":
        from .odf import extract_odf

        return extract_odf
    if kind == "epub":
        from .epub import extract_epub

        return extract_epub
    if kind == "html":
        from .html import extract_html

        return extract_html
    if kind == "rtf":
        from .rtf import extract_rtf

        return extract_rtf
    if kind == "mail":
        from .mail import extract_mail

        return extract_mail
    if kind == "mbox":
        from .mail import extract_mbox

        return extract_mbox
    if kind == "xls":
        from .xls import extract_xls

        return extract_xls
    if kind == "text":
        from .text import extract_text

        return extract_text
    return None


def kind_for_suffix(suffix: str) -> str | None:
    suffix = suffix.lower()
    if suffix == ".pdf":
        return "pdf"
    if suffix in DOCX_SUFFIXES:
        return "docx"
    if suffix in PPTX_SUFFIXES:
        return "pptx"
    if suffix in XLSX_SUFFIXES:
        return "xlsx"
    if suffix in ODF_SUFFIXES:
        return "odf"
    if suffix == ".epub":
        return "epub"
    if suffix in HTML_SUFFIXES:
        return "html"
    if suffix == ".rtf":
        return "rtf"
    if suffix == ".eml":
        return "mail"
    if suffix in (".mbox", ".mbx"):
        return "mbox"
    if suffix == ".xls":
        return "xls"
    if suffix in TEXT_SUFFIXES:
        return "text"
    return None


def extractor_for(path: Path) -> Extractor | None:
    """Extractor chosen by extension alone (None for unknown extensions)."""
    kind = kind_for_suffix(path.suffix)
    return _by_kind(kind) if kind else None


def is_candidate(path: Path | str) -> bool:
    """Cheap check used by the scanner: could this file be indexed at all?

    Known document extensions, and also files with no or an unknown extension (their content decides),
    but not files whose extension says they are images, media, archives, executables and the like.
    """
    name = os.fsdecode(path) if not isinstance(path, Path) else path.name
    suffix = Path(name).suffix.lower()
    if not suffix:
        return True
    if kind_for_suffix(suffix) is not None:
        return True
    if suffix in BINARY_SUFFIXES:
        return False
    # "report.final", "notes.2024", "README.v2": an unknown suffix is not evidence of anything.
    return True


_TEXTLIKE_KINDS = {"text", "html", "mail", "mbox"}


def choose(path: Path, head: bytes) -> str:
    """Decide the kind from the extension and the first bytes; raises for files we will not read."""
    suffix = path.suffix.lower()
    by_name = kind_for_suffix(suffix)
    by_bytes = sniff(head)
    if not head:
        return by_name or "text"
    if by_bytes == "cfb":
        if by_name == "xls":
            return "xls"
        reason = _cfb_reason(path, suffix)
        if by_name is None or reason.startswith("legacy"):
            raise NotADocument(reason)
        raise ExtractionFailed(reason)
    if by_name is None:
        if suffix in BINARY_SUFFIXES:
            raise NotADocument(f"unsupported file type ({suffix})")
        if by_bytes == "zip":
            kind = _zip_kind(path)
            if kind is None:
                raise NotADocument("not a document (ZIP archive)")
            return kind
        if by_bytes == "binary":
            raise NotADocument("not a document (binary)")
        return by_bytes
    if by_name in ("docx", "pptx", "xlsx", "odf", "epub"):
        if by_bytes == "zip":
            return by_name
        what = {"docx": "Word", "pptx": "PowerPoint", "xlsx": "Excel", "odf": "OpenDocument"}.get(by_name)
        if by_name == "epub":
            what = "EPUB"
        raise ExtractionFailed(f"corrupt ZIP container (not a valid {what} file)")
    if by_name == "pdf":
        return "pdf"  # PDFium knows best whether it can read it
    if by_name in _TEXTLIKE_KINDS:
        if by_bytes == "pdf" and by_name == "text":
            return "pdf"
        if by_bytes == "binary":
            raise ExtractionFailed(f"binary data in a {suffix} file")
        return by_name
    if by_name == "rtf" and by_bytes not in ("rtf", "text"):
        raise ExtractionFailed("not a valid RTF file")
    return by_name


def _special_reason(mode: int) -> str:
    """Why a FIFO, socket or device file met in a watched folder is not read (it is listed as skipped)."""
    if stat.S_ISFIFO(mode):
        what = "named pipe (FIFO)"
    elif stat.S_ISSOCK(mode):
        what = "socket"
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        what = "device file"
    else:
        what = "special file"
    return f"{what}: not a regular file"


def run_extractor(path: Path, limits: ExtractLimits) -> Extracted:
    st = os.stat(path)  # follows symlinks; a loop raises ELOOP here
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(str(path))
    if not stat.S_ISREG(st.st_mode):
        raise NotADocument(_special_reason(st.st_mode))
    if st.st_size > limits.max_file_bytes:
        raise ExtractionFailed(f"file is larger than the {limits.max_file_bytes // (1024 * 1024)} MB limit")
    # O_NONBLOCK + fstat: a file swapped for a FIFO since the stat above must not hold the worker until
    # its timeout (opening a FIFO for reading waits for a writer).
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    with open(fd, "rb") as handle:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotADocument(_special_reason(st.st_mode))
        head = handle.read(16384)
    kind = choose(path, head)
    extractor = _by_kind(kind)
    if extractor is None:
        raise NotADocument("unsupported file type")
    result = extractor(path, limits)
    if len(result.text) > limits.max_text_chars:
        result.text = result.text[: limits.max_text_chars]
        result.page_starts = [p for p in result.page_starts if p < limits.max_text_chars]
        result.metadata["truncated"] = "yes"
    result.text = clean(result.text)
    if not result.text.strip():
        result.text = ""
    if result.title:
        result.title = clean(" ".join(result.title.split()))[:500] or None
    return result
