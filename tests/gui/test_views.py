"""Views follow the service's "what changed" event; sort, find similar, weak results and explanations."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from gui_helpers import search
from PySide6.QtWidgets import QStyleOptionViewItem

from desktop_search.gui.preview import load_preview
from desktop_search.gui.results import DividerRole, PathRole, WeakRole
from desktop_search.gui.search_controller import SearchOutcome


def indexed(make_service: Any, docs: Path) -> Any:
    service = make_service()
    service.index([str(docs)], encode=False)
    return service


def in_thread(fn: Any) -> None:
    """Run ``fn`` on a plain thread, as another part of the app would, and wait for it."""
    t = threading.Thread(target=fn)
    t.start()
    t.join(60)


def test_a_change_made_elsewhere_refreshes_the_window(qtbot: Any, make_service: Any, make_window: Any,
                                                      docs: Path, tmp_path: Path) -> None:
    """Nothing calls refresh_status(): the service announces the new folder and the window follows."""
    service = indexed(make_service, docs)
    window = make_window(service)
    qtbot.waitUntil(lambda: window.search_bar.folder_filter.count() == 2, timeout=5000)
    other = tmp_path / "other"
    other.mkdir()
    (other / "note.txt").write_text("tulips")
    in_thread(lambda: service.add_roots([str(other)]))
    qtbot.waitUntil(lambda: window.search_bar.folder_filter.count() == 3, timeout=5000)


def test_new_files_rerun_the_search_on_screen(qtbot: Any, make_service: Any, make_window: Any, docs: Path) -> None:
    service = indexed(make_service, docs)
    window = make_window(service)
    search(qtbot, window, "magma")
    window.search.setText("zeppelin")
    qtbot.waitUntil(lambda: window.results_panel.empty.isVisible(), timeout=5000)
    (docs / "airship.txt").write_text("The zeppelin moored at the mast before dawn.")
    in_thread(lambda: service.index(encode=False))  # e.g. the command line, in this process
    qtbot.waitUntil(lambda: window.results_model.rowCount() == 1, timeout=5000)
    assert window.results_model.index(0).data(PathRole).endswith("airship.txt")


def test_settings_are_put_in_force_through_the_service_off_the_ui_thread(
        qtbot: Any, make_service: Any, make_window: Any) -> None:
    service = make_service()
    window = make_window(service)
    before = service.settings
    old_values = before.as_dict()
    threads: list[int] = []
    real = service.update_settings

    def recording(**values: Any) -> Any:
        threads.append(threading.get_ident())
        return real(**values)

    service.update_settings = recording
    window.save_settings({"context_length": 2048, "threads": 3, "max_file_bytes": 5 * 1024 * 1024})
    qtbot.waitUntil(lambda: service.settings.context_length == 2048, timeout=5000)
    assert threads and threads[0] != threading.get_ident()
    assert before.as_dict() == old_values  # the object a run may be reading was never changed
    assert (service.settings.threads, service.settings.max_file_bytes) == (3, 5 * 1024 * 1024)
    assert service.reader().load_settings().context_length == 2048


def test_the_sort_control_orders_results(qtbot: Any, make_service: Any, make_window: Any, docs: Path) -> None:
    now = time.time()
    for i, name in enumerate(sorted(os.listdir(docs))):
        os.utime(docs / name, (now - i * 86400, now - i * 86400))  # alphabetical = newest first
    service = indexed(make_service, docs)
    sorts: list[str] = []
    real = service.search_stages

    def recording(query: str, **kw: Any) -> Any:
        sorts.append(kw.get("sort", "relevance"))
        return real(query, **kw)

    service.search_stages = recording
    window = make_window(service)
    search(qtbot, window, "the")
    assert sorts[-1] == "relevance"
    window.search_bar.sort.setCurrentIndex(window.search_bar.sort.findData("date"))
    qtbot.waitUntil(lambda: sorts[-1] == "date", timeout=5000)

    def names() -> list[str]:
        return [os.path.basename(window.results_model.index(i).data(PathRole))
                for i in range(window.results_model.rowCount())]

    qtbot.waitUntil(lambda: len(names()) > 3 and names() == sorted(names()), timeout=5000)
    window.search_bar.sort.setCurrentIndex(window.search_bar.sort.findData("name"))
    qtbot.waitUntil(lambda: sorts[-1] == "name", timeout=5000)


def test_find_similar_from_the_context_menu(qtbot: Any, make_service: Any, make_window: Any, docs: Path) -> None:
    service = indexed(make_service, docs)
    asked: list[tuple[str, Any]] = []

    def similar(path: str, page: int | None = None, limit: int = 10) -> Any:
        asked.append((path, page))
        response = service.search("lava magma volcano", limit=limit, mode="keyword")
        return SimpleNamespace(query=path, mode="similar", took_ms=1.0, results=response.results, notice=None)

    service.similar = similar
    window = make_window(service)
    search(qtbot, window, "magma")
    source = window.current_path()
    menu = window.results_panel.build_menu(window.current_result())
    actions = {a.text(): a for a in menu.actions() if a.text()}
    assert "Find similar files" in actions and window.preview.similar_btn.isVisibleTo(window)
    actions["Find similar files"].trigger()
    qtbot.waitUntil(lambda: window.results_model.mode == "similar", timeout=5000)
    assert asked == [(source, None)]
    assert "similar to volcanoes.md" in window.results_model.query
    assert "similar by meaning" in window.results_panel.summary.text()
    window.search.setText("sourdough")  # typing again leaves "similar" mode
    qtbot.waitUntil(lambda: window.results_model.mode == "keyword", timeout=5000)


def test_find_similar_is_hidden_when_the_service_cannot(qtbot: Any, make_service: Any, make_window: Any,
                                                        docs: Path) -> None:
    service = indexed(make_service, docs)
    service.similar = None  # an older service
    window = make_window(service)
    search(qtbot, window, "magma")
    menu = window.results_panel.build_menu(window.current_result())
    assert not [a for a in menu.actions() if "similar" in a.text().lower()]
    assert not window.preview.similar_btn.isVisibleTo(window)


def _like(result: Any, **extra: Any) -> SimpleNamespace:
    return SimpleNamespace(**{**vars(result), **extra})


def test_weak_results_sit_below_a_less_relevant_divider(qtbot: Any, make_service: Any, make_window: Any,
                                                        docs: Path) -> None:
    service = indexed(make_service, docs)
    window = make_window(service)
    real = service.search("the", limit=20, mode="keyword").results[:4]
    results = [_like(r, weak=i >= 2, passages=[]) for i, r in enumerate(real)]
    response = SimpleNamespace(query="the", mode="hybrid", took_ms=3.0, results=results, notice=None)
    window.results_panel.show_outcome(SearchOutcome(window.searcher.generation, "the", "hybrid", response, True), "the",
                                      20)
    model = window.results_model
    assert [model.index(i).data(WeakRole) for i in range(4)] == [False, False, True, True]
    assert [model.index(i).data(DividerRole) for i in range(4)] == [False, False, True, False]
    delegate = window.results.itemDelegate()
    option = QStyleOptionViewItem()
    option.initFrom(window.results)
    heights = [delegate.sizeHint(option, model.index(i)).height() for i in range(4)]
    assert heights[2] > heights[1] == heights[3]  # room for the divider above the first weak result
    assert "(2 less relevant)" in window.results_panel.summary.text()
    assert not window.results.grab().isNull()  # the divider and the quieter cards paint


def test_the_preview_explains_matches_and_marks_only_strong_ones(make_service: Any, docs: Path) -> None:
    service = indexed(make_service, docs)
    hit = next(r for r in service.search("volcano", limit=5, mode="keyword").results
               if r.path.endswith("volcanoes.md"))
    explain = {"terms": [{"query": "explode", "matches": [{"word": "erupts", "score": 0.82}]},
                         {"query": "why", "matches": [{"word": "pressure", "score": 0.21}]}]}
    strong = load_preview(service, _like(hit, explain=explain, weak=False), "why explode")
    marked = {strong.text[s:e].lower() for s, e in strong.hits}
    assert "erupts" in marked and "pressure" not in marked  # the weak match is explained, not marked
    assert any("explode → erupts 0.82" in line for line in strong.explain)
    assert any("pressure 0.21 (weak)" in line for line in strong.explain)
    weak = load_preview(service, _like(hit, explain=explain, weak=True), "why explode")
    assert not weak.hits  # a result below the relevance floor: nothing marked as matched by meaning
    assert weak.explain[0].startswith("Less relevant")


def test_the_preview_lists_the_best_passages(qtbot: Any, make_service: Any, docs: Path) -> None:
    from desktop_search.gui.preview import PreviewPane

    service = indexed(make_service, docs)
    hit = service.search("lighthouse", limit=5, mode="keyword").results[0]
    rows = service.reader().document_passages(hit.file_id)
    passages = [SimpleNamespace(passage_id=r["id"], page=None, score=1.0 - i / 10) for i, r in enumerate(rows)]
    data = load_preview(service, _like(hit, passages=passages[::-1]), "lighthouse")
    assert len(data.passages) == len(rows)
    pane = PreviewPane()
    qtbot.addWidget(pane)
    pane.show_data(data)
    if len(rows) > 1:
        assert pane.passages.isVisibleTo(pane) and pane.passages.count() == len(rows)
    pane.go_to_passage(0)  # the best passage first; its first hit is current
    assert pane.current >= 0 and pane.data.hits[pane.current][0] >= data.passages[0][1]


def test_filters_alone_list_the_matching_files(qtbot: Any, make_service: Any, make_window: Any,
                                               docs: Path) -> None:
    window = make_window(indexed(make_service, docs))
    window.stack.setCurrentWidget(window.main_page)
    bar = window.search_bar
    bar.type_filter.setCurrentIndex(bar.type_filter.findText("Text / Markdown"))  # nothing typed
    qtbot.waitUntil(lambda: window.results_model.rowCount() > 0, timeout=5000)
    assert window.results_model.query == "ext:txt,md,markdown,rst"
    exts = {os.path.splitext(window.results_model.index(i).data(PathRole))[1]
            for i in range(window.results_model.rowCount())}
    assert exts <= {".txt", ".md"}


def test_opening_an_archive_member_opens_its_archive(qtbot: Any, make_service: Any, make_window: Any,
                                                     docs: Path, monkeypatch: Any) -> None:
    from desktop_search.gui import desktop

    service = indexed(make_service, docs)
    archive = str(docs / "bundle.zip")
    service.open_target = lambda path: path.split("!/", 1)[0]
    opened: list[str] = []
    revealed: list[str] = []
    monkeypatch.setattr(desktop, "open_path", lambda p: opened.append(p) or True)
    monkeypatch.setattr(desktop, "show_in_folder", lambda p: revealed.append(p) or True)
    window = make_window(service)
    member = _like(service.search("magma", mode="keyword").results[0], path=archive + "!/notes/volcanoes.md")
    response = SimpleNamespace(query="magma", mode="keyword", took_ms=1.0, results=[member], notice=None)
    window.results_panel.show_outcome(SearchOutcome(window.searcher.generation, "magma", "keyword", response, True),
                                      "magma", 20)
    window.open_current()
    window.reveal_current()
    assert opened == [archive] and revealed == [archive]
    assert window.current_path() == archive + "!/notes/volcanoes.md"  # shown and copied as the member


def test_the_failed_files_view_also_lists_what_was_left_out(qtbot: Any, make_service: Any, make_window: Any,
                                                            docs: Path) -> None:
    service = indexed(make_service, docs)
    service.skipped = lambda: [{"path": str(docs / "link"), "reason": "symbolic link out of the folder"},
                               {"path": str(docs / "song.mp3"), "reason": "not a document (audio)"}]
    window = make_window(service)
    dialog = window.show_failed()
    qtbot.waitUntil(lambda: dialog.loaded, timeout=5000)
    assert dialog.tabs.count() == 2 and dialog.tabs.tabText(1) == "Left out (2)"
    reasons = {dialog.skipped_model.item(i, 0).text(): dialog.skipped_model.item(i, 1).text() for i in range(2)}
    assert reasons[str(docs / "link")] == "symbolic link out of the folder"


def test_the_preview_reads_the_cores_explain_shape(make_service: Any, docs: Path) -> None:
    """core/search/explain.py: words → matches with by, similarity and the core's highlighted verdict."""
    service = indexed(make_service, docs)
    hit = next(r for r in service.search("volcano", limit=5, mode="keyword").results
               if r.path.endswith("volcanoes.md"))
    explain = {"passage_id": hit.passage_id, "page": None, "parts": {"semantic": 0.52, "keyword": 0.28},
               "words": [{"word": "blast", "matches": [
                   {"text": "erupts", "by": "meaning", "similarity": 0.74, "start": 0, "end": 6, "highlighted": True},
                   {"text": "magma", "by": "meaning", "similarity": 0.41, "start": 9, "end": 14,
                    "highlighted": False}]},
                   {"word": "lava", "matches": [{"text": "lava", "by": "word", "similarity": 1.0,
                                                 "highlighted": True}]}]}
    data = load_preview(service, _like(hit, explain=explain, weak=False), "blast lava")
    marked = {data.text[s:e].lower() for s, e in data.hits}
    assert {"erupts", "lava"} <= marked and "magma" not in marked
    assert "blast → erupts 0.74 (meaning), magma 0.41 (meaning, weak)" in data.explain
    assert "lava → lava (word)" in data.explain
    assert "score: semantic 65% · keyword 35%" in data.explain
    weak = load_preview(service, _like(hit, explain=explain, weak=True), "blast lava")
    assert {weak.text[s:e].lower() for s, e in weak.hits} == {"lava"}  # literal words only


def test_the_status_bar_counts_failed_and_left_out_files(qtbot: Any, make_service: Any, make_window: Any) -> None:
    window = make_window(make_service())
    status = window.index_status
    status.show_counts({"indexed": 5, "pending": 0, "failed": 0, "skipped": 0, "folders": [{}]})
    assert not status.failed_btn.isVisibleTo(window)
    status.show_counts({"indexed": 5, "pending": 0, "failed": 0, "skipped": 12, "folders": [{}]})
    assert status.failed_btn.isVisibleTo(window) and status.failed_btn.text() == "12 left out"
    status.show_counts({"indexed": 5, "pending": 0, "failed": 2, "skipped": 1200, "folders": [{}]})
    assert status.failed_btn.text() == "2 could not be read · 1,200 left out"


def test_settings_saved_twice_in_a_row_keep_both_changes(qtbot: Any, make_service: Any, make_window: Any) -> None:
    service = make_service()
    window = make_window(service)
    real = service.update_settings
    inside = threading.Event()
    overlaps: list[bool] = []

    def slow(**values: Any) -> Any:  # a save that takes a while: a second one must wait for it
        overlaps.append(inside.is_set())
        inside.set()
        time.sleep(0.05)
        try:
            return real(**values)
        finally:
            inside.clear()

    service.update_settings = slow
    window.save_settings({"context_length": 1024, "threads": 2})
    window.save_settings({"context_length": 1024, "threads": 2, "max_file_bytes": 7 * 1024 * 1024})
    qtbot.waitUntil(lambda: service.settings.max_file_bytes == 7 * 1024 * 1024, timeout=5000)
    assert overlaps == [False, False]
    assert (service.settings.context_length, service.settings.threads) == (1024, 2)
