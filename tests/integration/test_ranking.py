"""Ranking side of issue 13 (and the search points of issue 14), end to end with the tiny model:
explanations for every result, the relevance floor, several passages per file, filters applied
before the semantic ranking, and no per-result disk check."""

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

LONG = " ".join(["Volcanoes erupt when magma rises through the crust."] * 3 + ["Filler about harbours and ships."] * 60
                + ["Later the magma cools into basalt and the volcano sleeps."] * 3)


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path) -> Iterator[tuple[object, Path]]:
    from desktop_search.core.service import Service

    root = tmp_path_factory.mktemp("ranking")
    docs = root / "docs"
    (docs / "notes").mkdir(parents=True)
    for i in range(30):  # many .txt files that mention magma: a restrictive filter must still find the .md
        (docs / f"filler-{i:02d}.txt").write_text(f"Magma chamber number {i} under a volcano, measured in spring.")
    (docs / "notes" / "only.md").write_text("A short note on magma and basalt columns near the sea.")
    (docs / "long.txt").write_text(LONG)
    (docs / "garden.txt").write_text("Tomatoes and beans grow in the garden behind the house.")
    with Service(root / "data", model=str(tiny_model), allow_download=False) as svc:
        svc.settings.flat_max_tokens = 200  # several segments, PLAID ones among them
        svc.index([str(docs)])
        yield svc, docs


def test_every_result_explains_itself_in_json(indexed):
    service, _ = indexed
    response = service.search("magma volcano", limit=10, mode="hybrid", explain=True)
    assert response.results
    for r in response.as_json()["results"]:
        ex = r["explain"]
        assert set(ex) >= {"passage_id", "page", "parts", "words"}
        assert [w["word"] for w in ex["words"]][:2] == ["magma", "volcano"]
        for w in ex["words"]:
            for m in w["matches"]:
                assert m["by"] in ("word", "meaning") and m["end"] > m["start"]
                assert isinstance(m["highlighted"], bool)
                if r["weak"]:
                    assert m["by"] == "word" or not m["highlighted"]  # a weak result: nothing by meaning marked
        assert sum(ex["parts"].values()) == pytest.approx(r["score"], rel=1e-3, abs=1e-6)


def test_cli_search_json_has_explain_for_every_result(cli, indexed, tiny_model):
    service, _ = indexed
    code, out, err = cli("--data-dir", service.data_dir, "--model", tiny_model, "search", "magma", "--json",
                         "--limit", "5")
    assert code == 0, err
    results = json.loads(out)["results"]
    assert results and all("explain" in r and "passages" in r and "weak" in r for r in results)


def test_literal_matches_are_reported_with_their_spans(indexed):
    service, _ = indexed
    response = service.search("basalt", limit=5, mode="keyword", explain=True)
    first = response.results[0]
    text_match = [m for w in first.explain["words"] for m in w["matches"] if m["by"] == "word"]
    assert text_match and all(m["text"].lower() == "basalt" for m in text_match)


def test_single_keyword_hit_does_not_score_zero(indexed):
    service, _ = indexed
    response = service.search("tomatoes", limit=5, mode="keyword")
    assert [Path(r.path).name for r in response.results] == ["garden.txt"]
    assert response.results[0].score > 0 and not response.results[0].weak


def test_weak_results_come_after_strong_ones_and_the_best_is_never_weak(indexed):
    service, _ = indexed
    for mode in ("hybrid", "keyword", "semantic"):
        results = service.search("magma basalt columns sea", limit=20, mode=mode).results
        assert results and not results[0].weak
        flags = [r.weak for r in results]
        assert flags == sorted(flags)  # relevance order: once weak, weak to the end
        best = results[0].score
        for r in results:
            assert r.weak == (r.score < best * service.searcher().fusion.floor)


def test_a_long_file_lists_several_passages_best_first(indexed):
    service, docs = indexed
    response = service.search("magma basalt volcano", limit=40, mode="hybrid")
    long = next(r for r in response.results if Path(r.path).name == "long.txt")
    assert len(long.passages) >= 2
    assert len({p.passage_id for p in long.passages}) == len(long.passages)
    scores = [p.score for p in long.passages]
    assert scores == sorted(scores, reverse=True)
    assert long.snippet == long.passages[0].snippet and long.passage_id == long.passages[0].passage_id


def test_a_restrictive_filter_is_applied_before_the_semantic_ranking(indexed):
    service, _ = indexed
    # 30 .txt files match better; the only .md file must still come back by meaning
    response = service.search("magma chamber volcano ext:md", limit=5, mode="semantic")
    assert [Path(r.path).name for r in response.results] == ["only.md"]
    response = service.search("magma dir:notes", limit=5, mode="semantic")
    assert [Path(r.path).name for r in response.results] == ["only.md"]
    # an exclusion too: none of the excluded files, and the rest still found
    response = service.search('magma -"spring"', limit=10, mode="semantic")
    names = [Path(r.path).name for r in response.results]
    assert names and not any(n.startswith("filler-") for n in names)


def test_the_keystroke_search_makes_no_disk_call_per_result(indexed, monkeypatch):
    service, _ = indexed
    calls: list[str] = []
    real_exists, real_stat = os.path.exists, os.stat

    def exists(path):  # type: ignore[no-untyped-def]
        calls.append(str(path))
        return real_exists(path)

    def stat(path, *a, **kw):  # type: ignore[no-untyped-def]
        calls.append(str(path))
        return real_stat(path, *a, **kw)

    monkeypatch.setattr(os.path, "exists", exists)
    monkeypatch.setattr(os, "stat", stat)
    # the keystroke path (the window's staged search); a one-shot search (CLI, eval) checks what it shows
    response = next(iter(service.search_stages("magma", limit=20, modes=("keyword",))))
    assert len(response.results) >= 20
    result_paths = {r.path for r in response.results}
    assert not result_paths & set(calls)  # the watched folder may be looked at once, never each file


def test_a_file_of_an_offline_folder_is_hidden_but_kept(tmp_path):
    from desktop_search.core.service import Service

    docs = tmp_path / "drive"
    docs.mkdir()
    (docs / "a.txt").write_text("zqunplugged words")
    with Service(tmp_path / "data", allow_download=False) as svc:
        svc.index([str(docs)], encode=False)
        assert [Path(r.path).name for r in svc.search("zqunplugged", mode="keyword").results] == ["a.txt"]
        docs.rename(tmp_path / "elsewhere")  # the drive is unplugged: no index run in between
        assert svc.search("zqunplugged", mode="keyword").results == []
        assert svc.reader().known_files()  # the catalog keeps it for when the drive is back
        (tmp_path / "elsewhere").rename(docs)
        assert [Path(r.path).name for r in svc.search("zqunplugged", mode="keyword").results] == ["a.txt"]
