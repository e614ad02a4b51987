"""OCR (issue 15): images and scanned PDF pages read in the isolated workers, off when the setting says so,
bad pictures failing with a reason, and the text found by keyword search through the real indexer.

Small generated pages only (Pillow's built-in font, so CI needs no font package); the big set, throughput,
memory and the 20 MP / 500-page cases are in tests/benchmarks/bench_ocr.py.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest
from ocr_set import render_page
from PIL import Image

from desktop_search.core.extract import ExtractLimits
from desktop_search.core.extract.image import OCR_OFF
from desktop_search.core.extract.pool import extract_one

ON = ExtractLimits(ocr=True)


def _page(path: Path, lines: list[str], *, turned: bool = False) -> Path:
    page = render_page(lines, None, 34, width=1000, height=420)
    if turned:
        page = page.transpose(Image.Transpose.ROTATE_90)
    page.save(path)
    return path


def _words(text: str) -> str:
    return " ".join(text.lower().split())


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("ocr")
    png = _page(base / "note.png", ["Invoice from Zephyr Logistics", "Total due 4471 francs"])
    jpeg = base / "memo.jpg"
    render_page(["Meeting about the orchard budget"], None, 34, width=1000, height=300).save(jpeg, quality=85)
    pdf = base / "scan.pdf"
    first = render_page(["Lighthouse keeper report"], None, 34, width=1000, height=300).convert("RGB")
    second = render_page(["Walrus census results"], None, 34, width=1000, height=300).convert("RGB")
    first.save(pdf, save_all=True, append_images=[second], resolution=100.0)
    return {"png": png, "jpeg": jpeg, "pdf": pdf}


def test_an_image_is_read_in_a_worker_when_ocr_is_on(pages: dict[str, Path]) -> None:
    outcome = extract_one(pages["png"], ON)
    assert outcome.result is not None, outcome.error
    text = _words(outcome.result.text)
    assert "zephyr logistics" in text and "4471" in text
    assert outcome.result.metadata["ocr_pages"] == "1"
    assert outcome.worker_rss_mb is not None and outcome.worker_rss_mb < ON.memory_mb


def test_an_image_is_skipped_with_the_reason_when_ocr_is_off(pages: dict[str, Path]) -> None:
    outcome = extract_one(pages["png"], ExtractLimits(ocr=False))
    assert outcome.result is None and outcome.skipped
    assert outcome.error == OCR_OFF


def test_each_page_of_an_image_only_pdf_is_read(pages: dict[str, Path]) -> None:
    outcome = extract_one(pages["pdf"], ON)
    assert outcome.result is not None, outcome.error
    result = outcome.result
    assert result.metadata["ocr_pages"] == "2"
    assert result.page_starts[0] == 0 and len(result.page_starts) == 2
    second_page = _words(result.text[result.page_starts[1] :])
    assert "walrus census" in second_page and "lighthouse" not in second_page
    # with OCR off the scan is still a PDF with no text, as before, and nothing says OCR read it
    off = extract_one(pages["pdf"], ExtractLimits(ocr=False))
    assert off.result is not None and off.result.text == "" and "ocr_pages" not in off.result.metadata


def test_heic_and_multi_page_tiff_are_read(tmp_path: Path) -> None:
    from pillow_heif import register_heif_opener

    register_heif_opener()
    heic = tmp_path / "recipe.heic"
    render_page(["Parsnip soup recipe"], None, 34, width=800, height=200).convert("RGB").save(heic, quality=90)
    outcome = extract_one(heic, ON)
    assert outcome.result is not None, outcome.error
    assert "parsnip soup recipe" in _words(outcome.result.text)

    tiff = tmp_path / "fax.tiff"
    first, second = (render_page([line], None, 34, width=800, height=200) for line in ("Fax cover", "Granary lease"))
    first.save(tiff, save_all=True, append_images=[second])
    outcome = extract_one(tiff, ON)
    assert outcome.result is not None, outcome.error
    result = outcome.result
    assert result.metadata["ocr_pages"] == "2" and len(result.page_starts) == 2
    assert "granary lease" in _words(result.text[result.page_starts[1] :])


def test_a_page_lying_on_its_side_is_read(tmp_path: Path) -> None:
    path = _page(tmp_path / "sideways.png", ["Quarterly harbor tariffs", "Signed by the rampart office"], turned=True)
    outcome = extract_one(path, ON)
    assert outcome.result is not None, outcome.error
    text = _words(outcome.result.text)
    assert "harbor tariffs" in text and "rampart office" in text


def _png(width: int, height: int, payload: bytes) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", payload) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("huge.png", _png(9000, 9000, zlib.compress(b"\x00" * 100)), "image too large to read (81 megapixels"),
        ("cut.png", _png(400, 400, zlib.compress(b"\x00" * 100)), "damaged image"),
        ("noise.png", b"\x89PNG\r\n\x1a\n" + b"\x13" * 300, "damaged or unsupported image"),
        ("text.jpg", b"\xff\xd8\xff" + b"not really a picture " * 20, "damaged or unsupported image"),
    ],
)
def test_a_bad_picture_fails_with_a_reason(tmp_path: Path, name: str, data: bytes, reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    outcome = extract_one(path, ON)
    assert outcome.result is None and not outcome.skipped
    assert outcome.error is not None and outcome.error.startswith(reason), outcome.error
    assert "Traceback" not in outcome.error and "\n" not in outcome.error


def test_ocr_text_is_found_by_keyword_search_and_counted(tmp_path: Path, pages: dict[str, Path]) -> None:
    from desktop_search.core.service import Service

    docs = tmp_path / "docs"
    docs.mkdir()
    for key in ("png", "jpeg", "pdf"):
        (docs / pages[key].name).write_bytes(pages[key].read_bytes())
    (docs / "plain.txt").write_text("a plain text file about nothing in particular")
    with Service(tmp_path / "data", allow_download=False) as service:
        service.update_settings(ocr="off")
        service.index([str(docs)])
        assert [r.path for r in service.search("zephyr", mode="keyword").results] == []
        status = service.status()
        assert (status["ocr_files"], status["ocr_waiting_files"], status["ocr_active"]) == (0, 1, False)
        assert {s["reason"] for s in service.skipped() if s["path"].endswith((".png", ".jpg"))} == {OCR_OFF}

        service.update_settings(ocr="on")  # the images skipped while it was off are read now
        service.index()
        for word, name in (("zephyr", "note.png"), ("orchard", "memo.jpg"), ("walrus", "scan.pdf")):
            assert [Path(r.path).name for r in service.search(word, mode="keyword").results] == [name], word
        # the preview marks OCR text, and only that
        from desktop_search.gui.preview import load_preview

        scan = service.search("walrus", mode="keyword").results[0]
        plain = service.search("particular", mode="keyword").results[0]
        assert load_preview(service, scan, "walrus").ocr and not load_preview(service, plain, "particular").ocr
        status = service.status()
        assert (status["ocr_files"], status["ocr_pages"], status["ocr_waiting_files"], status["ocr"]) == (3, 4, 0, "on")
        assert not [s for s in service.skipped() if s["reason"] == OCR_OFF]


def test_archive_members_share_the_archive_s_ocr_clock() -> None:
    """OCR of a member stops by the outer file's deadline (a zip of many scans must not outrun its limit)."""
    from desktop_search.core.extract import ocr

    with ocr.file_clock():
        outer = ocr.Deadline(ON)
        with ocr.file_clock():  # a member extracted inside the archive
            inner = ocr.Deadline(ON)
    assert inner.at == outer.at
    assert ocr.Deadline(ON, started=0.0).at == ON.timeout_s * ocr.TIME_SHARE
