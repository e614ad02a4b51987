"""Acceptance run over the shared extraction corpus (../shared/corpus next to the repository).

Every file goes through the real isolated pool, hostile ones included, exactly as the indexer runs it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from corpus_manifest import CORPUS, judge, load_rows

from desktop_search.core.extract import ExtractLimits, extract_many

pytestmark = pytest.mark.skipif(
    not (CORPUS / "MANIFEST.tsv").is_file(),
    reason=f"extraction corpus not found at {CORPUS} (expected ../shared/corpus next to the repository)",
)


@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    rows = load_rows()
    files = CORPUS / "files"
    loop_dir = tmp_path_factory.mktemp("symlink-loop")
    by_path = {}
    for row in rows:
        if row.format == "symlink":
            os.symlink("loop-b", loop_dir / "loop-a")
            os.symlink("loop-a", loop_dir / "loop-b")
            by_path[str(loop_dir / "loop-a")] = row
        else:
            path = row.file(files)
            assert path.exists() or path.is_symlink(), f"manifest row without a file: {row.path}"
            by_path[str(path)] = row
    started = time.monotonic()
    outcomes = list(extract_many(list(by_path), ExtractLimits(), workers=2))
    seconds = time.monotonic() - started
    return {"rows": by_path, "outcomes": outcomes, "seconds": seconds}


def _failures(run: dict, expect: str) -> tuple[int, list[str]]:
    total, bad = 0, []
    for outcome in run["outcomes"]:
        row = run["rows"][outcome.path]
        if row.expect != expect:
            continue
        total += 1
        why = judge(row, outcome)
        if why:
            bad.append(f"{row.path}: {why}")
    return total, bad


def test_one_outcome_per_file_and_no_hang(corpus_run: dict) -> None:
    paths = [o.path for o in corpus_run["outcomes"]]
    assert sorted(paths) == sorted(corpus_run["rows"]), "extract_many must yield exactly one outcome per path"
    timed_out = [o.path for o in corpus_run["outcomes"] if o.error and "timed out" in o.error]
    assert not timed_out, f"hangs: {timed_out}"


def test_whole_corpus_within_a_minute(corpus_run: dict) -> None:
    assert corpus_run["seconds"] <= 60, f"corpus took {corpus_run['seconds']:.1f} s"


def test_text_rows_at_least_98_percent(corpus_run: dict) -> None:
    total, bad = _failures(corpus_run, "text")
    ok = total - len(bad)
    assert total >= 200
    assert ok / total >= 0.98, f"{ok}/{total} text rows pass; failing:\n" + "\n".join(bad)


def test_every_error_row_fails_with_a_reason(corpus_run: dict) -> None:
    total, bad = _failures(corpus_run, "error")
    assert total >= 30
    assert not bad, "\n".join(bad)
    for outcome in corpus_run["outcomes"]:
        if corpus_run["rows"][outcome.path].expect == "error":
            assert outcome.result is None and outcome.error and len(outcome.error) < 200, outcome


def test_empty_rows_succeed_with_no_text(corpus_run: dict) -> None:
    total, bad = _failures(corpus_run, "empty")
    assert total >= 13
    assert not bad, "\n".join(bad)


def test_unsupported_rows_are_skipped_or_failed(corpus_run: dict) -> None:
    total, bad = _failures(corpus_run, "unsupported")
    assert total >= 13
    assert not bad, "\n".join(bad)


def test_symlink_loop_is_reported(corpus_run: dict) -> None:
    [outcome] = [o for o in corpus_run["outcomes"] if corpus_run["rows"][o.path].format == "symlink"]
    assert outcome.result is None and outcome.error == "symbolic link loop"


def test_worker_memory_stays_under_one_gigabyte(corpus_run: dict) -> None:
    reported = max((o.worker_rss_mb or 0.0) for o in corpus_run["outcomes"])
    assert 0 < reported <= 1024
    # Workers that were killed or crashed cannot report; their address space was capped at 1024 MB
    # (RLIMIT_AS), which bounds their resident memory too.


def test_hostile_files_fail_for_the_right_reason(corpus_run: dict) -> None:
    reasons = {Path(corpus_run["rows"][o.path].path).name: o.error for o in corpus_run["outcomes"]}
    assert reasons["gen-docx-billion-laughs.docx"] == "XML entity expansion refused"
    assert reasons["gen-odt-billion-laughs.odt"] == "XML entity expansion refused"
    assert reasons["odfpy-nasty.odt"] == "XML entity expansion refused"
    assert reasons["gen-docx-zip-bomb-1.9GiB.docx"].startswith("ZIP bomb refused")
    assert reasons["gen-pdf-aes256-user-password.pdf"].startswith("encrypted PDF")
    assert reasons["tika-testODTEncrypted.odt"].startswith("encrypted OpenDocument")
    assert reasons["gen-docx-password-Secret123.docx"].startswith("password-protected Office document")
    assert reasons["gen-eml-3000-nested-multiparts.eml"].startswith("MIME structure nested too deeply")
    assert reasons["gen-pdf-flate-bomb-8GiB.pdf"]  # PDFium hits the memory cap; pypdf refuses by itself
    # The 17-billion-cell sheet is read in a blink, not refused.
    assert reasons["gen-xlsx-dimension-A1-XFD1048576.xlsx"] is None
