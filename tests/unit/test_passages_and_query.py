import datetime as dt

import pytest

from desktop_search.core.extract.types import page_at
from desktop_search.core.passages import split_passages
from desktop_search.core.search import QueryError, parse_query


def test_passages_tile_the_text_and_never_cross_a_page():
    pages = ["alpha " * 300, "beta " * 50, "gamma " * 400]
    text = "".join(pages)
    starts = [0, len(pages[0]), len(pages[0]) + len(pages[1])]
    spans = split_passages(text, starts, target_chars=500)
    assert spans[0].start == 0 and spans[-1].end == len(text)
    assert all(a.end == b.start for a, b in zip(spans, spans[1:], strict=False))
    for s in spans:
        assert page_at(starts, s.start) == page_at(starts, s.end - 1) == s.page
        assert s.end - s.start <= 650
    assert {s.page for s in spans} == {1, 2, 3}


def test_passages_cut_at_paragraphs_when_they_can():
    text = ("word " * 60 + "\n\n") * 10
    spans = split_passages(text, [], target_chars=400)
    assert all(text[s.end - 2 : s.end] == "\n\n" for s in spans[:-1])


def test_query_syntax():
    q = parse_query('solar "red spot" -moon ext:pdf,txt dir:Projects size:>1M date:2024-03')
    assert q.words == ["solar"]
    assert q.phrases == ["red spot"]
    assert q.excluded == ["moon"]
    assert q.exts == ["pdf", "txt"]
    assert q.dirs == ["Projects"]
    assert q.min_size == 1024 * 1024
    assert dt.datetime.fromtimestamp(q.after) == dt.datetime(2024, 3, 1)
    assert dt.datetime.fromtimestamp(q.before) == dt.datetime(2024, 4, 1)


def test_unfinished_quote_while_typing_is_not_an_error():
    q = parse_query('"half a phr')
    assert q.phrases == ["half a phr"]


def test_bad_filters_give_a_clear_error():
    with pytest.raises(QueryError, match="bad size"):
        parse_query("size:huge")
    with pytest.raises(QueryError, match="bad date"):
        parse_query("date:yesterday")


def test_apostrophes_are_part_of_words_and_excluded_phrases_stay_phrases():
    q = parse_query("Alzheimer's disease -\"side effects\"")
    assert q.words == ["Alzheimer's", "disease"]
    assert q.excluded == ["side effects"]
