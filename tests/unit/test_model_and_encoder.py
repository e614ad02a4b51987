import shutil

import numpy as np
import pytest

from desktop_search.core.encoder import DeviceChoice, Encoder, choose_device, move_to_device, plan_batches
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


# --- device choice (issue 14): tested on the CPU here; the same code picks CUDA/MPS where they exist ----
NO = (False, "no NVIDIA GPU or driver found")


def test_auto_takes_cuda_then_mps_then_the_cpu():
    assert choose_device("auto", cuda=(True, ""), mps=(True, "")) == DeviceChoice("cuda")
    assert choose_device("auto", cuda=NO, mps=(True, "")) == DeviceChoice("mps")
    assert choose_device("auto", cuda=NO, mps=NO) == DeviceChoice("cpu")
    assert choose_device("cuda", cuda=(True, "")) == DeviceChoice("cuda")
    assert choose_device("cpu", cuda=(True, ""), mps=(True, "")) == DeviceChoice("cpu")


@pytest.mark.parametrize("setting", ["cuda", "mps", "tpu"])
def test_a_device_this_machine_lacks_falls_back_to_the_cpu_with_one_line(setting):
    choice = choose_device(setting, cuda=NO, mps=(False, "MPS is Apple's GPU (macOS only)"))
    assert choice.name == "cpu"
    assert choice.note and "\n" not in choice.note and setting in choice.note and "CPU" in choice.note


def test_auto_on_this_machine_is_the_cpu_without_a_gpu():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    assert choose_device("auto").name in ("cpu", "mps")
    assert choose_device("cuda").name == "cpu" and "cuda" in (choose_device("cuda").note or "")


class _FakeModel:
    def __init__(self, note="", fails=False):
        self.desktop_search_quantize_note = note
        self.fails = fails
        self.moved_to: list[str] = []

    def to(self, device):
        self.moved_to.append(device)
        if self.fails and device != "cpu":
            raise RuntimeError("CUDA error: out of memory")
        return self


def test_an_int8_model_or_a_failed_move_stays_on_the_cpu():
    int8 = _FakeModel(note="int8 linear layers (min token cosine 0.9950)")
    model, choice = move_to_device(int8, DeviceChoice("cuda"))
    assert choice.name == "cpu" and "int8" in choice.note and int8.moved_to == []
    broken = _FakeModel(fails=True)
    model, choice = move_to_device(broken, DeviceChoice("cuda"))
    assert choice.name == "cpu" and "RuntimeError" in choice.note and broken.moved_to == ["cuda", "cpu"]
    fine = _FakeModel()
    assert move_to_device(fine, DeviceChoice("mps"))[1] == DeviceChoice("mps") and fine.moved_to == ["mps"]


def test_encoder_asked_for_cuda_without_one_encodes_on_the_cpu(tiny_model):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    enc = Encoder(load_colbert(ModelLocation(tiny_model, "tiny"), threads=1), context_length=64, device="cuda")
    assert enc.device == "cpu" and "cuda" in enc.device_note and "\n" not in enc.device_note
    out = enc.encode_documents(["Volcanoes erupt lava."], [[(0, 21)]])
    assert out[0][0].vectors.shape[1] == enc.dim and enc.encode_query("lava").vectors.shape[1] == enc.dim


def test_status_says_which_device_encodes(tmp_path, tiny_model, monkeypatch):
    import torch

    from desktop_search.core.service import Service

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    monkeypatch.setenv("DESKTOP_SEARCH_NICE", "0")
    with Service(tmp_path / "data", model=str(tiny_model), threads=1) as service:
        status = service.status()
        assert status["device"] in ("cpu", "mps") and status["device_setting"] == "auto"
        service.update_settings(device="cuda")
        status = service.status()  # before the model loads: where it would run
        assert status["device"] == "cpu" and "cuda" in status["device_note"]
        service.encoder()
        status = service.status()  # the loaded encoder's own device
        assert status["device"] == "cpu" and status["device_setting"] == "cuda" and "cuda" in status["device_note"]


# --- batches by token budget (issue 14) -------------------------------------------------------------------
def test_batches_are_length_buckets_within_the_token_budget():
    rng = np.random.default_rng(0)
    lengths = [int(x) for x in rng.integers(20, 520, size=400)] + [3000, 3000, 5000]
    plan = plan_batches(lengths, budget=8192, max_batch=32, long_window=1024)
    assert sorted(j for b in plan.batches for j in b) == list(range(len(lengths)))  # each window once
    for batch in plan.batches:
        longest = max(lengths[j] for j in batch)
        assert len(batch) * longest <= 8192 or len(batch) == 1  # a window over the budget goes alone
        assert len(batch) <= 32
        if longest > 1024:
            assert {lengths[j] for j in batch} == {longest}  # long windows: no padding at all
    assert plan.tokens == sum(lengths)
    assert plan.padded == sum(len(b) * max(lengths[j] for j in b) for b in plan.batches)
    assert plan.padding < 0.05  # sorted buckets: a few per cent of padding where random batches pad ~40 %
    assert len(plan.batches) <= 19  # few, full calls (the greedy fill of the same windows makes 19)
    cheap_calls = plan_batches(lengths, budget=8192, max_batch=32, long_window=1024, call_cost=64)
    assert cheap_calls.padding < 0.02 and len(cheap_calls.batches) > len(plan.batches)  # the trade-off
    assert plan_batches(lengths, 8192, 32, call_cost=0).padding == 0  # free calls: one length per batch


def test_encoder_counts_real_and_padded_tokens(encoder):
    before = encoder.doc_stats.tokens, encoder.doc_stats.padded
    texts = ["Short one.", "A somewhat longer sentence about volcanoes and lava flows. " * 3]
    encoder.encode_documents(texts, [[(0, len(t))] for t in texts])
    tokens, padded = encoder.doc_stats.tokens - before[0], encoder.doc_stats.padded - before[1]
    assert 0 < tokens <= padded


def test_cli_status_names_the_device(cli, tmp_path):
    import json

    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    code, out, err = cli("--data-dir", tmp_path / "data", "--device", "cuda", "status")
    assert code == 0, err
    line = next(x for x in out.splitlines() if x.startswith("device:"))
    assert "cpu (setting cuda)" in line and "not usable" in line
    code, out, err = cli("--data-dir", tmp_path / "data", "status", "--json")
    assert code == 0, err
    status = json.loads(out)
    assert status["device"] in ("cpu", "mps") and status["device_setting"] == "auto"
    code, _, err = cli("--data-dir", tmp_path / "data", "--device", "tpu", "status")
    assert code == 2 and "invalid choice" in err


def test_release_memory_never_imports_torch():
    import subprocess
    import sys

    code = ("import sys; from desktop_search.core.memory import release_memory; release_memory(); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
