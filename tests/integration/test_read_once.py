"""Issue 14: a first index reads each file once (extraction; the hash follows from the page cache),
and the hashes it stores still let moves keep their vectors and changes be seen."""

import os

import pytest

from desktop_search.core import scan as scan_module
from desktop_search.core.index.segments import file_digest
from desktop_search.core.scan import Seen, hash_after_extraction
from desktop_search.core.service import Service

TEXTS = {
    "bread.txt": "Sourdough bread needs flour, water, salt and a lively starter culture.",
    "bike.txt": "Fixing a bicycle puncture takes tyre levers, a patch kit and a pump.",
    "moon.txt": "The Moon's craters were made by meteorites over billions of years.",
}


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "docs"
    root.mkdir()
    for name, text in TEXTS.items():
        (root / name).write_text(text)
    return root


def stored_hashes(service):
    return {os.path.basename(r[1]): r[4] for r in service.reader().known_files()}


def counting_digest(monkeypatch):
    calls = []

    def digest(path):
        calls.append(os.path.basename(str(path)))
        return file_digest(path)

    monkeypatch.setattr(scan_module, "file_digest", digest)
    return calls


def test_first_index_hashes_each_file_once_after_extraction(tmp_path, folder, tiny_model, monkeypatch):
    monkeypatch.setenv("DESKTOP_SEARCH_NICE", "0")
    calls = counting_digest(monkeypatch)
    diff_calls = []
    real_diff = scan_module.diff

    def diff(*args, **kwargs):
        before = len(calls)
        out = real_diff(*args, **kwargs)
        diff_calls.append(len(calls) - before)
        return out

    monkeypatch.setattr("desktop_search.core.indexer.diff", diff)
    with Service(tmp_path / "data", model=str(tiny_model), threads=1) as service:
        report = service.index([str(folder)])
        assert report.new == 3 and report.encoded_files == 3
        assert diff_calls == [0]  # the diff read nothing: no gone file could have moved here
        assert sorted(calls) == sorted(TEXTS)  # each file hashed once, after its extraction
        assert stored_hashes(service) == {n: file_digest(folder / n) for n in TEXTS}


def test_a_move_after_a_first_index_keeps_its_vectors(tmp_path, folder, tiny_model, monkeypatch):
    monkeypatch.setenv("DESKTOP_SEARCH_NICE", "0")
    with Service(tmp_path / "data", model=str(tiny_model), threads=1) as service:
        service.index([str(folder)])
        (folder / "moon.txt").rename(folder / "craters.txt")
        calls = counting_digest(monkeypatch)
        report = service.index()
        assert report.moved == 1 and report.new == 0 and report.encoded_files == 0
        assert calls == ["craters.txt"]  # a gone file of its size: hashed in the diff, found to be the move


def test_a_size_change_is_extracted_without_a_hash_and_a_touch_keeps_the_file(tmp_path, folder, tiny_model,
                                                                             monkeypatch):
    monkeypatch.setenv("DESKTOP_SEARCH_NICE", "0")
    with Service(tmp_path / "data", model=str(tiny_model), threads=1) as service:
        service.index([str(folder)])
        bread, bike = folder / "bread.txt", folder / "bike.txt"
        bread.write_text("Rye bread is dense and sour; it keeps for a week wrapped in linen cloth.")
        st = bike.stat()
        os.utime(bike, (st.st_atime, st.st_mtime + 10))  # touched: same bytes, new mtime
        calls = counting_digest(monkeypatch)
        report = service.index()
        assert report.changed == 1 and report.unchanged == 2 and report.encoded_files == 1
        assert sorted(calls) == ["bike.txt", "bread.txt"]  # the touch in the diff, the change after extraction
        assert stored_hashes(service)["bread.txt"] == file_digest(bread)


def test_a_file_whose_hash_was_left_empty_is_still_reread_when_it_changes(tmp_path, folder, tiny_model,
                                                                         monkeypatch):
    """A file that changed while it was extracted keeps an empty hash; an empty hash must never match."""
    monkeypatch.setenv("DESKTOP_SEARCH_NICE", "0")
    monkeypatch.setattr("desktop_search.core.indexer.hash_after_extraction", lambda seen: "")
    with Service(tmp_path / "data", model=str(tiny_model), threads=1) as service:
        service.index([str(folder)])
        assert set(stored_hashes(service).values()) == {""}
        (folder / "bread.txt").write_text("Croissants are laminated: butter folded into the dough many times.")
        report = service.index()
        assert report.changed == 1 and report.encoded_files == 1
        hits = service.search("laminated butter dough", mode="keyword").results
        assert hits and os.path.basename(hits[0].path) == "bread.txt"


def test_hash_after_extraction_refuses_a_file_changed_since_the_scan(tmp_path):
    f = tmp_path / "a.txt"
    f.write_text("first words")
    st = f.stat()
    seen = Seen(str(f), st.st_size, st.st_mtime)
    assert hash_after_extraction(seen) == file_digest(f)
    f.write_text("other words, longer")
    assert hash_after_extraction(seen) == ""  # the text extracted may be either: no hash vouches for it
    assert hash_after_extraction(Seen(str(tmp_path / "gone.txt"), 1, 1.0)) == ""
