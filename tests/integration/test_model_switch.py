"""Model identity: the catalog names the index's model; another model is refused with one line (keyword
search goes on), and switching keeps the old vectors for the old model without ever serving them to the
new one."""

import json
from pathlib import Path

import pytest

from desktop_search.core.indexer import Cancelled
from desktop_search.core.service import ModelMismatch, Service
from desktop_search.testing.models import _SEED_TEXT, TINY, build_modernbert_colbert, build_tiny


@pytest.fixture(scope="module")
def other_models(tmp_path_factory) -> tuple[Path, Path]:
    """Another tiny model of the same width (other weights) and one of another width."""
    base = tmp_path_factory.mktemp("other-models")
    same_width = build_tiny(base / "tiny-b", seed=1)
    wide = build_modernbert_colbert(base / "tiny-wide", TINY, _SEED_TEXT.strip().splitlines(), embedding_size=48,
                                    query_length=48, seed=2)
    return same_width, wide


def segment_models(service: Service, results) -> set[str]:
    """The model (by name) of the segment behind each result's passage."""
    c = service.reader()
    names = set()
    for r in results:
        key = c.scalar("SELECT s.model_key FROM passages p JOIN segments s ON s.id = p.segment_id WHERE p.id = ?",
                       [r.passage_id])
        names.add(key.split("|")[0])
    return names


def test_another_model_is_refused_with_one_line(cli, tmp_path, topics, tiny_model, other_models):
    data = tmp_path / "data"
    code, _, err = cli("--data-dir", data, "--model", tiny_model, "index", topics)
    assert code == 0, err
    for model in other_models:
        code, out, err = cli("--data-dir", data, "--model", model, "search", "sourdough", "--mode", "semantic")
        assert code == 1 and err.startswith("error: ") and err.count("\n") == 1, err
        assert "encoded with tiny" in err and "Traceback" not in err and "shapes" not in err
        code, out, err = cli("--data-dir", data, "--model", model, "search", "sourdough bread", "--json")
        assert code == 0, err
        response = json.loads(out)
        assert response["notice"].startswith("ranked by keyword only")
        assert Path(response["results"][0]["path"]).name == "bread.txt"
        code, out, err = cli("--data-dir", data, "--model", model, "index")  # never a silent re-encoding
        assert code == 1 and err.count("\n") == 1 and "desktop-search model" in err, err
    code, out, err = cli("--data-dir", data, "--model", tiny_model, "search", "sourdough", "--json", "--mode",
                         "semantic")
    assert code == 0 and json.loads(out)["results"], err  # the index of the right model is untouched
    code, out, _ = cli("--data-dir", data, "status", "--json")
    assert json.loads(out)["indexed"] == 10 and json.loads(out)["index_model"] == "tiny"


def test_switching_models_never_serves_old_vectors_to_the_new_model(cli, tmp_path, topics, tiny_model,
                                                                    other_models):
    same_width, wide = other_models
    data = tmp_path / "data"
    query = "sourdough bread flour"
    with Service(data, model=str(tiny_model)) as service:
        service.settings.batch_files = 3  # several segments
        service.index([str(topics)])
    with Service(data, model=str(tiny_model)) as old, Service(data, model=str(tiny_model)) as new:
        # both have their segments loaded: ``old`` is a window still running with the old model
        assert segment_models(old, old.search(query, mode="semantic").results) == {"tiny"}
        assert new.search(query, mode="semantic").results and new.store.view.live
        switched = new.switch_model(str(same_width))
        assert switched == {"model": "tiny-b", "files_to_encode": 10}
        with Service(data, allow_download=False) as fresh:
            assert fresh.model_choice() == str(same_width)  # recorded in the catalog
        with pytest.raises(ModelMismatch):  # same width, other model: refused, not served
            new.search(query, mode="semantic")
        hybrid = new.search(query, mode="hybrid")
        assert hybrid.notice.startswith("ranked by keyword only") and hybrid.results
        assert segment_models(old, old.search(query, mode="semantic").results) == {"tiny"}  # old vectors stay
        code, out, _ = cli("--data-dir", data, "model", "--json")
        assert json.loads(out)["files_to_encode"] == 10 and json.loads(out)["index_model"] == "tiny-b"

        # half way: the new model's vectors of the first files are in, the rest still the old model's
        stop = {"now": False}

        def progress(p):
            if p.phase == "encode" and p.done:
                stop["now"] = True

        new.settings.batch_files = 3
        with pytest.raises(Cancelled):
            new.index(progress=progress, should_stop=lambda: stop["now"])
        got = new.search(query, limit=10, mode="semantic").results
        assert got and segment_models(new, got) == {"tiny-b"}
        assert len(got) < 10
        left = old.search(query, limit=10, mode="semantic").results
        assert left and segment_models(old, left) == {"tiny"}
        assert {r.path for r in got}.isdisjoint({r.path for r in left})

        report = new.index()  # the rest; the emptied old segments go
        assert report.encoded_files == 10 - len(got)
        got = new.search(query, limit=10, mode="semantic").results
        assert len(got) == 10 and segment_models(new, got) == {"tiny-b"}
        assert {r["model_key"].split("|")[0] for r in new.reader().segments()} == {"tiny-b"}
        with pytest.raises(ModelMismatch):
            old.search(query, mode="semantic")
        assert old.search(query, mode="keyword").results

        # another width through the CLI: says how many files, and the old vectors answer the old model only
        code, out, err = cli("--data-dir", data, "model", wide)
        assert code == 0 and "10 file(s) will be re-encoded" in out, err
        with Service(data, allow_download=False) as fresh:  # the catalog's model now: tiny-wide
            for service in (new, fresh):  # ``new`` follows the switch made elsewhere
                with pytest.raises(ModelMismatch):  # no shape error, no tiny-b vectors for a tiny-wide query
                    service.search(query, mode="semantic")


def test_a_running_service_follows_a_switch_made_elsewhere(cli, tmp_path, topics, tiny_model, other_models):
    """The window or `watch` keeps running while the CLI switches: its next use loads the catalog's model,
    so its index runs re-encode instead of being refused, and its queries never meet the old vectors."""
    same_width, _ = other_models
    data = tmp_path / "data"
    with Service(data, allow_download=False) as app:
        app.switch_model(str(tiny_model))
        app.index([str(topics)])
        assert segment_models(app, app.search("sourdough", mode="semantic").results) == {"tiny"}
        code, out, err = cli("--data-dir", data, "model", same_width)
        assert code == 0 and "10 file(s) will be re-encoded" in out, err
        with pytest.raises(ModelMismatch):  # now tiny-b: none of its vectors yet, tiny's never served to it
            app.search("sourdough", mode="semantic")
        assert app.index().encoded_files == 10
        assert segment_models(app, app.search("sourdough", mode="semantic").results) == {"tiny-b"}
