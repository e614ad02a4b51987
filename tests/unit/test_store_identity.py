"""SegmentStore: segments are their folders (ids are reused by SQLite), files go only when no view holds
them, liveness is updated per changed segment, and a query only ever meets vectors of its own model."""

import time

import numpy as np
import pytest

from desktop_search.core.catalog import Catalog
from desktop_search.core.index import SegmentStore, write_segment
from desktop_search.core.model import ModelMismatch

DIM = 8


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float16)


def axis(i: int, n: int = 3, dim: int = DIM) -> np.ndarray:
    """``n`` token vectors, all along axis ``i``."""
    v = np.zeros((n, dim), dtype=np.float32)
    v[:, i] = 1.0
    return unit(v)


@pytest.fixture
def catalog(tmp_path):
    c = Catalog(tmp_path / "catalog.db")
    with c.transaction():
        c.db.execute("INSERT INTO files(id, path, name, size, mtime, hash, state, updated_at) "
                     "VALUES (1, '/f', 'f', 1, 0, 'h', 'indexed', 0)")
        for pid in range(1, 21):
            c.db.execute("INSERT INTO passages(id, file_id, seq, char_start, char_end, text) "
                         "VALUES (?, 1, ?, 0, 3, 'abc')", [pid, pid])
    yield c
    c.close()


def add_segment(c: Catalog, root, name: str, pids: list[int], axes: list[int], key: str = "A|1",
                dim: int = DIM) -> int:
    write_segment(root, name, "flat", pids, [axis(a, dim=dim) for a in axes],
                  [np.zeros((3, 2), np.uint16) for _ in pids])
    with c.transaction():
        sid = c.db.execute(
            "INSERT INTO segments(kind, dir, model_key, dim, n_passages, n_tokens, state, created_at) "
            "VALUES ('flat', ?, ?, ?, ?, ?, 'live', ?)", [name, key, dim, len(pids), 3 * len(pids), time.time()]
        ).lastrowid
        c.db.conn.executemany("UPDATE passages SET segment_id = ?, local_id = ? WHERE id = ?",
                              [(sid, local, pid) for local, pid in enumerate(pids)])
        c.bump_generation()
    return int(sid)


def drop_segment(c: Catalog, sid: int) -> None:
    with c.transaction():
        c.db.execute("UPDATE passages SET segment_id = NULL, local_id = NULL WHERE segment_id = ?", [sid])
        c.db.execute("DELETE FROM segments WHERE id = ?", [sid])
        c.bump_generation()


def query(i: int, dim: int = DIM) -> np.ndarray:
    q = np.zeros((1, dim), dtype=np.float32)
    q[0, i] = 1.0
    return q


def test_a_reused_segment_id_never_serves_the_old_segment(tmp_path, catalog):
    store = SegmentStore(tmp_path / "segments")
    first = add_segment(catalog, store.root, "flat-old", [10], [0])
    store.refresh(catalog)
    assert [pid for pid, _ in store.search(query(0), 5)] == [10]
    drop_segment(catalog, first)
    second = add_segment(catalog, store.root, "flat-new", [12], [1])
    assert second == first  # SQLite hands the id out again
    store.refresh(catalog)
    assert [pid for pid, _ in store.search(query(1), 5)] == [12]
    assert [pid for pid, _ in store.search(query(0), 5)] == [12]  # passage 10's vectors are gone
    vectors, _ = store.passage_vectors(second, 0, passage_id=12)
    assert np.allclose(vectors[:, 1], 1.0, atol=1e-3)
    assert store.passage_vectors(second, 0, passage_id=10) is None  # a row read at the old generation
    store.close()


def test_segment_files_are_deleted_only_when_no_view_holds_them(tmp_path, catalog):
    store = SegmentStore(tmp_path / "segments")
    sid = add_segment(catalog, store.root, "flat-a", [1, 2], [0, 1])
    store.refresh(catalog)
    with store.acquire() as view:  # a search in progress
        drop_segment(catalog, sid)
        store.refresh(catalog)
        assert store.check(catalog).orphans == ["flat-a"]
        store.remove_orphans(["flat-a"])
        assert (store.root / "flat-a").is_dir()  # still read by the search that holds it
        entry = view.live[0]
        assert entry.dir == "flat-a" and len(entry.segment.vectors([1])[0]) == 3
    assert not (store.root / "flat-a").exists()  # gone with the last view
    assert store.search(query(0), 5) == []
    store.close()


def test_liveness_is_kept_for_unchanged_segments_and_reread_for_changed_ones(tmp_path, catalog):
    store = SegmentStore(tmp_path / "segments")
    a = add_segment(catalog, store.root, "flat-a", [1, 2, 3], [0, 1, 2])
    add_segment(catalog, store.root, "flat-b", [4, 5], [3, 4])
    store.refresh(catalog)
    before = {e.dir: e.live for e in store.view.entries}
    with catalog.transaction():  # a file changed: its passage leaves segment a
        catalog.db.execute("DELETE FROM passages WHERE id = 2")
        catalog.bump_generation()
    store.refresh(catalog)
    after = {e.dir: e.live for e in store.view.entries}
    assert after["flat-b"] is before["flat-b"]  # not re-read
    assert after["flat-a"].tolist() == [True, False, True]
    assert store.live[a].tolist() == [True, False, True]
    assert 2 not in [pid for pid, _ in store.search(query(1), 5)]
    store.close()


def test_a_query_meets_only_vectors_of_its_own_model(tmp_path, catalog):
    store = SegmentStore(tmp_path / "segments")
    add_segment(catalog, store.root, "flat-a", [1, 2], [0, 1], key="A|1")
    store.refresh(catalog)
    assert store.search(query(0), 5, model_key="A|1")[0][0] == 1
    with pytest.raises(ModelMismatch) as err:  # another model of the same width: refused, not served
        store.search(query(0), 5, model_key="B|1")
    assert "\n" not in str(err.value) and "A" in str(err.value)
    with pytest.raises(ModelMismatch):  # another width: refused, never a shape error
        store.search(query(0, dim=16), 5, model_key="A|1")
    # mid-switch: B's vectors for some passages are in; a B query sees only those
    add_segment(catalog, store.root, "flat-b", [3], [0], key="B|1")
    store.refresh(catalog)
    assert [pid for pid, _ in store.search(query(0), 5, model_key="B|1")] == [3]
    assert sorted(pid for pid, _ in store.search(query(0), 5, model_key="A|1")) == [1, 2]
    assert store.passage_vectors(store.view.live[0].id, 0, 1, model_key="B|1", dim=DIM) is None
    store.close()


def test_status_counts_come_from_the_catalog(tmp_path, catalog):
    store = SegmentStore(tmp_path / "segments")
    add_segment(catalog, store.root, "flat-a", [1, 2], [0, 1])
    stats = catalog.segment_stats()
    assert stats == {"segments": 1, "plaid_segments": 0, "flat_segments": 1, "vectors": 6}
    assert store.view.generation is None  # nothing was loaded to count
