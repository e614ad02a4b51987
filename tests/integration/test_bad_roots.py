"""Watched folders that go bad: a file, no read permission, removed while watched, a symlink loop, a name
that is not UTF-8. Each gets a clear state; the rest of the index is not disturbed; no busy loop."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

from desktop_search.core import paths as P
from desktop_search.core.service import Service
from desktop_search.core.watcher import watch


def _wait(condition, timeout: float = 60.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def _make_roots(base: Path) -> dict[str, str]:
    roots = {}
    for name in ("good", "locked", "removed", "looped", "became-file"):
        folder = base / name
        folder.mkdir()
        (folder / f"{name}.txt").write_text(f"the {name} folder holds zq{name.replace('-', '')} words\n")
        roots[name] = str(folder)
    bad = os.fsdecode(str(base).encode() + b"/bad-\xff-name")
    os.mkdir(bad)
    with open(os.path.join(bad, "inside.txt"), "w") as handle:
        handle.write("a file inside zqbadname\n")
    roots["not utf-8"] = bad
    return roots


def _spoil(roots: dict[str, str]) -> None:
    os.chmod(roots["locked"], 0)
    shutil.rmtree(roots["removed"])
    shutil.rmtree(roots["looped"])
    os.symlink(os.path.basename(roots["looped"]), roots["looped"])  # points at itself
    shutil.rmtree(roots["became-file"])
    Path(roots["became-file"]).write_text("now a file with zqnowafile\n")


def test_status_json_gives_each_bad_folder_a_state_and_keeps_its_files(unprivileged_cli) -> None:
    """The real CLI; as root it first drops the capabilities that bypass permissions (setpriv)."""
    base = Path(tempfile.mkdtemp(prefix="ds-badroots-"))
    try:
        roots = _make_roots(base)
        run = unprivileged_cli(base)

        first = run("index", "--keyword-only", *roots.values())
        assert first.returncode == 0, first.stderr
        _spoil(roots)
        again = run("index", "--keyword-only")
        assert again.returncode == 0, again.stderr
        assert "Traceback" not in again.stderr
        status = json.loads(run("status", "--json").stdout)
        states = {Path(f["path"]).name: (f["state"], f["detail"]) for f in status["folders"]}
        assert states["good"] == ("ok", "")
        assert states["locked"][0] == "unreadable" and "permission" in states["locked"][1].lower()
        assert states["removed"][0] == "offline"
        assert states["looped"][0] in ("unreadable", "offline")
        assert "symbolic links" in states["looped"][1] or states["looped"][0] == "offline"
        assert states["became-file"][0] == "not a folder"
        assert states["bad-\ufffd-name"] == ("ok", "")
        text = run("status")
        assert "removed: offline" in text.stdout and "locked: unreadable" in text.stdout

        def hits(word: str) -> list[str]:
            out = run("search", word, "--mode", "keyword", "--json")
            return [Path(r["path"]).name for r in json.loads(out.stdout)["results"]]

        # an unreadable, removed or looped folder keeps its files in the index; the others are exact
        assert hits("zqgood") == ["good.txt"]
        # (search hides what it cannot open right now; the catalog keeps it for when the drive is back)
        with Service(base / "data", allow_download=False) as service:
            kept = {Path(P.from_db(r[1])).name for r in service.reader().known_files()}
        assert {"locked.txt", "removed.txt", "looped.txt"} <= kept
        assert hits("zqbadname") == ["inside.txt"]
        assert hits("zqbecamefile") == []  # the folder's file is gone...
        assert hits("zqnowafile") == ["became-file"]  # ...and the file in its place is indexed on its own
    finally:
        os.chmod(base / "locked", 0o755)
        shutil.rmtree(base, ignore_errors=True)


def test_watching_bad_folders_does_not_spin_and_a_folder_that_comes_back_is_reconciled(tmp_path: Path) -> None:
    roots = _make_roots(tmp_path)
    docs = Path(roots["good"])
    (docs / "sub").mkdir()
    os.symlink("..", docs / "sub" / "up")  # a loop inside a watched folder: never followed
    with Service(tmp_path / "data", allow_download=False) as service:
        service.add_roots(list(roots.values()))
        service.index(encode=False)
        before = {P.from_db(r[1]) for r in service.reader().known_files()}
        assert len(before) == 6
        _spoil(roots)
        reports: list = []
        stop = threading.Event()
        thread = threading.Thread(target=watch, args=(service, stop),
                                  kwargs={"on_report": reports.append, "idle_check_s": 1.0}, daemon=True)
        thread.start()
        try:
            assert _wait(lambda: len(reports) >= 1, 120)
            time.sleep(1.0)
            cpu = time.process_time()
            time.sleep(3.0)
            used = time.process_time() - cpu
            assert used < 1.0, f"watching used {used:.2f} s of CPU in 3 s idle"  # a busy loop uses ~3 s
            after = {P.from_db(r[1]) for r in service.reader().known_files()}
            # the removed and unreadable folders keep their files; the one that became a file is indexed
            assert before - after == {os.path.join(roots["became-file"], "became-file.txt")}
            assert os.path.join(roots["removed"], "removed.txt") in after
            # the unplugged drive comes back with a change: its watch is renewed and it is reconciled
            Path(roots["removed"]).mkdir()
            (Path(roots["removed"]) / "back.txt").write_text("back again zqbackagain\n")
            assert _wait(lambda: [Path(r.path).name for r in service.search("zqbackagain", mode="keyword").results]
                         == ["back.txt"], 60)
            assert _wait(lambda: os.path.join(roots["removed"], "removed.txt")
                         not in {P.from_db(r[1]) for r in service.reader().known_files()}, 60)
            (docs / "new.txt").write_text("still watched zqstillwatched\n")
            assert _wait(lambda: len(service.search("zqstillwatched", mode="keyword").results) == 1, 60)
            states = {Path(f["path"]).name: f["state"] for f in service.root_states()}
            assert states["removed"] == "ok" and states["became-file"] == "not a folder"
        finally:
            stop.set()
            thread.join(60)
            os.chmod(roots["locked"], 0o755)
        assert not thread.is_alive()
