"""The installers' scripts, the PyInstaller spec and the package agree (entry point, resources, version, app
id), and the NSIS script compiles. Cheap: nothing is frozen here (packaging/linux/build.sh does that)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
SPEC = (PACKAGING / "desktop-search.spec").read_text(encoding="utf-8")
ENTRY = (PACKAGING / "entry.py").read_text(encoding="utf-8")
NSIS = (PACKAGING / "windows" / "installer.nsi").read_text(encoding="utf-8")
WORKFLOW = (ROOT / ".github" / "workflows" / "release.yml").read_text(encoding="utf-8")
SHELL_SCRIPTS = sorted(PACKAGING.glob("*.sh")) + sorted(PACKAGING.glob("*/*.sh"))


def _spec_constant(name: str) -> str:
    match = re.search(rf'^{name} = "([^"]+)"', SPEC, re.M)
    assert match, f"{name} not found in the spec"
    return match.group(1)


def test_spec_reads_name_version_and_entry_point_from_pyproject() -> None:
    assert 'NAME = PROJECT["name"]' in SPEC and 'VERSION = PROJECT["version"]' in SPEC
    assert PROJECT["name"] == "desktop-search"
    # the frozen entry point runs the same main() as the console script
    assert PROJECT["scripts"]["desktop-search"] == "desktop_search.cli:main"
    assert '"desktop_search.cli:main"' in SPEC
    assert "from desktop_search.cli import main" in ENTRY
    assert 'str(HERE / "entry.py")' in SPEC


def test_version_flag_matches_the_package(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    from desktop_search.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"desktop-search {version('desktop-search')}"
    assert version("desktop-search") == PROJECT["version"]


def test_resources_are_bundled_and_found_frozen_and_unfrozen(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from desktop_search import assets

    assert '(str(ROOT / "resources"), "resources")' in SPEC
    monkeypatch.delenv(assets.RESOURCES_ENV, raising=False)
    assert assets.resource_path("icon.svg") == ROOT / "resources" / "icon.svg"
    assert assets.resource_path("icon.svg").is_file()
    assert (assets.resources_dir() / "samples").is_dir()
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert assets.resources_dir() == tmp_path / "resources"
    assert assets.is_frozen()


def test_the_gui_takes_its_icon_from_the_asset_lookup() -> None:
    theme = (ROOT / "desktop_search" / "gui" / "theme.py").read_text(encoding="utf-8")
    assert "desktop_search.assets" in theme
    assert "_MEIPASS" not in theme  # one lookup, in desktop_search/assets.py


def test_worker_flag_is_handled_before_anything_heavy() -> None:
    from desktop_search.core.extract.pool import WORKER_FLAG

    assert WORKER_FLAG == "--extract-worker"
    flag_at = ENTRY.index(f'"{WORKER_FLAG}"')
    assert flag_at < ENTRY.index("desktop_search.cli") and flag_at < ENTRY.index("multiprocessing")
    before = ENTRY[:flag_at]
    assert re.findall(r"^(?:import|from) \S+", before, re.M) == ["import sys"]
    assert f'"{WORKER_FLAG}"' in (ROOT / "desktop_search" / "cli" / "app.py").read_text(encoding="utf-8")
    assert '"desktop_search.core.extract.worker"' in SPEC  # a hidden import: only the pool names it


def test_app_ids_agree() -> None:
    name = PROJECT["name"]
    desktop = (PACKAGING / "linux" / "desktop-search.desktop").read_text(encoding="utf-8")
    assert re.search(r"^Exec=desktop-search$", desktop, re.M)
    assert re.search(rf"^Icon={name}$", desktop, re.M)
    # Wayland/X11 match the window to the installed entry by this name
    gui = (ROOT / "desktop_search" / "gui" / "__init__.py").read_text(encoding="utf-8")
    assert f'setDesktopFileName("{name}")' in gui
    build = (PACKAGING / "linux" / "build.sh").read_text(encoding="utf-8")
    assert 'usr/share/applications/$NAME.desktop' in build and 'ln -s "/opt/$NAME/$NAME" "$PKG/usr/bin/$NAME"' in build
    for lib in ("libegl1", "libgl1", "libxkbcommon0", "libfontconfig1", "libdbus-1-3", "libglib2.0-0",
                "libxkbcommon-x11-0", "libxcb-cursor0"):
        assert re.search(rf"\b{re.escape(lib)}\b", build), f".deb Depends lacks {lib}"
    # one reverse-DNS id: the spec writes it to app-info.env, build.sh puts it in the AppStream metadata
    assert re.fullmatch(r"[a-z]+(\.[a-z_]+)+", _spec_constant("APP_ID"))
    assert "<id>@APP_ID@</id>" in (PACKAGING / "linux" / "metainfo.xml.in").read_text(encoding="utf-8")
    assert 's/@APP_ID@/$APP_ID/g' in build
    assert f'!define APP_ID "{name}"' in NSIS
    assert f'!define GUI_EXE "{name}-gui.exe"' in NSIS and 'f"{NAME}-gui"' in SPEC


def test_nsis_installs_per_user_and_can_keep_the_index() -> None:
    assert re.search(r"^RequestExecutionLevel user$", NSIS, re.M)
    assert 'InstallDir "$LOCALAPPDATA\\Programs\\${APP_ID}"' in NSIS
    assert "$SMPROGRAMS" in NSIS and "WriteUninstaller" in NSIS
    assert "MB_YESNO" in NSIS and "/SD IDNO" in NSIS  # asks; silent uninstall keeps the data
    # the data folder the uninstaller offers to delete is the one the app uses (platformdirs, appauthor=False)
    assert '!define DATA_DIR "$LOCALAPPDATA\\${APP_ID}"' in NSIS
    config = (ROOT / "desktop_search" / "core" / "config.py").read_text(encoding="utf-8")
    assert "appauthor=False" in config


@pytest.mark.skipif(shutil.which("makensis") is None, reason="makensis (Debian package nsis) not installed")
def test_nsis_script_compiles_against_a_stub_payload(tmp_path: Path) -> None:
    stub = tmp_path / "desktop-search"
    (stub / "_internal").mkdir(parents=True)
    for name in ("desktop-search.exe", "desktop-search-gui.exe", "_internal/base_library.zip"):
        (stub / name).write_bytes(b"stub")
    out = tmp_path / "desktop-search-stub-installer.exe"
    result = subprocess.run(
        ["makensis", "-WX", "-V2", f"-DAPP_VERSION={PROJECT['version']}", f"-DSOURCE_DIR={stub}",
         f"-DOUT_FILE={out}", str(PACKAGING / "windows" / "installer.nsi")],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert out.read_bytes()[:2] == b"MZ"


def test_release_workflow_builds_tests_and_attaches_every_installer() -> None:
    import yaml

    flow = yaml.safe_load(WORKFLOW)
    triggers = flow.get("on", flow.get(True))  # YAML 1.1 reads a bare `on` as True
    assert triggers["push"]["tags"] == ["v*.*.*"]
    jobs = flow["jobs"]
    assert jobs["linux"]["runs-on"].startswith("ubuntu")
    assert jobs["windows"]["runs-on"].startswith("windows")
    runners = {m["runner"]: m["arch"] for m in jobs["macos"]["strategy"]["matrix"]["include"]}
    assert runners == {"macos-14": "arm64", "macos-13": "x86_64"}
    assert "download.pytorch.org/whl/cpu" in WORKFLOW  # CPU-only torch on Linux
    for script in ("packaging/linux/build.sh", "packaging/linux/smoke_test.sh", "packaging/windows/build.ps1",
                   "packaging/macos/build-dmg.sh", "packaging/macos/smoke_test.sh"):
        assert script in WORKFLOW.replace("./packaging", "packaging"), script
        assert (ROOT / script).is_file()
    assert "-SmokeTest" in WORKFLOW
    for pattern in ("*.deb", "*.AppImage", "*.exe", "*.dmg"):
        assert f"artifacts/*/{pattern}" in WORKFLOW


def test_shell_scripts_parse() -> None:
    assert SHELL_SCRIPTS
    for script in SHELL_SCRIPTS:
        subprocess.run(["bash", "-n", str(script)], check=True, timeout=30)


def test_bundle_outputs_are_ignored() -> None:
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").split()
    assert "packaging/build-venv/" in ignored and "packaging/out/" in ignored
    assert "--distpath" in (PACKAGING / "build-bundle.sh").read_text(encoding="utf-8")


def test_bundled_model_option_matches_where_the_app_looks(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """DESKTOP_SEARCH_BUNDLE_MODEL puts a model folder at models/<slug> in the bundle: the place
    core.model.find_model checks when frozen."""
    from desktop_search.core import model

    assert 'f"models/{_slug(model_id)}"' in SPEC
    assert "from desktop_search.core.model import DEFAULT_MODEL, _slug, validate_model_dir" in SPEC
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert model.bundled_models_dir() == tmp_path / "models"
    assert model._slug(model.DEFAULT_MODEL)
