"""Explanations (issue 13): per query word, the passage words it matched and how strongly, on
hand-made vectors (no model)."""

import numpy as np

from desktop_search.core.encoder import QueryVectors
from desktop_search.core.search import parse_query
from desktop_search.core.search.explain import explain

TEXT = "The volcano erupts and lava flows; tomatoes grow nearby."
#       0   4       12     19  23   28    34       43   48


def _unit(*xs: float) -> np.ndarray:
    v = np.array(xs, dtype=np.float32)
    return v / np.linalg.norm(v)


def _setup():
    q = parse_query("why volcanoes explode")
    text = q.semantic_text  # "why volcanoes explode"
    qv = QueryVectors(
        vectors=np.stack([_unit(1, 0, 0, 0), _unit(0, 1, 0, 0), _unit(0, 0, 1, 0), _unit(0, 0, 0, 1)]),
        spans=[(0, 0), (0, 3), (4, 13), (14, 21)],  # [CLS], why, volcanoes, explode
    )
    assert text[4:13] == "volcanoes"
    doc_spans = np.array([[4, 11], [12, 18], [28, 32], [43, 51]])  # volcano, erupts, lava, tomatoes
    doc = np.stack([
        _unit(0.1, 0, 1, 0.1),   # volcano ~ volcanoes (strong)
        _unit(0, 0, 0.2, 1),     # erupts ~ explode (strong)
        _unit(0, 0.3, 0.3, 0.3),  # lava
        _unit(1, 1, 0, 0.05),    # tomatoes: the best match of "why" (a function word) only
    ])
    return q, qv, (doc, doc_spans)


def test_each_query_word_lists_its_matches_with_similarity_and_spans():
    q, qv, vectors = _setup()
    out, spans = explain(q, TEXT, qv, vectors, {"semantic": 0.5}, weak=False, passage_id=7, page=None)
    assert out["passage_id"] == 7 and out["parts"] == {"semantic": 0.5}
    words = {w["word"]: w["matches"] for w in out["words"]}
    assert set(words) == {"volcanoes", "explode"}  # "why" is a function word: never explained
    volcano = words["volcanoes"][0]
    assert volcano["text"] == "volcano" and volcano["by"] in ("word", "meaning")
    assert TEXT[volcano["start"]:volcano["end"]] == "volcano"
    erupts = words["explode"][0]
    assert erupts["text"] == "erupts" and erupts["by"] == "meaning" and 0.9 < erupts["similarity"] <= 1.0
    assert erupts["highlighted"] and (erupts["start"], erupts["end"]) in spans
    assert not any(TEXT[s:e] == "tomatoes" for s, e in spans)


def test_a_weak_result_highlights_nothing_by_meaning():
    q, qv, vectors = _setup()
    out, spans = explain(q, TEXT, qv, vectors, {}, weak=True, passage_id=1, page=2)
    assert spans == []
    for w in out["words"]:
        for m in w["matches"]:
            assert m["by"] == "word" or not m["highlighted"]


def test_weak_matches_are_listed_but_not_highlighted():
    q = parse_query("volcanoes explode")
    qv = QueryVectors(np.stack([_unit(0, 0, 1, 0), _unit(0, 0, 0, 1)]), [(0, 9), (10, 17)])
    doc = np.stack([_unit(0, 0, 1, 0), _unit(1, 1, 0, 0.4)])  # explode's best match is poor
    out, spans = explain(q, "volcano tomatoes", qv, (doc, np.array([[0, 7], [8, 16]])), {}, False, 1, None)
    words = {w["word"]: w["matches"] for w in out["words"]}
    weak = words["explode"][0]
    assert weak["text"] == "tomatoes" and not weak["highlighted"] and weak["similarity"] < 0.5
    assert (8, 16) not in spans
    assert words["volcanoes"][0]["text"] == "volcano" and words["volcanoes"][0]["highlighted"]


def test_literal_matches_without_vectors():
    q = parse_query("volcano lava")
    out, spans = explain(q, TEXT, None, None, {"keyword": 0.4}, False, 3, None)
    words = {w["word"]: w["matches"] for w in out["words"]}
    assert words["volcano"][0] == {"text": "volcano", "by": "word", "similarity": 1.0, "start": 4, "end": 11,
                                   "highlighted": True}
    assert words["lava"][0]["text"] == "lava"
    assert spans == []
