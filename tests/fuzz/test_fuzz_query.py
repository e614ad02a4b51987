"""Fuzz the query parser and the keyword search behind it (issue 11, hostile input).

Whatever a person types (or a script passes on the command line, lone surrogates included), the parser
returns a query or raises QueryError with a message, and keyword search answers or raises QueryError:
never another exception, never an SQLite error. Bounded in CI; ``FUZZ_EXAMPLES=N`` for more.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest
from fuzzlib import fuzz_settings
from hypothesis import given
from hypothesis import strategies as st

from desktop_search.core.search import QueryError, parse_query

PIECES = ["ext:", "dir:", "date:", "size:", "-", '"', " ", "..", ">", "<", ">=", "=", ",", ".", "k", "M", "g",
          "b", "2024", "2024-03", "2024-13-40", "9999", "0", "1", "99999999999999999999", "1" * 400, "٢٠٢٤",
          "café", "*", "NEAR", "AND", "OR", "NOT", "(", ")", "^", ":", "'", "\\", "\x00", "\ud800", "\udcff",
          "\u200b", "\ufeff", "日本", "\t", "\n", "%", "_", "/", "~", "+", "{", "}", "[", "]", "$", "ß", "İ"]
# operator-aware queries (most bugs hide in ext:/date:/size: values) and arbitrary text, surrogates too
QUERIES = st.one_of(
    st.lists(st.sampled_from(PIECES), max_size=16).map("".join),
    st.text(max_size=60),
    st.text(alphabet=st.characters(codec=None, categories=None), max_size=30),
)

# found by fuzzing (each raised something other than QueryError before the fix)
REGRESSIONS = ["date:9999", "date:<9999-12", "date:1", "date:99999999999999999999", "date:<2024-13",
               "size:" + "1" * 400, "size:>" + "9" * 30 + "g", "\ud800", "ext:pdf \udcff", '"\ud800 x"',
               "-\"\udcff\"", "dir:\x00", '"! ?"', "-\"\"", "date:..", "date:>",
               '"-OR\x00NOT=%/\u65e5\u672c1e400..1_\x00', '-"a\x00b"']

SQLITE_MAX = 2**63 - 1


def check_parsed(text: str) -> None:
    try:
        q = parse_query(text)
    except QueryError as exc:
        assert str(exc)
        return
    assert q.raw == text
    for group in (q.words, q.phrases, q.excluded, q.dirs):
        assert all(isinstance(w, str) and w for w in group)
    assert all(e == e.lower() and not e.startswith(".") for e in q.exts)
    for bound in (q.after, q.before):
        assert bound is None or math.isfinite(bound)
    for size in (q.min_size, q.max_size):
        assert size is None or 0 <= size <= SQLITE_MAX


@pytest.mark.parametrize("text", REGRESSIONS)
def test_parser_regressions(text: str) -> None:
    check_parsed(text)


@fuzz_settings(400)
@given(QUERIES)
def test_parser_returns_a_query_or_a_query_error(text: str) -> None:
    check_parsed(text)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from desktop_search.core.service import Service

    root = tmp_path_factory.mktemp("fuzz-search")
    docs = root / "docs"
    docs.mkdir()
    texts = ["The lighthouse keeper's log, 2024.", "Sourdough starter: flour, water, salt.",
             "Volcanoes and magma chambers", "café résumé naïve 日本語 テキスト", "NEAR AND OR NOT * ^ ( )"]
    for i, text in enumerate(texts):
        (docs / f"doc{i}.txt").write_text(text)
    with Service(root / "data", allow_download=False) as svc:
        svc.index([str(docs)], encode=False)
        yield svc


def check_search(service: object, text: str) -> None:
    try:
        response = service.search(text, limit=5, mode="keyword")  # type: ignore[attr-defined]
    except QueryError:
        return
    for result in response.results:
        assert Path(result.path).exists()
        assert all(0 <= s <= e <= len(result.snippet) for s, e in result.highlights)


@pytest.mark.parametrize("text", REGRESSIONS)
def test_search_regressions(service: object, text: str) -> None:
    check_search(service, text)


@fuzz_settings(150)
@given(QUERIES)
def test_keyword_search_answers_or_refuses_any_query(service: object, text: str) -> None:
    check_search(service, text)
