"""First-run model download: byte progress, cancel, resume, and no half model marked complete."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from gui_helpers import search

from desktop_search.core.download import DownloadCancelled, DownloadProgress, download_snapshot
from desktop_search.core.model import ModelUnavailable, download_model, find_model

MODEL = "example/fake-colbert"


def total_size(hub: Any) -> int:
    return sum(len(b) for b in hub.files.values())


def test_progress_counts_bytes_and_prints_nothing(fake_hub: Any, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    seen: list[DownloadProgress] = []
    download_snapshot(MODEL, tmp_path / "m", seen.append, min_interval_s=0)
    size = total_size(fake_hub)
    assert seen[-1].done_bytes == size and seen[-1].total_bytes == size and seen[-1].fraction == 1.0
    dones = [p.done_bytes for p in seen]
    assert len(seen) > 10 and dones == sorted(dones)  # byte-level, monotonic
    assert all((tmp_path / "m" / name).read_bytes() == data for name, data in fake_hub.files.items())
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""  # no tqdm bars on the terminal


def test_cancel_keeps_partial_files_and_the_next_call_resumes(fake_hub: Any, tmp_path: Path) -> None:
    seen: list[DownloadProgress] = []
    with pytest.raises(DownloadCancelled):
        download_model(MODEL, tmp_path, on_bytes=seen.append, should_cancel=lambda: fake_hub.fetched > 8000)
    target = tmp_path / "models" / "example--fake-colbert"
    assert not (target / ".complete").exists()  # never marked complete
    assert find_model(MODEL, tmp_path)[0] is None
    partial = list((target / ".cache" / "huggingface" / "download").glob("*.incomplete"))
    assert partial and sum(p.stat().st_size for p in partial) > 0
    size = total_size(fake_hub)
    first = fake_hub.fetched
    assert first < size

    location = download_model(MODEL, tmp_path, on_bytes=seen.append, should_cancel=lambda: False)
    assert (target / ".complete").read_text() == MODEL
    assert find_model(MODEL, tmp_path)[0] == location
    assert all((target / name).read_bytes() == data for name, data in fake_hub.files.items())
    # resumed, not restarted (that would fetch size + first): only the chunks in flight were fetched twice
    assert fake_hub.calls == 2 and fake_hub.fetched <= size + 4 * fake_hub.chunk < size + first
    assert seen[-1].done_bytes == seen[-1].total_bytes  # (the second call counts the resumed bytes too)


def test_cancel_before_start_downloads_nothing(fake_hub: Any, tmp_path: Path) -> None:
    with pytest.raises(DownloadCancelled):
        download_snapshot(MODEL, tmp_path / "m", None, lambda: True)
    assert fake_hub.fetched == 0


def test_a_failed_download_is_one_line_and_not_complete(fake_hub: Any, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub

    def broken(**_: Any) -> None:
        raise OSError("connection reset")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", broken)
    with pytest.raises(ModelUnavailable, match="could not download model"):
        download_model(MODEL, tmp_path, on_bytes=lambda p: None)
    assert not (tmp_path / "models" / "example--fake-colbert" / ".complete").exists()


def test_service_download_then_encoder_is_retried(fake_hub: Any, tmp_path: Path) -> None:
    """An encoder() that failed because the model was missing does not stick once it is downloaded."""
    from desktop_search.core.service import Service

    with Service(tmp_path / "data", model=MODEL, allow_download=False) as service:
        with pytest.raises(ModelUnavailable, match="not downloaded"):
            service.encoder()
        assert service.model_description()["model_state"] == "not downloaded"
        location = service.download_model(progress=lambda p: None)
        assert service.model_description()["model_state"] == "ready"
        assert service.model_location() == location
        assert service._model_error is None


# --- the window ------------------------------------------------------------------------------------
def folder_files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def keyword_search(qtbot: Any, window: Any, text: str) -> None:
    search(qtbot, window, text)
    assert window.results_model.mode == "keyword"


def test_first_run_download_with_progress_keyword_search_meanwhile(
        qtbot: Any, make_service: Any, make_window: Any, docs: Path, tiny_model: Path, fake_hub: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from desktop_search.core import download

    monkeypatch.setattr(download, "PROGRESS_INTERVAL_S", 0.0)  # every chunk reaches the window
    fake_hub.files = folder_files(tiny_model)  # the hub serves the tiny model, so it really loads after
    fake_hub.chunk = 16 * 1024
    fake_hub.gate, fake_hub.hold_after = threading.Event(), 100_000
    service = make_service(model="example/tiny-colbert")
    service.index([str(docs)], encode=False)
    window = make_window(service, load_model=True, encode=True)
    ds = window.download_status

    qtbot.waitUntil(lambda: ds.download_bar.isVisible() and ds.download_bar.value() > 0, timeout=10000)
    assert ds.download_cancel_btn.isVisible() and not ds.download_btn.isVisible()
    assert "Downloading the search model" in ds.model_label.text() and "MB" in ds.model_label.text()
    assert ds.download_bar.format().endswith("MB")
    keyword_search(qtbot, window, "magma")  # keyword search works while the model downloads
    assert not window.searcher.semantic_ready

    with qtbot.waitSignal(window.indexer.finished, timeout=60000) as blocker:  # then the files are encoded
        fake_hub.gate.set()
    assert blocker.args[0].semantic
    assert window.searcher.semantic_ready and ds.model_label.text() == "Meaning search ready"
    assert ds.download_bar.isHidden() and ds.download_cancel_btn.isHidden()
    assert (service.data_dir / "models" / "example--tiny-colbert" / ".complete").exists()
    assert service.status()["pending"] == 0


def test_cancel_the_download_then_resume_it(qtbot: Any, make_service: Any, make_window: Any, docs: Path,
                                            fake_hub: Any) -> None:
    fake_hub.gate, fake_hub.hold_after = threading.Event(), 5000
    service = make_service(model=MODEL)
    service.index([str(docs)], encode=False)
    window = make_window(service, load_model=True)
    ds = window.download_status
    qtbot.waitUntil(lambda: ds.download_cancel_btn.isVisible(), timeout=10000)
    qtbot.waitUntil(lambda: fake_hub.fetched >= fake_hub.hold_after, timeout=10000)  # held mid-way
    with qtbot.waitSignal(window.model_loader.download_cancelled, timeout=10000):
        ds.download_cancel_btn.click()
        fake_hub.gate.set()
    target = service.data_dir / "models" / "example--fake-colbert"
    assert not (target / ".complete").exists()
    assert ds.download_bar.isHidden() and ds.download_cancel_btn.isHidden()
    assert ds.download_btn.isVisible() and ds.download_btn.text() == "Download model"
    assert ds.model_label.text() == "Keyword search only"
    keyword_search(qtbot, window, "sourdough")
    first = fake_hub.fetched
    assert 0 < first < total_size(fake_hub)

    fake_hub.gate = None
    with qtbot.waitSignal(window.model_loader.unavailable, timeout=30000):  # the fake files are no real model
        ds.download_btn.click()
    assert (target / ".complete").exists()
    assert fake_hub.fetched <= total_size(fake_hub) + 4 * fake_hub.chunk < total_size(fake_hub) + first  # resumed
    assert ds.download_btn.isHidden() and ds.model_label.text() == "Keyword search only"
