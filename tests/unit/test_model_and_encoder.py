import shutil

import numpy as np
import pytest

from desktop_search.core.encoder import Encoder
from desktop_search.core.model import (
    ModelLocation,
    ModelUnavailable,
    find_model,
    load_colbert,
    resolve_model,
    validate_model_dir,
)


@pytest.fixture(scope="module")
def encoder(tiny_model):
    model = load_colbert(ModelLocation(tiny_model, "tiny"), threads=2)
    return Encoder(model, context_length=64)


def test_local_folder_loads_without_network(tiny_model, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    location, _ = find_model(str(tiny_model), tmp_path)
    assert location is not None and location.path == tiny_model
    model = load_colbert(location, threads=1)
    assert model.document_prefix == "[D] " and model.query_prefix == "[Q] "


def test_a_folder_that_is_not_a_model_is_refused_in_one_line(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ModelUnavailable) as info:
        validate_model_dir(tmp_path)
    assert "\n" not in str(info.value) and "not a model folder" in str(info.value)


def test_default_model_offline_and_not_downloaded_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("DESKTOP_SEARCH_MODEL", raising=False)
    with pytest.raises(ModelUnavailable, match="not downloaded"):
        resolve_model(None, tmp_path)


def test_first_run_download_lands_in_the_data_dir(tiny_model, tmp_path, monkeypatch):
    """The download path is real code; only the hub call is replaced by a copy of a local folder."""
    import huggingface_hub

    calls = []

    def fake_snapshot_download(repo_id, local_dir, **kwargs):
        calls.append(repo_id)
        shutil.copytree(tiny_model, local_dir, dirs_exist_ok=True)
        return local_dir

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    messages = []
    location = resolve_model("someone/some-colbert", tmp_path, progress=messages.append)
    assert calls == ["someone/some-colbert"]
    assert location.path == tmp_path / "models" / "someone--some-colbert"
    assert messages and "downloading" in messages[0]
    again, _ = find_model("someone/some-colbert", tmp_path)  # second run: no download
    assert again is not None and again.path == location.path
    load_colbert(location, threads=1)


def test_windows_overlap_and_own_every_token_once(encoder):
    for n in (1, 10, encoder.window, encoder.window + 1, 5 * encoder.window + 7):
        windows = encoder._windows(n)
        owned = [i for _, _, s, e in windows for i in range(s, e)]
        assert owned == list(range(n))
        for s, e, own_s, own_e in windows:
            assert s <= own_s <= own_e <= e and e - s <= encoder.window


def test_passage_vectors_map_back_to_their_words(encoder):
    text = "Volcanoes erupt lava. " * 40 + "Bread needs flour and yeast. " * 40
    middle = text.index("Bread")
    out = encoder.encode_documents([text], [[(0, middle), (middle, len(text))]])[0]
    assert len(out) == 2
    for (start, end), pv in zip([(0, middle), (middle, len(text))], out, strict=True):
        assert pv.vectors.shape[1] == encoder.dim and len(pv.vectors) == len(pv.spans)
        norms = np.linalg.norm(pv.vectors.astype(np.float32), axis=1)
        assert np.allclose(norms, 1.0, atol=1e-2)
        covered = np.zeros(end - start, dtype=bool)
        for s, e in pv.spans.tolist():
            covered[s:e] = True
            assert text[start + s : start + e].strip(".") == text[start + s : start + e]  # no punctuation tokens
        letters = np.array([ch.isalnum() for ch in text[start:end]])
        assert covered[letters].all()  # every word of the passage maps to one of its vectors


def test_short_document_in_one_window_matches_batched_encoding(encoder):
    a, b = "Jupiter is the largest planet.", "Knitting a scarf takes wool and two needles, " * 3
    together = encoder.encode_documents([a, b], [[(0, len(a))], [(0, len(b))]])
    alone = encoder.encode_documents([a], [[(0, len(a))]])
    assert np.allclose(together[0][0].vectors.astype(np.float32), alone[0][0].vectors.astype(np.float32), atol=2e-3)


def test_query_vectors_and_spans(encoder):
    q = encoder.encode_query("largest planet")
    assert q.vectors.shape == (len(q.spans), encoder.dim)
    assert len(q.vectors) == 48  # query expansion to the model's query length


@pytest.mark.parametrize("which", ["tiny_model", "standin_model"])
def test_query_fast_path_equals_pylate_encode(which, request):
    """encode_query skips PyLate's per-call overhead; its vectors must stay PyLate's own (with query
    expansion: the tiny model; without: the MiniLM stand-in)."""
    model = load_colbert(ModelLocation(request.getfixturevalue(which), which), threads=1)
    encoder = Encoder(model, context_length=64)
    for text in ["largest planet", "how do volcanoes erupt? (magma, pressure)"]:
        ours = encoder.encode_query(text).vectors
        theirs = model.encode([text], is_query=True, show_progress_bar=False, convert_to_numpy=True)[0]
        assert ours.shape == theirs.shape
        assert np.abs(ours - theirs).max() < 1e-5
