"""Archive members in the index, and the skipped list (issue 15). Keyword-only: no model needed."""

from __future__ import annotations

import io
import os
import shutil
import tarfile
import zipfile
from pathlib import Path

import py7zr
import pytest

from desktop_search.core import paths as P
from desktop_search.core.exclusions import Rules
from desktop_search.core.service import Service


def _zip(path: Path, members: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def _paths(service: Service) -> set[str]:
    return {P.from_db(r[1]) for r in service.reader().known_files()}


def _hits(service: Service, word: str) -> list[str]:
    return [r.path for r in service.search(word, mode="keyword").results]


@pytest.fixture
def service(tmp_path: Path):  # type: ignore[no-untyped-def]
    with Service(tmp_path / "data", allow_download=False) as s:
        yield s


def test_members_are_found_with_their_inner_path_and_follow_their_archive(tmp_path: Path, service: Service) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    _zip(docs / "a.zip", {"inner/zebra.txt": "the zqzebrafish jumps", "../../evil.txt": "zqevil"})
    with tarfile.open(docs / "b.tar.gz", "w:gz") as t:
        data = b"tarred zqwalrus"
        info = tarfile.TarInfo("x/walrus.txt")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "platypus.txt").write_text("zqplatypus in seven zip")
    with py7zr.SevenZipFile(docs / "c.7z", "w") as z:
        z.write(tmp_path / "s" / "platypus.txt", "deep/platypus.txt")

    report = service.index([str(docs)])
    assert report.failed == 1  # the ../../x member
    zebra = f"{docs / 'a.zip'}!/inner/zebra.txt"
    assert _hits(service, "zqzebrafish") == [zebra]
    assert _hits(service, "zqwalrus") == [f"{docs / 'b.tar.gz'}!/x/walrus.txt"]
    assert _hits(service, "zqplatypus") == [f"{docs / 'c.7z'}!/deep/platypus.txt"]
    assert _hits(service, "zqevil") == []
    assert service.open_target(zebra) == str(docs / "a.zip")
    assert service.open_target(str(docs / "a.zip")) == str(docs / "a.zip")
    report = service.doctor()  # members are not files that "no longer exist"
    assert report["consistent"] and not any("no longer exist" in n for n in report["notes"]), report
    failed = {f["path"]: f["reason"] for f in service.failed()}
    assert "unsafe path" in failed[f"{docs / 'a.zip'}!/../../evil.txt"]

    # a second run sees nothing new, changed or gone: members are not files the scan misses
    again = service.index()
    assert (again.new, again.changed, again.deleted, again.moved) == (0, 0, 0, 0)
    assert zebra in _paths(service) and len(service.failed()) == 1

    # the archive changes: its members are read again
    _zip(docs / "a.zip", {"inner/zebra.txt": "now a zqgiraffe", "more/new.txt": "zqnewcomer"})
    os.utime(docs / "a.zip", (1, 1))
    service.index()
    assert _hits(service, "zqzebrafish") == []
    assert _hits(service, "zqgiraffe") == [zebra]
    assert _hits(service, "zqnewcomer") == [f"{docs / 'a.zip'}!/more/new.txt"]
    assert service.failed() == []  # the bad member went with the old archive

    # the archive moves: members follow under the new path
    (docs / "sub").mkdir()
    shutil.move(docs / "a.zip", docs / "sub" / "a.zip")
    service.index()
    assert _hits(service, "zqgiraffe") == [f"{docs / 'sub' / 'a.zip'}!/inner/zebra.txt"]

    # deleted archives take their members along (full scan and incremental)
    os.remove(docs / "sub" / "a.zip")
    service.index()
    assert not any("a.zip" in p for p in _paths(service))
    os.remove(docs / "b.tar.gz")
    service.indexer().run_changes([str(docs / "b.tar.gz")], [str(docs)], Rules([str(docs)]))
    assert not any("b.tar.gz" in p for p in _paths(service))
    assert _hits(service, "zqwalrus") == []
    assert any("c.7z!/" in p for p in _paths(service))


def test_the_watchers_incremental_runs_replace_and_drop_members(tmp_path: Path, service: Service) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    archive = _zip(docs / "a.zip", {"x/one.txt": "zqalpha", "bad.pdf": "%PDF-1.4 broken"})
    service.add_roots([str(docs)])
    rules = Rules([str(docs)])

    def changed() -> None:
        service.indexer().run_changes([str(archive)], [str(docs)], rules)

    changed()
    assert _hits(service, "zqalpha") == [f"{archive}!/x/one.txt"]
    assert [f["path"] for f in service.failed()] == [f"{archive}!/bad.pdf"]
    _zip(archive, {"x/two.txt": "zqbeta"})
    os.utime(archive, (2, 2))
    changed()
    assert _hits(service, "zqalpha") == [] and _hits(service, "zqbeta") == [f"{archive}!/x/two.txt"]
    assert service.failed() == []
    archive.unlink()
    changed()
    assert _paths(service) == set() and service.failed() == []


def test_retrying_a_failed_member_reads_its_archive_again(tmp_path: Path, service: Service) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    archive = _zip(docs / "a.zip", {"ok.txt": "zqfine", "bad.pdf": "%PDF-1.4 broken"})
    service.index([str(docs)])
    member = f"{archive}!/bad.pdf"
    assert [f["path"] for f in service.failed()] == [member]
    assert service.index().changed == 0
    assert service.retry_failed([member]) == 1
    report = service.index()
    assert report.changed == 1 and report.failed == 1  # read again (and it fails again, with its reason)
    assert [f["path"] for f in service.failed()] == [member]
    service.retry_failed()
    assert service.index().changed == 1


def test_outlook_attachments_are_documents_of_their_message(tmp_path: Path, service: Service) -> None:
    from desktop_search.testing.legacy_office import make_doc, make_msg

    docs = tmp_path / "docs"
    docs.mkdir()
    doc = make_doc(tmp_path / "plan.doc", ["The zqcormorant nesting plan"]).read_bytes()
    make_msg(docs / "mail.msg", subject="zqsubject plans", body="see attached", attachments=[("plan.doc", doc)])
    service.index([str(docs)])
    assert _hits(service, "zqsubject") == [str(docs / "mail.msg")]
    assert _hits(service, "zqcormorant") == [f"{docs / 'mail.msg'}!/plan.doc"]
    assert service.open_target(f"{docs / 'mail.msg'}!/plan.doc") == str(docs / "mail.msg")
    os.remove(docs / "mail.msg")
    service.index()
    assert _paths(service) == set()


def test_every_file_met_and_not_read_is_listed_with_a_reason(tmp_path: Path, service: Service) -> None:
    docs = tmp_path / "docs"
    (docs / "node_modules" / "pkg").mkdir(parents=True)
    (docs / "node_modules" / "pkg" / "index.js").write_text("zqhidden")
    (docs / "notes.txt").write_text("zqnotes")
    (docs / "setup.exe").write_bytes(b"MZ\x00\x00")
    (docs / "song.mp3").write_bytes(b"ID3")
    (docs / ".secret").write_text("zqsecret")
    outside = tmp_path / "outside.txt"
    outside.write_text("zqoutside")
    os.symlink(outside, docs / "out-link.txt")
    os.symlink(docs / "notes.txt", docs / "in-link.txt")
    os.symlink(tmp_path / "nowhere", docs / "broken-link.txt")
    (docs / "blob.bin.unknown").write_bytes(bytes(range(256)) * 8)  # decided by its bytes: not a document

    service.index([str(docs)])
    skipped = {Path(r["path"]).name: r["reason"] for r in service.skipped()}
    assert skipped == {
        "node_modules": "excluded: matches an exclusion pattern",
        ".secret": "excluded: matches an exclusion pattern",
        "setup.exe": "not a document: program or library (.exe)",
        "song.mp3": "not a document: audio or video (.mp3)",
        "out-link.txt": "symbolic link out of the folder: not followed",
        "in-link.txt": "symbolic link: not followed (its target is in the folder)",
        "broken-link.txt": "symbolic link: broken",
        "blob.bin.unknown": "not a document (binary)",
    }
    status = service.status()
    assert status["skipped_by_reason"] == {"excluded": 2, "not a document": 3, "symbolic link out of the folder": 1,
                                           "symbolic link": 2}
    assert status["skipped"] == 8
    assert _hits(service, "zqnotes") == [str(docs / "notes.txt")]
    assert _hits(service, "zqoutside") == []

    # unchanged: nothing is written again; gone: the entry goes
    service.index()
    os.remove(docs / "setup.exe")
    service.index()
    assert "setup.exe" not in {Path(r["path"]).name for r in service.skipped()}

    # excluded, then included again: the file is read (a skipped entry says nothing about its content)
    service.exclude(["notes.txt"])
    service.index()
    assert _hits(service, "zqnotes") == []
    assert {Path(r["path"]).name: r["reason"] for r in service.skipped()}["notes.txt"].startswith("excluded")
    service.include(["notes.txt"])
    service.index()
    assert _hits(service, "zqnotes") == [str(docs / "notes.txt")]
    assert "notes.txt" not in {Path(r["path"]).name for r in service.skipped()}


def test_cli_lists_skipped_files_and_status_counts_them(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    import json

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "notes.txt").write_text("zqnotes")
    (docs / "setup.exe").write_bytes(b"MZ\x00\x00")
    (docs / ".hidden.txt").write_text("zqhidden")
    data = tmp_path / "data"
    code, _, err = cli("--data-dir", data, "index", docs, "--keyword-only")
    assert code == 0, err
    code, out, err = cli("--data-dir", data, "skipped")
    assert code == 0, err
    assert f"{docs / 'setup.exe'}: not a document: program or library (.exe)" in out
    assert f"{docs / '.hidden.txt'}: excluded: matches an exclusion pattern" in out
    code, out, _ = cli("--data-dir", data, "skipped", "--json")
    shown = json.loads(out)
    assert shown["by_reason"] == {"excluded": 1, "not a document": 1}
    assert {Path(f["path"]).name for f in shown["files"]} == {"setup.exe", ".hidden.txt"}
    code, out, _ = cli("--data-dir", data, "status", "--json")
    status = json.loads(out)
    assert status["skipped"] == 2 and status["skipped_by_reason"] == {"excluded": 1, "not a document": 1}
    code, out, _ = cli("--data-dir", data, "status")
    assert "2 skipped (see `desktop-search skipped`)" in out
