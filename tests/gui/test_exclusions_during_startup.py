"""Saving the Folders dialog (new exclusions and settings) while the window's start-up index run is in
progress: the run is cancelled, the exclusions apply, a new run follows and says ``finished``.

The product race was not in the job queue: the save runs the exclusions on the index thread and the
settings on the settings thread, and both wrote ``state.json`` through one temp file at the same time;
one ``os.replace`` failed (ENOENT), the exclusions job failed and no index run followed, so the window
(and the test that waited for ``finished``) waited forever. Service._save_state now reads and writes
on the catalog's writer thread, one save after another.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from desktop_search.core import paths as P

WAIT_MS = 120_000  # bounded: a lost signal fails with the events seen, never hangs
OVERLAP_WAIT_S = 3.0  # how long the first state save waits for a second one to overlap it


def _names(service: Any) -> set[str]:
    return {Path(P.from_db(r[1])).name for r in service.reader().known_files()}


class StateWrites:
    """Wraps the service's ``write_private``: counts saves of state.json running at once. The first save
    waits (bounded) for a second to start, so that two saves that can overlap always do."""

    def __init__(self, real: Any):
        self.real = real
        self.lock = threading.Lock()
        self.inside = 0
        self.most = 0
        self.calls = 0
        self.second = threading.Event()

    def __call__(self, path: Path, data: str | bytes) -> None:
        with self.lock:
            self.calls += 1
            first = self.calls == 1
            self.inside += 1
            self.most = max(self.most, self.inside)
            if self.inside > 1:
                self.second.set()
        try:
            if first:
                self.second.wait(OVERLAP_WAIT_S)
            self.real(path, data)
        finally:
            with self.lock:
                self.inside -= 1


def test_saving_exclusions_and_settings_during_the_start_up_run(qtbot: Any, make_service: Any, make_window: Any,
                                                                docs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import desktop_search.core.service as core_service

    (docs / "run.log").write_text("a log line about zqlogline")
    service = make_service()
    service.index([str(docs)], encode=False)
    assert "run.log" in _names(service)

    # the start-up run is held at its start until the save is made: the save always lands during it
    running, saved = threading.Event(), threading.Event()
    real_index = service.index

    def held_index(*args: Any, **kwargs: Any) -> Any:
        running.set()
        saved.wait(60)
        return real_index(*args, **kwargs)

    monkeypatch.setattr(service, "index", held_index)
    writes = StateWrites(core_service.write_private)
    monkeypatch.setattr(core_service, "write_private", writes)

    window = make_window(service, index_on_start=True)
    events: list[tuple[str, Any]] = []
    window.indexer.finished.connect(lambda report: events.append(("finished", report)))
    window.indexer.cancelled.connect(lambda: events.append(("cancelled", None)))
    window.indexer.failed.connect(lambda message: events.append(("failed", message)))
    window.indexer.job_done.connect(lambda name, _result: events.append((name, None)))
    qtbot.waitUntil(running.is_set, timeout=WAIT_MS)
    assert window.indexer.indexing

    dialog = window.show_folders()
    qtbot.waitUntil(lambda: dialog.loaded, timeout=WAIT_MS)
    dialog.exclusions.setText(dialog.exclusions.text() + ", *.log")
    dialog.context.setValue(4096)
    dialog._save()
    saved.set()

    def exclusions_then_finished() -> bool:
        names = [e[0] for e in events]
        return "failed" in names or ("exclusions" in names and "finished" in names[names.index("exclusions"):])

    try:
        qtbot.waitUntil(exclusions_then_finished, timeout=WAIT_MS)
    except Exception:
        pytest.fail(f"no index run finished after the exclusions were saved; events: {[e[0] for e in events]}")
    failures = [e[1] for e in events if e[0] == "failed"]
    assert not failures, f"saving during the start-up run failed: {failures}"
    assert writes.most == 1, f"{writes.most} saves of state.json ran at once"

    assert "run.log" not in _names(service)
    assert "*.log" in [e.pattern for e in service.exclusions()]
    qtbot.waitUntil(lambda: service.settings.context_length == 4096, timeout=WAIT_MS)
    # the state kept for a catalog rebuild has both changes: the newest save was written last
    # (three saves: the exclusions, the .gitignore option, the settings)
    qtbot.waitUntil(lambda: writes.calls >= 3 and not writes.inside, timeout=WAIT_MS)
    state = json.loads((service.data_dir / "state.json").read_text())
    assert "*.log" in [row[1] for row in state["exclusions"]]
    assert state["settings"]["context_length"] == 4096
