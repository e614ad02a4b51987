"""Model download integrity (issue 11): pinned to a commit with per-file SHA-256, corrupt or cut-short files
are detected, set aside and fetched again, a model that fails verification is never marked complete nor
loaded, and the hub's process-wide settings are changed only while a download runs.

Runs against the fake hub of conftest.py (no network)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

from desktop_search.core import download
from desktop_search.core.download import ModelPin, download_snapshot
from desktop_search.core.model import ModelUnavailable, download_model, find_model

MODEL = "example/fake-colbert"
REVISION = "0123456789abcdef0123456789abcdef01234567"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Recorder:
    """Wraps the fake hub: records each call's arguments and can serve damaged bytes for some calls."""

    def __init__(self, hub: Any, damage: dict[str, bytes] | None = None, damaged_calls: int = 0):
        self.hub = hub
        self.good = dict(hub.files)
        self.damage = damage or {}
        self.damaged_calls = damaged_calls
        self.kwargs: list[dict[str, Any]] = []

    def __call__(self, **kwargs: Any) -> str:
        self.kwargs.append({k: v for k, v in kwargs.items() if k not in ("tqdm_class", "local_dir")})
        self.hub.files = dict(self.good)
        if len(self.kwargs) <= self.damaged_calls:
            self.hub.files.update(self.damage)
        if kwargs.get("tqdm_class") is None:  # the command-line path: the hub's own bars
            from tqdm.std import tqdm

            kwargs["tqdm_class"] = tqdm
        try:
            return self.hub(**kwargs)
        finally:
            self.hub.files = dict(self.good)


@pytest.fixture
def pinned(fake_hub: Any, monkeypatch: pytest.MonkeyPatch) -> ModelPin:
    pin = ModelPin(REVISION, {name: sha(data) for name, data in fake_hub.files.items()})
    monkeypatch.setitem(download.PINS, MODEL, pin)
    return pin


def use(monkeypatch: pytest.MonkeyPatch, recorder: Recorder) -> Recorder:
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "snapshot_download", recorder)
    return recorder


def target_of(data_dir: Path) -> Path:
    return data_dir / "models" / "example--fake-colbert"


def test_a_pinned_model_is_fetched_at_its_commit_and_verified(fake_hub: Any, pinned: ModelPin, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    hub = use(monkeypatch, Recorder(fake_hub))
    location = download_model(MODEL, tmp_path, on_bytes=lambda p: None)
    assert hub.kwargs == [{"repo_id": MODEL, "revision": REVISION, "allow_patterns": sorted(pinned.sha256)}]
    target = target_of(tmp_path)
    manifest = json.loads((target / ".manifest.json").read_text())
    assert manifest["revision"] == REVISION
    assert {name: digest for name, (_size, digest) in manifest["files"].items()} == dict(pinned.sha256)
    assert (target / ".complete").read_text() == MODEL and find_model(MODEL, tmp_path)[0] == location


def test_the_command_line_download_is_pinned_too(fake_hub: Any, pinned: ModelPin, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    hub = use(monkeypatch, Recorder(fake_hub))
    download_model(MODEL, tmp_path)  # no callbacks: the hub's own progress bars
    assert hub.kwargs[0]["revision"] == REVISION and hub.kwargs[0]["allow_patterns"] == sorted(pinned.sha256)


def test_a_flipped_byte_is_set_aside_and_fetched_again(fake_hub: Any, pinned: ModelPin, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    good = fake_hub.files["model.safetensors"]
    flipped = bytearray(good)
    flipped[1234] ^= 0x01
    hub = use(monkeypatch, Recorder(fake_hub, {"model.safetensors": bytes(flipped)}, damaged_calls=1))
    location = download_model(MODEL, tmp_path, on_bytes=lambda p: None)
    target = target_of(tmp_path)
    assert len(hub.kwargs) == 2  # verified, set aside, fetched once more
    assert (target / "model.safetensors").read_bytes() == good
    rejected = list((target / ".rejected").rglob("model.safetensors"))
    assert [p.read_bytes() for p in rejected] == [bytes(flipped)]  # kept for a look, not deleted
    assert find_model(MODEL, tmp_path)[0] == location


def test_a_download_that_stays_corrupt_is_never_complete_nor_loaded(fake_hub: Any, pinned: ModelPin,
                                                                    tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    cut = fake_hub.files["tokenizer.json"][:-100]  # a partial file the transfer took for whole
    hub = use(monkeypatch, Recorder(fake_hub, {"tokenizer.json": cut}, damaged_calls=99))
    with pytest.raises(ModelUnavailable, match=r"failed verification \(tokenizer.json: SHA-256"):
        download_model(MODEL, tmp_path, on_bytes=lambda p: None)
    target = target_of(tmp_path)
    assert len(hub.kwargs) == 2
    assert not (target / ".complete").exists() and not (target / "tokenizer.json").exists()
    assert find_model(MODEL, tmp_path)[0] is None
    from desktop_search.core.service import Service

    with Service(tmp_path, model=MODEL, allow_download=False) as service, \
            pytest.raises(ModelUnavailable, match="not downloaded"):
        service.encoder()  # never loaded


def test_a_file_cut_short_after_download_is_noticed_before_loading(fake_hub: Any, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Unpinned models are checked against what their download recorded (sizes at every start)."""
    assert download.pin_for(MODEL) is None
    download_model(MODEL, tmp_path, on_bytes=lambda p: None)
    target = target_of(tmp_path)
    weights = target / "model.safetensors"
    size = weights.stat().st_size
    os.truncate(weights, size // 2)
    assert find_model(MODEL, tmp_path)[0] is None  # not loaded...
    assert not weights.exists() and not (target / ".complete").exists()  # ...set aside...
    before = fake_hub.fetched
    location = download_model(MODEL, tmp_path, on_bytes=lambda p: None)  # ...and fetched again, alone
    assert fake_hub.fetched - before == size
    assert weights.stat().st_size == size and find_model(MODEL, tmp_path)[0] == location
    assert download.damaged_files(target, deep=True) == {}


def test_deep_check_sees_a_flipped_byte_of_the_same_size(fake_hub: Any, tmp_path: Path) -> None:
    download_model(MODEL, tmp_path, on_bytes=lambda p: None)
    target = target_of(tmp_path)
    data = bytearray((target / "config.json").read_bytes())
    data[0] ^= 0x20
    (target / "config.json").write_bytes(bytes(data))
    assert download.damaged_files(target) == {}  # same size: the cheap start-up check cannot tell
    assert download.damaged_files(target, deep=True) == {"config.json": "content changed (SHA-256)"}


def test_hub_settings_are_changed_only_while_downloading(fake_hub: Any, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    before = (constants.HF_HUB_DISABLE_XET, constants.DOWNLOAD_CHUNK_SIZE)
    during: list[tuple[bool, int]] = []

    def snapshot(**kwargs: Any) -> str:
        during.append((constants.HF_HUB_DISABLE_XET, constants.DOWNLOAD_CHUNK_SIZE))
        return fake_hub(**kwargs)

    download_snapshot(MODEL, tmp_path / "m", None, None, snapshot_download=snapshot)
    assert during == [(True, min(before[1], download.CHUNK_BYTES))]
    assert before == (constants.HF_HUB_DISABLE_XET, constants.DOWNLOAD_CHUNK_SIZE)


def test_loading_a_model_leaves_the_hub_online_afterwards(monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    from desktop_search.core.model import _hub_offline

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    with _hub_offline():
        assert constants.HF_HUB_OFFLINE and os.environ["HF_HUB_OFFLINE"] == "1"
    assert constants.HF_HUB_OFFLINE is False and "HF_HUB_OFFLINE" not in os.environ
