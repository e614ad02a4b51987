"""The pool's platform paths, exercised on Linux: how workers are started (from Python and from a frozen
executable), which memory guard each OS gets, and the psutil watchdog that macOS and Windows rely on."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from desktop_search.core.extract import ExtractLimits, extract_many
from desktop_search.core.extract import pool as pool_mod

ROOT = Path(__file__).resolve().parents[2]
ENTRY = ROOT / "packaging" / "entry.py"


def _write(path: Path, text: str = "plain words for the index\n") -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_worker_command_unfrozen_runs_the_module() -> None:
    cmd = pool_mod.worker_command(512, 4242, "rlimit", frozen=False)
    assert cmd == [sys.executable, "-m", "desktop_search.core.extract.worker", "512", "4242", "rlimit"]


def test_worker_command_frozen_relaunches_the_executable_with_the_hidden_flag() -> None:
    cmd = pool_mod.worker_command(512, 4242, "job", frozen=True, executable=r"C:\Apps\desktop-search.exe")
    assert cmd == [r"C:\Apps\desktop-search.exe", "--extract-worker", "512", "4242", "job"]


def test_windowed_windows_build_starts_workers_from_its_console_twin(tmp_path: Path) -> None:
    gui, cli = tmp_path / "desktop-search-gui.exe", tmp_path / "desktop-search.exe"
    gui.write_bytes(b"")
    cli.write_bytes(b"")
    cmd = pool_mod.worker_command(1, 2, "job", frozen=True, executable=str(gui))
    assert cmd[:2] == [str(cli), "--extract-worker"]


def test_worker_command_follows_sys_frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert pool_mod.worker_command(1, 2, "watchdog")[1] == "--extract-worker"
    monkeypatch.delattr(sys, "frozen")
    assert pool_mod.worker_command(1, 2, "watchdog")[1] == "-m"


def test_memory_guard_per_platform(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(pool_mod.MEMORY_GUARD_ENV, raising=False)
    assert pool_mod.memory_guard("linux") == "rlimit"
    assert pool_mod.memory_guard("win32") == "job"
    assert pool_mod.memory_guard("darwin") == "watchdog"  # RLIMIT_AS is not enforced on macOS
    monkeypatch.setenv(pool_mod.MEMORY_GUARD_ENV, "watchdog")
    assert pool_mod.memory_guard("linux") == "watchdog"
    monkeypatch.setenv(pool_mod.MEMORY_GUARD_ENV, "bogus")
    assert pool_mod.memory_guard("linux") == "rlimit"


def test_watchdog_kills_a_worker_over_its_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The macOS/Windows guard, forced on Linux: no RLIMIT_AS in the worker, the parent's psutil watchdog
    kills the worker whose resident memory passes the cap; the next files still go through."""
    monkeypatch.setenv("DESKTOP_SEARCH_EXTRACT_FAULTS", "1")
    monkeypatch.setenv(pool_mod.MEMORY_GUARD_ENV, "watchdog")
    hog = _write(tmp_path / "fault-hog.txt")
    good = [_write(tmp_path / f"ok-{i}.txt", f"text {i}\n") for i in range(3)]
    limits = ExtractLimits(memory_mb=300, timeout_s=60)
    outcomes = {o.path: o for o in extract_many([hog, *good], limits, workers=1)}
    assert set(outcomes) == {hog, *good}
    assert outcomes[hog].result is None
    assert outcomes[hog].error is not None and "300 MB memory limit" in outcomes[hog].error
    for i, path in enumerate(good):
        assert outcomes[path].result is not None and outcomes[path].result.text == f"text {i}\n"


def test_watchdog_mode_leaves_normal_files_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(pool_mod.MEMORY_GUARD_ENV, "watchdog")
    paths = [_write(tmp_path / f"doc-{i}.md", f"# Doc {i}\nbody\n") for i in range(4)]
    outcomes = {o.path: o for o in extract_many(paths, workers=2)}
    assert all(o.result is not None and o.error is None for o in outcomes.values())


@pytest.mark.skipif(os.name != "posix", reason="the stand-in executable is a shell script")
@pytest.mark.parametrize("launcher", ["entry", "cli"])
def test_frozen_style_start_runs_real_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, launcher: str
) -> None:
    """A frozen app starts workers as `<its executable> --extract-worker …` with no PYTHONPATH help: stand in
    for that executable with a script that runs packaging/entry.py (what PyInstaller freezes) or the CLI."""
    target = f'"{ENTRY}"' if launcher == "entry" else "-m desktop_search"
    exe = tmp_path / "desktop-search"
    exe.write_text(
        f'#!/bin/sh\nPYTHONPATH="{ROOT}" exec "{sys.executable}" {target} "$@"\n', encoding="utf-8"
    )
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(exe))
    monkeypatch.setenv("DESKTOP_SEARCH_EXTRACT_FAULTS", "1")
    paths = [_write(tmp_path / f"note-{i}.txt", f"note {i}\n") for i in range(3)]
    crash = _write(tmp_path / "fault-exit.txt")
    outcomes = {o.path: o for o in extract_many([*paths, crash], workers=2)}
    for i, path in enumerate(paths):
        assert outcomes[path].result is not None and outcomes[path].result.text == f"note {i}\n"
    assert outcomes[crash].error == "extractor crashed (exit code 3)"
