"""The query language, construct by construct (issue 13): what the parser makes of each, and the FTS5
expressions built from it."""

import datetime as dt

import pytest

from desktop_search.core.query import QueryError, field_match, fts_term, parse_query, word_pattern, word_terms

# query -> the ParsedQuery attributes it must have (others at their defaults unless listed)
GRAMMAR = [
    ("solar panels", {"words": ["solar", "panels"], "phrases": [], "prefixes": set()}),
    # the last word is not prefix-matched any more (war is not Warszawa)
    ("war", {"words": ["war"], "prefixes": set()}),
    ('"red spot"', {"words": [], "phrases": ["red spot"]}),
    # a quoted single word is a phrase: exact, required, never a prefix
    ('"cat"', {"words": [], "phrases": ["cat"], "prefixes": set()}),
    ('"half a phr', {"phrases": ["half a phr"]}),  # a quote left open while typing closes at the end
    ("solar -moon", {"words": ["solar"], "excluded": ["moon"]}),
    ('flour -"side effects"', {"words": ["flour"], "excluded": ["side effects"]}),
    ("cat OR dog fish", {"words": ["cat", "dog", "fish"], "alternatives": [[0, 1]]}),
    ("a OR b OR c", {"words": ["a", "b", "c"], "alternatives": [[0, 1, 2]]}),
    ('"red spot" OR "blue moon"', {"phrases": ["red spot", "blue moon"],
                                   "phrase_groups": [["red spot", "blue moon"]]}),
    ("cat or dog", {"words": ["cat", "or", "dog"], "alternatives": []}),  # only upper-case OR is an operator
    ("OR cat", {"words": ["cat"], "alternatives": []}),  # an OR with nothing before it is dropped
    ("photo* cat", {"words": ["photo", "cat"], "prefixes": {"photo"}}),
    ("cat photo*", {"words": ["cat", "photo"], "prefixes": {"photo"}}),
    ("*", {"words": []}),
    ("title:budget", {"words": [], "fields": [("title", "budget", False)]}),
    ('title:"annual budget"', {"fields": [("title", "annual budget", False)]}),
    ("name:rep*", {"fields": [("name", "rep", True)], "prefixes": set()}),
    ("ext:pdf,.DOCX", {"exts": ["pdf", "docx"]}),
    ("dir:Projects", {"dirs": ["Projects"]}),
    ("size:>1M", {"min_size": 1024 * 1024}),
    ("size:<200k", {"max_size": 200 * 1024}),
    ("Alzheimer's disease", {"words": ["Alzheimer's", "disease"]}),
    # word* anywhere, not only last; a quoted star is no prefix (phrases are exact)
    ("red photo* spot", {"words": ["red", "photo", "spot"], "prefixes": {"photo"}}),
    ('"photo*"', {"words": [], "phrases": ["photo*"], "prefixes": set()}),
    ("-photo*", {"words": [], "excluded": ["photo*"]}),
    ('-"side effects" -moon', {"excluded": ["side effects", "moon"]}),
    ("author:Austen", {"words": [], "fields": [("author", "Austen", False)]}),
    ('author:"jane austen"', {"fields": [("author", "jane austen", False)]}),
    ("Title:Budget NAME:rep*", {"fields": [("title", "Budget", False), ("name", "rep", True)]}),
    ("title: budget", {"words": ["title:", "budget"], "fields": []}),  # an empty field is a word
    # a negated field leaves files out by that field, not by their text
    ("-author:smith", {"words": [], "excluded": [], "fields": [], "excluded_fields": [("author", "smith", False)]}),
    ('report -title:"annual budget"', {"words": ["report"], "excluded": [],
                                       "excluded_fields": [("title", "annual budget", False)]}),
    ("-name:draft* -Author:Hop*", {"excluded_fields": [("name", "draft", True), ("author", "Hop", True)]}),
    ("author:austen -author:smith", {"fields": [("author", "austen", False)],
                                     "excluded_fields": [("author", "smith", False)]}),
    ("-author: x", {"words": ["x"], "excluded": ["author:"], "excluded_fields": []}),  # no value: no field
    ("岩浆 パン", {"words": ["岩浆", "パン"]}),  # CJK words: found inside runs (tests/integration/test_cjk_search)
    ("ext:pdf dir:Projects date:2024 size:>1M budget",
     {"words": ["budget"], "exts": ["pdf"], "dirs": ["Projects"], "min_size": 1024 * 1024}),
    ('solar OR "red spot" -moon ext:md title:x', {"words": ["solar"], "phrases": ["red spot"], "excluded": ["moon"],
                                                 "exts": ["md"], "fields": [("title", "x", False)]}),
]


@pytest.mark.parametrize(("text", "expected"), GRAMMAR, ids=[g[0] for g in GRAMMAR])
def test_grammar(text, expected):
    q = parse_query(text)
    for attr, value in expected.items():
        assert getattr(q, attr) == value, attr


@pytest.mark.parametrize(("text", "after", "before"), [
    ("date:2024", dt.datetime(2024, 1, 1), dt.datetime(2025, 1, 1)),
    ("date:2024-03", dt.datetime(2024, 3, 1), dt.datetime(2024, 4, 1)),
    ("date:2024-01..2024-06", dt.datetime(2024, 1, 1), dt.datetime(2024, 7, 1)),
    ("date:>2024-03-01", dt.datetime(2024, 3, 1), None),
    ("date:<2024-03-01", None, dt.datetime(2024, 3, 2)),
])
def test_dates(text, after, before):
    q = parse_query(text)
    assert (q.after and dt.datetime.fromtimestamp(q.after)) == after
    assert (q.before and dt.datetime.fromtimestamp(q.before)) == before


@pytest.mark.parametrize(("text", "filter_only"), [
    ("ext:pdf", True), ("dir:Projects date:2024", True), ("size:>1M", True), ("title:budget", True),
    ("-draft ext:md", True), ("ext:pdf solar", False), ('ext:pdf "red spot"', False), ("", False),
    ("solar", False), ("OR", False), ("author:austen", True), ("name:rep* size:<200k", True),
    ("-\"side effects\"", True), ("ext:pdf OR", True), ("ext:pdf photo*", False),
    ("-author:smith", True), ("-title:draft solar", False),
])
def test_filter_only(text, filter_only):
    assert parse_query(text).filter_only is filter_only


def test_author_is_a_field_like_title_and_name():
    assert parse_query("author:Smith").fields == [("author", "Smith", False)]
    assert parse_query('author:"jane austen" pride').fields == [("author", "jane austen", False)]
    assert field_match("author", "austen", False) == 'author : "austen"'


@pytest.mark.parametrize(("text", "message"), [
    ("date:2024-13", "bad date"), ("date:yesterday", "bad date"), ("date:0", "bad date"),
    ("size:huge", "bad size"), ("size:>1T", "bad size"),
])
def test_bad_filters_are_one_line_errors(text, message):
    with pytest.raises(QueryError, match=message) as info:
        parse_query(text)
    assert "\n" not in str(info.value)


def test_unknown_prefix_before_a_colon_stays_a_word():
    assert parse_query("http://example.org re:budget").words == ["http://example.org", "re:budget"]


def test_fts_expressions():
    assert word_terms(parse_query("cats and dogs")) == ['"cats"', '"dogs"']  # function words dropped
    assert word_terms(parse_query("photo* cat")) == ['"photo"*', '"cat"']
    assert word_terms(parse_query("war")) == ['"war"']  # no implicit prefix
    assert word_terms(parse_query("the")) == ['"the"']  # a query of function words keeps them
    # an English clitic after an apostrophe is no term of its own (it matches every possessive)
    assert word_terms(parse_query("Rosalind's DNA")) == ['"Rosalind"', '"DNA"']
    assert word_terms(parse_query("don\u2019t o'brien rock'n'roll")) == ['"don"', '"o"', '"brien"', '"rock"', '"n"',
                                                                       '"roll"']
    assert word_terms(parse_query("'s")) == ['"s"']  # nothing before it: kept
    assert fts_term('say "hi"\x00') == '"say ""hi"" "'
    assert field_match("title", "annual budget", False) == 'title : "annual budget"'
    assert field_match("name", "rep", True) == 'name : "rep"*'
    assert field_match("name", "!!", False) == ""


@pytest.mark.parametrize(("word", "prefix", "matches", "misses"), [
    ("study", False, ["studies", "Study", "studied"], ["student"]),
    ("cat", False, ["cat", "cats"], ["Caterpillar", "catalogage"]),
    ("war", False, ["war", "wars"], ["Warszawa"]),
    ("photo", True, ["photograph", "photo"], ["telephoto"]),
])
def test_word_pattern_for_coverage(word, prefix, matches, misses):
    import re

    pattern = re.compile(word_pattern(word, prefix), re.IGNORECASE)
    assert all(pattern.search(m) for m in matches)
    assert not any(pattern.search(m) for m in misses)


TEXTS = ["Several studies of sleep", "Caterpillar catalogage cats", "Warszawa; the war, wars", "photo_2023 telephoto",
         "用Python编程 photograph", "地下的岩浆沿着", "STUDIED Studying", "Ça été", "x"]


@pytest.mark.parametrize("word", ["study", "cat", "war", "photo", "python", "岩浆", "studying", "été", "x", "wars"])
def test_coverage_matches_the_word_pattern_without_compiling_it(word):
    """Keyword coverage tests words by their forms (a set lookup), not by compiling word_pattern (5 ms a
    word): both must find the same texts."""
    import re

    from desktop_search.core.query import ParsedQuery
    from desktop_search.core.search.keyword import coverage_of

    for prefix in (False, True):
        pattern = re.compile(word_pattern(word, prefix), re.IGNORECASE)
        q = ParsedQuery(raw=word, words=[word], prefixes={word} if prefix else set())
        coverage = coverage_of(q, [word])
        for text in TEXTS:
            assert (coverage(text) == 1.0) == bool(pattern.search(text)), (word, prefix, text)


@pytest.mark.parametrize("query", ["study cat war", "photo* stud* cat", "岩浆 パン python", "cats studies study"])
def test_words_regex_marks_what_each_word_pattern_marks(query):
    """The highlight pattern puts every word inside one pair of boundaries (their CJK classes are most of
    re.compile's time): it must mark the same spans as the alternation of the words' own patterns."""
    import re

    from desktop_search.core.query import fts_words, words_regex

    q = parse_query(query)
    words, prefixes = tuple(fts_words(q.words)), frozenset(q.prefixes)
    each = re.compile("|".join(sorted((word_pattern(w, w in prefixes) for w in words), key=len, reverse=True)),
                      re.IGNORECASE)
    for text in [*TEXTS, "Cats study; studies of war-time photography", "用Python编程的岩浆パンです"]:
        assert [m.span() for m in words_regex(words, prefixes).finditer(text)] == \
            [m.span() for m in each.finditer(text)], text
