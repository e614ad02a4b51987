"""The window offers repair when start-up finds a damaged segment, and says when the disk is full."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from desktop_search.core.service import Service


def test_startup_damage_shows_a_banner_whose_repair_fixes_it(qtbot: Any, tmp_path: Path, docs: Path,
                                                            tiny_model: Path, make_window: Any) -> None:
    data = tmp_path / "data"
    with Service(data, model=str(tiny_model)) as service:
        service.index([str(docs)])
        victim = service.reader().query("SELECT dir FROM segments WHERE state = 'live' LIMIT 1")[0]["dir"]
    vectors = data / "segments" / victim / "vectors.npy"
    raw = bytearray(vectors.read_bytes())
    raw[-64:] = bytes(b ^ 0xFF for b in raw[-64:])  # same size, other bytes
    vectors.write_bytes(bytes(raw))

    service = Service(data, model=str(tiny_model))
    try:
        window = make_window(service, encode=True)
        qtbot.waitUntil(lambda: window.banner.isVisible(), timeout=10000)
        assert window.banner.kind == "damaged" and "damaged" in window.banner.label.text()
        assert window.banner.action.isVisible() and window.banner.action.text() == "Repair"
        window.banner.action.click()
        qtbot.waitUntil(lambda: not window.banner.isVisible(), timeout=120000)
        assert service.doctor()["consistent"]
        assert list((data / "set-aside").glob(f"*/segments/{victim}"))  # moved aside, not deleted
    finally:
        service.close()


def test_a_full_disk_while_indexing_shows_a_banner(qtbot: Any, make_service: Any, make_window: Any,
                                                   docs: Path, monkeypatch: Any) -> None:
    service = make_service()
    window = make_window(service)

    def full(*args: Any, **kwargs: Any) -> Any:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(service, "index", full)
    window.indexer.start()
    qtbot.waitUntil(lambda: not window.banner.isHidden(), timeout=10000)  # (the welcome page is up: no folders)
    assert window.banner.kind == "disk-full" and "full" in window.banner.label.text()
    assert "everything indexed so far is kept" in window.banner.label.text()
