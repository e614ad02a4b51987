"""First-run model download: byte progress, cancel, resume, and no half model marked complete."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

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
    assert fake_hub.fetched < size

    location = download_model(MODEL, tmp_path, on_bytes=seen.append, should_cancel=lambda: False)
    assert (target / ".complete").read_text() == MODEL
    assert find_model(MODEL, tmp_path)[0] == location
    assert all((target / name).read_bytes() == data for name, data in fake_hub.files.items())
    # resumed, not restarted: over both calls at most the chunk in flight on each thread was fetched twice
    assert fake_hub.calls == 2 and fake_hub.fetched <= size + 2 * fake_hub.chunk
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
