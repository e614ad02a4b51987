"""Repair that cannot destroy, and that works: locked, full and read-only are not damage; a damaged
segment is moved aside and only its files re-encoded; search never serves a segment whose bytes changed."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from desktop_search.core import catalog as catalog_mod
from desktop_search.core import setaside
from desktop_search.core.service import CatalogError, Service, rebuild_catalog


def _one_error(err: str, word: str) -> bool:
    """Exactly one error line (progress lines aside), naming ``word``, and never a traceback."""
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    return len(errors) == 1 and word in errors[0] and "Traceback" not in err


def _names(out: str) -> list[str]:
    return [Path(r["path"]).name for r in json.loads(out)["results"]]


def _snapshot(data: Path) -> dict[str, int]:
    """Every path under the data folder (but the lock file) with its size: to prove nothing moved."""
    return {
        str(p.relative_to(data)): p.stat().st_size
        for p in sorted(data.rglob("*"))
        if p.is_file() and p.name != "write.lock" and not p.name.endswith(("-wal", "-shm"))
    }


@contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A small tmpfs of its own (root only; skipped with the reason where mounting is not allowed)."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (this test proves full-disk and read-only behaviour)")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not allowed here: {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def fill(folder: Path, leave: int = 0) -> Path:
    """Take every free byte of the file system holding ``folder`` but ``leave``."""
    filler = folder / "filler.bin"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 20, 1 << 16, 1 << 12, 512, 1):
            chunk = b"\0" * size
            while True:
                try:
                    os.write(fd, chunk)
                except OSError:
                    break
        if leave:
            os.ftruncate(fd, max(0, os.fstat(fd).st_size - leave))
    finally:
        os.close(fd)
    return filler


def test_a_busy_catalog_is_reported_as_busy_and_never_repaired(cli, tmp_path, topics, tiny_model, monkeypatch):
    data = tmp_path / "data"
    code, _, err = cli("--data-dir", data, "--model", tiny_model, "index", topics)
    assert code == 0, err
    (topics / "extra.txt").write_text("a new note about lighthouse keepers")  # repair would have work to do
    before = _snapshot(data)
    monkeypatch.setattr(catalog_mod.connection, "BUSY_TIMEOUT_S", 0.3)  # the default waits 30 s for the lock
    holder = sqlite3.connect(str(data / "catalog.db"), isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        code, out, err = cli("--data-dir", data, "--model", tiny_model, "doctor", "--repair")
        assert code == 1
        assert "busy" in err and err.count("\n") == 1 and "damaged" not in err and "Traceback" not in err
        assert _snapshot(data) == before  # nothing deleted, moved or rewritten
        assert not (data / "set-aside").exists()
        with pytest.raises(CatalogError):
            rebuild_catalog(data)  # a sound (busy) catalog is never rebuilt
        assert _snapshot(data) == before
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    code, _, err = cli("--data-dir", data, "--model", tiny_model, "index")
    assert code == 0, err
    # by keyword: the point is that the index goes on after the refusal; the tiny model's random meaning
    # may rank another file first in hybrid mode
    code, out, _ = cli("--data-dir", data, "--model", tiny_model, "search", "lighthouse keepers", "--json",
                       "--mode", "keyword")
    assert code == 0 and _names(out)[0] == "extra.txt"


def test_a_sound_catalog_is_never_rebuilt(tmp_path, topics, tiny_model):
    data = tmp_path / "data"
    with Service(data, model=str(tiny_model)) as service:
        service.index([str(topics)], encode=False)
    before = _snapshot(data)
    with pytest.raises(CatalogError, match="passes its integrity check"):
        rebuild_catalog(data)
    assert _snapshot(data) == before and not (data / "set-aside").exists()


def test_pending_work_is_a_note_not_a_problem(cli, tmp_path, topics, tiny_model):
    data = tmp_path / "data"
    code, _, err = cli("--data-dir", data, "--model", tiny_model, "index", topics, "--keyword-only")
    assert code == 0, err
    code, out, _ = cli("--data-dir", data, "--model", tiny_model, "doctor")
    assert code == 0, out
    assert "note: 10 file(s) wait for encoding" in out and "problem" not in out


def test_a_segment_with_changed_bytes_is_not_served_and_repair_re_encodes_exactly_its_files(
        cli, tmp_path, topics, tiny_model, monkeypatch):
    data = tmp_path / "data"
    with Service(data, model=str(tiny_model)) as service:
        service.settings.batch_files = 4  # several segments
        service.index([str(topics)])
        segments = service.reader().query("SELECT id, dir FROM segments WHERE state = 'live' ORDER BY id")
        assert len(segments) >= 2
        victim = segments[0]
        held = {Path(r["path"]).name for r in service.reader().query(
            "SELECT DISTINCT f.path FROM passages p JOIN files f ON f.id = p.file_id WHERE p.segment_id = ?",
            [victim["id"]])}
    assert held
    vectors = data / "segments" / victim["dir"] / "vectors.npy"
    raw = bytearray(vectors.read_bytes())
    for i in range(len(raw) - 4096, len(raw)):  # same size, other bytes: only the checksum can tell
        raw[i] ^= 0x5A
    vectors.write_bytes(bytes(raw))

    with Service(data, model=str(tiny_model)) as service:
        response = service.search("bread sourdough loaf", limit=20, mode="semantic")
        assert response.notice and "damaged" in response.notice
        damaged = service.store.damaged  # keyed by segment folder (or id)
        assert (victim["dir"] in damaged or victim["id"] in damaged) and "checksum" in str(damaged)
        served = {Path(r.path).name for r in response.results}
        assert not served & held  # its files have no other vectors: nothing of it is ranked by meaning
        assert served  # the other segments still answer

    code, out, _ = cli("--data-dir", data, "--model", tiny_model, "doctor")
    assert code == 1 and f"segment {victim['id']} is damaged" in out and "checksum" in out
    code, out, err = cli("--data-dir", data, "--model", tiny_model, "doctor", "--repair")
    assert code == 0, out + err
    assert f"({len(held)} file(s) encoded" in out and "consistent (after repair)" in out
    aside = list((data / "set-aside").glob("*/segments/" + victim["dir"]))
    assert len(aside) == 1 and (aside[0] / "vectors.npy").read_bytes() == bytes(raw)  # moved, not deleted
    code, out, _ = cli("--data-dir", data, "--model", tiny_model, "doctor")
    assert code == 0 and out.strip() == "consistent"
    code, out, _ = cli("--data-dir", data, "--model", tiny_model, "search", "sourdough", "--json")
    assert code == 0 and "notice" not in json.loads(out)
    # the next repair (another process) that passes its deep check drops the earlier set-aside parts
    monkeypatch.setattr(setaside, "_made_here", set())
    code, out, _ = cli("--data-dir", data, "--model", tiny_model, "doctor", "--repair")
    assert code == 0 and not (data / "set-aside").exists()


def test_a_garbage_catalog_is_moved_aside_with_its_segments_not_deleted(cli, tmp_path, topics, tiny_model):
    data = tmp_path / "data"
    code, _, err = cli("--data-dir", data, "--model", tiny_model, "index", topics)
    assert code == 0, err
    segment_names = sorted(p.name for p in (data / "segments").iterdir())
    for suffix in ("-wal", "-shm"):
        (data / f"catalog.db{suffix}").unlink(missing_ok=True)
    garbage = os.urandom(64 * 1024)
    (data / "catalog.db").write_bytes(garbage)
    code, out, err = cli("--data-dir", data, "--model", tiny_model, "doctor", "--repair")
    assert code == 0, out + err
    aside = list((data / "set-aside").iterdir())
    assert len(aside) == 1
    assert (aside[0] / "catalog.db").read_bytes() == garbage
    assert sorted(p.name for p in (aside[0] / "segments").iterdir()) == segment_names
    code, out, _ = cli("--data-dir", data, "--model", tiny_model, "search", "sourdough", "--json")
    assert _names(out)[0] == "bread.txt"


def _copies(src: Path, target: Path, n: int) -> None:
    target.mkdir()
    for i in range(n):
        for f in src.iterdir():
            if f.is_file():
                (target / f"{i:02d}-{f.name}").write_text(f.read_text() + f"\ncopy {i}\n")


def _status(cli, data, model) -> dict:
    code, out, err = cli("--data-dir", data, "--model", model, "status", "--json")
    assert code == 0, err
    return json.loads(out)


def test_disk_full_during_index_and_at_rest(cli, tmp_path, topics, tiny_model):
    more = tmp_path / "more"
    _copies(topics, more, 12)  # 120 files: their passages need more room than the full disk has
    with tmpfs(tmp_path / "mnt", "6m") as mnt:
        data = mnt / "data"
        code, _, err = cli("--data-dir", data, "--model", tiny_model, "index", topics)
        assert code == 0, err

        # --- full during index: the catalog opens, then new files to extract and encode fill the disk
        filler = fill(mnt, leave=192 * 1024)
        code, _, err = cli("--data-dir", data, "--model", tiny_model, "index", more)
        assert code == 1 and _one_error(err, "full"), err
        code, out, err = cli("--data-dir", data, "--model", tiny_model, "search", "sourdough", "--mode", "keyword",
                             "--json")
        assert code == 0, err
        assert "bread.txt" in _names(out)  # what was committed is searchable while the disk is full
        before = _snapshot(data)
        code, out, err = cli("--data-dir", data, "--model", tiny_model, "doctor", "--repair")
        assert code == 1 and _one_error(err, "full"), out + err
        assert not (data / "set-aside").exists() and (data / "catalog.db").exists()
        assert set(before) <= set(_snapshot(data))  # nothing moved aside or lost
        filler.unlink()
        code, _, err = cli("--data-dir", data, "--model", tiny_model, "index", more)
        assert code == 0, err
        status = _status(cli, data, tiny_model)
        assert status["indexed"] == 130 and status["pending"] == 0
        code, out, _ = cli("--data-dir", data, "--model", tiny_model, "search", "copy", "--mode", "keyword",
                           "--limit", "500", "--json")
        found = [r["path"] for r in json.loads(out)["results"]]
        assert len(found) == len(set(found)) == 120  # every file exactly once

        # --- full at rest (no room even for SQLite's -shm file): a changed file waits; repair cannot write it
        (topics / "bread.txt").write_text("A guide to repairing bicycle punctures with a patch kit.\n" * 50)
        filler = fill(mnt)
        before = _snapshot(data)
        code, out, err = cli("--data-dir", data, "--model", tiny_model, "doctor", "--repair")
        assert code == 1 and _one_error(err, "full"), out + err
        assert not (data / "set-aside").exists() and set(before) <= set(_snapshot(data))
        code, out, _ = cli("--data-dir", data, "--model", tiny_model, "search", "sourdough", "--mode", "keyword",
                           "--json")
        assert code == 0 and "bread.txt" in _names(out)  # still the committed (old) text
        filler.unlink()
        code, out, err = cli("--data-dir", data, "--model", tiny_model, "doctor", "--repair")
        assert code == 0, out + err
        code, out, _ = cli("--data-dir", data, "--model", tiny_model, "doctor")
        assert code == 0 and out.strip() == "consistent"
        status = _status(cli, data, tiny_model)
        assert status["indexed"] == 130 and status["pending"] == 0
        code, out, _ = cli("--data-dir", data, "--model", tiny_model, "search", "bicycle punctures", "--mode",
                           "keyword", "--json")
        assert _names(out) == ["bread.txt"]  # the change made while full is in, once


def test_read_only_data_folder_searches_and_writers_say_why(cli, tmp_path, topics, tiny_model):
    with tmpfs(tmp_path / "mnt", "16m") as mnt:
        data = mnt / "data"
        code, _, err = cli("--data-dir", data, "--model", tiny_model, "index", topics)
        assert code == 0, err
        done = subprocess.run(["mount", "-o", "remount,ro", str(mnt)], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot remount read-only here: {done.stderr.strip()}")
        for mode in ("keyword", "semantic", "hybrid"):
            code, out, err = cli("--data-dir", data, "--model", tiny_model, "search", "sourdough bread", "--mode",
                                 mode, "--json")
            assert code == 0, (mode, err)
            assert "bread.txt" in _names(out), mode
        code, out, err = cli("--data-dir", data, "--model", tiny_model, "status", "--json")
        assert code == 0 and json.loads(out)["indexed"] == 10
        for command in (["index"], ["index", topics], ["remove", topics], ["doctor", "--repair"]):
            code, out, err = cli("--data-dir", data, "--model", tiny_model, *command)
            assert code == 1 and _one_error(err, "read-only"), (command, err)


def test_a_rebuilt_catalog_keeps_the_persons_patterns_gitignore_choice_and_model(cli, tmp_path, topics, tiny_model):
    """state.json mirrors every choice, so `doctor --repair` after a lost catalog forgets none of them:
    an added pattern, a removed default, the .gitignore choice and the model switched to."""
    data = tmp_path / "data"
    code, _, err = cli("--data-dir", data, "index", "--keyword-only", topics)
    assert code == 0, err
    assert cli("--data-dir", data, "exclude", "*.log")[0] == 0
    assert cli("--data-dir", data, "include", "node_modules/")[0] == 0
    assert cli("--data-dir", data, "exclusions", "--gitignore", "on")[0] == 0
    assert cli("--data-dir", data, "model", tiny_model)[0] == 0
    before = json.loads(cli("--data-dir", data, "exclusions", "--json")[1])
    for suffix in ("-wal", "-shm"):
        (data / f"catalog.db{suffix}").unlink(missing_ok=True)
    (data / "catalog.db").write_bytes(os.urandom(64 * 1024))
    code, out, err = cli("--data-dir", data, "doctor", "--repair")
    assert code == 0, out + err
    after = json.loads(cli("--data-dir", data, "exclusions", "--json")[1])
    assert after == before and after["gitignore"] is True
    assert "*.log" in {p["pattern"] for p in after["patterns"]}
    assert "node_modules/" not in {p["pattern"] for p in after["patterns"]}
    code, out, _ = cli("--data-dir", data, "model", "--json")
    assert code == 0 and str(tiny_model) in out
