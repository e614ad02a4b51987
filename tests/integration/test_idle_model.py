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
        assert service.search("bread", mode="semantic").results  # the NumPy query encoder answers...
        assert service._encoder is None  # ...without loading PyTorch's model again (an index run does)
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


def test_watch_asks_for_a_restart_once_the_model_is_released(tmp_path: Path, topics: Path, tiny_model: Path) -> None:
    """CLI `watch` restarts itself then (exec): torch & co. cannot be unloaded from a process."""
    from desktop_search.core.watcher import watch

    with Service(tmp_path / "data", model=str(tiny_model)) as service:
        service.settings.context_length = 256
        service.settings.model_idle_minutes = 0.01  # 0.6 s
        service.add_roots([str(topics)])
        stop = threading.Event()
        result: list[bool] = []
        messages: list[str] = []
        t = threading.Thread(target=lambda: result.append(watch(
            service, stop, progress=lambda p: messages.append(p.phase), idle_check_s=0.5, quiet_s=0.0,
            restart_when_released=True)), daemon=True)
        t.start()
        t.join(180)
        stop.set()
        assert result == [True]  # the start-up run encoded the folder, then the model idled out
        assert service.status()["pending"] == 0 and service._encoder is None
        assert "restart" in messages
        # without the restart request it keeps watching until stopped
        stop = threading.Event()
        t = threading.Thread(target=lambda: result.append(watch(service, stop, idle_check_s=0.5)), daemon=True)
        t.start()
        t.join(3)
        assert t.is_alive()
        stop.set()
        t.join(60)
        assert result == [True, False]
