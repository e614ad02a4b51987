"""Private by default, clean arguments, exact paths, prompt stop, eval that leaves the data folder alone."""

from __future__ import annotations

import base64
import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from desktop_search.core import catalog as catalog_mod
from desktop_search.core.privacy import redacted_traceback
from desktop_search.core.service import Service


def _loose_paths(root: Path) -> list[str]:
    """Every path under ``root`` (itself included) whose mode gives group or others any access."""
    loose = []
    for path in [root, *root.rglob("*")]:
        st = path.lstat()
        if stat.S_ISLNK(st.st_mode):
            continue
        if stat.S_IMODE(st.st_mode) & 0o077:
            loose.append(f"{path.relative_to(root)} {oct(stat.S_IMODE(st.st_mode))}")
    return loose


def test_every_path_under_a_fresh_data_folder_is_owner_only(cli, tmp_path, topics, tiny_model):
    old = os.umask(0o022)  # the usual desktop umask: files 0644, folders 0755 unless the app says otherwise
    try:
        data = tmp_path / "data"
        code, _, err = cli("--data-dir", data, "--model", tiny_model, "index", topics)
        assert code == 0, err
        code, _, err = cli("--data-dir", data, "--model", tiny_model, "search", "sourdough")
        assert code == 0, err
        names = {p.name for p in data.rglob("*")}
        assert {"catalog.db", "state.json", "segments"} <= names
        assert any(n.startswith(("flat-", "plaid-")) for n in names)
        assert _loose_paths(data) == []
    finally:
        os.umask(old)


def test_an_existing_loose_data_folder_is_tightened_on_start(tmp_path, topics, tiny_model):
    data = tmp_path / "data"
    old = os.umask(0o022)
    try:
        with Service(data, model=str(tiny_model)) as service:
            service.index([str(topics)])
        # as an older version (or a copy) left it: world-readable everywhere
        for path in [data, *data.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        (data / "logs").mkdir(mode=0o755)
        (data / "logs" / "crash-old.log").write_text("old")
        (data / "logs" / "crash-old.log").chmod(0o644)
        assert _loose_paths(data)
        with Service(data, model=str(tiny_model)) as service:
            assert _loose_paths(data) == []
            service.index()  # and what it writes afterwards stays private
        assert _loose_paths(data) == []
    finally:
        os.umask(old)


def test_crash_tracebacks_leave_out_messages_unless_opted_in(monkeypatch):
    def fail() -> None:
        raise ValueError("secret query about my landlord")

    try:
        try:
            fail()
        except ValueError as exc:
            raise RuntimeError("while searching: the contract text") from exc
    except RuntimeError as exc:
        caught = exc
    monkeypatch.delenv("DESKTOP_SEARCH_CRASH_DETAILS", raising=False)
    text = redacted_traceback(type(caught), caught, caught.__traceback__)
    assert "ValueError" in text and "RuntimeError" in text and "fail" in text
    assert "ValueError: secret" not in text and "RuntimeError: while searching" not in text
    monkeypatch.setenv("DESKTOP_SEARCH_CRASH_DETAILS", "1")
    text = redacted_traceback(type(caught), caught, caught.__traceback__)
    assert "ValueError: secret query about my landlord" in text


@pytest.mark.parametrize("args", [
    ["--context-length", "0", "status"],
    ["--context-length", "-5", "status"],
    ["--threads", "-1", "status"],
    ["--threads", "0", "status"],
    ["--threads", "two", "status"],
    ["search", "bread", "--limit", "0"],
    ["search", "bread", "--limit", "-3"],
])
def test_out_of_range_options_are_usage_errors(cli, tmp_path, args):
    data = tmp_path / "data"
    code, _, err = cli("--data-dir", data, *args)
    assert code == 2, err
    assert "must be at least" in err or "not a whole number" in err
    assert not data.exists()  # refused before anything was opened


def test_a_failed_commit_is_rolled_back(tmp_path):
    """A COMMIT that fails (here a deferred foreign key; a full disk does the same) must not leave the
    connection inside the transaction: the next one would fail with 'within a transaction'."""
    catalog = catalog_mod.Catalog(tmp_path / "catalog.db")
    try:
        catalog.db.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
        catalog.db.execute(
            "CREATE TABLE child (id INTEGER PRIMARY KEY, "
            "parent INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)")
        with pytest.raises(sqlite3.IntegrityError), catalog.transaction():
            catalog.db.execute("INSERT INTO child(parent) VALUES (42)")  # checked only at COMMIT
        assert not catalog.db.conn.in_transaction
        with catalog.transaction():
            catalog.db.execute("INSERT INTO parent(id) VALUES (1)")
        assert catalog.scalar("SELECT COUNT(*) FROM child") == 0
        assert catalog.scalar("SELECT COUNT(*) FROM parent") == 1
    finally:
        catalog.close()


def test_non_utf8_paths_round_trip_exactly_through_json(cli, tmp_path, tiny_model):
    folder = tmp_path / "docs"
    folder.mkdir()
    raw = os.path.join(os.fsencode(folder), b"caf\xe9-menu.txt")
    with open(raw, "wb") as handle:
        handle.write(b"espresso cappuccino croissant menu")
    with open(os.path.join(os.fsencode(folder), b"plain.txt"), "wb") as handle:
        handle.write(b"cappuccino notes")
    data = tmp_path / "data"
    code, _, err = cli("--data-dir", data, "--model", tiny_model, "index", folder)
    assert code == 0, err
    code, out, err = cli("--data-dir", data, "--model", tiny_model, "search", "cappuccino", "--json",
                         "--mode", "keyword")
    assert code == 0, err
    results = {Path(r["path"]).name: r for r in json.loads(out)["results"]}
    assert "path_bytes_b64" not in results["plain.txt"]  # valid UTF-8: the path is exact already
    odd = next(r for name, r in results.items() if name.endswith("-menu.txt"))
    exact = base64.b64decode(odd["path_bytes_b64"])
    assert exact == raw and os.path.exists(exact)  # the bytes open the very file
    assert "\ufffd" in odd["path"]  # the display form says something is not printable


def test_an_unreadable_subfolder_is_reported_not_skipped_silently(unprivileged_cli):
    """Runs the real CLI without the capabilities that let root read anything (setpriv)."""
    base = Path(tempfile.mkdtemp(prefix="ds-unreadable-dir-"))
    try:
        folder = base / "docs"
        (folder / "private").mkdir(parents=True)
        (folder / "fine.txt").write_text("readable text about lighthouses")
        (folder / "private" / "diary.txt").write_text("hidden text")
        (folder / "private").chmod(0)
        run = unprivileged_cli(base)

        done = run("index", str(folder), "--keyword-only")
        assert done.returncode == 0, done.stderr
        assert "warning: folder" in done.stderr and "private" in done.stderr and "cannot be read" in done.stderr
        rows = json.loads(run("failed", "--json").stdout)
        assert [Path(r["path"]).name for r in rows] == ["private"]
        assert "cannot be read" in rows[0]["reason"]
        (folder / "private").chmod(0o755)
        done = run("index", "--keyword-only")
        assert done.returncode == 0, done.stderr
        assert json.loads(run("failed", "--json").stdout) == []  # readable again: no longer listed
        found = json.loads(run("search", "hidden", "--mode", "keyword", "--json").stdout)
        assert [Path(r["path"]).name for r in found["results"]] == ["diary.txt"]
    finally:
        (base / "docs" / "private").chmod(0o755)
        import shutil

        shutil.rmtree(base, ignore_errors=True)


def test_a_stop_during_encoding_keeps_what_was_committed_and_the_rest_resumes(tmp_path, topics, tiny_model):
    calls = {"forward": 0}
    with Service(tmp_path / "data", model=str(tiny_model)) as service:
        service.settings.batch_files = 3  # several commits
        encoder = service.encoder()
        real = encoder._forward

        def counting(sequences):  # type: ignore[no-untyped-def]
            calls["forward"] += 1
            return real(sequences)

        encoder._forward = counting  # type: ignore[method-assign]
        from desktop_search.core.indexer import Cancelled

        with pytest.raises(Cancelled):
            service.index([str(topics)], should_stop=lambda: calls["forward"] >= 2)
        status = service.status()
        assert 0 < status["indexed"] < 10 and status["indexed"] + status["pending"] == 10
        stopped_at = calls["forward"]
        assert stopped_at == 2  # asked to stop after the 2nd forward call: no 3rd one started
        report = service.index()
        assert report.encoded_files == status["pending"]
        assert service.status()["indexed"] == 10


def test_sigterm_ends_index_and_a_rerun_completes(tmp_path, topics, tiny_model):
    """The real CLI: SIGTERM while indexing ends it (exit 1, 'stopped'); the rerun finishes the rest.
    No timing is asserted here (tests/benchmarks/bench_stop.py measures it)."""
    more = topics / "more"
    more.mkdir()
    for i in range(12):
        for f in topics.glob("*.*"):
            (more / f"{i}-{f.name}").write_text(f.read_text() * 20)
    data = tmp_path / "data"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "desktop_search", "--data-dir", str(data), "--model", str(tiny_model), "index"]
    proc = subprocess.Popen([*cmd, str(topics)], stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stderr is not None
    for line in proc.stderr:  # progress lines: wait until encoding has begun
        if line.startswith("[encode]"):
            break
    proc.send_signal(signal.SIGTERM)
    rest = proc.stderr.read()
    code = proc.wait(timeout=120)
    finished = "indexed in" in rest
    assert code == 1 or finished, (code, rest)
    if not finished:
        assert "stopped" in rest and "Traceback" not in rest
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    with Service(data, model=str(tiny_model)) as service:
        status = service.status()
    assert status["indexed"] == 130 and status["pending"] == 0


def _beir(folder: Path) -> Path:
    folder.mkdir()
    docs = [("d1", "Sourdough", "How to bake a sourdough loaf with a starter."),
            ("d2", "Volcanoes", "Magma rises through the crust and erupts as lava."),
            ("d3", "Knitting", "Garter stitch scarves for beginners.")]
    with open(folder / "corpus.jsonl", "w") as handle:
        for _id, title, text in docs:
            handle.write(json.dumps({"_id": _id, "title": title, "text": text}) + "\n")
    with open(folder / "queries.jsonl", "w") as handle:
        handle.write(json.dumps({"_id": "q1", "text": "bake bread"}) + "\n")
        handle.write(json.dumps({"_id": "q2", "text": "lava eruption"}) + "\n")
    (folder / "qrels").mkdir()
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\n")
    return folder


def test_eval_leaves_the_data_folders_watched_folders_and_settings_unchanged(cli, tmp_path, topics, tiny_model):
    data = tmp_path / "data"
    code, _, err = cli("--data-dir", data, "--model", tiny_model, "index", topics)
    assert code == 0, err
    with Service(data, model=str(tiny_model)) as service:
        roots_before = service.roots()
        settings_before = service.writer.call(lambda c: c.load_settings().as_dict())
        counts_before = service.reader().counts()
    state_before = (data / "state.json").read_text()
    beir = _beir(tmp_path / "tiny-beir")
    code, out, err = cli("--data-dir", data, "--model", tiny_model, "eval", beir, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["docs"] == 3 and result["queries"] == 2
    with Service(data, model=str(tiny_model)) as service:
        assert service.roots() == roots_before
        assert service.writer.call(lambda c: c.load_settings().as_dict()) == settings_before
        assert service.reader().counts() == counts_before
    assert (data / "state.json").read_text() == state_before
    # the eval index lives apart, and is reused by the next run
    assert (data / "eval" / "tiny-beir" / "index" / "catalog.db").exists()
    code, out, err = cli("--data-dir", data, "--model", tiny_model, "eval", beir, "--json", "--exact")
    assert code == 0, err
    with Service(data, model=str(tiny_model)) as service:
        assert service.roots() == roots_before
        assert service.writer.call(lambda c: c.load_settings().as_dict()) == settings_before
