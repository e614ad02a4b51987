"""The window's side of the live index: folder states and exclusion patterns in the Folders dialog,
incremental runs of the changed paths only."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from desktop_search.core import paths as P


def _names(service: Any) -> set[str]:
    return {Path(P.from_db(r[1])).name for r in service.reader().known_files()}


def test_folders_dialog_shows_states_and_edits_exclusions(qtbot: Any, make_service: Any, make_window: Any,
                                                          docs: Path, tmp_path: Path) -> None:
    (docs / "run.log").write_text("a log line about zqlogline")
    gone = tmp_path / "usb"
    gone.mkdir()
    (gone / "trip.txt").write_text("photos of the trip")
    service = make_service()
    service.index([str(docs), str(gone)], encode=False)
    shutil.rmtree(gone)  # unplugged
    window = make_window(service)
    dialog = window.show_folders()
    qtbot.waitUntil(lambda: dialog.loaded, timeout=5000)
    texts = [dialog.folders.item(i).text() for i in range(dialog.folders.count())]
    assert any("offline" in t and "1 files" in t for t in texts), texts  # shown offline, files kept
    assert dialog.exclusions.text().startswith(".*, .git/, node_modules/")
    assert not dialog.gitignore.isChecked()
    assert "run.log" in _names(service)
    dialog.exclusions.setText(dialog.exclusions.text() + ", *.log")
    with qtbot.waitSignal(window.indexer.finished, timeout=120000):
        dialog._save()
    assert "run.log" not in _names(service) and "trip.txt" in _names(service)
    assert "*.log" in [e.pattern for e in service.exclusions()]
    qtbot.waitUntil(lambda: window.monitor.rules is not None and window.monitor.rules.skip(
        str(docs / "x.log"), is_dir=False), timeout=10000)


def test_a_change_runs_an_incremental_index_of_that_path(qtbot: Any, make_service: Any, make_window: Any,
                                                         docs: Path) -> None:
    window = make_window(make_service())
    with qtbot.waitSignal(window.indexer.finished, timeout=120000):
        window.welcome.use_folder.emit(str(docs))
    qtbot.waitUntil(lambda: window.monitor._observer is not None, timeout=5000)
    with qtbot.waitSignal(window.indexer.finished, timeout=120000) as blocker:
        (docs / "airship.txt").write_text("The zeppelin moored at the mast before dawn.")
    report = blocker.args[0]
    assert report.new == 1 and report.scanned == 1  # that file only, not the whole folder
    with qtbot.waitSignal(window.indexer.finished, timeout=120000) as blocker:
        (docs / "airship.txt").rename(docs / "dirigible.txt")
    assert blocker.args[0].moved == 1
    assert "dirigible.txt" in _names(window.service) and "airship.txt" not in _names(window.service)
