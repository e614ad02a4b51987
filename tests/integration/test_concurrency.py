"""Searching while indexing: no query fails, no file fails, and the index ends as a clean build's.
Reader connections close with their threads: connections and file descriptors stay flat."""

import os
import random
import threading
from pathlib import Path

from desktop_search.core.service import Service

TOPICS = Path(__file__).resolve().parents[1] / "data" / "topics"
QUERIES = ["sourdough bread flour", "largest planet", "knitting wool scarf", "volcano magma", "invoice payment",
           "train to Berlin", "vaccine immune", "football match"]


def make_folder(target: Path, n: int = 300) -> Path:
    """``n`` small files mixing sentences of the ten topic files, in a few subfolders (deterministic)."""
    sentences = [s.strip() for f in sorted(TOPICS.iterdir()) for s in f.read_text().split(".") if s.strip()]
    rng = random.Random(7)
    for i in range(n):
        folder = target / f"part-{i % 4}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"note-{i:03d}.txt").write_text(". ".join(rng.sample(sentences, 2)) + ".\n")
    return target


def small_segments(service: Service) -> None:
    service.settings.batch_files = 24  # many flat segments...
    service.settings.flat_max_tokens = 1500  # ...merged into PLAID ones (3,000 tokens at dim 32): twice here
    service.settings.keep_raw_vectors = True  # the exact vectors stay (archived) for the comparison below


def untied(ranking: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """The ranking with ties put in name order and the entries tied with the last one left out: the
    order of equal scores (and which of them make the cut) follows row ids, which depend on the order
    extraction finished in, not on what the index holds."""
    ranking = sorted(ranking, key=lambda item: (-item[1], item[0]))
    return [item for item in ranking if item[1] != ranking[-1][1]]


def keyword_ranking(service: Service) -> list[list[tuple[str, float]]]:
    rankings = []
    for q in QUERIES:
        results = service.search(q, limit=10, mode="keyword").results
        rankings.append(untied([(Path(r.path).name, round(r.score, 4)) for r in results]))
    return rankings


def exact_ranking(service: Service) -> list[list[tuple[str, float]]]:
    """Top 10 passages by exact MaxSim over the raw vectors. PLAID's own scores are approximate and
    differ between two clean builds (k-means), so the reference is the exact vectors they were made from."""
    c = service.reader()
    service.store.refresh(c)
    names = {r["id"]: f"{Path(r['path']).name}#{r['seq']}" for r in c.query(
        "SELECT p.id, f.path, p.seq FROM passages p JOIN files f ON f.id = p.file_id")}
    out = []
    for q in QUERIES:
        qv = service.encoder().encode_query(q)
        scores = service.store.exact_scores(qv.vectors, qv.model_key)
        out.append(untied([(names[pid], round(v, 3)) for pid, v in sorted(scores.items(), key=lambda kv: -kv[1])[:10]]))
    return out


def test_two_threads_search_while_a_folder_is_indexed_and_merged(tmp_path, tiny_model):
    docs = make_folder(tmp_path / "docs")
    failures: list[str] = []
    counts = {"keyword": 0, "hybrid": 0}
    done = threading.Event()

    with Service(tmp_path / "data", model=str(tiny_model)) as service:
        small_segments(service)
        service.encoder()  # loaded once up front: the searches below race the indexing, not the load

        def searching(seed: int) -> None:
            rng = random.Random(seed)
            while not done.is_set():
                mode = rng.choice(["keyword", "hybrid"])
                try:
                    service.search(rng.choice(QUERIES), limit=10, mode=mode)
                    counts[mode] += 1
                except Exception as exc:  # noqa: BLE001 - every failure is the finding
                    failures.append(f"{type(exc).__name__}: {exc}")

        threads = [threading.Thread(target=searching, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        try:
            report = service.index([str(docs)])
        finally:
            done.set()
            for t in threads:
                t.join(60)
        status = service.status()
        assert failures == []
        assert report.failed == 0 and report.encoded_files == 300
        assert counts["keyword"] > 10 and counts["hybrid"] > 10
        assert status["plaid_segments"] >= 2 and status["pending"] == 0 and status["indexed"] == 300
        assert all(service.search(q, mode="semantic").results for q in QUERIES)
        got = (status["passages"], keyword_ranking(service), exact_ranking(service))

    with Service(tmp_path / "clean", model=str(tiny_model)) as clean:
        small_segments(clean)
        clean.index([str(docs)])
        assert all(got[1]) and all(got[2])  # every query keeps results above its last tie
        assert (clean.status()["passages"], keyword_ranking(clean), exact_ranking(clean)) == got


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_reader_connections_close_with_their_threads(tmp_path, topics):
    with Service(tmp_path / "data") as service:
        service.index([str(topics)], encode=False)

        def one_search() -> None:
            assert service.search("sourdough", mode="keyword").results

        for _ in range(3):  # warm up: imports, the main thread's own reader
            t = threading.Thread(target=one_search)
            t.start()
            t.join()
        service.reader()
        fds, readers = open_fds(), service.open_readers()
        peak = 0
        for i in range(1000):  # 1,000 search-thread lifetimes, as a pool's retired threads
            t = threading.Thread(target=one_search, name=f"search-{i}")
            t.start()
            t.join()
            peak = max(peak, service.open_readers())
        assert service.open_readers() == readers
        assert peak <= readers + 1
        assert open_fds() <= fds + 2
