"""Helpers shared by the window tests (imported by name: pytest puts this folder on sys.path)."""

from __future__ import annotations

from typing import Any


def search(qtbot: Any, window: Any, text: str) -> None:
    """Type ``text`` into the search field as key clicks and wait for its first results."""
    window.search.setFocus()
    window.search.clear()
    qtbot.keyClicks(window.search, text)
    qtbot.waitUntil(lambda: window.results_model.rowCount() > 0 and window.results_model.query.startswith(text),
                    timeout=5000)
