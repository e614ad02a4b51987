"""Query and document encoding at the same time: one tokenizer per role, so no 'Already borrowed' and
no changed vectors (the shared tokenizer failed 38,856 of such calls in one run before)."""

import threading

import numpy as np

from desktop_search.core.encoder import Encoder
from desktop_search.core.model import ModelLocation, load_colbert


def test_queries_and_documents_encode_concurrently(tiny_model):
    encoder = Encoder(load_colbert(ModelLocation(tiny_model, "tiny"), threads=1), context_length=512)
    queries = [f"largest planet volcano {i}" for i in range(8)]
    texts = [("Bread is baked from flour, water, yeast and salt. " * (5 + 9 * i)) for i in range(24)]
    ranges = [[(0, len(t))] for t in texts]
    expected_q = {q: encoder.encode_query(q).vectors for q in queries}
    expected_d = encoder.encode_documents(texts, ranges)
    errors: list[str] = []
    stop = threading.Event()
    asked = [0]

    def querying(offset: int) -> None:
        i = offset
        while not stop.is_set():
            q = queries[i % len(queries)]
            try:
                got = encoder.encode_query(q).vectors
                if not np.allclose(got, expected_q[q], atol=1e-5):
                    errors.append(f"query {q!r} changed")
            except Exception as exc:  # noqa: BLE001 - every failure is the finding
                errors.append(f"{type(exc).__name__}: {exc}")
            i += 1
            asked[0] += 1

    def documents() -> None:
        try:
            rounds = 0
            while rounds < 2 or (asked[0] < 300 and rounds < 30):  # enough queries meet document work
                rounds += 1
                got = encoder.encode_documents(texts, ranges)
                for a, b in zip(got, expected_d, strict=True):
                    if not np.allclose(a[0].vectors.astype(np.float32), b[0].vectors.astype(np.float32), atol=2e-3):
                        errors.append("document vectors changed")
                for t in texts[:4]:
                    encoder.count_tokens(t)
        except Exception as exc:  # noqa: BLE001
            errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            stop.set()

    threads = [threading.Thread(target=querying, args=(i,)) for i in range(2)] + [threading.Thread(target=documents)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
