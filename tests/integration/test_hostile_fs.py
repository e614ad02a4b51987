"""A hostile file system in a watched folder (issue 11): names that are not UTF-8 or hold a newline, a path
of about 4,000 bytes, a FIFO (also as .gitignore), a socket and a device file. ``index`` completes and never
opens the FIFO (opening one for reading blocks until a writer comes); every file is indexed or listed with a
reason; ``search --json`` prints the odd names.

A watchdog thread keeps trying to open each FIFO for writing without blocking: that succeeds only while
someone holds it open for reading, so any read-open, blocked or not, is recorded (and released, so the
test reports it instead of hanging).
"""

from __future__ import annotations

import base64
import errno
import json
import os
import socket
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

WORD = "marmalade"


class FifoWatch:
    def __init__(self, fifos: list[Path]):
        self.fifos = fifos
        self.opened: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.wait(0.05):
            for fifo in self.fifos:
                try:
                    fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
                except OSError as exc:
                    if exc.errno not in (errno.ENXIO, errno.ENOENT):
                        raise
                    continue  # ENXIO: nobody has it open for reading, as it should be
                self.opened.append(str(fifo))
                os.close(fd)  # the reader sees end of file and goes on


@pytest.fixture
def fifo_watch() -> Iterator[callable]:
    watches: list[FifoWatch] = []

    def start(fifos: list[Path]) -> FifoWatch:
        watch = FifoWatch(fifos)
        watch.thread.start()
        watches.append(watch)
        return watch

    yield start
    for watch in watches:
        watch.stop.set()
        watch.thread.join(5)


def deep_path(base: Path, total: int = 4000) -> Path:
    """A file whose absolute path is ``total`` bytes long (nested folders of up to 200-byte names)."""
    name = "deep-file.txt"
    path = base
    while len(os.fsencode(path / name)) + 201 < total:
        path = path / ("n" * 200)
    filler = total - len(os.fsencode(path / name)) - 1
    path = path / ("m" * filler)
    path.mkdir(parents=True)
    return path / name


def build(docs: Path) -> dict[str, object]:
    docs.mkdir()
    made: dict[str, object] = {}
    bad = os.path.join(os.fsencode(docs), b"bad-\xff\xfe name.txt")
    with open(bad, "wb") as handle:
        handle.write(f"not utf-8 name {WORD}".encode())
    made["bad"] = os.fsdecode(bad)
    newline = docs / "line\nbreak.txt"
    newline.write_text(f"newline name {WORD}")
    made["newline"] = str(newline)
    deep = deep_path(docs)
    deep.write_text(f"deep {WORD}")
    assert len(os.fsencode(deep)) == 4000
    made["deep"] = str(deep)
    fifo = docs / "pipe.txt"
    os.mkfifo(fifo)
    made["fifo"] = fifo
    sub = docs / "sub"
    sub.mkdir()
    (sub / "inside.md").write_text(f"beside a FIFO .gitignore {WORD}")
    os.mkfifo(sub / ".gitignore")  # read by the scanner itself when .gitignore files are respected
    made["gitignore_fifo"] = sub / ".gitignore"
    (docs / "link-to-pipe.txt").symlink_to(fifo)
    sock_path = docs / "sock.txt"
    if len(os.fsencode(sock_path)) < 100:  # AF_UNIX paths are limited to 108 bytes
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(str(sock_path))
        made["socket"] = sock_path
        made["socket_obj"] = sock
    device = docs / "null-device.txt"
    try:
        os.mknod(device, stat.S_IFCHR | 0o600, os.makedev(1, 3))  # like /dev/null
        made["device"] = device
    except (PermissionError, OSError):
        pass  # needs CAP_MKNOD (root outside a restricted container): the other kinds still run
    return made


def by_path(rows: list[dict]) -> dict[str, dict]:
    out = {}
    for row in rows:
        exact = row.get("path_bytes_b64")
        key = os.fsdecode(base64.b64decode(exact)) if exact else row["path"]
        out[key] = row
    return out


def test_index_search_and_failed_with_a_hostile_file_system(tmp_path: Path, cli, fifo_watch) -> None:
    docs = tmp_path / "docs"
    made = build(docs)
    fifos = [made["fifo"], made["gitignore_fifo"]]
    watch = fifo_watch(fifos)
    data = tmp_path / "data"
    from desktop_search.core.paths import from_db
    from desktop_search.core.service import Service

    with Service(data, allow_download=False) as service:
        service.set_gitignore(True)
    try:
        code, out, err = cli("--data-dir", data, "index", docs, "--keyword-only")
        assert code == 0, err
        assert watch.opened == []  # nothing ever opened a FIFO for reading
        specials = [made[k] for k in ("fifo", "socket", "device") if k in made]
        assert f"{len(specials)} skipped (not documents" in err

        code, out, err = cli("--data-dir", data, "search", WORD, "--mode", "keyword", "--json", "--limit", "20")
        assert code == 0, err
        results = by_path(json.loads(out)["results"])
        display_bad = os.fsencode(made["bad"]).decode("utf-8", "replace")
        assert made["bad"] in results or display_bad in results
        assert made["newline"] in results
        assert made["deep"] in results
        assert str(docs / "sub" / "inside.md") in results

        # FIFOs, sockets and devices are recorded as skipped (like binaries: not in `failed`), with a reason
        with Service(data, allow_download=False) as service:
            recorded = {from_db(row[0]) for row in service.reader().known_failures()}
            listed = {r["path"]: r["reason"] for r in service.skipped()}
        assert {str(p) for p in specials} <= recorded
        # symbolic links are not followed by the scan: listed as skipped with that reason (issue 15)
        assert listed[str(docs / "link-to-pipe.txt")].startswith("symbolic link")
        code, out, err = cli("--data-dir", data, "failed", "--json")
        assert code == 0, err
        assert not {str(p) for p in specials} & set(by_path(json.loads(out)))
        special = {"fifo": "named pipe (FIFO)", "socket": "socket", "device": "device file"}
        for key, what in special.items():
            if key in made:
                code, out, err = cli("--data-dir", data, "extract", made[key], "--json")
                shown = json.loads(out)
                assert shown["skipped"] and shown["error"] == f"{what}: not a regular file", shown

        code, out, err = cli("--data-dir", data, "index")  # a second run: nothing new, nothing blocks
        assert code == 0, err
        code, out, err = cli("--data-dir", data, "extract", made["fifo"])
        assert code == 1 and "named pipe (FIFO): not a regular file" in err
        assert watch.opened == []
    finally:
        if "socket_obj" in made:
            made["socket_obj"].close()


def test_file_digest_refuses_a_fifo_without_blocking(tmp_path: Path, fifo_watch) -> None:
    """The diff hashes files in the main process: one swapped for a FIFO after the scan must not hang it."""
    from desktop_search.core.index.segments import file_digest

    fifo = tmp_path / "swapped.txt"
    os.mkfifo(fifo)
    watch = fifo_watch([fifo])
    with pytest.raises(OSError):
        file_digest(fifo)
    (tmp_path / "plain.txt").write_text("x")
    assert len(file_digest(tmp_path / "plain.txt")) == 32
    assert watch.opened == []  # (a non-blocking open was closed at once: the watchdog may miss it, harmlessly)


def test_extractor_refuses_a_fifo_it_was_handed(tmp_path: Path) -> None:
    """In-process (what a worker runs): a FIFO is skipped with a reason before anything opens it."""
    from desktop_search.core.extract.pool import extract_in_process

    fifo = tmp_path / "late.txt"
    os.mkfifo(fifo)
    outcome = extract_in_process(fifo)
    assert outcome.skipped and outcome.error == "named pipe (FIFO): not a regular file"
