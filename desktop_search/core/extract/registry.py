"""Which extractor reads which file: looked up by extension in the format table (:mod:`.formats`), confirmed
(or decided) by the file's first bytes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .builder import clean
from .formats import BY_KIND, Extractor, Format, format_for_suffix, not_document_category
from .types import Extracted, ExtractionFailed, ExtractLimits, NotADocument

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
    if lowered.startswith((b"from ", b"return-path:", b"received:", b"mime-version:", b"delivered-to:")) and (
            b"\nsubject:" in head[:16384].lower() or b"\nfrom:" in head[:16384].lower()):
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
    entry = BY_KIND.get(kind)
    return entry.load() if entry else None


def kind_for_suffix(suffix: str) -> str | None:
    entry = format_for_suffix(suffix)
    return entry.kind if entry else None


def skip_reason(name: str) -> str | None:
    """Why the scanner never opens a file of this name ("image (.png)"), or None when it may be a document."""
    suffix = Path(name).suffix.lower()
    if not suffix or format_for_suffix(suffix) is not None:
        return None
    category = not_document_category(suffix)
    return f"{category} ({suffix})" if category else None


def is_archive_name(path: str) -> bool:
    """Whether a file of this name is read as an archive (its members are documents of their own)."""
    entry = format_for_suffix(os.path.splitext(path)[1])
    return entry is not None and entry.kind == "archive"


MEMBER_KINDS = frozenset({"archive", "msg"})  # formats whose files hold documents of their own


def has_members(path: str) -> bool:
    """Whether a file of this name may hold documents of its own (an archive's files, a message's
    attachments), catalogued as ``path!/member``."""
    entry = format_for_suffix(os.path.splitext(path)[1])
    return entry is not None and entry.kind in MEMBER_KINDS


def is_candidate(path: Path | str) -> bool:
    """Cheap check used by the scanner: could this file be indexed at all?

    Known document extensions, and also files with no or an unknown extension (their content decides),
    but not files whose extension says they are images, media, archives, executables and the like.
    "report.final", "notes.2024", "README.v2": an unknown suffix is not evidence of anything.
    """
    name = os.fsdecode(path) if not isinstance(path, Path) else path.name
    return skip_reason(name) is None


def _by_bytes_alone(path: Path, suffix: str, by_bytes: str) -> str:
    """Kind of a file whose extension is not in the format table."""
    if not_document_category(suffix):
        raise NotADocument(f"unsupported file type ({suffix})")
    if by_bytes == "zip":
        kind = _zip_kind(path)
        if kind is None:
            raise NotADocument("not a document (ZIP archive)")
        return kind
    if by_bytes == "binary":
        raise NotADocument("not a document (binary)")
    return by_bytes


def choose_format(path: Path, head: bytes) -> Format:
    """Decide the format from the extension and the first bytes; raises for files we will not read."""
    suffix = path.suffix.lower()
    entry = format_for_suffix(suffix)
    if not head:
        return entry or BY_KIND["text"]
    by_bytes = sniff(head)
    if by_bytes == "cfb" and (entry is None or "cfb" not in entry.accepts):
        reason = _cfb_reason(path, suffix)
        if entry is None or reason.startswith("legacy"):
            raise NotADocument(reason)
        raise ExtractionFailed(reason)
    if entry is None:
        return BY_KIND[_by_bytes_alone(path, suffix, by_bytes)]
    if by_bytes in entry.redirect:
        return BY_KIND[entry.redirect[by_bytes]]
    if by_bytes not in entry.accepts and entry.mismatch:
        raise ExtractionFailed(entry.mismatch.format(suffix=suffix, label=entry.label))
    return entry


def choose(path: Path, head: bytes) -> str:
    """The kind (a key of the format table) :func:`choose_format` decides on."""
    return choose_format(path, head).kind


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
    entry = choose_format(path, head)
    result = entry.load()(path, entry.limits_for(limits))
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
