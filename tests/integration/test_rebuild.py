"""The deliberate rebuild (`desktop-search rebuild`, Service.rebuild): every vector re-coded on a codec
trained on all of them, as one segment; searches keep working during it; a cancelled rebuild leaves
the old index exactly as it was; nothing is deleted that was not kept aside first."""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest
from test_concurrency import make_folder  # 60 small files of mixed topic sentences

from desktop_search.core.service import Cancelled, Service

QUERIES = ["sourdough bread flour", "largest planet", "volcano magma", "invoice payment"]
WAIT_S = 120  # bounded waits: a lost handshake fails with a message, never hangs


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path) -> Path:
    """60 small files encoded by the tiny model into 5 flat segments (12 files a batch), built once."""
    base = tmp_path_factory.mktemp("rebuild")
    docs = make_folder(base / "docs", 60)
    with Service(base / "data", model=str(tiny_model), allow_download=False) as service:
        service.settings.batch_files = 12
        service.index([str(docs)])
    return base / "data"


@pytest.fixture
def indexed(built: Path, tmp_path: Path, tiny_model: Path) -> Any:
    """A copy of that data folder (the documents are shared and never changed)."""
    shutil.copytree(built, tmp_path / "data")
    service = Service(tmp_path / "data", model=str(tiny_model), allow_download=False)
    yield service
    service.close()


def _rankings(service: Service) -> dict[tuple[str, str], list[tuple[str, float]]]:
    return {(q, mode): [(r.path, round(r.score, 6)) for r in service.search(q, limit=10, mode=mode).results]
            for q in QUERIES for mode in ("keyword", "semantic")}


def _segment_files(service: Service) -> dict[str, str]:
    root = service.data_dir / "segments"
    return {str(f.relative_to(root)): hashlib.sha256(f.read_bytes()).hexdigest()
            for f in sorted(root.rglob("*")) if f.is_file()}


def _live_segments(service: Service) -> list[str]:
    service.store.refresh(service.reader(), force=True)
    return sorted(e.dir for e in service.store.view.entries if e.state == "live")


def test_a_rebuild_leaves_one_segment_and_searches_keep_working_during_it(indexed: Service) -> None:
    service = indexed
    before = service.status()
    assert before["segments"] == 5 and before["pending"] == 0
    keyword_before = {q: [r.path for r in service.search(q, mode="keyword").results] for q in QUERIES}

    # a searching thread runs a round of queries while the merge is under way: the rebuild's first
    # safe point (between chunks of the merge) waits for one round to finish
    merging, searched, stop_searching = threading.Event(), threading.Event(), threading.Event()
    rounds: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def searcher() -> None:
        while not stop_searching.is_set():
            if not merging.wait(0.05):
                continue
            try:
                rounds.append({(q, mode): [r.path for r in service.search(q, mode=mode).results]
                               for q in QUERIES for mode in ("keyword", "semantic", "hybrid")})
            except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
                errors.append(exc)
            searched.set()

    thread = threading.Thread(target=searcher, daemon=True)
    thread.start()

    def should_stop() -> bool:
        if not merging.is_set():
            merging.set()
            assert searched.wait(WAIT_S), "no search round finished during the rebuild"
        return False

    steps: list[str] = []
    try:
        result = service.rebuild(progress=lambda p: steps.append(p.message), should_stop=should_stop)
    finally:
        stop_searching.set()
        thread.join(WAIT_S)
    assert not errors, f"searches failed during the rebuild: {errors[:3]}"
    assert rounds, "no search ran during the rebuild"
    during = rounds[0]
    for q in QUERIES:
        assert during[(q, "keyword")] == keyword_before[q]
        assert during[(q, "semantic")] and during[(q, "hybrid")]
    assert any("merging 5 segment(s)" in s for s in steps)

    assert result["rebuilt"] and result["consistent"] and result["trained"]
    assert (result["segments_before"], result["segments_after"]) == (5, 1)
    assert result["vectors"] == before["vectors"] and result["set_aside"] is None
    after = service.status()
    assert after["segments"] == after["plaid_segments"] == 1 and after["pending"] == 0
    assert not (service.data_dir / "set-aside").exists()  # the kept-aside links went once the check passed
    assert [p.name for p in (service.data_dir / "segments").iterdir()] == _live_segments(service)
    assert service.doctor()["consistent"]
    for q in QUERIES:  # keyword search does not depend on the vectors; meaning search answers from the new one
        assert [r.path for r in service.search(q, mode="keyword").results] == keyword_before[q]
        assert service.search(q, mode="semantic").results
    source = keyword_before[QUERIES[0]][0]
    assert service.similar(source).results[0].path == source  # the file's own decoded vectors find it first


@pytest.mark.parametrize("at", ["first", "last"])
def test_a_cancelled_rebuild_leaves_the_old_index_as_it_was(at: str, built: Path, tmp_path: Path,
                                                             tiny_model: Path) -> None:
    """Stopped at its first safe point (reading the training sample) or at its last (the new segment's
    files being written, before the commit): the segments are as they were, byte for byte."""
    shutil.copytree(built, tmp_path / "count")
    with Service(tmp_path / "count", model=str(tiny_model), allow_download=False) as counting:
        points = 0

        def count() -> bool:
            nonlocal points
            points += 1
            return False

        counting.rebuild(should_stop=count)
    assert points >= 3
    stop_at = 1 if at == "first" else points

    shutil.copytree(built, tmp_path / "data")
    with Service(tmp_path / "data", model=str(tiny_model), allow_download=False) as service:
        segments, files, rankings = _live_segments(service), _segment_files(service), _rankings(service)
        calls, written = 0, set()

        def cancel() -> bool:
            nonlocal calls, written
            calls += 1
            if calls >= stop_at:  # what the stopped rebuild had written so far
                written = {p.name for p in (service.data_dir / "segments").iterdir()} - set(segments)
            return calls >= stop_at

        with pytest.raises(Cancelled):
            service.rebuild(should_stop=cancel)
        assert calls == stop_at
        assert bool(written) == (at == "last"), written  # the last stop has a half-written segment to remove
        assert _live_segments(service) == segments
        assert _segment_files(service) == files  # byte for byte, and no half-written segment left
        assert not (service.data_dir / "set-aside").exists()
        assert _rankings(service) == rankings
        assert service.doctor()["consistent"]


def test_the_old_segments_are_kept_aside_while_the_new_one_is_checked(indexed: Service,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """If the new index fails its deep check, the segments the swap removed are still in set-aside/."""
    service = indexed
    old = {name: h for name, h in _segment_files(service).items()}

    from desktop_search.core.index import store as store_module

    real_check = store_module.SegmentStore.check

    def failing_check(self: Any, catalog: Any, deep: bool = False) -> Any:
        report = real_check(self, catalog, deep=deep)
        if deep:
            report.dangling_passages = 1  # as if the new segment had lost a passage
        return report

    monkeypatch.setattr(store_module.SegmentStore, "check", failing_check)
    result = service.rebuild()
    assert result["rebuilt"] and not result["consistent"] and result["set_aside"]
    kept = Path(result["set_aside"])
    kept_files = {str(f.relative_to(kept)): hashlib.sha256(f.read_bytes()).hexdigest()
                  for f in sorted(kept.rglob("*")) if f.is_file()}
    assert kept_files == old  # every file of every old segment, byte for byte


def test_rebuild_on_the_command_line(cli: Any, indexed: Service, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     tiny_model: Path) -> None:
    data = str(indexed.data_dir)
    indexed.close()  # the command opens the data folder itself
    code, out, err = cli("--data-dir", data, "--model", str(tiny_model), "rebuild")
    assert code == 0, err
    assert out.startswith("rebuilt ") and "5 segment(s) -> 1" in out
    code, out, err = cli("--data-dir", data, "--model", str(tiny_model), "rebuild", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["consistent"] and result["segments_after"] == 1

    # Ctrl+C: the stop flag is set; the rebuild stops at its first safe point, one line, exit 1
    import desktop_search.cli.maintenance as maintenance

    stopped = threading.Event()
    stopped.set()
    monkeypatch.setattr(maintenance, "_stop_flag", lambda: stopped)
    code, out, err = cli("--data-dir", data, "--model", str(tiny_model), "rebuild")
    assert code == 1 and err.strip().splitlines()[-1] == "stopped; the index is as it was", err
    assert "Traceback" not in err

    code, out, err = cli("--data-dir", str(tmp_path / "empty"), "rebuild")
    assert code == 0 and out.startswith("nothing rebuilt"), (out, err)
