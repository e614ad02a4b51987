"""Rank fusion, the relevance floor and passage grouping (issue 13): pure functions, no index."""

from dataclasses import replace

from desktop_search.core.search import DEFAULT_FUSION, Fusion, Hit
from desktop_search.core.search.fusion import KEYWORD, NAMES, SEMANTIC, fuse, normalised, weak_from


def test_normalised_maps_each_list_to_zero_one_and_a_single_hit_to_one():
    hits = [Hit(1, 10, 30.0), Hit(2, 20, 20.0), Hit(3, 30, 10.0)]
    assert normalised(hits, "minmax") == [1.0, 0.5, 0.0]
    assert normalised(hits, "max") == [1.0, 20 / 30, 10 / 30]
    assert normalised([Hit(1, 1, 1e-6)], "minmax") == [1.0]  # a lone BM25 hit of a common word: not 0
    rrf = normalised(hits, "rrf")
    assert rrf[0] == 1.0 and rrf[0] > rrf[1] > rrf[2] > 0


def test_a_file_found_by_both_lists_beats_files_found_by_one():
    semantic = [Hit(1, 11, 9.0), Hit(2, 21, 8.5), Hit(3, 31, 5.0)]
    keyword = [Hit(2, 21, 12.0), Hit(4, 41, 11.0), Hit(3, 31, 1.0)]
    fused = fuse([(SEMANTIC, semantic), (KEYWORD, keyword)], Fusion(semantic=0.6, keyword=0.4))
    assert fused[0].file_id == 2
    assert set(fused[0].parts) == {SEMANTIC, KEYWORD}
    assert [f.file_id for f in fused][:2] == [2, 1]


def test_keyword_hits_count_by_the_share_of_the_query_they_cover():
    keyword = [Hit(1, 11, 10.0, weight=0.2), Hit(2, 21, 9.0, weight=1.0), Hit(3, 31, 1.0, weight=1.0)]
    fused = fuse([(KEYWORD, keyword)], Fusion(keyword=0.4, coverage=1.0))
    assert fused[0].file_id == 2  # covers every word, though BM25 liked file 1's rare word more
    flat = fuse([(KEYWORD, keyword)], Fusion(keyword=0.4, coverage=0.0))
    assert flat[0].file_id == 1


def test_several_passages_per_file_are_kept_best_first():
    semantic = [Hit(1, 11, 9.0), Hit(1, 12, 8.0), Hit(2, 21, 7.0), Hit(1, 13, 6.0), Hit(3, 31, 1.0)]
    keyword = [Hit(1, 13, 5.0), Hit(3, 31, 4.0)]
    fused = fuse([(SEMANTIC, semantic), (KEYWORD, keyword)])
    first = next(f for f in fused if f.file_id == 1)
    ranked = [pid for pid, _ in first.best_passages(3)]
    assert set(ranked) == {11, 12, 13}
    scores = [s for _, s in first.best_passages(3)]
    assert scores == sorted(scores, reverse=True)
    assert first.hit is not None and first.hit.passage_id == ranked[0]  # the snippet shows the best passage


def test_a_name_hit_lifts_the_file_but_not_a_passage():
    names = [Hit(5, 51, 3.0)]
    semantic = [Hit(5, 52, 9.0), Hit(6, 61, 8.0)]
    fused = fuse([(NAMES, names), (SEMANTIC, semantic)], Fusion(names=0.3))
    five = next(f for f in fused if f.file_id == 5)
    assert five.parts[NAMES] > 0 and five.hit is not None and five.hit.passage_id == 52


def test_equal_scores_order_by_file_id_whatever_the_input_order():
    a = fuse([(SEMANTIC, [Hit(3, 1, 1.0), Hit(2, 2, 1.0), Hit(1, 3, 1.0)])])
    b = fuse([(SEMANTIC, [Hit(1, 3, 1.0), Hit(3, 1, 1.0), Hit(2, 2, 1.0)])])
    assert [f.file_id for f in a] == [f.file_id for f in b] == [1, 2, 3]


def test_empty_lists_fuse_to_nothing():
    assert fuse([(SEMANTIC, []), (KEYWORD, [])]) == []


def test_the_floor_is_relative_to_the_best_hit():
    assert weak_from([1.0, 0.9, 0.6, 0.49, 0.3], 0.5) == 3
    assert weak_from([0.002, 0.0019, 0.0009], 0.5) == 2  # tiny absolute scores: the ratio still decides
    assert weak_from([1.0, 0.8], 0.5) == 2  # none weak
    assert weak_from([], 0.5) == 0


def test_default_fusion_weights_every_list():
    d = DEFAULT_FUSION
    assert d.semantic > 0 and d.keyword > 0 and 0 < d.floor < 1
    assert replace(d, floor=0.2).floor == 0.2
