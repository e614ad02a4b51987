"""The query language: one parser, and the FTS5 expressions built from it.

===================  ==========================================================================
``solar panels``     words: files with more of them rank first (by keyword and by meaning)
``"red spot"``       a phrase, exact (a quoted single word too: ``"cat"`` is not Caterpillar);
                     every phrase must appear
``-moon``            leave out files containing the word; ``-"side effects"`` the phrase
``cat OR dog``       alternatives: either counts as the same query word; ``"a b" OR "c d"``:
                     one of the phrases must appear
``photo*``           prefix, only where written (``photo*`` finds photograph)
``title:budget``     the document's title contains the word (``title:"annual budget"``)
``author:austen``    the document's author (from its metadata: PDF, Office, ODF, EPUB, RTF; a mail's
                     sender) contains the word
``name:report``      the file name contains the word (``name:rep*`` too)
``-author:smith``    leave out files whose author (title, name) has the word: by the field, not the text
``ext:pdf,docx``     file types; ``dir:Projects`` folder path contains; ``date:2024``,
                     ``date:2024-01..2024-06``, ``date:>2024-03-01``; ``size:>1M``, ``size:<200k``
===================  ==========================================================================

Free words also find files by their name, title, keywords (tags) or author alone (BM25 weighted in
that order: :data:`NAME_WEIGHTS`): a colleague's name finds the files they wrote. A query of filters only
(``ext:pdf``, ``dir:Projects date:2024``) lists the matching files, newest first. No word is
prefix-matched unless written with ``*`` (``war`` does not find Warszawa).
Chinese and Japanese words are found inside runs of characters (``岩浆``, ``パン``; see :mod:`.cjk`).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass, field

from .cjk import CJK_CHARS, WORD_END, WORD_START, has_cjk, query_tokens

# Function words carry no topic: they are dropped from keyword matching and highlights (unless the whole
# query is made of them), as Recoll and every web engine do.
STOPWORDS = frozenset(
    "a about above after again against all am an and any are as at be because been before being below between "
    "both but by can did do does doing down during each few for from further had has have having he her here "
    "hers herself him himself his how i if in into is it its itself just me more most my myself no nor not now "
    "of off on once only or other our ours ourselves out over own same she should so some such than that the "
    "their theirs them themselves then there these they this those through to too under until up very was we "
    "were what when where which while who whom why will with you your yours yourself yourselves".split()
)
FIELDS = ("title", "author", "name")  # searchable metadata fields (names_fts columns)
# BM25 weight of each names_fts column when free words are matched against them (names_fts column
# order): a file's name and its title say what it is about; keywords are tags, often several and
# broad; an author matching a topic word ("Brown", "Wood") is most often a coincidence, yet a
# colleague's name alone must still find their files (it does: a lone hit tops its list)
NAME_WEIGHTS = {"name": 1.0, "title": 1.0, "author": 0.5, "keywords": 0.7}
SORTS = ("relevance", "date", "name", "size")


class QueryError(ValueError):
    pass


@dataclass
class ParsedQuery:
    raw: str
    words: list[str] = field(default_factory=list)  # free words, without a trailing ``*``
    phrases: list[str] = field(default_factory=list)  # quoted: exact, every one required
    excluded: list[str] = field(default_factory=list)  # -word and -"phrase"
    exts: list[str] = field(default_factory=list)
    dirs: list[str] = field(default_factory=list)
    after: float | None = None
    before: float | None = None
    min_size: int | None = None
    max_size: int | None = None
    prefixes: set[str] = field(default_factory=set)  # free words written ``word*``
    # ``a OR b``: alternatives; each group is a list of indices into ``words`` (free words) ...
    alternatives: list[list[int]] = field(default_factory=list)
    # ... or of phrases: one of a group's phrases must appear (instead of all of them)
    phrase_groups: list[list[str]] = field(default_factory=list)
    fields: list[tuple[str, str, bool]] = field(default_factory=list)  # (title|author|name, text, prefix): all required
    excluded_fields: list[tuple[str, str, bool]] = field(default_factory=list)  # -author:x: files whose field has it

    @property
    def semantic_text(self) -> str:
        return " ".join(self.words + self.phrases)

    @property
    def has_filters(self) -> bool:
        return bool(self.exts or self.dirs or self.after or self.before or self.min_size or self.max_size
                    or self.phrases or self.excluded or self.fields or self.excluded_fields)

    @property
    def filter_only(self) -> bool:
        """No words or phrases to rank by: the matching files are listed (newest first)."""
        return not (self.words or self.phrases) and bool(
            self.exts or self.dirs or self.after or self.before or self.min_size or self.max_size
            or self.fields or self.excluded or self.excluded_fields)

    def required_phrase_groups(self) -> list[list[str]]:
        """Each phrase alone, unless grouped with others by OR."""
        grouped = {p for g in self.phrase_groups for p in g}
        return [[p] for p in self.phrases if p not in grouped] + self.phrase_groups


_TOKEN = re.compile(r'-?(?:[A-Za-z]+:)?"[^"]*"?|[^\s"]+')
_SIZE = re.compile(r"^([<>]=?)?(\d+(?:\.\d+)?)([kmg]?)b?$", re.IGNORECASE)
_MAX_SIZE = 2**63 - 1
_SURROGATE = re.compile("[\ud800-\udfff]")


def _parse_date(value: str, end: bool) -> float:
    parts = value.split("-")
    try:
        year = int(parts[0])
        month = int(parts[1]) if len(parts) > 1 else (12 if end else 1)
        day = int(parts[2]) if len(parts) > 2 else None
    except ValueError as exc:
        raise QueryError(f"bad date {value!r} (use YYYY, YYYY-MM or YYYY-MM-DD)") from exc
    # Out-of-range parts (month 13, year 0 or 99999: found by fuzzing) are the person's typo, not a crash.
    try:
        if not 1 <= month <= 12:
            raise ValueError(month)
        if day is None:
            if end:
                nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
                return dt.datetime.combine(nxt, dt.time()).timestamp()
            day = 1
        d = dt.date(year, month, day)
        if end:
            d = d + dt.timedelta(days=1)
        return dt.datetime.combine(d, dt.time()).timestamp()
    except (ValueError, OverflowError, OSError) as exc:
        raise QueryError(f"bad date {value!r}") from exc


def _filter(q: ParsedQuery, key: str, value: str) -> None:
    if key == "ext":
        q.exts.extend(e.lstrip(".").lower() for e in value.split(",") if e.lstrip("."))
    elif key == "dir":
        q.dirs.append(value)
    elif key == "date":
        if ".." in value:
            lo, hi = value.split("..", 1)
            q.after = _parse_date(lo, False) if lo else None
            q.before = _parse_date(hi, True) if hi else None
        elif value.startswith(">"):
            q.after = _parse_date(value.lstrip(">="), False)
        elif value.startswith("<"):
            q.before = _parse_date(value.lstrip("<="), True)
        else:
            q.after, q.before = _parse_date(value, False), _parse_date(value, True)
    elif key == "size":
        m = _SIZE.match(value)
        if not m:
            raise QueryError(f"bad size {value!r} (use e.g. size:>1M or size:<200k)")
        op, num, unit = m.groups()
        scaled = float(num) * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[unit.lower()]
        # SQLite integers end at 2**63 - 1 (and float("1" * 400) is inf): a bigger size is "no limit"
        size = int(scaled) if scaled < _MAX_SIZE else _MAX_SIZE
        if op and op.startswith("<"):
            q.max_size = size
        else:
            q.min_size = size


def _prefix(word: str) -> tuple[str, bool]:
    """``photo*`` → (photo, True); a lone ``*`` is no word."""
    if word.endswith("*") and word.rstrip("*"):
        return word.rstrip("*"), True
    return word.rstrip("*") if word.endswith("*") else word, False


def parse_query(text: str) -> ParsedQuery:
    q = ParsedQuery(raw=text)
    # Lone surrogates (undecodable bytes of a command-line argument) cannot reach SQLite as UTF-8.
    text = _SURROGATE.sub("\ufffd", text)
    # only double quotes group words: apostrophes belong to words ("Alzheimer's"), and a quote left
    # open while typing closes at the end. Items: (negate, field, text, quoted)
    items: list[tuple[bool, str, str, bool] | None] = []  # None: an OR between two items
    for match in _TOKEN.finditer(text):
        tok = match.group(0)
        if tok == "OR":
            items.append(None)
            continue
        negate = tok.startswith("-") and len(tok) > 1
        body = tok[1:] if negate else tok
        key, sep, value = body.partition(":")
        key = key.lower()
        if sep and key in ("ext", "dir", "date", "size") and value and '"' not in value and not negate:
            _filter(q, key, value)
            continue
        fld = key if sep and key in FIELDS and value else ""
        if fld:
            body = value
        quoted = '"' in body
        inner = (body.strip('"') if body.startswith('"') else body.replace('"', " ")).strip() if quoted else body
        if not inner or (not quoted and not inner.strip("*")):
            continue
        items.append((negate, fld, inner, quoted))
    pending_or = False
    last_pos: tuple[str, int] | None = None  # ("word", index in q.words) or ("phrase", index in q.phrases)
    for item in items:
        if item is None:
            pending_or = last_pos is not None
            continue
        negate, fld, inner, quoted = item
        joined = pending_or
        pending_or = False
        if fld:  # by the field, never by the text: -author:smith leaves out Smith's files, not those naming him
            word, is_prefix = (inner, False) if quoted else _prefix(inner)
            (q.excluded_fields if negate else q.fields).append((fld, word, is_prefix))
            last_pos = None
            continue
        if negate:
            q.excluded.append(inner)
            last_pos = None
            continue
        if quoted:
            q.phrases.append(inner)
            pos = ("phrase", len(q.phrases) - 1)
        else:
            word, is_prefix = _prefix(inner)
            q.words.append(word)
            if is_prefix:
                q.prefixes.add(word)
            pos = ("word", len(q.words) - 1)
        if joined and last_pos is not None and last_pos[0] == pos[0]:
            groups = q.alternatives if pos[0] == "word" else None
            if groups is not None:
                for g in groups:
                    if last_pos[1] in g:
                        g.append(pos[1])
                        break
                else:
                    groups.append([last_pos[1], pos[1]])
            else:
                prev = q.phrases[last_pos[1]]
                for pg in q.phrase_groups:
                    if prev in pg:
                        pg.append(inner)
                        break
                else:
                    q.phrase_groups.append([prev, inner])
        last_pos = pos
    return q


# --- FTS5 expressions ---------------------------------------------------------------------------------

def fts_term(term: str, prefix: bool = False) -> str:
    """A term or phrase as an FTS5 string. Chinese/Japanese/Korean runs become the bigrams the index
    holds (:mod:`.cjk`): ``岩浆`` is found inside ``地下的岩浆沿着``, ``猫`` is a prefix over pairs."""
    # a NUL ends an FTS5 string early ("unterminated string": found by fuzzing); it is no word character
    cleaned = term.replace("\x00", " ")
    if has_cjk(cleaned):
        tokens, cjk_prefix = query_tokens(cleaned)
        cleaned, prefix = " ".join(tokens), prefix or cjk_prefix
    cleaned = cleaned.replace('"', '""')
    return f'"{cleaned}"' + ("*" if prefix else "")


_SEPARATED = re.compile(r"([^\w]+)", re.UNICODE)
APOSTROPHES = frozenset("'\u2019\u02bc")
# English clitics: after an apostrophe the tokenizer makes them words of their own ("Rosalind's" ->
# "rosalind", "s"), and as query terms they match every possessive or contraction in the index ("s" was
# in 213 SciFact passages), adding weight for nothing
CLITICS = frozenset({"s", "t", "d", "ll", "re", "ve", "m"})


def _word_parts(word: str) -> list[str]:
    pieces = _SEPARATED.split(word)  # word, separator, word, ...
    parts: list[str] = []
    for i in range(0, len(pieces), 2):
        part = pieces[i]
        if part and not (parts and pieces[i - 1] in APOSTROPHES and part.lower() in CLITICS):
            parts.append(part)
    return parts


def fts_words(words: list[str], drop_stopwords: bool = True) -> list[str]:
    """Split words the way FTS5's tokenizer does, so punctuation never makes a query invalid; an
    English clitic after an apostrophe ("Rosalind's", "don't") is not a word of its own."""
    out = []
    for w in words:
        out.extend(_word_parts(w))
    if drop_stopwords:
        content = [t for t in out if t.lower() not in STOPWORDS]
        return content or out
    return out


def word_terms(q: ParsedQuery) -> list[str]:
    """The free words as FTS5 terms (function words dropped), ``word*`` as a prefix query."""
    terms = []
    for w in q.words:
        parts = fts_words([w], drop_stopwords=False)
        for i, part in enumerate(parts):
            terms.append(fts_term(part, w in q.prefixes and i == len(parts) - 1))
    content = [t for t in terms if t.strip('"*').lower() not in STOPWORDS]
    return content or terms


def field_match(fld: str, text: str, prefix: bool) -> str:
    """A names_fts expression for ``title:``/``author:``/``name:``: the text as a phrase in that column."""
    if not fts_words([text], drop_stopwords=False):
        return ""
    return f"{fld} : {fts_term(text, prefix)}"


_SUFFIX = re.compile(r"(?:ies|es|s|ed|ing|ly|ment|ation|y|e)$")
INFLECTIONS = ("ies", "ied", "ying", "es", "s", "ed", "ing", "ly", "ment", "ation", "y", "e", "d")


def word_root(low: str) -> str:
    """The lower-case word without its common inflection: what its other forms start with."""
    root = _SUFFIX.sub("", low) if len(low) > 4 else low
    return low if len(root) < 3 else root


def _word_core(word: str, prefix: bool) -> str:
    low = word.lower()
    if has_cjk(low):  # no inflections; found anywhere inside a run, as the bigram index finds it
        return re.escape(low)
    tail = r"\w*" if prefix else "(?:" + "|".join(INFLECTIONS) + ")?"
    return re.escape(word_root(low)) + tail


def word_pattern(word: str, prefix: bool) -> str:
    """A regex for a word and its common inflections (highlights and explanations beside the stemmed
    FTS index; :func:`word_forms` says the same without a regex)."""
    return WORD_START + _word_core(word, prefix) + WORD_END


# a text's words as word_pattern's boundaries see them: CJK runs, and runs of other word characters
_TOKENS = re.compile(f"[{CJK_CHARS}]+|[^\\W{CJK_CHARS}]+")


def text_tokens(text: str) -> set[str]:
    """The distinct lower-case words of a text (CJK runs whole), for :func:`word_forms` lookups."""
    return set(_TOKENS.findall(text.lower()))


def word_forms(word: str) -> frozenset[str]:
    """The lower-case tokens :func:`word_pattern` (no prefix) matches for a word without CJK
    characters: its root with each inflection, and the word itself."""
    root = word_root(word.lower())
    return frozenset([root, word.lower(), *(root + s for s in INFLECTIONS)])


@functools.lru_cache(maxsize=64)
def words_regex(words: tuple[str, ...], prefixes: frozenset[str]) -> re.Pattern[str] | None:
    """One pattern marking the query's words in a text as the stemmed index matched them (``study``
    marks studies; ``photo*`` marks photograph), longest first: the alternatives of every word's
    :func:`word_pattern` inside one pair of boundaries (the same matches; each boundary's CJK class
    costs re.compile ~1.4 ms, which per word was most of the window's keyword search: 15 words, 42 ms)."""
    parts = sorted((_word_core(w, w in prefixes) for w in words if w), key=len, reverse=True)
    return re.compile(WORD_START + "(?:" + "|".join(parts) + ")" + WORD_END, re.IGNORECASE) if parts else None
