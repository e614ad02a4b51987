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


class FakeHub:
    """Stands in for ``huggingface_hub.snapshot_download`` (no network), the way hub 1.x drives tqdm.

    Two byte bars (network bytes and bytes written) are made with ``tqdm_class``; each file is fetched on
    a worker thread in chunks into ``<local_dir>/.cache/huggingface/download/<name>.incomplete`` and
    resumed from there, then moved into place; the file list runs through ``thread_map(tqdm_class=...)``.
    Once ``hold_after`` bytes are fetched, each chunk first waits for ``gate`` (if set): a test can hold
    the download mid-way.
    """

    def __init__(self, files: dict[str, bytes], chunk: int = 1000):
        import threading

        self.files = files
        self.chunk = chunk
        self.fetched = 0  # bytes "received" over all calls
        self.calls = 0
        self.gate: threading.Event | None = None
        self.hold_after = 0
        self.lock = threading.Lock()

    def __call__(self, repo_id: str, local_dir: str, tqdm_class: Any = None, **_: Any) -> str:
        from tqdm.contrib.concurrent import thread_map

        self.calls += 1
        root = Path(local_dir)
        partial_dir = root / ".cache" / "huggingface" / "download"
        partial_dir.mkdir(parents=True, exist_ok=True)
        transfer = tqdm_class(desc="Downloading bytes", total=0, initial=0, unit="B", unit_scale=True)
        written = tqdm_class(desc="Reconstructing", total=0, initial=0, unit="B", unit_scale=True)
        lock = self.lock

        def fetch(name: str) -> str:
            final = root / name
            if final.exists():
                return str(final)
            data = self.files[name]
            partial = partial_dir / (name.replace("/", "--") + ".incomplete")
            have = partial.stat().st_size if partial.exists() else 0
            with lock:
                written.total += len(data)
                transfer.total += len(data)
            if have:
                written.update(have)
            with open(partial, "ab") as out:
                for start in range(have, len(data), self.chunk):
                    if self.gate is not None and self.fetched >= self.hold_after:
                        self.gate.wait(10)
                    piece = data[start:start + self.chunk]
                    with lock:
                        self.fetched += len(piece)
                    transfer.update(len(piece))
                    out.write(piece)
                    out.flush()
                    written.update(len(piece))
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(partial, final)
            return str(final)

        thread_map(fetch, sorted(self.files), desc=f"Fetching {len(self.files)} files", max_workers=2,
                   tqdm_class=tqdm_class)
        return str(root)


def folder_files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def model_files() -> dict[str, bytes]:
    """What a model folder needs to pass ``validate_model_dir`` (not a loadable model)."""
    import json

    return {
        "config.json": json.dumps({"model_type": "fake"}).encode(),
        "modules.json": b"[]",
        "tokenizer.json": b"{}" + b" " * 3000,
        "model.safetensors": bytes(range(256)) * 120,  # 30 kB: 31 chunks
    }


@pytest.fixture
def fake_hub(monkeypatch: pytest.MonkeyPatch) -> FakeHub:
    """The hub's snapshot_download replaced by a FakeHub serving a small model; downloads allowed."""
    import huggingface_hub

    hub = FakeHub(model_files())
    monkeypatch.setattr(huggingface_hub, "snapshot_download", hub)
    # download_snapshot tunes the hub for the process (no xet, small chunks); put that back afterwards
    for name in ("HF_HUB_DISABLE_XET", "DOWNLOAD_CHUNK_SIZE"):
        monkeypatch.setattr(huggingface_hub.constants, name, getattr(huggingface_hub.constants, name))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return hub
