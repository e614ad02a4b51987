"""`watch` next to a CLI `index` on the same data folder: both wait for the writer lock with a message,
neither gives up, and what changed while `watch` waited is indexed afterwards."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from filelock import FileLock

from desktop_search.core.service import Service


def _wait(condition, timeout: float = 90.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


def test_watch_waits_for_a_cli_index_then_goes_on(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "first.txt").write_text("the first file zqfirst\n")
    data = tmp_path / "data"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HOME": str(tmp_path)}
    base = [sys.executable, "-m", "desktop_search", "--data-dir", str(data)]
    done = subprocess.run([*base, "index", "--keyword-only", str(docs)], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    watch_err = tmp_path / "watch.err"
    with open(watch_err, "w") as err:
        watcher = subprocess.Popen([*base, "watch"], env=env, stdout=subprocess.DEVNULL, stderr=err)
    try:
        with Service(data, allow_download=False) as service:
            def found(word: str) -> list[str]:
                return [Path(r.path).name for r in service.search(word, mode="keyword", snippets=False).results]

            (docs / "second.txt").write_text("watch is running zqsecond\n")
            assert _wait(lambda: found("zqsecond") == ["second.txt"]), watch_err.read_text()
            # another writer holds the lock (a long CLI index, as far as watch can tell)
            lock = FileLock(str(data / "write.lock"))
            lock.acquire()
            try:
                (docs / "meanwhile.txt").write_text("written while another process indexed zqmeanwhile\n")
                assert _wait(lambda: "waiting for another desktop-search process" in watch_err.read_text())
                cli_err = tmp_path / "cli.err"
                with open(cli_err, "w") as handle:
                    cli = subprocess.Popen([*base, "index", "--keyword-only"], env=env,
                                           stdout=subprocess.DEVNULL, stderr=handle)
                # the CLI index waits too, with a message, instead of failing
                assert _wait(lambda: "waiting for another desktop-search process" in cli_err.read_text()
                             or cli.poll() is not None)
                assert cli.poll() is None, cli_err.read_text()
                assert found("zqmeanwhile") == []
            finally:
                lock.release()
            assert cli.wait(300) == 0, cli_err.read_text()
            assert watcher.poll() is None, watch_err.read_text()  # watch survived and goes on
            assert _wait(lambda: found("zqmeanwhile") == ["meanwhile.txt"])
            (docs / "after.txt").write_text("after the CLI index zqafter\n")
            assert _wait(lambda: found("zqafter") == ["after.txt"]), watch_err.read_text()
            (docs / "first.txt").unlink()
            assert _wait(lambda: found("zqfirst") == [])
    finally:
        watcher.send_signal(signal.SIGTERM)
        try:
            code = watcher.wait(60)
        except subprocess.TimeoutExpired:
            watcher.kill()
            raise
    assert code == 0, watch_err.read_text()
    assert "Traceback" not in watch_err.read_text()
