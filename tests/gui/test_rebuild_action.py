"""File → Rebuild index: the service's rebuild as a Job on the index queue, with progress in the status
bar and Stop, which leaves the index as it was."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

WAIT_MS = 120_000  # bounded waits: a lost signal fails the test, never hangs it


@pytest.fixture
def encoded(make_service: Any, tiny_model: Path, tmp_path: Path) -> Any:
    """A service whose index holds 3 flat segments of the tiny model's vectors."""
    docs = tmp_path / "docs"
    docs.mkdir()
    topics = ["sourdough bread and flour", "the largest planet, Jupiter", "magma under the volcano",
              "an invoice to pay", "knitting a wool scarf", "the train to Berlin"]
    for i in range(18):
        (docs / f"note-{i:02d}.txt").write_text(f"Note {i} about {topics[i % len(topics)]}. " * 3)
    service = make_service(model=str(tiny_model))
    service.settings.batch_files = 6
    service.index([str(docs)])
    assert service.status()["segments"] == 3
    return service


def test_the_menu_action_rebuilds_with_progress_in_the_status_bar(qtbot: Any, make_window: Any, encoded: Any) -> None:
    window = make_window(encoded)
    assert window.rebuild_action in window.menuBar().actions()[0].menu().actions()
    phases: list[str] = []
    window.indexer.progress.connect(lambda p: phases.append(p.phase))
    with qtbot.waitSignal(window.indexer.job_done, timeout=WAIT_MS,
                          check_params_cb=lambda name, _result: name == "rebuild"):
        window.rebuild_action.trigger()
    assert "rebuild" in phases
    assert window.statusBar().currentMessage() == "Index rebuilt: {:,} vectors, 3 segment(s) -> 1".format(
        encoded.status()["vectors"])
    assert encoded.status()["segments"] == 1
    assert not window.index_status.cancel_btn.isVisible() and window.reindex_action.isEnabled()


def test_stop_leaves_the_index_as_it_was(qtbot: Any, make_window: Any, encoded: Any,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    before = sorted(p.name for p in (encoded.data_dir / "segments").iterdir())
    real = encoded.rebuild
    inside = threading.Event()

    def held(progress: Any = None, should_stop: Any = None) -> Any:
        def stop() -> bool:  # the rebuild's first safe point waits for Stop (bounded)
            inside.set()
            for _ in range(600):
                if should_stop():
                    return True
                threading.Event().wait(0.1)
            return False

        return real(progress=progress, should_stop=stop)

    monkeypatch.setattr(encoded, "rebuild", held)
    window = make_window(encoded)
    window.rebuild_action.trigger()
    qtbot.waitUntil(inside.is_set, timeout=WAIT_MS)
    assert window.index_status.cancel_btn.isVisible()
    with qtbot.waitSignal(window.indexer.cancelled, timeout=WAIT_MS):
        window.index_status.cancel_btn.click()
    assert window.statusBar().currentMessage() == "Rebuild stopped; the index is as it was"
    assert sorted(p.name for p in (encoded.data_dir / "segments").iterdir()) == before
    assert encoded.status()["segments"] == 3
