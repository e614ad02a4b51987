"""Metadata fields done properly (issue 13): ``-author:`` / ``-title:`` / ``-name:`` leave files out by the
field, not by their text; free words also find files by their author and keywords (tags) alone; a file's
name and title weigh more than its author. Keyword mode: no model needed, RTF files carry the metadata."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


def rtf(text: str, title: str = "", author: str = "", keywords: str = "") -> str:
    info = "".join(f"{{\\{k} {v}}}" for k, v in (("title", title), ("author", author), ("keywords", keywords)) if v)
    return f"{{\\rtf1\\ansi{{\\info{info}}}\\pard {text}\\par}}"


FILES = {
    # written by Lovelace; her name is nowhere in the text
    "engine.rtf": rtf("Notes on the analytical engine and punched cards.", "Engine Notes", "Ada Lovelace",
                      "computing, looms"),
    # names Lovelace in its text, written by someone else
    "history.rtf": rtf("A history of the analytical engine, after the notes of Lovelace.", "Engine History",
                       "Grace Hopper"),
    # its only link to volcanoes is a keyword tag
    "trip.rtf": rtf("Photographs from the island trip, day by day.", "Island Trip", "Marie Curie",
                    "volcanology, basalt"),
    # the word in a long file name, against a short row where it is only the author
    "minutes-of-the-long-meeting-with-hopper-about-the-new-compilers.txt": "Minutes: budgets and staffing.",
}


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from desktop_search.core.service import Service

    root = tmp_path_factory.mktemp("keyword-fields")
    docs = root / "docs"
    docs.mkdir()
    for name, text in FILES.items():
        (docs / name).write_text(text)
    with Service(root / "data", allow_download=False) as svc:
        svc.index([str(docs)], encode=False)
        yield svc


def names(service: object, query: str) -> list[str]:
    response = service.search(query, limit=20, mode="keyword")  # type: ignore[attr-defined]
    return [Path(r.path).name for r in response.results]


def test_metadata_is_not_in_the_text(service):
    # what the other tests rely on: the author is only in the field
    assert names(service, '"Ada"') == []
    assert names(service, "author:lovelace") == ["engine.rtf"]


def test_negated_author_leaves_out_by_the_field_not_the_text(service):
    found = names(service, "analytical engine -author:lovelace")
    assert "engine.rtf" not in found  # written by Lovelace
    assert "history.rtf" in found  # only mentions her
    assert "history.rtf" not in names(service, "analytical engine -lovelace")  # a plain -word is by the text
    assert set(names(service, "engine -author:hop*")) == {"engine.rtf"}


def test_negated_title_and_name(service):
    assert names(service, 'engine -title:"engine history"') == ["engine.rtf"]
    assert "engine.rtf" in names(service, "engine -title:island")
    assert "trip.rtf" not in names(service, "photographs OR engine -name:trip")


def test_negated_field_alone_lists_the_other_files(service):
    assert set(names(service, "-author:lovelace")) == set(FILES) - {"engine.rtf"}
    assert set(names(service, "ext:rtf -author:curie")) == {"engine.rtf", "history.rtf"}


def test_free_word_finds_files_by_author_only(service):
    assert "engine.rtf" in names(service, "lovelace")  # her file, though its text never names her
    assert names(service, "curie") == ["trip.rtf"]


def test_free_word_finds_files_by_keywords(service):
    assert names(service, "volcanology") == ["trip.rtf"]
    assert names(service, "looms") == ["engine.rtf"]


def test_name_weighs_more_than_author(service):
    # BM25 favours the short row where "hopper" is the author; the column weights put the file name first
    found = names(service, "hopper")
    assert found[:2] == ["minutes-of-the-long-meeting-with-hopper-about-the-new-compilers.txt", "history.rtf"]
