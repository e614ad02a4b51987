"""The live index: a watched folder driven through many mixed operations stays exact.

Keyword-only (no model) to stay fast; the folder-rename test uses the tiny model to count encodings.
Nothing here asserts wall-clock time: conditions are polled with generous timeouts.
"""

from __future__ import annotations

import os
import random
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from desktop_search.core import paths as P
from desktop_search.core.service import Service
from desktop_search.core.watcher import watch


def word(n: int) -> str:
    """A token FTS5 keeps whole and no other file contains: letters only."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    out = ""
    n += 26**4
    while n:
        n, r = divmod(n, 26)
        out += letters[r]
    return "zq" + out


def catalog_paths(service: Service) -> set[str]:
    return {P.from_db(r[1]) for r in service.reader().known_files()}


def disk_files(root: Path) -> set[str]:
    out = set()
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        out.update(os.path.join(folder, f) for f in files if not f.startswith("."))
    return out


def wait_for(condition: Callable[[], bool], timeout: float = 90.0, every: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return condition()


class Watching:
    """``watch`` on a thread, with its reports collected."""

    def __init__(self, service: Service, **options: Any):
        self.service = service
        self.reports: list[Any] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=watch, args=(service, self.stop),
                                       kwargs={"on_report": self.reports.append, **options}, daemon=True)

    def __enter__(self) -> Watching:
        self.thread.start()
        assert wait_for(lambda: len(self.reports) >= 1, 120), "start-up reconcile never finished"
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(60)
        assert not self.thread.is_alive()


def keyword_hits(service: Service, token: str) -> list[str]:
    return [r.path for r in service.search(token, limit=5, mode="keyword", snippets=False).results]


def test_a_thousand_mixed_operations_leave_the_catalog_equal_to_the_folder(tmp_path: Path) -> None:
    root = tmp_path / "live"
    subs = [root / name for name in ("a", "b", "c", "d/e")]
    for s in subs:
        s.mkdir(parents=True)
    rng = random.Random(1234)
    counter = iter(range(10**9))
    content: dict[str, str] = {}  # path -> its one token, as it is on disk now
    retired: list[str] = []  # tokens no file holds any more

    def write(path: Path, atomic: bool = False) -> None:
        token = word(next(counter))
        if str(path) in content:
            retired.append(content[str(path)])
        if atomic:  # editors' save: a hidden temporary file renamed over the target
            tmp = path.parent / f".{path.name}.tmp{rng.randrange(10**6)}"
            tmp.write_text(f"saved text {token}\n")
            os.replace(tmp, path)
        else:
            path.write_text(f"plain text {token}\n")
        content[str(path)] = token

    for i in range(60):
        write(rng.choice(subs) / f"seed{i}.txt")
    log = root / "log.txt"
    log.write_text("log start\n")
    log_tokens: list[str] = []

    with Service(tmp_path / "data", allow_download=False) as service:
        service.add_roots([str(root)])
        with Watching(service) as w:
            appending = threading.Event()

            def append() -> None:  # a file that grows every 0.2 s all along
                n = 0
                while not appending.wait(0.2):
                    token = "zqlog" + word(n)[2:]
                    with open(log, "a") as handle:
                        handle.write(f"line {token}\n")
                    log_tokens.append(token)
                    n += 1

            appender = threading.Thread(target=append, daemon=True)
            appender.start()
            ops = {"create": 0, "modify": 0, "rename": 0, "move": 0, "delete": 0, "delete folder": 0,
                   "recreate": 0, "atomic save": 0}
            deleted_names: list[Path] = []
            n_ops = 0
            while n_ops < 1100:
                files = [Path(p) for p in content]
                kind = rng.choices(list(ops), weights=[20, 20, 10, 10, 10, 1, 6, 15])[0]
                if kind == "create" or not files:
                    write(rng.choice(subs) / f"new{next(counter)}.txt")
                elif kind == "modify":
                    write(rng.choice(files))
                elif kind == "atomic save":
                    write(rng.choice(files), atomic=True)
                elif kind in ("rename", "move"):
                    src = rng.choice(files)
                    folder = src.parent if kind == "rename" else rng.choice(subs)
                    dest = folder / f"moved{next(counter)}.txt"
                    os.replace(src, dest)
                    content[str(dest)] = content.pop(str(src))
                elif kind == "delete":
                    victim = rng.choice(files)
                    victim.unlink()
                    retired.append(content.pop(str(victim)))
                    deleted_names.append(victim)
                elif kind == "recreate" and deleted_names:
                    name = deleted_names.pop(rng.randrange(len(deleted_names)))
                    if name.parent.is_dir() and not name.exists():
                        write(name)
                    else:
                        continue
                elif kind == "delete folder":
                    folder = rng.choice(subs)
                    for p in [p for p in content if p.startswith(str(folder) + os.sep)]:
                        retired.append(content.pop(p))
                    shutil.rmtree(folder)
                    folder.mkdir(parents=True)  # the name comes back, empty, and fills again
                else:
                    continue
                ops[kind] += 1
                n_ops += 1
                if n_ops % 25 == 0:
                    time.sleep(0.05)  # bursts with gaps: index runs overlap new changes
            appending.set()
            appender.join()
            assert sum(ops.values()) >= 1000 and all(ops.values()), ops

            expected = disk_files(root)
            assert expected == set(content) | {str(log)}
            settled = wait_for(lambda: catalog_paths(service) == expected, 120)
            known = catalog_paths(service)
            assert settled, (f"missing {sorted(expected - known)[:5]}, extra {sorted(known - expected)[:5]}")
            # every file is found by its own word, and only it; words no file holds find nothing
            assert wait_for(lambda: keyword_hits(service, log_tokens[-1]) == [str(log)], 60)
            for path, token in content.items():
                assert keyword_hits(service, token) == [path], path
            for token in retired[-200:]:
                assert keyword_hits(service, token) == [], token
        assert not any(r.warnings for r in w.reports)
        incremental = [r for r in w.reports[1:] if r.scanned < len(expected)]
        assert incremental, "every run was a full scan"


@pytest.fixture
def tiny_service(tmp_path: Path, tiny_model: Path) -> Any:
    with Service(tmp_path / "data", model=str(tiny_model)) as service:
        service.settings.context_length = 256
        yield service


def test_renaming_a_folder_of_100_files_encodes_nothing(tmp_path: Path, tiny_service: Service) -> None:
    root = tmp_path / "docs"
    folder = root / "project"
    folder.mkdir(parents=True)
    for i in range(100):
        (folder / f"note{i}.txt").write_text(f"note number {word(i)} about the harbour and its boats\n")
    report = tiny_service.index([str(root)])
    assert report.encoded_files == 100
    before = {Path(P.from_db(r[1])).name: r[0] for r in tiny_service.reader().known_files()}
    with Watching(tiny_service) as w:
        start = len(w.reports)
        os.rename(folder, root / "renamed")
        expected = {str(root / "renamed" / f"note{i}.txt") for i in range(100)}
        assert wait_for(lambda: catalog_paths(tiny_service) == expected, 120)
        time.sleep(1.0)  # give a (wrong) re-encoding the chance to show up in the reports
        moved_reports = len(w.reports)
        # a new file is encoded too, once it has been quiet for a moment (the encode waits for that)
        (root / "renamed" / "fresh.txt").write_text(f"a fresh note {word(500)}\n")
        assert wait_for(lambda: str(root / "renamed" / "fresh.txt") in catalog_paths(tiny_service), 60)
        assert wait_for(lambda: tiny_service.status()["pending"] == 0, 120)
        assert sum(r.encoded_files for r in w.reports[moved_reports:]) == 1
    after = {Path(P.from_db(r[1])).name: r[0] for r in tiny_service.reader().known_files()}
    after = {k: v for k, v in after.items() if k != "fresh.txt"}
    assert after == before  # same rows: their passages and vectors stay
    later = w.reports[start:moved_reports]
    assert sum(r.moved for r in later) == 100
    assert sum(r.encoded_files for r in later) == 0
    assert sum(r.new + r.changed for r in later) == 0
    assert tiny_service.status()["pending"] == 0
    hits = tiny_service.search(word(7), mode="keyword").results
    assert [Path(h.path).name for h in hits] == ["note7.txt"] and "renamed" in hits[0].path


def test_a_change_is_picked_up_while_a_hidden_file_churns(tmp_path: Path) -> None:
    """The old watcher waited for quiet: a dot-file rewritten every 0.2 s held back real changes."""
    root = tmp_path / "docs"
    root.mkdir()
    (root / "first.txt").write_text("first file\n")
    with Service(tmp_path / "data", allow_download=False) as service:
        service.add_roots([str(root)])
        with Watching(service) as w:
            churning = threading.Event()

            def churn() -> None:
                while not churning.wait(0.1):
                    (root / ".swap").write_text(str(time.time()))
                    (root / "visible-churn.txt").write_text(f"churn {time.time()}")

            t = threading.Thread(target=churn, daemon=True)
            t.start()
            try:
                time.sleep(0.5)
                (root / "real.txt").write_text("the zqrealchange arrives\n")
                assert wait_for(lambda: keyword_hits(service, "zqrealchange") == [str(root / "real.txt")], 30)
                (root / "first.txt").unlink()
                assert wait_for(lambda: str(root / "first.txt") not in catalog_paths(service), 30)
            finally:
                churning.set()
                t.join()
        monitor_paths = {P.from_db(r[1]) for r in service.reader().known_files()}
        assert str(root / ".swap") not in monitor_paths
        assert all(r.scanned <= 3 for r in w.reports[1:])  # incremental runs only, never the full folder


def test_the_kept_extraction_worker_serves_many_small_runs(tmp_path: Path) -> None:
    from desktop_search.core.extract import ExtractLimits, KeptPool

    files = []
    for i in range(3):
        f = tmp_path / f"f{i}.txt"
        f.write_text(f"file {word(i)}")
        files.append(str(f))
    pool = KeptPool(ExtractLimits(), workers=1)
    try:
        first = list(pool.extract(files[:1]))
        worker = pool._pool.workers[0]
        second = list(pool.extract(files[1:]))
        assert pool._pool.workers == [worker]  # started once
        assert [o.path for o in first] == files[:1] and sorted(o.path for o in second) == files[1:]
        assert all(o.result is not None and word(files.index(o.path)) in o.result.text for o in first + second)
        assert list(pool.extract(files, should_stop=lambda: True)) == []
        assert [o.path for o in pool.extract(files[2:])] == files[2:]  # no stale answer from the stopped call
        assert not pool.close_if_idle(3600)  # used a moment ago
        running = pool.extract(files[:1])
        next(running)  # a call in progress holds the workers
        assert not pool.close_if_idle(0)
        running.close()
        assert pool.close_if_idle(0) and pool._pool.workers == []
        assert [o.path for o in pool.extract(files[:1])] == files[:1]  # a worker starts again on use
    finally:
        pool.close()
