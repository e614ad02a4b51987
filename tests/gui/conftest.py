"""GUI tests run headless (offscreen platform) and never touch the network."""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before anything imports Qt
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.pop("DESKTOP_SEARCH_MODEL", None)
os.environ.pop("DESKTOP_SEARCH_THEME", None)

import shutil  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    """The sample documents plus one with many hits for next/previous."""
    folder = tmp_path / "docs"
    shutil.copytree(SAMPLES, folder)
    paragraphs = [f"Section {i}. The lighthouse keeper wrote about the weather on day {i}." for i in range(1, 6)]
    (folder / "lighthouse.txt").write_text("\n\n".join(paragraphs))
    return folder


@pytest.fixture
def make_service(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    from desktop_search.core.service import Service

    made: list[Any] = []

    def make(model: str | None = None, name: str = "data") -> Any:
        # no model: the default one is not downloaded and downloads are off, so search is keyword-only
        service = Service(tmp_path / name, model=model, allow_download=False)
        made.append(service)
        return service

    yield make
    for s in made:
        s.close()


@pytest.fixture
def make_window(qtbot: Any, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    from PySide6.QtCore import QSettings

    from desktop_search.gui.window import MainWindow

    made: list[Any] = []

    def make(service: Any, **kw: Any) -> Any:
        kw.setdefault("encode", False)
        kw.setdefault("load_model", False)
        kw.setdefault("index_on_start", False)
        kw.setdefault("tray", False)
        settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
        window = MainWindow(service, settings=settings, **kw)
        qtbot.addWidget(window)
        window.show()
        qtbot.waitUntil(lambda: window.started, timeout=10000)
        made.append(window)
        return window

    yield make
    for w in made:
        w.shutdown()
