"""Text recognition (OCR) for images and scanned PDF pages, run inside the extraction workers only.

Engine: RapidOCR (PaddleOCR's PP-OCRv4 detection, direction and recognition models on ONNX Runtime).
Its wheel carries the models, so the installed app reads scans with nothing downloaded or installed by
hand; the recognition model reads English and Simplified Chinese (Latin letters, digits, punctuation,
CJK). Each worker loads the engine once, on its first image. Memory, measured under the default 1024 MB
``RLIMIT_AS`` cap: one ONNX Runtime thread (two took 1047 MB for one line), detection on at most
DETECT_SIDE pixels and sessions without the memory-pattern plan keep a full page near 950 MB of address
space (450-650 MB resident); the worker retires after a file that left it above 60% of the cap
(worker.py), so the next file starts with room.

Thread rule: a worker answers one request at a time on its main thread; the cached engine is used from
that thread only.

Rotated pages: lines standing upright (a page scanned sideways) are found by the detector; when most
lines are taller than wide the picture is turned a quarter and read again, so lines come in reading
order; upside-down lines are turned by the direction model.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from .types import ExtractionFailed, ExtractLimits

if TYPE_CHECKING:
    from PIL.Image import Image

ENGINE = "rapidocr"
LANGUAGES = ("English", "Simplified Chinese")
# Larger pictures are refused (a 20 MP photo is 20,000,000): decoding alone would need 3 bytes a pixel.
MAX_PIXELS = 64_000_000
# Pictures are shrunk to this long side before recognition (RapidOCR's own limit; lines are cut from it).
WORK_SIDE = 2000
# Text is found (detection) on a copy at most this long a side: a full page at 150-200 dpi still shows
# its text lines well, and the detector's memory and time grow with the pixels (lines are then cut from
# the WORK_SIDE picture for recognition).
DETECT_SIDE = 1280
# Share of a file's time limit that OCR may use; the pages left after it are reported, not read.
TIME_SHARE = 0.7

_engine: Any = None


def _get_engine() -> Any:
    global _engine
    if _engine is None:
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            os.environ.setdefault(var, "1")
        try:
            from rapidocr_onnxruntime import RapidOCR
        except Exception as exc:  # noqa: BLE001 - a broken install fails the file with a reason
            raise ExtractionFailed(f"text recognition (OCR) is not available ({type(exc).__name__})") from exc
        _lean_sessions()
        engine = RapidOCR(intra_op_num_threads=1, inter_op_num_threads=1)
        _limit_detection(engine.text_det)
        engine.text_rec = _Spaced(engine.text_rec)
        _engine = engine
    return _engine


def _limit_detection(detector: Any) -> None:
    """Detect on a copy at most DETECT_SIDE a side (RapidOCR's own choice goes up to 2000 px)."""
    from rapidocr_onnxruntime.ch_ppocr_det.utils import DetPreProcess

    mean, std = detector.mean, detector.std
    detector.get_preprocess = lambda _longest: DetPreProcess(DETECT_SIDE, "max", mean, std)


def _lean_sessions() -> None:
    """ONNX Runtime sessions without the memory-pattern plan (it reserves one block for all of a run's
    tensors, sized by the picture): a smaller peak address space under the worker's RLIMIT_AS."""
    from rapidocr_onnxruntime.utils import infer_engine

    original = infer_engine.OrtInferSession._init_sess_opts
    if getattr(original, "lean", False):
        return

    def options(config: dict[str, Any]) -> Any:
        opts = original(config)
        opts.enable_mem_pattern = False
        return opts

    options.lean = True  # type: ignore[attr-defined]
    infer_engine.OrtInferSession._init_sess_opts = staticmethod(options)


class _Spaced:
    """The recogniser, with the spaces between words put back.

    PP-OCR's recognition model (trained mostly on Chinese, which has no spaces) often runs English words
    together ("Referencegildedanchor"), and a keyword index then finds none of them. Each character's
    position in its line is known (the CTC column where it fired); a space goes between two characters
    that have a blank vertical strip of the line picture (no ink, wider than a letter gap) between them.
    """

    def __init__(self, inner: Any):
        self.inner = inner

    def __call__(self, img_list: Any, return_word_box: bool = False) -> tuple[list[Any], float]:
        import numpy as np

        crops = [img_list] if isinstance(img_list, np.ndarray) else list(img_list)
        results, elapsed = self.inner(crops, True)
        out = []
        for crop, (text, score, info) in zip(crops, results, strict=True):
            spaced = _put_spaces(crop, text, info)
            out.append((spaced, score, info) if return_word_box else (spaced, score))
        return out, elapsed


def _gaps(crop: Any) -> list[tuple[float, float]]:
    """(start, end) x of the blank vertical strips inside a line picture wider than a letter gap."""
    import numpy as np

    gray = crop.mean(axis=2) if crop.ndim == 3 else crop
    height, width = gray.shape
    if width < 4 or height < 4:
        return []
    low, high = float(np.percentile(gray, 5)), float(np.percentile(gray, 95))
    if high - low < 30:
        return []
    dark_is_ink = float(np.median(gray)) > (low + high) / 2
    ink = gray < (low + high) / 2 if dark_is_ink else gray > (low + high) / 2
    blank = ink.sum(axis=0) == 0
    columns = np.flatnonzero(~blank)
    if columns.size == 0:
        return []
    first, last = int(columns[0]), int(columns[-1])
    runs = []
    start = None
    for x in range(first, last + 1):
        if blank[x] and start is None:
            start = x
        elif not blank[x] and start is not None:
            runs.append((float(start), float(x)))
            start = None
    # Word spaces are the wide blank runs: wider than ~0.22 of the line picture's height and than twice
    # the typical gap (letter gaps; a wide or monospaced font has wider ones). Measured on the generated set.
    if not runs:
        return []
    widths = sorted(b - a for a, b in runs)
    threshold = max(2.0, 0.22 * height, 2.0 * widths[len(widths) // 2])
    return [(a, b) for a, b in runs if b - a >= threshold]


def _put_spaces(crop: Any, text: str, info: Any) -> str:
    try:
        columns_total = float(info[0])
        positions = [c for word in info[2] for c in word]
    except (TypeError, IndexError, ValueError):
        return text
    if not text or len(positions) != len(text) or columns_total <= 0:
        return text
    width = crop.shape[1]
    xs = [(c + 0.5) / columns_total * width for c in positions]
    gaps = _gaps(crop)
    if not gaps:
        return text
    widest = max(b - a for a, b in gaps)
    out = [text[0]]
    for i in range(1, len(text)):
        if text[i] != " " and text[i - 1] != " ":
            between = [b - a for a, b in gaps if xs[i - 1] < (a + b) / 2 < xs[i]]
            # a narrow digit ("1") leaves a wide gap inside a number: split numbers only at the widest gaps
            if between and (not (text[i - 1].isdigit() and text[i].isdigit()) or max(between) >= 0.8 * widest):
                out.append(" ")
        out.append(text[i])
    return _fix_numbers("".join(out))


_NUMBERISH = re.compile(r"\b[0-9oOilI]{3,}\b")
_AS_DIGIT = str.maketrans({"o": "0", "O": "0", "i": "1", "l": "1", "I": "1"})


def _fix_numbers(text: str) -> str:
    """Letters misread inside numbers ("19oo", "7oi7"): when most of a word is digits, read it as digits."""

    def fix(match: re.Match[str]) -> str:
        word = match.group()
        digits = sum(ch.isdigit() for ch in word)
        return word.translate(_AS_DIGIT) if digits * 2 >= len(word) else word

    return _NUMBERISH.sub(fix, text)


_file_started: float | None = None  # when the outermost file being extracted began (see file_clock)


@contextmanager
def file_clock() -> Iterator[None]:
    """Time OCR from the start of the outermost file: members of an archive (extracted inside it) share
    its clock, so OCR of many scans in one archive stops in time too. Used by pool.extract_in_process."""
    global _file_started
    if _file_started is not None:
        yield
        return
    _file_started = time.monotonic()
    try:
        yield
    finally:
        _file_started = None


class Deadline:
    """When OCR of one file must stop so the file still finishes inside its worker's time limit."""

    def __init__(self, limits: ExtractLimits, started: float | None = None):
        begun = started if started is not None else _file_started if _file_started is not None else time.monotonic()
        self.at = begun + max(1.0, limits.timeout_s * TIME_SHARE)

    def passed(self) -> bool:
        return time.monotonic() >= self.at


def _lines(boxes: list[Any]) -> list[str]:
    """Group recognised boxes into lines (by vertical overlap), left to right within a line."""
    items = []
    for box, text, _score in boxes:
        ys = [p[1] for p in box]
        xs = [p[0] for p in box]
        items.append((min(ys), max(ys), min(xs), str(text)))
    items.sort(key=lambda it: (it[0] + it[1]) / 2)
    lines: list[list[tuple[float, float, float, str]]] = []
    for item in items:
        if lines:
            last = lines[-1]
            top = sum(i[0] for i in last) / len(last)
            bottom = sum(i[1] for i in last) / len(last)
            middle = (item[0] + item[1]) / 2
            if top <= middle <= bottom:
                last.append(item)
                continue
        lines.append([item])
    return [" ".join(i[3] for i in sorted(line, key=lambda i: i[2])).strip() for line in lines]


def _upright_share(boxes: list[Any]) -> float:
    tall = 0
    for box, _text, _score in boxes:
        xs = [p[0] for p in box]
        ys = [p[1] for p in box]
        if (max(ys) - min(ys)) > 1.5 * (max(xs) - min(xs)):
            tall += 1
    return tall / len(boxes) if boxes else 0.0


def _run(picture: Image) -> list[Any]:
    import numpy as np

    array = np.ascontiguousarray(np.asarray(picture.convert("RGB"))[:, :, ::-1])  # BGR, as OpenCV reads
    result, _elapsed = _get_engine()(array)
    return list(result or [])


def recognise(picture: Image) -> str:
    """The text in one picture, a line per text line ("" when there is none)."""
    width, height = picture.size
    if width * height > MAX_PIXELS:
        raise ExtractionFailed(
            f"image too large to read ({width * height / 1e6:.0f} megapixels; the limit is {MAX_PIXELS / 1e6:.0f})"
        )
    if max(width, height) > WORK_SIDE:
        scale = WORK_SIDE / max(width, height)
        picture = picture.resize((max(1, round(width * scale)), max(1, round(height * scale))))
    try:
        boxes = _run(picture)
        if len(boxes) >= 3 and _upright_share(boxes) > 0.6:  # a page lying on its side: turn it and read again
            from PIL import Image as PILImage

            best = boxes
            for turn in (PILImage.Transpose.ROTATE_270, PILImage.Transpose.ROTATE_90):
                turned = _run(picture.transpose(turn))
                if _upright_share(turned) < 0.4 and _score(turned) > _score(best):
                    best = turned
                    break
            boxes = best
    except MemoryError:
        raise
    except ExtractionFailed:
        raise
    except Exception as exc:  # noqa: BLE001 - ONNX Runtime's errors (bad_alloc) come as RuntimeException
        if "alloc" in str(exc).lower():
            raise MemoryError(str(exc)) from exc
        raise ExtractionFailed(f"text recognition failed ({type(exc).__name__})") from exc
    return "\n".join(line for line in _lines(boxes) if line)


def _score(boxes: list[Any]) -> float:
    return sum(len(str(text)) * float(score) for _box, text, score in boxes)
