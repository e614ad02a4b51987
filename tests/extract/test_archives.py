"""Archives in the worker: members read with their inner paths; bombs, unsafe names and deep nesting fail
with a reason, and nothing is written outside the worker's private temporary folder."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import tarfile
import zipfile
from pathlib import Path

import py7zr
import pytest

from desktop_search.core.extract import ExtractLimits, extract_one
from desktop_search.core.extract import archive as A
from desktop_search.core.extract.pool import extract_in_process
from desktop_search.core.extract.types import Extracted


def _zip(path: Path, members: dict[str, bytes | str], method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", method) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def _tar(path: Path, members: dict[str, bytes], mode: str = "w:gz") -> Path:
    with tarfile.open(path, mode) as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return path


def _members(result: Extracted) -> dict[str, tuple[str | None, str | None]]:
    return {m.name: (m.result.text if m.result else None, m.error) for m in result.members}


def _snapshot(*folders: Path) -> set[str]:
    out = set()
    for folder in folders:
        for base, dirs, files in os.walk(folder):
            out.update(os.path.join(base, n) for n in dirs + files)
    return out


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The worker's temp space (TMPDIR, also for this process's tempfile)."""
    import tempfile

    folder = tmp_path / "worker-tmp"
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_zip_tar_7z_and_compressed_files_are_read_member_by_member(tmp_path: Path, private_tmp: Path) -> None:
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as z:
        z.writestr("deep/note.md", "nested narwhal notes")
    _zip(tmp_path / "a.zip", {"docs/zebra.txt": "the quick zebrafish", "page.html": "<html><body>heron</body></html>",
                              "inner.zip": inner.getvalue(), "photo.exe": b"MZ\x00\x00"})
    _tar(tmp_path / "b.tar.gz", {"a/walrus.txt": b"tarred walrus"})
    _tar(tmp_path / "c.tar.bz2", {"bison.txt": b"bzipped bison"}, "w:bz2")
    _tar(tmp_path / "d.txz", {"x/yak.txt": b"xz yak"}, "w:xz")
    _tar(tmp_path / "e.tar", {"emu.txt": b"plain tar emu"}, "w")
    (tmp_path / "src" / "s").mkdir(parents=True)
    (tmp_path / "src" / "s" / "platypus.txt").write_text("seven zipped platypus")
    with py7zr.SevenZipFile(tmp_path / "f.7z", "w") as z:
        z.writeall(tmp_path / "src" / "s", "s")
    (tmp_path / "g.log.gz").write_bytes(gzip.compress(b"gzipped gecko log"))
    (tmp_path / "h.txt.bz2").write_bytes(bz2.compress(b"bzipped hare"))
    (tmp_path / "i.txt.xz").write_bytes(lzma.compress(b"xz ibis"))

    got = _members(extract_in_process(tmp_path / "a.zip").result)  # type: ignore[arg-type]
    assert got["docs/zebra.txt"] == ("the quick zebrafish", None)
    assert "heron" in (got["page.html"][0] or "")
    assert got["inner.zip!/deep/note.md"] == ("nested narwhal notes", None)
    assert got["inner.zip"][0] == "deep/note.md"  # a nested archive's own text is its listing
    assert got["photo.exe"] == (None, "program or library (.exe)")
    expected = {"b.tar.gz": ("a/walrus.txt", "tarred walrus"), "c.tar.bz2": ("bison.txt", "bzipped bison"),
                "d.txz": ("x/yak.txt", "xz yak"), "e.tar": ("emu.txt", "plain tar emu"),
                "f.7z": ("s/platypus.txt", "seven zipped platypus"), "g.log.gz": ("g.log", "gzipped gecko log"),
                "h.txt.bz2": ("h.txt", "bzipped hare"), "i.txt.xz": ("i.txt", "xz ibis")}
    for name, (inner_name, text) in expected.items():
        outcome = extract_in_process(tmp_path / name)
        assert outcome.result is not None, (name, outcome.error)
        assert _members(outcome.result)[inner_name] == (text, None), name
        assert inner_name in outcome.result.text  # the archive's listing is searchable
    assert list(private_tmp.iterdir()) == []  # the private scratch folder is gone


def test_members_cross_the_isolated_worker(tmp_path: Path, private_tmp: Path) -> None:
    _zip(tmp_path / "a.zip", {"docs/zebra.txt": "the quick zebrafish", "bad.pdf": b"%PDF-1.4 garbage"})
    outcome = extract_one(tmp_path / "a.zip")
    assert outcome.result is not None, outcome.error
    got = _members(outcome.result)
    assert got["docs/zebra.txt"] == ("the quick zebrafish", None)
    assert got["bad.pdf"][0] is None and got["bad.pdf"][1]  # a member that fails carries its reason
    assert list(private_tmp.iterdir()) == []


def test_hostile_archives_fail_with_a_reason_and_write_nothing_outside(tmp_path: Path, private_tmp: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "work" / "a" / "b"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)  # a naive extractor would write ../../x here
    folder = tmp_path / "docs"
    folder.mkdir()
    _zip(folder / "bomb.zip", {"zeros.txt": b"\0" * (64 * 1024 * 1024)})
    _zip(folder / "traversal.zip", {"../../x": "escaped", "/abs/y": "absolute", "C:/z": "drive", "ok.txt": "fine"})
    with tarfile.open(folder / "links.tar", "w") as t:  # a link to the outside, then a file "through" it
        link = tarfile.TarInfo("out")
        link.type = tarfile.SYMTYPE
        link.linkname = str(tmp_path / "work")
        t.addfile(link)
        data = b"through the link"
        info = tarfile.TarInfo("out/x")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
        info = tarfile.TarInfo("../../x")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    nested = _zip(tmp_path / "level5.zip", {"core.txt": "the deepest text"})
    for level in (4, 3, 2, 1):
        nested = _zip(tmp_path / f"level{level}.zip", {f"level{level + 1}.zip": nested.read_bytes()})
    (folder / "nested.zip").write_bytes(nested.read_bytes())
    before = _snapshot(tmp_path / "work", folder, tmp_path.parent)

    bomb = extract_one(folder / "bomb.zip")
    assert bomb.result is None and bomb.error and bomb.error.startswith("archive bomb refused"), bomb.error

    traversal = extract_one(folder / "traversal.zip")
    assert traversal.result is not None
    got = _members(traversal.result)
    for name in ("../../x", "/abs/y", "C:/z"):
        assert got[name][0] is None and "unsafe path" in (got[name][1] or ""), name
    assert got["ok.txt"] == ("fine", None)

    links = extract_one(folder / "links.tar")
    assert links.result is not None
    got = _members(links.result)
    assert got["out"][1] == "link inside the archive: not followed"
    assert got["out/x"] == ("through the link", None)  # read from the scratch copy, never via the link
    assert "unsafe path" in (got["../../x"][1] or "")

    deep = extract_one(folder / "nested.zip")
    assert deep.result is not None
    got = _members(deep.result)
    assert "nested more than 3 levels" in (got["level2.zip!/level3.zip!/level4.zip"][1] or "")
    assert not any("core.txt" in name for name in got)

    assert _snapshot(tmp_path / "work", folder, tmp_path.parent) == before  # nothing new anywhere
    assert not (tmp_path / "work" / "x").exists() and not (tmp_path / "x").exists()
    assert list(private_tmp.iterdir()) == []


def test_caps_on_members_sizes_and_damage(tmp_path: Path, private_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(A, "MAX_MEMBERS", 5)
    many = _zip(tmp_path / "many.zip", {f"f{i}.txt": f"file {i}" for i in range(6)})
    outcome = extract_in_process(many)
    assert outcome.error == "archive bomb refused: more than 5 files in the archive"

    declared = _zip(tmp_path / "big.zip", {"big.txt": b"a" * (3 * 1024 * 1024)})
    outcome = extract_in_process(declared, ExtractLimits(max_unpacked_bytes=1024 * 1024))
    assert outcome.error and outcome.error.startswith("archive bomb refused: it would unpack to")

    solid = tmp_path / "bomb.7z"
    (tmp_path / "z").mkdir()
    (tmp_path / "z" / "zeros.txt").write_bytes(b"\0" * (32 * 1024 * 1024))
    with py7zr.SevenZipFile(solid, "w") as z:
        z.write(tmp_path / "z" / "zeros.txt", "zeros.txt")
    outcome = extract_in_process(solid)
    assert outcome.error and outcome.error.startswith("archive bomb refused"), outcome.error

    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    outcome = extract_in_process(tmp_path / "broken.zip")
    assert outcome.result is None and outcome.error == "corrupt ZIP archive"
    (tmp_path / "not.7z").write_bytes(b"hello, not an archive")
    outcome = extract_in_process(tmp_path / "not.7z")
    assert outcome.result is None and outcome.error == "not a ZIP, tar or 7z archive"
    assert list(private_tmp.iterdir()) == []


def test_encrypted_member_fails_with_a_reason(tmp_path: Path, private_tmp: Path) -> None:
    path = _zip(tmp_path / "e.zip", {"secret.txt": "hidden", "open.txt": "visible"})
    data = bytearray(path.read_bytes())
    # set the "encrypted" flag of secret.txt in its local header and in the central directory
    for sig in (b"PK\x03\x04", b"PK\x01\x02"):
        at = data.find(sig)
        flag_at = at + (6 if sig == b"PK\x03\x04" else 8)
        data[flag_at] |= 0x1
    path.write_bytes(bytes(data))
    got = _members(extract_in_process(path).result)  # type: ignore[arg-type]
    assert got["secret.txt"] == (None, "password-protected file in the archive")
    assert got["open.txt"] == ("visible", None)


def test_password_protected_7z_fails_with_a_reason(tmp_path: Path, private_tmp: Path) -> None:
    (tmp_path / "s.txt").write_text("secret walrus")
    with py7zr.SevenZipFile(tmp_path / "locked.7z", "w", password="pw") as z:
        z.set_encrypted_header(True)
        z.write(tmp_path / "s.txt", "s.txt")
    outcome = extract_in_process(tmp_path / "locked.7z")
    assert outcome.result is None and outcome.error == "password-protected 7z archive"


def test_damaged_archives_found_by_fuzzing_fail_with_one_line(tmp_path: Path, private_tmp: Path) -> None:
    (tmp_path / "x.txt").write_text("seven zipped text " * 200)
    with py7zr.SevenZipFile(tmp_path / "d.7z", "w") as z:
        z.write(tmp_path / "x.txt", "x.txt")
    data = bytearray((tmp_path / "d.7z").read_bytes())
    data[32:48] = b"\xff" * 16  # the start of the LZMA stream
    (tmp_path / "d.7z").write_bytes(bytes(data))
    outcome = extract_in_process(tmp_path / "d.7z")
    assert outcome.result is None and (outcome.error or "").startswith("corrupt 7z archive ("), outcome.error

    nameless = bytearray(_zip(tmp_path / "n.zip", {"a.txt": "fine"}).read_bytes())
    at = nameless.find(b"PK\x01\x02")  # the central directory entry's name length: 0
    nameless[at + 28 : at + 30] = b"\x00\x00"
    (tmp_path / "n.zip").write_bytes(bytes(nameless))
    outcome = extract_in_process(tmp_path / "n.zip")
    assert outcome.error is None or not outcome.error.startswith("extractor error"), outcome.error
