"""Keyword retrieval finds every file however many passages another file has (issue 13): the best
passages are grouped by file in a small first try, and a wider one follows when it held too few files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from desktop_search.core.service import Service

    root = tmp_path_factory.mktemp("keyword-ranking")
    docs = root / "docs"
    docs.mkdir()
    # ~100 passages, each saying volcano several times: they fill any small first try on their own
    para = "The volcano erupted; volcano ash fell on the volcano slopes near the old volcano. " * 14
    (docs / "long.txt").write_text("\n\n".join(f"Chapter {i}. {para}" for i in range(100)))
    (docs / "short.txt").write_text("Notes from a walk by the sea, " * 30 + "and a volcano far away.")
    (docs / "other.txt").write_text("Nothing about mountains here.")
    with Service(root / "data", allow_download=False) as svc:
        svc.index([str(docs)], encode=False)
        yield svc


def test_a_file_of_many_passages_does_not_hide_the_others(service):
    c = service.reader()  # type: ignore[attr-defined]
    assert c.scalar("SELECT count(*) FROM passages p JOIN files f ON f.id = p.file_id WHERE f.name = 'long.txt'") > 60
    found = [Path(r.path).name for r in service.search("volcano", limit=2, mode="keyword").results]  # type: ignore
    assert found == ["long.txt", "short.txt"]
