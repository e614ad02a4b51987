"""Exclusion patterns: defaults, global and per-folder patterns, .gitignore, the CLI, and changes to them
updating the index. The scanner and the watcher ask the same Rules."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from desktop_search.core import paths as P
from desktop_search.core.exclusions import DEFAULT_PATTERNS, Exclusion, Rules
from desktop_search.core.service import Service


def _rules(root: str, *patterns: str, folder: str = "", gitignore: bool = False, data_dir: str | None = None) -> Rules:
    items = [Exclusion("", p, True) for p in DEFAULT_PATTERNS] + [Exclusion(folder, p) for p in patterns]
    return Rules([root], items, gitignore=gitignore, data_dir=data_dir)


def test_defaults_leave_out_hidden_files_caches_and_our_own_data(tmp_path: Path) -> None:
    root = str(tmp_path / "r")
    rules = _rules(root, data_dir=str(tmp_path / "r" / "appdata"))
    skipped = [".hidden.txt", ".git/config", "a/node_modules/x/index.js", "src/__pycache__/m.pyc",
               "venv/lib/site.py", ".venv/x.py", "p/__pypackages__/3.11/x.py", ".tox/log.txt", ".cache/f",
               "appdata/catalog.db", "appdata/segments/flat-1/x"]
    kept = ["notes.txt", "a/b/report.pdf", "venvironment.txt", "node_modules.txt", "appdata/eval/docs/1.txt"]
    for rel in skipped:
        assert rules.skip(f"{root}/{rel}", is_dir=False), rel
    for rel in kept:
        assert not rules.skip(f"{root}/{rel}", is_dir=False), rel
    assert rules.skip(f"{root}/build", is_dir=True) is False
    assert rules.skip("/elsewhere/file.txt", is_dir=False)  # not under a watched folder


def test_patterns_anchored_negated_and_per_folder(tmp_path: Path) -> None:
    root = str(tmp_path / "r")
    other = str(tmp_path / "o")
    items = [Exclusion("", "*.log"), Exclusion("", "!keep.log"), Exclusion(root, "/build/")]
    rules = Rules([root, other], items)
    assert rules.skip(f"{root}/x/debug.log", is_dir=False)
    assert not rules.skip(f"{root}/x/keep.log", is_dir=False)
    assert rules.skip(f"{root}/build", is_dir=True) and rules.skip(f"{root}/build/out.txt", is_dir=False)
    assert not rules.skip(f"{root}/src/build/out.txt", is_dir=False)  # anchored at the folder
    assert not rules.skip(f"{other}/build/out.txt", is_dir=False)  # that folder's pattern only


def test_gitignore_is_honoured_when_asked(tmp_path: Path) -> None:
    root = tmp_path / "r"
    (root / "proj" / "dist").mkdir(parents=True)
    (root / "proj" / ".gitignore").write_text("dist/\n*.tmp\n")
    path = str(root / "proj" / "dist" / "bundle.txt")
    assert not _rules(str(root)).skip(path, is_dir=False)
    on = _rules(str(root), gitignore=True)
    assert on.skip(path, is_dir=False)
    assert on.skip(str(root / "proj" / "x.tmp"), is_dir=False)
    assert not on.skip(str(root / "x.tmp"), is_dir=False)  # only below the folder holding the .gitignore


def _tree(root: Path) -> None:
    for rel in ("notes.txt", "drafts/draft1.txt", "drafts/draft2.txt", "logs/run.log", ".hidden/secret.txt",
                "node_modules/pkg/readme.txt", "proj/dist/out.txt", "proj/src/code.txt"):
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(f"text of {rel} zq{rel.replace('/', '').replace('.', '')}\n")
    (root / "proj" / ".gitignore").write_text("dist/\n")


def _names(service: Service) -> set[str]:
    root = Path(service.roots()[0])
    return {str(Path(P.from_db(r[1])).relative_to(root)) for r in service.reader().known_files()}


def test_cli_exclude_include_and_list_update_the_index(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "docs"
    _tree(root)
    data = str(tmp_path / "data")
    code, _, err = cli("--data-dir", data, "index", "--keyword-only", root)
    assert code == 0, err
    base = {"notes.txt", "drafts/draft1.txt", "drafts/draft2.txt", "logs/run.log", "proj/dist/out.txt",
            "proj/src/code.txt"}
    with Service(data, allow_download=False) as s:
        assert _names(s) == base  # hidden and node_modules left out by default
    code, _, err = cli("--data-dir", data, "exclude", "drafts/", "*.log")
    assert code == 0 and "3 file(s) dropped" in err, err
    with Service(data, allow_download=False) as s:
        assert _names(s) == base - {"drafts/draft1.txt", "drafts/draft2.txt", "logs/run.log"}
    code, _, err = cli("--data-dir", data, "exclude", "--folder", root, "/proj/src/")
    assert code == 0, err
    code, out, _ = cli("--data-dir", data, "exclusions", "--json")
    listed = json.loads(out)
    mine = [(p["folder"], p["pattern"]) for p in listed["patterns"] if not p["default"]]
    assert (None, "drafts/") in mine and (None, "*.log") in mine and (str(root), "/proj/src/") in mine
    assert listed["gitignore"] is False
    code, _, err = cli("--data-dir", data, "exclusions", "--gitignore", "on")
    assert code == 0, err
    with Service(data, allow_download=False) as s:
        assert _names(s) == {"notes.txt"}
    code, _, err = cli("--data-dir", data, "include", "drafts/", ".*")  # a default can go too
    assert code == 0, err
    with Service(data, allow_download=False) as s:
        assert _names(s) == {"notes.txt", "drafts/draft1.txt", "drafts/draft2.txt", ".hidden/secret.txt",
                             "proj/.gitignore"}
        assert [Path(r.path).name for r in s.search("zqdraftsdraft1txt", mode="keyword").results] == ["draft1.txt"]
    code, _, err = cli("--data-dir", data, "include", "nonexistent/")
    assert code == 1 and err.startswith("error: no exclusion 'nonexistent/'") and err.count("\n") == 1
    code, _, err = cli("--data-dir", data, "exclude", "--folder", tmp_path / "nowhere", "x")
    assert code == 1 and "not a watched folder" in err and err.count("\n") == 1


def test_the_watcher_drops_excluded_paths_at_once(tmp_path: Path) -> None:
    from desktop_search.core.watcher import watch

    root = tmp_path / "docs"
    root.mkdir()
    with Service(tmp_path / "data", allow_download=False) as service:
        service.add_roots([str(root)])
        service.exclude(["*.log"])
        reports: list = []
        stop = threading.Event()
        thread = threading.Thread(target=watch, args=(service, stop), kwargs={"on_report": reports.append},
                                  daemon=True)
        thread.start()
        try:
            deadline = time.monotonic() + 60
            while not reports and time.monotonic() < deadline:
                time.sleep(0.1)
            n = len(reports)
            (root / "node_modules").mkdir()
            for i in range(50):
                (root / f"run{i}.log").write_text("log line")
                (root / "node_modules" / f"m{i}.txt").write_text("dependency")
                (root / f".swap{i}").write_text("editor state")
            time.sleep(2.0)
            assert len(reports) == n  # nothing to do: no index run at all
            (root / "real.txt").write_text("a real zqrealfile\n")
            while not service.search("zqrealfile", mode="keyword").results and time.monotonic() < deadline:
                time.sleep(0.1)
            assert len(service.search("zqrealfile", mode="keyword").results) == 1
            assert _names(service) == {"real.txt"}
        finally:
            stop.set()
            thread.join(60)
