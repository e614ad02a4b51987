"""More like this (issue 13): `Service.similar` and `desktop-search similar PATH[:PAGE]` rank files by the
source's own stored vectors, the source first and a file on the same topic next."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

# a second file for some topics of tests/data/topics: same subject, other words and sentences
TWINS = {
    "volcano.md": ("stromboli.txt", "Stromboli erupted again last night: glowing lava fountains, ash clouds "
                                    "and volcanic bombs thrown from the crater as pressure from the magma "
                                    "chamber was released."),
    "bread.txt": ("baguette.txt", "Baking a baguette: knead the flour and water dough with yeast and salt, "
                                  "let it prove twice, score the loaves and bake them in a very hot oven "
                                  "until the crust is golden."),
    "football.txt": ("derby.txt", "In the derby the home side took the lead with a header, the visitors' "
                                  "striker equalised from the penalty spot and the goalkeeper saved a "
                                  "late shot to keep the draw."),
    "jupiter.txt": ("saturn.txt", "Saturn, the ringed gas giant planet of the solar system, has dozens of "
                                  "moons such as Titan and Enceladus and a hexagonal storm at its pole."),
}


def add_twins(topics: Path) -> None:
    for name, text in TWINS.values():
        (topics / name).write_text(text + "\n")


def test_standin_similar_returns_the_source_then_its_topic_twin(tmp_path, topics, standin_model):
    from desktop_search.core.service import QueryError, Service

    add_twins(topics)
    with Service(tmp_path / "data", model=str(standin_model), allow_download=False) as service:
        service.index([str(topics)])
        for source, (twin, _) in TWINS.items():
            response = service.similar(str(topics / source), limit=5)
            names = [Path(r.path).name for r in response.results]
            assert names[:2] == [source, twin], (source, names)
            assert response.mode == "similar"
            assert response.results[0].score == pytest.approx(1.0, abs=0.05)  # itself
            assert response.results[0].score >= response.results[1].score
        # and the other way round: the twin's most similar other file is the original
        names = [Path(r.path).name for r in service.similar(str(topics / "stromboli.txt"), limit=3).results]
        assert names[:2] == ["stromboli.txt", "volcano.md"], names
        # from one passage of a search result (the window's "more like this" on a result)
        hit = service.search("lava ash crater", limit=1, mode="semantic").results[0]
        pair = {"volcano.md": "stromboli.txt", "stromboli.txt": "volcano.md"}
        source = Path(hit.path).name
        assert source in pair, source
        response = service.similar(hit.path, passage_id=hit.passage_id, limit=3)
        assert [Path(r.path).name for r in response.results][:2] == [source, pair[source]]
        with pytest.raises(QueryError, match="no passage"):
            service.similar(str(topics / "bread.txt"), passage_id=hit.passage_id)  # not bread's passage


def test_cli_similar_json_page_and_one_line_errors(cli, tmp_path, topics, tiny_model, monkeypatch):
    data = tmp_path / "data"
    add_twins(topics)
    assert cli("--data-dir", data, "--model", tiny_model, "index", topics)[0] == 0
    code, out, err = cli("--data-dir", data, "similar", topics / "volcano.md", "--json", "--limit", "4")
    assert code == 0, err
    response = json.loads(out)
    assert response["mode"] == "similar" and len(response["results"]) == 4
    first = response["results"][0]
    assert Path(first["path"]).name == "volcano.md"  # the source first, with any model
    assert set(first) >= {"path", "score", "title", "page", "snippet", "highlights"}
    scores = [r["score"] for r in response["results"]]
    assert scores[1:] == sorted(scores[1:], reverse=True)
    for r in response["results"]:
        for s, e in r["highlights"]:
            assert 0 <= s < e <= len(r["snippet"])
    # text output, and a relative path as a person types it
    monkeypatch.chdir(topics)
    code, out, err = cli("--data-dir", data, "similar", "bread.txt")
    assert code == 0, err
    assert out.splitlines()[0].startswith(" 1. ") and "bread.txt" in out.splitlines()[0]
    for target, message in [
        (topics / "no-such-file.txt", "not in the index"),
        (f"{topics / 'volcano.md'}:7", "no text on page 7"),  # a text file has no pages
    ]:
        code, out, err = cli("--data-dir", data, "similar", target)
        assert code == 1 and message in err and len(err.strip().splitlines()) == 1, err


def test_similar_needs_vectors_and_says_so(cli, tmp_path, topics):
    data = tmp_path / "data"
    assert cli("--data-dir", data, "index", topics, "--keyword-only")[0] == 0
    code, _, err = cli("--data-dir", data, "similar", topics / "volcano.md")
    assert code == 1 and "no vectors yet" in err and len(err.strip().splitlines()) == 1, err


def test_parse_target():
    from desktop_search.core.service import parse_target

    assert parse_target("/no/such/report.pdf:3") == ("/no/such/report.pdf", 3)
    assert parse_target("/no/such/report.pdf") == ("/no/such/report.pdf", None)
    assert parse_target("/no/such/a:b") == ("/no/such/a:b", None)


def test_similar_reads_the_source_from_plaid_segments_too(tmp_path, topics, tiny_model):
    from desktop_search.core.service import Service

    words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma".split()
    for i in range(30):  # enough tokens for the final merge to write a PLAID segment
        (topics / f"filler-{i:02d}.txt").write_text(" ".join(words[(i + j) % len(words)] for j in range(60)))
    with Service(tmp_path / "data", model=str(tiny_model), allow_download=False) as service:
        service.update_settings(flat_max_tokens=1000)
        service.index([str(topics)])
        kinds = {e.kind for e in service.store.view.entries}
        assert "plaid" in kinds, kinds
        for source in ("volcano.md", "filler-07.txt"):
            results = service.similar(str(topics / source), limit=5).results
            assert Path(results[0].path).name == source
            assert len(results) == 5 and all(r.score > 0 for r in results)
