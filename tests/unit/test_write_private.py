"""privacy.write_private: whole-file replacement that two writers at once cannot mix up."""

import json
import os
import stat
import threading

import pytest

from desktop_search.core import privacy


def test_concurrent_writers_leave_one_whole_file_and_no_temp_files(tmp_path):
    """The window and a CLI call may save state.json at the same moment: each write must land whole
    (one writer's JSON, never an interleaving) and none may fail because another moved its temp file."""
    target = tmp_path / "state.json"
    errors: list[BaseException] = []
    payloads = [json.dumps({"writer": w, "pad": str(w) * 300_000}) for w in range(4)]

    def write(w: int) -> None:
        try:
            for _ in range(15):
                privacy.write_private(target, payloads[w])
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert target.read_text() in payloads
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]
    if os.name == "posix":
        assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_a_failed_write_keeps_the_old_file_and_removes_its_temp(tmp_path, monkeypatch):
    target = tmp_path / "state.json"
    privacy.write_private(target, "old")

    def full_disk(fd, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(privacy.os, "write", full_disk)
    with pytest.raises(OSError):
        privacy.write_private(target, "new")
    monkeypatch.undo()
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_temp_files_left_by_a_crash_are_swept_and_fresh_ones_kept(tmp_path):
    target = tmp_path / "state.json"
    stale, fresh = tmp_path / ".state.json.abc123.tmp", tmp_path / ".state.json.def456.tmp"
    stale.write_text("half a write from before a power cut")
    fresh.write_text("another process, writing right now")
    old = os.stat(stale).st_mtime - privacy.STALE_TEMP_S - 60
    os.utime(stale, (old, old))
    privacy.write_private(target, "{}")
    assert not stale.exists() and fresh.exists()
    assert target.read_text() == "{}"
