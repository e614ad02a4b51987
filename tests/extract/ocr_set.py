"""Generated OCR test set (issue 15): rendered text pages saved as PNG, JPEG, TIFF, WebP and image-only PDFs.

Each page carries planted phrases (made-up word pairs that occur nowhere else) among filler lines, in
several fonts and sizes; one page is turned a quarter. The fonts are Pillow's built-in one (always there)
and DejaVu Sans/Serif/Mono where the system has them (Debian's fonts-dejavu-core, pulled in by
libfontconfig1). ``make_set`` returns what was planted where, so a test or benchmark can search for each
phrase and count the hits.

    python tests/extract/ocr_set.py OUT_DIR [--pages N]
"""

from __future__ import annotations

import argparse
import json
import random
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

_ADJ = ("amber", "brisk", "cobalt", "dusty", "ember", "frosty", "gilded", "hollow", "ivory", "jolly", "knotty",
        "lunar", "mellow", "nimble", "olive", "pebbly", "quaint", "rustic", "silken", "tawny", "umber", "velvet",
        "woolly", "zesty")
_NOUN = ("anchor", "bramble", "citadel", "dynamo", "estuary", "falcon", "granary", "harbor", "inkwell", "juniper",
         "kestrel", "lantern", "meadow", "nutmeg", "orchard", "parsnip", "quarry", "rampart", "saddle", "thimble",
         "upland", "vineyard", "walrus", "yardarm")
_FILLER = (
    "The committee reviewed the quarterly figures and asked for a revised budget.",
    "Please return the signed form to the front office before the end of the month.",
    "Delivery is expected within ten working days of the order being confirmed.",
    "All measurements are given in millimetres unless stated otherwise.",
    "The meeting was adjourned at half past four and will resume next Tuesday.",
    "Keep this receipt as proof of purchase for the duration of the warranty.",
)
_DEJAVU = Path("/usr/share/fonts/truetype/dejavu")


@dataclass
class Planted:
    path: str
    phrases: list[str] = field(default_factory=list)
    font: str = ""
    size: int = 0
    rotated: bool = False


def fonts() -> list[tuple[str, str | None]]:
    """(name, file or None for Pillow's built-in font) of the fonts available here."""
    found: list[tuple[str, str | None]] = [("pillow-default", None)]
    for name in ("DejaVuSans.ttf", "DejaVuSerif.ttf", "DejaVuSansMono.ttf", "DejaVuSans-Bold.ttf"):
        if (_DEJAVU / name).exists():
            found.append((name.removesuffix(".ttf"), str(_DEJAVU / name)))
    return found


def _font(file: str | None, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size) if file is None else ImageFont.truetype(file, size)


def phrases(count: int, seed: int = 15) -> list[str]:
    """``count`` distinct made-up phrases ("cobalt granary 4471")."""
    rng = random.Random(seed)
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < count:
        phrase = f"{rng.choice(_ADJ)} {rng.choice(_NOUN)} {rng.randrange(1000, 9999)}"
        key = phrase.rsplit(" ", 1)[0]
        if key not in seen:
            seen.add(key)
            out.append(phrase)
    return out


def render_page(lines: list[str], font_file: str | None, size: int, *, width: int = 1240,
                height: int = 1754) -> Image.Image:
    """A white page (A4 at 150 dpi by default) with ``lines`` in black, wrapped to fit."""
    page = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(page)
    font = _font(font_file, size)
    y = 90
    for line in lines:
        words, current = line.split(), ""
        for word in words:
            trial = f"{current} {word}".strip()
            if draw.textlength(trial, font=font) > width - 180 and current:
                draw.text((90, y), current, fill=0, font=font)
                y += int(size * 1.6)
                current = word
            else:
                current = trial
        if current:
            draw.text((90, y), current, fill=0, font=font)
            y += int(size * 1.9)
        if y > height - 90:
            break
    return page


def _page_lines(planted: list[str], rng: random.Random) -> list[str]:
    lines = [rng.choice(_FILLER) for _ in range(2)]
    for phrase in planted:
        lines.append(f"Reference {phrase} noted here.")
        lines.append(rng.choice(_FILLER))
    return lines


def make_set(out: Path, pages: int = 12, per_page: int = 3, *, sizes: tuple[int, ...] = (22, 28, 36),
             pdf_pages: int = 3, seed: int = 15) -> list[Planted]:
    """Write ``pages`` rendered pages (PNG, JPEG, TIFF, WebP in turn, the fourth page turned a quarter) and one
    image-only PDF of ``pdf_pages`` pages; returns what was planted in each file."""
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    available = fonts()
    pool = phrases(pages * per_page + pdf_pages * per_page, seed)
    planted: list[Planted] = []
    kinds = ("png", "jpg", "tiff", "webp")
    for i in range(pages):
        name, file = available[i % len(available)]
        size = sizes[i % len(sizes)]
        mine = pool[i * per_page : (i + 1) * per_page]
        page = render_page(_page_lines(mine, rng), file, size)
        rotated = i == 3
        if rotated:
            page = page.transpose(Image.Transpose.ROTATE_90)
        kind = kinds[i % len(kinds)]
        path = out / f"page-{i:03d}.{kind}"
        if kind == "jpg":
            page.save(path, quality=80)
        else:
            page.save(path)
        planted.append(Planted(str(path), mine, name, size, rotated))
    if pdf_pages:
        images, mine_all = [], []
        for j in range(pdf_pages):
            name, file = available[j % len(available)]
            mine = pool[(pages + j) * per_page : (pages + j + 1) * per_page]
            images.append(render_page(_page_lines(mine, rng), file, sizes[j % len(sizes)]).convert("RGB"))
            mine_all.extend(mine)
        path = out / "scanned.pdf"
        images[0].save(path, save_all=True, append_images=images[1:], resolution=150.0)
        planted.append(Planted(str(path), mine_all, "mixed", 0))
    return planted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--pages", type=int, default=12)
    args = parser.parse_args()
    planted = make_set(args.out, args.pages)
    print(json.dumps([p.__dict__ for p in planted], indent=1))


if __name__ == "__main__":
    main()
