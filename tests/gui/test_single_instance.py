"""One instance, many clients (issue 11): a second launch on the same data folder brings the first window
to the front and exits; the listener and the client run in this one process (offscreen)."""

from __future__ import annotations

import argparse
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from desktop_search.gui.single_instance import FirstInstance, hand_over, server_name


@pytest.fixture
def first(tmp_path: Path) -> Iterator[Any]:
    """A listening first instance on tmp_path/data whose handler shows a hidden widget."""
    from PySide6.QtWidgets import QWidget

    made: list[Any] = []

    def make(data_dir: Path | None = None) -> tuple[FirstInstance, QWidget, list[str]]:
        widget = QWidget()
        calls: list[str] = []
        instance = FirstInstance(data_dir or tmp_path / "data")
        assert instance.listen()

        def activate() -> None:
            calls.append("activated")
            widget.showNormal()
            widget.raise_()
            widget.activateWindow()

        instance.set_handler(activate)
        made.append((instance, widget))
        return instance, widget, calls

    yield make
    for instance, widget in made:
        instance.close()
        widget.close()


def test_second_launch_brings_the_first_window_to_the_front(qtbot: Any, tmp_path: Path, first: Any) -> None:
    _instance, widget, calls = first()
    assert not widget.isVisible()
    assert hand_over(tmp_path / "data") is True
    qtbot.waitUntil(lambda: widget.isVisible() and calls == ["activated"])


def test_a_minimized_second_launch_only_learns_that_one_runs(qtbot: Any, tmp_path: Path, first: Any) -> None:
    _instance, widget, calls = first()
    assert hand_over(tmp_path / "data", activate=False) is True
    assert hand_over(tmp_path / "data") is True  # a later real launch still activates: the first one answered
    qtbot.waitUntil(lambda: calls == ["activated"])
    assert widget.isVisible()


def test_nothing_listening_means_no_hand_over(qapp: Any, tmp_path: Path) -> None:
    assert hand_over(tmp_path / "nobody", timeout_ms=200) is False


def test_a_request_before_the_window_exists_is_delivered_when_it_does(qtbot: Any, tmp_path: Path) -> None:
    instance = FirstInstance(tmp_path / "data")
    try:
        assert instance.listen()
        assert hand_over(tmp_path / "data")
        calls: list[int] = []
        qtbot.waitUntil(lambda: instance._pending)  # accepted and read, with no handler yet
        instance.set_handler(lambda: calls.append(1))
        assert calls == [1]
    finally:
        instance.close()


@pytest.mark.skipif(sys.platform == "win32", reason="Windows pipe names leave nothing behind after a crash")
def test_a_stale_name_from_a_crashed_instance_does_not_block_a_new_one(qtbot: Any, tmp_path: Path,
                                                                       first: Any) -> None:
    probe = FirstInstance(tmp_path / "data")
    assert probe.listen()
    path = probe._server.fullServerName()
    probe.close()  # removes its socket file; put back one that nobody listens on, as a crash leaves it
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(path)
    stale.close()
    assert Path(path).exists()
    assert hand_over(tmp_path / "data", timeout_ms=200) is False

    _instance, widget, calls = first(tmp_path / "data")  # listen() removed the stale name
    assert hand_over(tmp_path / "data") is True
    qtbot.waitUntil(lambda: widget.isVisible() and calls == ["activated"])


def test_a_second_listener_on_the_same_folder_is_refused(qtbot: Any, tmp_path: Path, first: Any) -> None:
    first()
    other = FirstInstance(tmp_path / "data")
    try:
        assert other.listen() is False  # the live one answered: it is not removed as stale
        assert hand_over(tmp_path / "data") is True
    finally:
        other.close()


def test_different_data_folders_do_not_collide(qtbot: Any, tmp_path: Path, first: Any) -> None:
    assert server_name(tmp_path / "a") != server_name(tmp_path / "b")
    assert server_name(tmp_path / "a") == server_name(tmp_path / "x" / ".." / "a")
    assert len(server_name(tmp_path / ("long" * 60))) < 40
    _a, widget_a, calls_a = first(tmp_path / "a")
    _b, widget_b, calls_b = first(tmp_path / "b")  # both listen
    assert hand_over(tmp_path / "b") is True
    qtbot.waitUntil(lambda: calls_b == ["activated"])
    assert widget_b.isVisible()
    assert calls_a == [] and not widget_a.isVisible()
    assert hand_over(tmp_path / "c", timeout_ms=200) is False


def test_run_app_hands_over_without_opening_a_service(qtbot: Any, tmp_path: Path, first: Any,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from desktop_search import gui

    def no_service(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("a second launch must not open the Service or a window")

    monkeypatch.setattr(gui, "create_app", no_service)
    _instance, widget, calls = first(tmp_path / "data")
    args = argparse.Namespace(data_dir=str(tmp_path / "data"), model=None, context_length=None, threads=None,
                              minimized=True)
    assert gui.run_app(args) == 0  # --minimized: exits 0 and leaves the first window as it is
    args.minimized = False
    assert gui.run_app(args) == 0
    qtbot.waitUntil(lambda: widget.isVisible() and calls == ["activated"])
