"""Changes on disk are reflected; bad input gets one clear line and exit code 1, never a traceback."""

import json
import os
import shutil
from pathlib import Path

import numpy as np

from desktop_search.core.service import Service


def names(cli, data, model, query, mode="hybrid"):
    code, out, err = cli("--data-dir", data, "--model", model, "search", query, "--json", "--mode", mode)
    assert code == 0, err
    return [Path(r["path"]).name for r in json.loads(out)["results"]]


def index(cli, data, model, *paths):
    code, _, err = cli("--data-dir", data, "--model", model, "index", *paths)
    assert code == 0, err
    return err


def test_change_delete_and_rename_are_reflected(cli, tmp_path, topics, tiny_model):
    data = tmp_path / "data"
    index(cli, data, tiny_model, topics)
    assert names(cli, data, tiny_model, "sourdough")[0] == "bread.txt"

    (topics / "bread.txt").write_text("A guide to repairing bicycle punctures with a patch kit.")
    (topics / "football.txt").unlink()
    (topics / "knitting.txt").rename(topics / "scarf-pattern.txt")
    err = index(cli, data, tiny_model)
    assert "1 changed" in err and "1 moved" in err and "1 removed" in err
    assert "1 encoded" in err  # the renamed file kept its vectors: only the changed one was encoded

    assert "bread.txt" not in names(cli, data, tiny_model, "sourdough", "keyword")
    assert names(cli, data, tiny_model, "bicycle punctures")[0] == "bread.txt"
    assert "football.txt" not in names(cli, data, tiny_model, "penalty striker goalkeeper")
    assert names(cli, data, tiny_model, "garter stitch")[0] == "scarf-pattern.txt"
    code, out, _ = cli("--data-dir", data, "status", "--json")
    assert json.loads(out)["indexed"] == 9


def test_a_file_deleted_before_reindexing_is_never_shown(cli, tmp_path, topics, tiny_model):
    data = tmp_path / "data"
    index(cli, data, tiny_model, topics)
    (topics / "jupiter.txt").unlink()
    assert "jupiter.txt" not in names(cli, data, tiny_model, "Jupiter largest planet")


def test_remove_drops_a_folder(cli, tmp_path, topics, tiny_model):
    data = tmp_path / "data"
    other = tmp_path / "other"
    other.mkdir()
    (other / "note.txt").write_text("sourdough notes from the bakery course")
    index(cli, data, tiny_model, topics, other)
    code, _, err = cli("--data-dir", data, "remove", topics)
    assert code == 0, err
    assert names(cli, data, tiny_model, "sourdough") == ["note.txt"]
    code, _, err = cli("--data-dir", data, "remove", tmp_path / "never-added")
    assert code == 1 and "not a watched folder" in err


def test_missing_path_is_one_line_and_exit_1(cli, tmp_path):
    code, out, err = cli("--data-dir", tmp_path / "data", "index", tmp_path / "nope")
    assert code == 1 and err.startswith("error: no such file or folder") and err.count("\n") == 1


def test_empty_folder_indexes_cleanly(cli, tmp_path, tiny_model):
    (tmp_path / "empty").mkdir()
    data = tmp_path / "data"
    err = index(cli, data, tiny_model, tmp_path / "empty")
    assert "0 files seen" in err
    assert names(cli, data, tiny_model, "anything") == []


def test_non_utf8_file_names_are_indexed_and_printed(cli, tmp_path, tiny_model):
    folder = tmp_path / "docs"
    folder.mkdir()
    raw = os.path.join(os.fsencode(folder), b"caf\xe9-menu.txt")
    with open(raw, "wb") as handle:
        handle.write(b"espresso cappuccino croissant menu")
    data = tmp_path / "data"
    index(cli, data, tiny_model, folder)
    code, out, err = cli("--data-dir", data, "--model", tiny_model, "search", "cappuccino", "--json")
    assert code == 0, err
    result = json.loads(out)["results"][0]
    assert "caf" in result["path"] and result["path"].endswith("-menu.txt")
    code, out, err = cli("--data-dir", data, "--model", tiny_model, "search", "cappuccino")
    assert code == 0 and "menu.txt" in out


def test_unreadable_file_is_listed_as_failed(unprivileged_cli):
    """Runs the real CLI; as root (which reads anything) it first drops the capabilities that bypass
    file permissions, with util-linux's setpriv."""
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="ds-unreadable-"))
    try:
        folder = base / "docs"
        folder.mkdir()
        (folder / "fine.txt").write_text("readable text about lighthouses")
        (folder / "locked.txt").write_text("secret")
        (folder / "locked.txt").chmod(0)
        run = unprivileged_cli(base)

        done = run("index", str(folder), "--keyword-only")
        assert done.returncode == 0, done.stderr
        assert "1 failed" in done.stderr
        rows = json.loads(run("failed", "--json").stdout)
        assert len(rows) == 1 and rows[0]["path"].endswith("locked.txt")
        assert "permission" in rows[0]["reason"].lower()
        found = json.loads(run("search", "lighthouses", "--mode", "keyword", "--json").stdout)
        assert Path(found["results"][0]["path"]).name == "fine.txt"
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_file_deleted_while_indexing_is_skipped_not_failed(tmp_path, tiny_model, monkeypatch):
    from desktop_search.core import indexer as indexer_mod

    folder = tmp_path / "docs"
    folder.mkdir()
    for i in range(5):
        (folder / f"f{i}.txt").write_text(f"document number {i} about rivers")
    real = indexer_mod.extract_many

    def deleting_extract_many(paths, *args, **kwargs):
        (folder / "f3.txt").unlink()  # gone after the scan, before extraction
        yield from real(paths, *args, **kwargs)

    monkeypatch.setattr(indexer_mod, "extract_many", deleting_extract_many)
    with Service(tmp_path / "data", model=str(tiny_model)) as service:
        report = service.index([str(folder)])
        assert report.failed == 0 and service.failed() == []
        assert service.status()["indexed"] == 4


def test_garbage_catalog_then_doctor_repair(cli, tmp_path, topics, tiny_model):
    data = tmp_path / "data"
    index(cli, data, tiny_model, topics)
    for suffix in ("-wal", "-shm"):
        (data / f"catalog.db{suffix}").unlink(missing_ok=True)
    (data / "catalog.db").write_bytes(os.urandom(64 * 1024))
    code, _, err = cli("--data-dir", data, "--model", tiny_model, "search", "sourdough")
    assert code == 1 and "damaged" in err and "doctor --repair" in err and err.count("\n") == 1
    code, out, err = cli("--data-dir", data, "--model", tiny_model, "doctor", "--repair")
    assert code == 0, err
    assert "set aside" in err
    assert names(cli, data, tiny_model, "sourdough")[0] == "bread.txt"
    code, out, _ = cli("--data-dir", data, "--model", tiny_model, "doctor")
    assert code == 0 and out.strip() == "consistent"


def test_model_folder_that_is_not_a_model(cli, tmp_path, topics):
    bogus = tmp_path / "bogus-model"
    bogus.mkdir()
    (bogus / "README.md").write_text("not weights")
    for command in (["index", topics], ["search", "bread"]):
        code, _, err = cli("--data-dir", tmp_path / "data", "--model", bogus, *command)
        assert code == 1 and "not a model folder" in err and err.count("\n") == 1


def test_damaged_segment_is_reported_and_only_its_files_re_encoded(cli, tmp_path, topics, tiny_model):
    data = tmp_path / "data"
    with Service(data, model=str(tiny_model)) as service:
        service.settings.batch_files = 4  # several segments
        service.index([str(topics)])
        segments = service.reader().query("SELECT id, dir, n_passages FROM segments WHERE state = 'live'")
        assert len(segments) >= 2
        victim = segments[0]
        held = service.reader().scalar(
            "SELECT COUNT(DISTINCT file_id) FROM passages WHERE segment_id = ?", [victim["id"]]
        )
    vectors = data / "segments" / victim["dir"] / "vectors.npy"
    vectors.write_bytes(vectors.read_bytes()[: vectors.stat().st_size // 2])
    code, out, _ = cli("--data-dir", data, "--model", tiny_model, "doctor")
    assert code == 1 and f"segment {victim['id']} is damaged" in out
    code, out, err = cli("--data-dir", data, "--model", tiny_model, "doctor", "--repair")
    assert code == 0, err
    assert f"({held} file(s) encoded" in out
    code, out, _ = cli("--data-dir", data, "--model", tiny_model, "doctor")
    assert code == 0 and out.strip() == "consistent"
    assert names(cli, data, tiny_model, "sourdough")[0] == "bread.txt"


def test_plaid_compaction_keeps_results(tmp_path, topics, standin_model):
    """Past the flat limit, segments are rewritten as one PLAID segment; ranking stays the same."""
    extra = topics / "more"
    extra.mkdir()
    src = Path(__file__).resolve().parents[1] / "data" / "topics"
    for i in range(12):
        for f in src.iterdir():
            shutil.copy(f, extra / f"{i}-{f.name}")
    query = "how to make a loaf"
    with Service(tmp_path / "flat", model=str(standin_model)) as flat:
        flat.index([str(topics)])
        expected = [Path(r.path).name.split("-")[-1] for r in flat.search(query, limit=5, mode="semantic").results]
        assert flat.status()["plaid_segments"] == 0
    with Service(tmp_path / "plaid", model=str(standin_model)) as plaid:
        plaid.settings.flat_max_tokens = 6000  # force compaction (limit = 6000 * 64 / 384 = 1000 tokens)
        plaid.settings.batch_files = 16
        plaid.index([str(topics)])
        status = plaid.status()
        assert status["plaid_segments"] >= 1  # (a remainder below the limit may stay flat)
        got = [Path(r.path).name.split("-")[-1] for r in plaid.search(query, limit=5, mode="semantic").results]
        assert got[0] == expected[0] == "bread.txt"
        # tombstones: deleting files hides them at once, before any merge
        for f in extra.glob("*-bread.txt"):
            f.unlink()
        report = plaid.index()
        assert report.deleted == 12
        hits = plaid.search(query, limit=20, mode="semantic").results
        assert sum(Path(r.path).name.endswith("bread.txt") for r in hits) == 1
        live = plaid.store.live
        assert any(not mask.all() for mask in live.values())
        assert np.isfinite([r.score for r in hits]).all()
