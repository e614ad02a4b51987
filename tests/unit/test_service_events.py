"""The service's one "what changed" event (core/events.py): every changing call announces what it changed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from desktop_search.core.service import Change, Service


@pytest.fixture
def service(tmp_path: Path) -> Any:
    s = Service(tmp_path / "data", allow_download=False)
    yield s
    s.close()


def test_changing_calls_announce_what_they_changed(service: Any, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("the ferry crossed at dawn")
    seen: list[Change] = []
    service.changes.subscribe(seen.append)
    service.add_roots([str(docs)])
    assert seen[-1].kinds == {"folders"}
    service.update_settings(threads=2)
    assert seen[-1].kinds == {"settings"} and service.settings.threads == 2
    assert service.reader().load_settings().threads == 2
    service.set_exclusions(["*.log"])
    assert seen[-1].kinds == {"settings"}
    n = len(seen)
    service.search("ferry", mode="keyword")
    service.status()
    assert len(seen) == n  # reading announces nothing


def test_an_index_run_announces_files_before_it_ends(service: Any, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(3):
        (docs / f"n{i}.txt").write_text(f"note {i} about lighthouses")
    service.add_roots([str(docs)])
    returned = [False]
    during: list[Change] = []
    service.changes.subscribe(lambda c: during.append(c) if not returned[0] else None)
    service.index(progress=lambda p: None, encode=False)
    returned[0] = True
    files = [c for c in during if "files" in c.kinds]
    assert len(files) >= 2  # once keyword-searchable (mid-run), once at the end
    assert files[0].source == "index"


def test_a_failed_call_still_announces_and_a_broken_subscriber_breaks_nothing(service: Any) -> None:
    seen: list[Change] = []

    def broken(_: Change) -> None:
        raise RuntimeError("a view with a bug")

    service.changes.subscribe(broken)
    unsubscribe = service.changes.subscribe(seen.append)
    with pytest.raises(FileNotFoundError):
        service.remove(["/no/such/folder"])  # may have changed part of it: views refresh anyway
    assert seen and seen[-1].kinds == {"folders", "files", "failures"}
    unsubscribe()
    service.update_settings(threads=1)
    assert len(seen) == 1


def test_unknown_change_kinds_are_refused() -> None:
    from desktop_search.core.events import announce

    class Thing:
        def go(self) -> None:
            pass

    with pytest.raises(ValueError, match="unknown change kind"):
        announce(Thing, {"go": ("everything",)})
