"""The indexer's compaction on a real catalog: a data folder from before codec-keeping merges (a
fast-plaid segment, its raw vectors archived) keeps working, its next merge keeps the old segment's
codec, and the archive goes once the merge is committed."""

import time

import numpy as np
import pytest

from desktop_search.core.catalog import Writer
from desktop_search.core.compaction import Compactor
from desktop_search.core.config import Settings
from desktop_search.core.index import SegmentStore, write_segment
from desktop_search.core.index.segments import PlaidSegment

DIM = 64
KEY = "m|1"


def _docs(n: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    topics = np.random.default_rng(99).normal(size=(12, DIM))
    out = []
    for i in range(n):
        v = topics[i % 12] + 0.6 * rng.normal(size=(int(rng.integers(10, 25)), DIM))
        out.append((v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float16))
    return out


def _spans(docs):
    return [np.zeros((len(d), 2), np.uint16) for d in docs]


def _fast_plaid_segment(root, name, pids, docs):
    """A PLAID segment as the previous version wrote it: fast-plaid's own files under plaid/."""
    import shutil

    import torch
    from fast_plaid import search as fp_search

    from desktop_search.core.index.segments import MANIFEST, _file_table

    write_segment(root, name, "flat", pids, docs, _spans(docs))  # passage ids, lengths, spans, manifest
    path = root / name
    (path / "vectors.npy").unlink()
    index = fp_search.FastPlaid(index=str(path / "plaid"), device="cpu")
    with torch.random.fork_rng():
        torch.manual_seed(0)
        index.create(documents_embeddings=[torch.from_numpy(d) for d in docs], nbits=4, start_from_scratch=0)
    index.close()
    for copy in (path / "plaid").glob("merged_*"):
        copy.unlink()
    import json

    manifest = json.loads((path / MANIFEST).read_text())
    manifest.update(kind="plaid", files=_file_table(path))
    (path / MANIFEST).write_text(json.dumps(manifest))
    shutil.rmtree(root / f".tmp-{name}", ignore_errors=True)


def _add(c, name, kind, pids, docs, state="live"):
    sid = c.db.execute(
        "INSERT INTO segments(kind, dir, model_key, dim, n_passages, n_tokens, state, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [kind, name, KEY, DIM, len(pids), sum(len(d) for d in docs), state, time.time()]).lastrowid
    if state == "live":
        c.assign_vectors(sid, pids)
    return sid


@pytest.fixture
def old_folder(tmp_path):
    writer = Writer(tmp_path / "catalog.db")
    store = SegmentStore(tmp_path / "segments")
    old_docs, new_docs = _docs(60, 1), _docs(90, 2)
    old_pids, new_pids = list(range(1, 61)), list(range(100, 190))
    _fast_plaid_segment(store.root, "plaid-old", old_pids, old_docs)
    write_segment(store.root, "flat-archive", "flat", old_pids, old_docs, _spans(old_docs))
    write_segment(store.root, "flat-new", "flat", new_pids, new_docs, _spans(new_docs))

    def setup(c):
        with c.transaction():
            c.db.execute("INSERT INTO files(id, path, name, size, mtime, hash, state, updated_at) "
                         "VALUES (1, '/f', 'f', 1, 0, 'h', 'indexed', 0)")
            for pid in old_pids + new_pids:
                c.db.execute("INSERT INTO passages(id, file_id, seq, char_start, char_end, text) "
                             "VALUES (?, 1, ?, 0, 3, 'abc')", [pid, pid])
            c.set_setting("model_key", KEY)
            _add(c, "plaid-old", "plaid", old_pids, old_docs)
            _add(c, "flat-archive", "flat", old_pids, old_docs, state="archived")
            _add(c, "flat-new", "flat", new_pids, new_docs)
            c.bump_generation()

    writer.call(setup)
    reader = writer.catalog.__class__(tmp_path / "catalog.db")
    yield writer, reader, store, old_docs, new_docs
    store.close()
    reader.close()
    writer.close()


def test_an_old_data_folder_keeps_working_and_its_next_merge_keeps_the_old_codec(old_folder):
    writer, reader, store, old_docs, new_docs = old_folder
    store.refresh(reader)
    old = store.segments[1]
    assert isinstance(old, PlaidSegment) and old.plaid_meta.get("format", 1) == 1
    before = {int(p): v for p, v in zip(old.passage_ids, old.vectors(range(old.n_passages)), strict=True)}
    q = new_docs[4][:5].astype(np.float32)
    assert store.search(q, 1)[0][0] == 104  # the flat passages are found
    assert store.search(old_docs[7][:5].astype(np.float32), 1)[0][0] == 8  # and the old PLAID ones

    compactor = Compactor(store, writer, reader, Settings(flat_max_tokens=1_000), KEY)
    reports = compactor.run(final=True)
    assert [r.reason for r in reports] == ["flush"] and reports[0].compressed_tokens == sum(map(len, new_docs))
    store.refresh(reader)
    kinds = sorted((e.kind, e.state) for e in store.view.entries)
    assert kinds == [("plaid", "live"), ("plaid", "live")]  # the archive is gone with the merge
    assert not (store.root / "flat-archive").exists() and not (store.root / "flat-new").exists()
    new = next(s for s in store.segments.values() if s.path.name != "plaid-old")
    assert new.codec_id == old.codec_id and new.plaid_meta["format"] == 3  # the old codec, kept
    assert store.search(q, 1)[0][0] == 104
    kept = store.segments
    old_now = next(s for s in kept.values() if s.path.name == "plaid-old")
    after = {int(p): v for p, v in zip(old_now.passage_ids, old_now.vectors(range(old_now.n_passages)), strict=True)}
    assert all(np.array_equal(after[p], v) for p, v in before.items())
    # exact scoring covers every live passage: decoded vectors, now that no raw copy is kept
    assert set(store.exact_scores(q, KEY)) == set(range(1, 61)) | set(range(100, 190))


def test_a_rebuild_trains_on_the_archived_raw_vectors_and_leaves_one_segment(old_folder):
    writer, reader, store, old_docs, new_docs = old_folder
    settings = Settings(flat_max_tokens=1_000_000, keep_raw_vectors=True)
    report = Compactor(store, writer, reader, settings, KEY).rebuild()
    assert report.trained and report.recoded_tokens == 0  # raw vectors: the archive's and the flat's
    assert report.compressed_tokens == sum(map(len, old_docs + new_docs))
    store.refresh(reader)
    live = [e for e in store.view.entries if e.state == "live"]
    assert len(live) == 1 and live[0].n_live == 150
    assert store.search(old_docs[7][:5].astype(np.float32), 1)[0][0] == 8


def test_a_cancelled_compaction_commits_nothing_and_leaves_no_folder(old_folder):
    writer, reader, store, old_docs, new_docs = old_folder

    class Stop(Exception):
        pass

    def check():
        raise Stop  # the indexer's should_stop: Cancelled

    store.refresh(reader)
    before = sorted((e.dir, e.state, e.n_live) for e in store.view.entries)
    with pytest.raises(Stop):
        Compactor(store, writer, reader, Settings(flat_max_tokens=1_000), KEY, check=check).run(final=True)
    store.refresh(reader, force=True)
    assert sorted((e.dir, e.state, e.n_live) for e in store.view.entries) == before
    assert sorted(p.name for p in store.root.iterdir()) == ["flat-archive", "flat-new", "plaid-old"]


def test_a_merge_pauses_only_while_someone_searches(old_folder, monkeypatch):
    """The throttle yields to searches: with none in the last SEARCHING_S a merge never sleeps (an
    idle machine gains nothing from the pause); right after a search it sleeps its share (``duty``)."""
    import desktop_search.core.compaction as compaction

    writer, reader, store, old_docs, new_docs = old_folder
    slept: list[float] = []
    monkeypatch.setattr(compaction.time, "sleep", slept.append)
    settings = Settings(flat_max_tokens=1_000_000, keep_raw_vectors=True)
    store.refresh(reader)
    assert not store.searched_within(compaction.SEARCHING_S)
    Compactor(store, writer, reader, settings, KEY).rebuild()
    assert slept == []

    store.search(old_docs[7][:5].astype(np.float32), 1)  # someone types a query
    assert store.searched_within(compaction.SEARCHING_S)
    Compactor(store, writer, reader, settings, KEY).rebuild()
    assert slept and all(s >= 0 for s in slept)
