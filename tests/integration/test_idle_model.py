"""Idle memory policy: the model is loaded when there is work or a query and released after
``settings.model_idle_minutes`` unused, never while an index run holds it."""

from __future__ import annotations

import threading
from pathlib import Path

from desktop_search.core.service import Service


def test_the_model_is_released_when_idle_and_loaded_again_on_use(tmp_path: Path, topics: Path,
                                                                  tiny_model: Path) -> None:
    with Service(tmp_path / "data", model=str(tiny_model)) as service:
        service.settings.context_length = 256
        service.index([str(topics)])
        assert service._encoder is not None
        assert not service.release_model_if_idle(600)  # used a moment ago
        assert service.release_model_if_idle(0)
        assert service._encoder is None
        assert not service.release_model_if_idle(0)  # nothing to release
        assert service.search("bread", mode="semantic").results  # a query loads it again
        assert service._encoder is not None
        # an index run in progress holds it, however long ago it was used
        entered, leave = threading.Event(), threading.Event()

        def slow_progress(p) -> None:  # type: ignore[no-untyped-def]
            entered.set()
            leave.wait(30)

        (topics / "new.txt").write_text("a new file about lighthouses and the sea")
        t = threading.Thread(target=service.index, kwargs={"progress": slow_progress})
        t.start()
        assert entered.wait(60)
        assert not service.release_model_if_idle(0)
        leave.set()
        t.join(60)
        assert service.release_model_if_idle(0)
        assert service.settings.model_idle_minutes == 10
