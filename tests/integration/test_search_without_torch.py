"""A process that only searches never imports PyTorch: the NumPy query encoder serves search by meaning
(the window's idle memory: ~90 MB for the query model instead of ~850 MB with PyTorch loaded), and its
rankings equal those of the PyTorch encoder."""

from __future__ import annotations

import json
import subprocess
import sys

SEARCH = r"""
import json, sys
from desktop_search.core.service import Service
data, model = sys.argv[1], sys.argv[2]
with Service(data, model=model) as service:
    kind = type(service.load_query_model()).__name__
    out = {}
    for query in ("magma eruption", "sourdough bread flour", "invoice payment"):
        response = service.search(query, limit=5, mode="semantic")
        out[query] = [(str(r.path).rsplit("/", 1)[-1], round(r.score, 4)) for r in response.results]
print(json.dumps({"encoder": kind, "torch": "torch" in sys.modules, "results": out}))
"""


def test_searching_by_meaning_needs_no_torch_and_ranks_the_same(cli, tmp_path, topics, tiny_model):
    data = tmp_path / "data"
    assert cli("--data-dir", data, "--model", tiny_model, "index", topics)[0] == 0
    done = subprocess.run([sys.executable, "-c", SEARCH, str(data), str(tiny_model)], capture_output=True,
                          text=True, env={"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
                                          "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr[-2000:]
    light = json.loads(done.stdout.strip().splitlines()[-1])
    assert light["encoder"] == "LightQueryEncoder" and light["torch"] is False
    from desktop_search.core.service import Service

    with Service(str(data), model=str(tiny_model)) as service:
        service.encoder()  # the PyTorch encoder, loaded: queries now go through it
        for query, ranked in light["results"].items():
            response = service.search(query, limit=5, mode="semantic")
            reference = [(str(r.path).rsplit("/", 1)[-1], round(r.score, 4)) for r in response.results]
            assert [name for name, _ in ranked] == [name for name, _ in reference], query
            assert all(abs(a - b) < 1e-3 for (_, a), (_, b) in zip(ranked, reference, strict=True)), query
            assert ranked, query
