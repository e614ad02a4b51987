"""The isolation contract of the worker pool: hangs, crashes and memory blow-ups cost one file only."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from desktop_search.core.extract import ExtractLimits, extract_many, extract_one


@pytest.fixture
def faults(monkeypatch: pytest.MonkeyPatch) -> None:
    """Enable the worker's test hook: files named fault-hang*/fault-crash*/fault-exit* misbehave."""
    monkeypatch.setenv("DESKTOP_SEARCH_EXTRACT_FAULTS", "1")


def _write(path: Path, text: str = "plain words for the index\n") -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def _children() -> set[int]:
    """PIDs of this process's live children (from /proc)."""
    me = os.getpid()
    kids = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == me and fields[0] != "Z":
            kids.add(int(entry))
    return kids


def test_hang_is_killed_and_the_rest_goes_on(tmp_path: Path, faults: None) -> None:
    good = [_write(tmp_path / f"good-{i}.txt", f"document number {i}\n") for i in range(6)]
    hang = _write(tmp_path / "fault-hang.txt")
    limits = ExtractLimits(timeout_s=1.5)
    started = time.monotonic()
    outcomes = {o.path: o for o in extract_many([hang, *good], limits, workers=2)}
    elapsed = time.monotonic() - started
    assert set(outcomes) == {hang, *good}
    assert outcomes[hang].result is None
    assert outcomes[hang].error == "timed out after 1.5 s"
    for i, path in enumerate(good):
        assert outcomes[path].result is not None
        assert outcomes[path].result.text == f"document number {i}\n"
    assert elapsed < 30


def test_crash_and_exit_are_reported_and_the_worker_replaced(tmp_path: Path, faults: None) -> None:
    crash = _write(tmp_path / "fault-crash.txt")
    exit_ = _write(tmp_path / "fault-exit.txt")
    good = [_write(tmp_path / f"ok-{i}.md", f"# Title {i}\nbody\n") for i in range(4)]
    outcomes = {o.path: o for o in extract_many([crash, *good[:2], exit_, *good[2:]], workers=1)}
    assert set(outcomes) == {crash, exit_, *good}
    assert outcomes[crash].error is not None and "SIGSEGV" in outcomes[crash].error
    assert outcomes[exit_].error == "extractor crashed (exit code 3)"
    for i, path in enumerate(good):
        assert outcomes[path].result is not None and outcomes[path].result.title == f"Title {i}"


def test_memory_cap_fails_the_file_not_the_run(tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    with open(big, "wb") as handle:
        handle.write(b"all work and no play makes a dull index\n" * 6_000_000)  # ~240 MB
    small = _write(tmp_path / "small.txt", "still indexed\n")
    limits = ExtractLimits(memory_mb=400, max_text_chars=400_000_000, max_file_bytes=1 << 30)
    outcomes = {o.path: o for o in extract_many([str(big), small], limits, workers=1)}
    assert outcomes[str(big)].result is None
    assert outcomes[str(big)].error is not None
    assert "memory" in outcomes[str(big)].error
    assert outcomes[small].result is not None and outcomes[small].result.text == "still indexed\n"
    assert (outcomes[small].worker_rss_mb or 0) <= 400


def test_closing_the_generator_kills_the_workers(tmp_path: Path, faults: None) -> None:
    before = _children()
    paths = [_write(tmp_path / "first.txt")] + [_write(tmp_path / f"fault-hang-{i}.txt") for i in range(3)]
    gen = extract_many(paths, ExtractLimits(timeout_s=600), workers=2)
    first = next(gen)
    assert first.path == paths[0]
    assert _children() - before, "workers should be running"
    gen.close()
    assert _children() - before == set()


def test_should_stop_cancels_promptly(tmp_path: Path, faults: None) -> None:
    paths = [_write(tmp_path / "a.txt")] + [_write(tmp_path / f"fault-hang-{i}.txt") for i in range(4)]
    seen: list[str] = []
    started = time.monotonic()
    for outcome in extract_many(paths, ExtractLimits(timeout_s=600), workers=2, should_stop=lambda: bool(seen)):
        seen.append(outcome.path)
    assert seen == [paths[0]]
    assert time.monotonic() - started < 20  # not the 600 s timeout


def test_paths_are_consumed_lazily(tmp_path: Path) -> None:
    pulled: list[int] = []

    def source():  # type: ignore[no-untyped-def]
        for i in range(20):
            pulled.append(i)
            yield _write(tmp_path / f"lazy-{i}.txt", f"n{i}\n")

    gen = extract_many(source(), workers=1)
    next(gen)
    assert len(pulled) < 20
    gen.close()


def test_extract_one_survives_hostile_input_with_one_line_reason(tmp_path: Path) -> None:
    bomb = tmp_path / "laughs.docx"
    _billion_laughs_docx(bomb)
    outcome = extract_one(bomb)
    assert outcome.result is None
    assert outcome.error == "XML entity expansion refused"
    assert "\n" not in outcome.error


def test_missing_file_and_directory(tmp_path: Path) -> None:
    outcomes = {o.path: o for o in extract_many([str(tmp_path / "gone.txt"), str(tmp_path)], workers=1)}
    assert outcomes[str(tmp_path / "gone.txt")].error == "file disappeared before it could be read"
    assert outcomes[str(tmp_path)].error == "is a directory"


def test_non_utf8_file_name(tmp_path: Path) -> None:
    name = os.fsdecode(b"caf\xe9 notes.txt")
    path = tmp_path / name
    path.write_bytes(b"menu du jour\n")
    outcome = extract_one(path)
    assert outcome.path == str(path)
    assert outcome.result is not None and outcome.result.text == "menu du jour\n"


def _billion_laughs_docx(path: Path) -> None:
    import zipfile

    entities = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10)
    )
    document = (
        f'<?xml version="1.0"?><!DOCTYPE w:document [{entities}]>'
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        "<w:body><w:p><w:r><w:t>&lol9;</w:t></w:r></w:p></w:body></w:document>"
    )
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", document)
