"""Search: keyword (file names + FTS5 BM25, porter-stemmed) and semantic (ColBERT) retrieval, rank
fusion, the relevance floor, passages grouped per file, snippets and explanations. One module per job:

| job | module |
|---|---|
| keyword retrieval (passages, names, filter-only listing) | :mod:`.keyword` |
| keyword ranking of files: BM25 with file-level word weights (IDF) | :mod:`.filerank` |
| semantic retrieval (filters applied before ranking) | :mod:`.semantic` |
| filters and required/excluded files | :mod:`.filters` |
| fusion and the relevance floor | :mod:`.fusion` |
| results: passages per file, snippets, highlights | :mod:`.assemble` |
| explanations (which words matched, how strongly) | :mod:`.explain` |
| the data returned | :mod:`.results` |
| one query from text to response | :mod:`.searcher` |

The query language itself (parser, FTS5 expressions) is in :mod:`..query`.
"""

from ..query import (  # noqa: F401  (the parser lived here: gui and tests import it from search)
    FIELDS,
    SORTS,
    STOPWORDS,
    ParsedQuery,
    QueryError,
    field_match,
    fts_term,
    fts_words,
    parse_query,
    word_pattern,
    word_terms,
    words_regex,
)
from .fusion import DEFAULT as DEFAULT_FUSION
from .fusion import Fusion
from .results import Hit, PassageResult, SearchResponse, SearchResult
from .searcher import MODES, Searcher

__all__ = [
    "DEFAULT_FUSION", "FIELDS", "MODES", "SORTS", "STOPWORDS", "Fusion", "Hit", "ParsedQuery", "PassageResult",
    "QueryError", "SearchResponse", "SearchResult", "Searcher", "field_match", "fts_term",
    "fts_words", "parse_query", "word_pattern", "word_terms", "words_regex",
]
