"""PDF text per page: PDFium (pypdfium2) first, pypdf as the fallback.

Why PDFium is primary (measured on the 82 PDFs of the test corpus, each in its own capped process):
it reads 57 of the 62 text PDFs against pypdf's 48 (it tolerates cyclic page trees, broken xref tables,
operators inside TJ arrays, JBIG2 images it need not decode, CJK CMaps) and is about 4x faster.
pypdf still wins on a few files (it refuses flate bombs by itself and copes with some odd spacing), so:

* a document PDFium cannot open (other than for a password) is retried with pypdf;
* when PDFium finds no text at all, pypdf must agree, or the file is reported damaged instead of
  silently "empty";
* when PDFium's text looks letter-spaced ("H e re i s"), pypdf's is used if it is better.

Scanned pages (issue 15): with OCR on, a page whose text layer is empty or near-empty and which holds an
image is rendered (200 dpi, at most 2000 pixels a side) and read by :mod:`.ocr`, until the OCR share of the
file's time limit is spent; ``ocr_pages`` / ``ocr_unread_pages`` in the metadata say how many were read
and how many were left.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from .builder import TextBuilder
from .types import Extracted, ExtractionFailed, ExtractLimits

_WORD = re.compile(r"\w+")
NEAR_EMPTY_CHARS = 25  # a page with fewer non-space characters in its text layer is treated as a scan
_OCR_DPI = 200
_OCR_SIDE = 2000


class _Scans:
    """OCR of one document's scanned pages, within the time the file has."""

    def __init__(self, limits: ExtractLimits):
        from .ocr import Deadline

        self.on = limits.ocr
        self.deadline = Deadline(limits) if limits.ocr else None
        self.read = 0
        self.unread = 0
        self.waiting = 0  # scanned pages not read because OCR is off
        self.error = ""

    def text(self, page: Any, page_text: str) -> str:
        """OCR text for a page whose text layer is (near) empty and that holds an image, else ""."""
        if len("".join(page_text.split())) >= NEAR_EMPTY_CHARS or not _has_image(page):
            return ""
        if not self.on:
            self.waiting += 1
            return ""
        if self.deadline is not None and self.deadline.passed():
            self.unread += 1
            return ""
        from .ocr import recognise

        width, height = page.get_size()
        scale = min(_OCR_DPI / 72, _OCR_SIDE / max(width, height, 1.0))
        bitmap = page.render(scale=scale, grayscale=True)
        try:
            text = recognise(bitmap.to_pil())
        except ExtractionFailed as exc:  # the engine cannot run here: keep the text layer, say why
            self.on = False
            self.error = exc.reason
            return ""
        except MemoryError:  # keep the pages read so far; the worker retires after this file
            self.on = False
            self.error = "OCR stopped at the memory limit"
            self.unread += 1
            return ""
        finally:
            bitmap.close()
        self.read += 1
        return text

    def describe(self, meta: dict[str, str]) -> None:
        if self.read:
            meta["ocr_pages"] = str(self.read)
        if self.unread:
            meta["ocr_unread_pages"] = f"{self.unread} (time limit)"
        if self.error:
            meta["ocr_error"] = self.error
        if self.waiting and not self.read and not self.error:
            meta["ocr_waiting_pages"] = str(self.waiting)  # read once OCR is on (the indexer requeues it)


def _has_image(page: Any) -> bool:
    import pypdfium2.raw as pdfium_c

    for _obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=2):
        return True
    return False


def _spaced_out(text: str) -> float:
    """Fraction of one-letter words: high for text that lost its word spacing the other way round."""
    words = _WORD.findall(text[:20000])
    if len(words) < 5:
        return 0.0
    return sum(1 for w in words if len(w) == 1) / len(words)


def _pdfium_input(path: Path) -> Any:
    try:
        str(path).encode("utf-8")
        return str(path)
    except UnicodeEncodeError:  # file name that is not valid UTF-8: hand PDFium an open file
        return open(path, "rb")  # noqa: SIM115 - pypdfium2 closes it (autoclose)


def _pdfium(path: Path, limits: ExtractLimits) -> Extracted:
    import pypdfium2 as pdfium

    source = _pdfium_input(path)
    try:
        doc = pdfium.PdfDocument(source) if isinstance(source, str) else pdfium.PdfDocument(source, autoclose=True)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise ExtractionFailed("encrypted PDF (a password is needed to open it)") from exc
        m = re.search(r"PDFium: ([^)]+)", str(exc))
        detail = m.group(1).strip().rstrip(".").lower() if m else "PDFium could not open it"
        raise _Retry(f"damaged PDF ({detail})") from exc
    try:
        n_pages = len(doc)
        if n_pages == 0:
            raise _Retry("damaged PDF (no pages)")
        builder = TextBuilder(limits.max_text_chars)
        scans = _Scans(limits)
        failed_pages = 0
        for index in range(n_pages):
            builder.section()
            if builder.full:
                break
            try:
                page = doc[index]
            except pdfium.PdfiumError:
                failed_pages += 1
                continue
            try:
                textpage = page.get_textpage()
                try:
                    page_text = textpage.get_text_range()
                finally:
                    textpage.close()
                ocr_text = scans.text(page, page_text)
                if ocr_text:
                    page_text = f"{page_text.strip()}\n{ocr_text}".strip()
            except pdfium.PdfiumError:
                failed_pages += 1
                page_text = ""
            finally:
                page.close()
            builder.add(page_text.replace("\r\n", "\n").replace("\r", "\n").strip())
        if failed_pages == n_pages:
            raise _Retry("damaged PDF (no page could be loaded)")
        meta: dict[str, str] = {"pages": str(n_pages)}
        title = None
        try:
            info = doc.get_metadata_dict(skip_empty=True)
        except Exception:
            info = {}
        for key in ("Title", "Author", "Subject", "Keywords", "Creator", "Producer"):
            value = str(info.get(key, "")).strip()
            if value:
                meta[key.lower()] = value[:500]
        title = meta.get("title")
        if failed_pages:
            meta["unreadable_pages"] = str(failed_pages)
        scans.describe(meta)
        text = builder.text()
        if builder.full:
            meta["truncated"] = "yes"
        return Extracted(text=text, title=title, extractor="pdfium", page_starts=builder.page_starts, metadata=meta)
    finally:
        doc.close()


class _Retry(ExtractionFailed):
    """PDFium could not read the file: give pypdf a chance before reporting ``reason``."""


def _pypdf(path: Path, limits: ExtractLimits) -> Extracted:
    import pypdf
    from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError, PyPdfError

    logging.getLogger("pypdf").setLevel(logging.CRITICAL)
    try:
        reader = pypdf.PdfReader(str(path), strict=False)
        if reader.is_encrypted:
            try:
                if not reader.decrypt(""):
                    raise ExtractionFailed("encrypted PDF (a password is needed to open it)")
            except (FileNotDecryptedError, NotImplementedError, DependencyError) as exc:
                raise ExtractionFailed("encrypted PDF (a password is needed to open it)") from exc
        builder = TextBuilder(limits.max_text_chars)
        for page in reader.pages:
            builder.section()
            if builder.full:
                break
            try:
                page_text = page.extract_text() or ""
            except (DependencyError, FileNotDecryptedError) as exc:
                raise ExtractionFailed("encrypted PDF (a password is needed to open it)") from exc
            except Exception as exc:  # one bad page must not lose the rest
                if type(exc).__name__ == "LimitReachedError":
                    raise ExtractionFailed("PDF decompression bomb refused") from exc
                page_text = ""
            builder.add(page_text.strip())
        if not builder.page_starts:
            raise ExtractionFailed("damaged PDF (no pages)")
        title = None
        try:
            if reader.metadata and reader.metadata.title:
                title = str(reader.metadata.title).strip() or None
        except Exception:
            title = None
    except ExtractionFailed:
        raise
    except (DependencyError, FileNotDecryptedError) as exc:
        raise ExtractionFailed("encrypted PDF (a password is needed to open it)") from exc
    except NotImplementedError as exc:  # e.g. "Encryption V=0 NOT supported" from the reader itself (fuzzing)
        if "encrypt" in str(exc).lower():
            raise ExtractionFailed("encrypted PDF (unsupported encryption)") from exc
        raise ExtractionFailed("damaged PDF (unsupported feature)") from exc
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError) as exc:
        if type(exc).__name__ == "LimitReachedError":
            raise ExtractionFailed("PDF decompression bomb refused") from exc
        raise ExtractionFailed(f"damaged PDF ({type(exc).__name__})") from exc
    except PyPdfError as exc:  # pypdf's own limits, outside PdfReadError (found by fuzzing)
        if "loop" in str(exc).lower():
            raise ExtractionFailed("damaged PDF (reference loop)") from exc
        if type(exc).__name__ == "LimitReachedError":
            raise ExtractionFailed("PDF decompression bomb refused") from exc
        raise ExtractionFailed(f"damaged PDF ({type(exc).__name__})") from exc
    meta = {"pages": str(len(builder.page_starts))}
    if title:
        meta["title"] = title
    return Extracted(
        text=builder.text(), title=title, extractor="pypdf", page_starts=builder.page_starts, metadata=meta
    )


def extract_pdf(path: Path, limits: ExtractLimits) -> Extracted:
    try:
        result = _pdfium(path, limits)
    except _Retry as exc:
        try:
            return _pypdf(path, limits)
        except ExtractionFailed as fallback_exc:
            if fallback_exc.reason.startswith("encrypted"):
                raise
            raise ExtractionFailed(exc.reason) from None
    if not result.text.strip():
        # No text layer, or PDFium could not make sense of the content: only call it empty (a scan)
        # when pypdf can parse the file too; otherwise it is damaged.
        try:
            second = _pypdf(path, limits)
        except ExtractionFailed as exc:
            if "password" in exc.reason:
                raise
            raise ExtractionFailed("damaged PDF (no readable content)") from exc
        if second.text.strip():
            return second
        return result
    if _spaced_out(result.text) > 0.25:
        try:
            second = _pypdf(path, limits)
        except ExtractionFailed:
            return result
        if second.text.strip() and _spaced_out(second.text) < _spaced_out(result.text) / 2:
            second.metadata.update({k: v for k, v in result.metadata.items() if k not in second.metadata})
            return second
    return result
