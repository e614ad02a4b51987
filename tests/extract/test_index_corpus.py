"""Issue 4, end to end: `desktop-search index` over the whole shared corpus finishes, every failure is
listed by `failed --json` with its reason, and the rest are searchable."""

import json
import shutil

import pytest
from corpus_manifest import CORPUS, load_rows, normalise

pytestmark = pytest.mark.skipif(not (CORPUS / "MANIFEST.tsv").exists(), reason=f"corpus not found at {CORPUS}")


def test_index_whole_corpus_lists_failures_and_finds_the_rest(cli, tmp_path):
    files = tmp_path / "corpus"
    shutil.copytree(CORPUS / "files", files, symlinks=True)  # a copy: the indexer must not touch shared/
    data = tmp_path / "data"
    code, _, err = cli("--data-dir", data, "index", files, "--keyword-only")
    assert code == 0, err

    code, out, _ = cli("--data-dir", data, "failed", "--json")
    assert code == 0
    failed = {row["path"]: row["reason"] for row in json.loads(out)}
    assert all(reason and len(reason) < 300 for reason in failed.values())
    rows = load_rows()
    for row in rows:
        if row.expect == "error" and row.format != "symlink":
            path = str(row.file(files))
            shown = path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            assert shown in failed, f"{row.path} is not listed as failed"

    code, out, _ = cli("--data-dir", data, "status", "--json")
    status = json.loads(out)
    text_rows = [r for r in rows if r.expect == "text" and r.must_contain]
    assert status["pending"] + status["indexed"] >= 0.95 * len(text_rows)

    found = 0
    sample = text_rows[::8]
    for row in sample:
        phrase = normalise(row.must_contain)
        code, out, _ = cli("--data-dir", data, "search", f'"{phrase}"', "--mode", "keyword", "--json", "--limit", "50")
        names = [r["path"] for r in json.loads(out)["results"]]
        found += any(n.endswith(row.path.split("/")[-1]) for n in names)
    assert found >= 0.9 * len(sample), (found, len(sample))
