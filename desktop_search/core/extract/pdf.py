"""PDF text per page (pypdf)."""

from __future__ import annotations

import logging
from pathlib import Path

from .types import Extracted, ExtractionFailed, ExtractLimits


def extract_pdf(path: Path, limits: ExtractLimits) -> Extracted:
    import pypdf
    from pypdf.errors import FileNotDecryptedError, PdfReadError

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = pypdf.PdfReader(str(path), strict=False)
        if reader.is_encrypted:
            try:
                if not reader.decrypt(""):
                    raise ExtractionFailed("encrypted PDF")
            except (FileNotDecryptedError, NotImplementedError) as exc:
                raise ExtractionFailed("encrypted PDF") from exc
        parts: list[str] = []
        page_starts: list[int] = []
        offset = 0
        for page in reader.pages:
            page_starts.append(offset)
            try:
                page_text = page.extract_text() or ""
            except Exception:  # one bad page must not lose the rest
                page_text = ""
            page_text = page_text.strip() + "\n\n"
            parts.append(page_text)
            offset += len(page_text)
            if offset > limits.max_text_chars:
                break
        title = None
        try:
            if reader.metadata and reader.metadata.title:
                title = str(reader.metadata.title).strip() or None
        except Exception:
            title = None
    except ExtractionFailed:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, RecursionError) as exc:
        raise ExtractionFailed(f"damaged PDF ({type(exc).__name__})") from exc
    return Extracted(text="".join(parts), title=title, extractor="pypdf", page_starts=page_starts)
