"""Images (PNG, JPEG, TIFF, WebP, HEIC/HEIF): their text by OCR (:mod:`.ocr`), when OCR is on.

With OCR off an image is skipped with that reason (``NotADocument``), so turning OCR on later reads it.
A multi-page TIFF is read page by page (``page_starts``) until the OCR share of the time limit is spent;
the pages left are named in the metadata. Pictures over :data:`.ocr.MAX_PIXELS` fail with a reason before
they are decoded.
"""

from __future__ import annotations

from pathlib import Path

from .builder import TextBuilder
from .ocr import ENGINE, MAX_PIXELS, Deadline, recognise
from .types import Extracted, ExtractionFailed, ExtractLimits, NotADocument

OCR_OFF = "image: text recognition (OCR) is off"
MAX_FRAMES = 1000


def _open(path: Path):  # type: ignore[no-untyped-def]
    from PIL import Image, UnidentifiedImageError

    try:
        from pillow_heif import register_heif_opener

        register_heif_opener()
    except Exception:  # noqa: BLE001, S110 - without it HEIC files fail with "unsupported image" below
        pass
    Image.MAX_IMAGE_PIXELS = None  # checked below against our own limit, before decoding
    try:
        return Image.open(path)
    except UnidentifiedImageError as exc:
        raise ExtractionFailed("damaged or unsupported image") from exc
    except (OSError, ValueError, SyntaxError) as exc:  # Pillow raises SyntaxError for some broken headers
        raise ExtractionFailed(f"damaged image ({exc})"[:200]) from exc


def extract_image(path: Path, limits: ExtractLimits) -> Extracted:
    if not limits.ocr:
        raise NotADocument(OCR_OFF)
    from PIL import ImageOps

    deadline = Deadline(limits)
    image = _open(path)
    with image:
        width, height = image.size
        if width * height > MAX_PIXELS:
            raise ExtractionFailed(
                f"image too large to read ({width * height / 1e6:.0f} megapixels; "
                f"the limit is {MAX_PIXELS / 1e6:.0f})"
            )
        frames = min(int(getattr(image, "n_frames", 1) or 1), MAX_FRAMES)
        builder = TextBuilder(limits.max_text_chars)
        read = 0
        try:
            for index in range(frames):
                if index and (deadline.passed() or builder.full):
                    break
                if frames > 1:
                    image.seek(index)
                    builder.section()
                if image.format == "JPEG" and max(width, height) > 7000:
                    image.draft("RGB", (width // 2, height // 2))  # decode at half size: OCR works smaller
                picture = ImageOps.exif_transpose(image) if index == 0 else image
                builder.add(recognise(picture))
                read += 1
        except (OSError, ValueError, SyntaxError, EOFError) as exc:
            if read == 0:
                raise ExtractionFailed(f"damaged image ({exc})"[:200]) from exc
        except MemoryError:  # a later page of a multi-page TIFF: keep those read (the worker retires)
            if read == 0:
                raise
        meta = {"ocr_pages": str(read), "pages": str(frames), "image_size": f"{width}x{height}"}
        if read < frames:
            meta["ocr_unread_pages"] = f"{read + 1}-{frames} (time limit)"
    return Extracted(
        text=builder.text(),
        title=None,
        extractor=f"{ENGINE} ({(image.format or 'image').lower()})",
        page_starts=builder.page_starts if frames > 1 else [],
        metadata=meta,
    )
