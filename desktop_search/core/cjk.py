"""Chinese, Japanese and Korean text for the keyword index: runs of CJK characters as overlapping bigrams.

These scripts write words without spaces, so FTS5's unicode61 tokenizer makes a whole clause one token
and ``岩浆`` (magma) inside ``地下的岩浆沿着地壳`` is never found. The full-text indexes therefore see
each CJK run as its overlapping character pairs, followed by the run's last character alone (Lucene's
CJK bigram scheme): ``地下的岩浆`` -> ``地下 下的 的岩 岩浆 浆``. Latin text passes through unchanged
(porter stemming, accent and case folding stay). A query word becomes the phrase of its own pairs,
so any word of two or more characters inside a run is found as an exact substring (``岩浆`` -> the pair
``岩浆``; ``斐波那契`` -> the phrase ``斐波 波那 那契``) and a single character is a prefix query over the
pairs (``猫`` -> ``猫*``: a pair starting with it, or a run ending with it).

Measured against FTS5's trigram tokenizer and against segmenting with jieba (Chinese) and janome
(Japanese) on tests/data/cjk: see tests/benchmarks/results/cjk.md.

The catalog registers :func:`index_text` as the SQL function ``ds_fts_text`` on every connection: the
full-text tables read their content through views that apply it, and the triggers index through it.
"""

from __future__ import annotations

import re

# Han (and its extensions, compatibility forms), kana (without the ・ separator, with the ー mark and
# 々〆〇), half-width katakana, Hangul. Written out for character classes elsewhere (highlights).
CJK_CHARS = (
    "\u1100-\u11ff\u3005-\u3007\u3041-\u309f\u30a0-\u30fa\u30fc-\u30ff\u3130-\u318f\u31f0-\u31ff"
    "\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003134f"
)
# word boundaries for highlight patterns that a CJK neighbour does not break (those scripts use no
# spaces: ``岩浆`` is marked inside ``地下的岩浆沿着``, ``Python`` inside ``用Python编程``). Said as "not
# after a word character, or after a CJK one": the equivalent negated class [^\W...] made re.compile
# case-fold the whole CJK range under IGNORECASE, ~60 ms per query pattern (measured)
WORD_START = rf"(?:(?<!\w)|(?-i:(?<=[{CJK_CHARS}])))"
WORD_END = rf"(?:(?!\w)|(?-i:(?=[{CJK_CHARS}])))"
# a word character that is not CJK: what a highlight may grow over to cover a whole word
NON_CJK_WORD_CHAR = rf"[^\W{CJK_CHARS}]"
_RUN = re.compile(f"[{CJK_CHARS}]+")
_ANY = re.compile(f"[{CJK_CHARS}]")
# the pieces of a query term: CJK runs and other word runs (what unicode61 would make tokens of)
_PIECE = re.compile(f"[{CJK_CHARS}]+|[^\\W{CJK_CHARS}]+")


def has_cjk(text: str) -> bool:
    # per 1 kB of text: isascii 0.1 us (most passages stop here), the search 20-30 us
    return bool(text) and not text.isascii() and _ANY.search(text) is not None


def is_cjk_char(ch: str) -> bool:
    return _ANY.match(ch) is not None


def _pairs(run: str) -> list[str]:
    return [run[i : i + 2] for i in range(len(run) - 1)]


def _expand_run(match: re.Match[str]) -> str:
    run = match.group(0)
    return " " + " ".join([*_pairs(run), run[-1]]) + " "


def index_text(text: str | None) -> str | None:
    """What the full-text index sees of ``text``: CJK runs as their bigrams and last character."""
    if not has_cjk(text or ""):
        return text
    return _RUN.sub(_expand_run, text)


def query_tokens(term: str) -> tuple[list[str], bool]:
    """The index tokens a query term must match in a row, in order (one FTS5 phrase), and whether the
    last one is a prefix. A CJK run inside the term is its bigrams, plus its last character where the
    term goes on after it (the document's run ends there too); a term ending in a single CJK
    character matches it as the start of a pair (``猫`` -> ``猫*``)."""
    pieces = _PIECE.findall(term)
    tokens: list[str] = []
    prefix = False
    for i, piece in enumerate(pieces):
        last = i == len(pieces) - 1
        if not _ANY.match(piece):
            tokens.append(piece)
            continue
        if len(piece) == 1:
            tokens.append(piece)
            prefix = last
            continue
        tokens.extend(_pairs(piece))
        if not last:
            tokens.append(piece[-1])
    return tokens, prefix
