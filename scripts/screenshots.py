"""Screenshots of the real app under Xvfb, on the sample documents in resources/samples.

    python scripts/screenshots.py [--out docs/screenshots] [--model tiny|standin|none|FOLDER]

Needs ``xvfb-run`` (Debian: ``apt-get install -y xvfb``) unless a display is already set. Everything the
app writes (index, settings, a fake home with a Documents folder) goes to a temporary folder.
Saves: 01-first-run, 02-indexing, 03-results, 04-preview, 05-folders, 06-failed, 07-dark, 08-download (PNG).
08-download is staged: the status bar's download widgets are fed a DownloadProgress (the tour's model is
local, nothing is downloaded).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "resources" / "samples"
SIZE = (1280, 800)

NOTE_TOPICS = [
    ("Weekly team meeting", "agenda, action items, hiring plan, release date, budget review, retrospective"),
    ("Trip to Lisbon", "flights, hotel near Alfama, tram 28, pastel de nata, museum opening hours"),
    ("Garden diary", "tomatoes, compost, slugs on the lettuce, watering schedule, pruning the roses"),
    ("Reading notes", "chapter summaries, quotes worth keeping, questions for the book club"),
    ("Car maintenance", "oil change, tyre pressure, brake pads, MOT test, service history"),
]


def sample_corpus(folder: Path, notes: int) -> None:
    shutil.copytree(SAMPLES, folder, dirs_exist_ok=True)
    (folder / "scan-2019.pdf").write_bytes(b"%PDF-1.4\n1 0 obj broken\n%%EOF\n")  # shows the failed-files view
    sub = folder / "notes"
    sub.mkdir(exist_ok=True)
    for i in range(notes):  # enough files for the indexing progress to be seen
        title, words = NOTE_TOPICS[i % len(NOTE_TOPICS)]
        body = " ".join(f"{title} {i}: {words}." for _ in range(12))
        (sub / f"{title.lower().replace(' ', '-')}-{i:03d}.md").write_text(f"# {title} ({i})\n\n{body}\n")


def build_model(choice: str, where: Path) -> str | None:
    if choice == "none":
        return None
    if choice in ("tiny", "standin"):
        from desktop_search.testing import models

        builder = models.build_standin if choice == "standin" else models.build_tiny
        return str(builder(where / choice))
    return choice


def steps(app: Any, window: Any, out: Path) -> Iterator[Callable[[], bool] | float]:
    """The tour. Yield a condition to wait for it, or a number of seconds to let the UI settle."""
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QGuiApplication

    from desktop_search.gui.theme import dark_palette

    def shot(name: str, widget: Any = None) -> None:
        app.processEvents()
        screen = QGuiApplication.primaryScreen()
        target = widget or window
        geo = target.frameGeometry()
        pixmap = screen.grabWindow(0, geo.x(), geo.y(), geo.width(), geo.height())
        if pixmap.isNull() or pixmap.width() < 10:
            pixmap = target.grab()
        path = out / f"{name}.png"
        pixmap.save(str(path))
        print(f"saved {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}", flush=True)

    def type_query(text: str) -> None:
        window.search.clear()
        window.search.setFocus()
        window.search.setText(text)

    def results_for(text: str, mode: str) -> Callable[[], bool]:
        return lambda: window.results_model.query.startswith(text) and window.results_model.mode == mode

    yield lambda: window.started
    yield 0.5
    shot("01-first-run")

    from desktop_search.core.config import DEFAULT_MODEL
    from desktop_search.core.download import DownloadProgress

    # staged: what the status bar shows while the model downloads
    window.download_status.on_download_started(DEFAULT_MODEL)
    window.download_status.on_download_progress(DownloadProgress(58 * 2**20, 129 * 2**20))
    yield 0.5
    shot("08-download")
    window.download_status.hide_download()
    window.download_status.set_label("")

    encode_seen: list[Any] = []
    window.indexer.progress.connect(lambda p: encode_seen.append(p) if p.phase == "encode" and p.done else None)
    window.welcome.start_btn.click()
    yield lambda: bool(encode_seen) and encode_seen[-1].done >= encode_seen[-1].total // 4
    type_query("sourdough starter")  # keyword search works while the files are being encoded
    yield 0.8
    shot("02-indexing")
    yield lambda: not window.indexer.running
    yield lambda: window.model_loader.state in ("ready", "unavailable")
    mode = "hybrid" if window.model_loader.state == "ready" else "keyword"

    type_query("why do volcanoes explode")
    yield results_for("why do volcanoes explode", mode)
    yield lambda: window.preview.data is not None
    yield 0.5
    shot("03-results")

    type_query("inverter battery payback")
    yield results_for("inverter battery payback", mode)
    yield lambda: window.preview.data is not None and "solar" in window.preview.data.path
    window.preview.next_hit()
    yield 0.5
    shot("04-preview")

    dialog = window.show_folders()
    dialog.move(window.frameGeometry().center() - QPoint(dialog.width() // 2, dialog.height() // 2))
    yield lambda: dialog.loaded
    yield 0.5
    shot("05-folders", dialog)
    dialog.close()

    failed = window.show_failed()
    failed.move(window.frameGeometry().center() - QPoint(failed.width() // 2, failed.height() // 2))
    yield lambda: failed.loaded
    yield 0.5
    shot("06-failed", failed)
    failed.close()

    app.setStyle("Fusion")
    app.setPalette(dark_palette())
    type_query("largest planet moons")
    yield results_for("largest planet moons", mode)
    yield lambda: window.preview.data is not None
    yield 0.6
    shot("07-dark")
    window.quit()


def drive(tour: Iterator[Callable[[], bool] | float], timeout_s: float = 180) -> None:
    from PySide6.QtCore import QTimer

    state: dict[str, Any] = {"wait": None, "until": 0.0, "deadline": time.monotonic() + timeout_s}

    def tick() -> None:
        now = time.monotonic()
        if now > state["deadline"]:
            print("screenshots: timed out", file=sys.stderr)
            os._exit(1)
        wait = state["wait"]
        if (callable(wait) and not wait()) or now < state["until"]:
            QTimer.singleShot(50, tick)
            return
        try:
            nxt = next(tour)
        except StopIteration:
            return
        state["wait"], state["until"] = (nxt, 0.0) if callable(nxt) else (None, now + float(nxt))
        QTimer.singleShot(20, tick)

    QTimer.singleShot(0, tick)


def inner(args: argparse.Namespace) -> int:
    work = Path(tempfile.mkdtemp(prefix="ds-shots-"))
    home = work / "home"
    documents = home / "Documents"
    documents.mkdir(parents=True)
    sample_corpus(documents, args.notes)
    os.environ.update({
        "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), "XDG_DATA_HOME": str(home / ".local/share"),
        "XDG_DOCUMENTS_DIR": str(documents), "HF_HUB_OFFLINE": "1", "DESKTOP_SEARCH_THEME": "light",
    })
    os.environ.pop("DESKTOP_SEARCH_MODEL", None)
    model = build_model(args.model, work / "models")
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)

    from desktop_search.gui import create_app

    ns = argparse.Namespace(data_dir=str(work / "data"), model=model, context_length=None, threads=None)
    app, service, window = create_app(ns)
    window.setGeometry(0, 0, *SIZE)
    drive(steps(app, window, out))
    try:
        code = int(app.exec())
    finally:
        window.shutdown()
        service.close()
        shutil.rmtree(work, ignore_errors=True)
    return code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    parser.add_argument("--model", default="standin", help="tiny, standin (MiniLM stand-in), none, or a folder")
    parser.add_argument("--notes", type=int, default=120, help="extra small notes, so indexing takes a moment")
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner or (os.environ.get("DISPLAY") and os.environ.get("QT_QPA_PLATFORM", "xcb") == "xcb"):
        return inner(args)
    if not shutil.which("xvfb-run"):
        print("needs xvfb-run (apt-get install -y xvfb) or a display", file=sys.stderr)
        return 1
    env = {**os.environ, "QT_QPA_PLATFORM": "xcb"}
    cmd = ["xvfb-run", "-a", "-s", f"-screen 0 {SIZE[0]}x{SIZE[1]}x24", sys.executable, __file__, "--inner",
           "--out", args.out, "--model", args.model, "--notes", str(args.notes)]
    return subprocess.call(cmd, env=env)


if __name__ == "__main__":
    sys.exit(main())
