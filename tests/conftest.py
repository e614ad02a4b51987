import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import shutil  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

TOPICS = Path(__file__).parent / "data" / "topics"
SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    from desktop_search.testing.models import build_tiny

    return build_tiny(tmp_path_factory.mktemp("models") / "tiny")


@pytest.fixture(scope="session")
def standin_model(tmp_path_factory) -> Path:
    from desktop_search.testing.models import build_standin

    return build_standin(tmp_path_factory.mktemp("models") / "standin")


@pytest.fixture
def topics(tmp_path) -> Path:
    """A fresh copy of the ten hand-made files on distinct topics."""
    target = tmp_path / "docs"
    shutil.copytree(TOPICS, target)
    return target


@pytest.fixture
def cli(tmp_path, capsys):
    """Run the CLI in-process: returns (exit code, stdout, stderr)."""
    from desktop_search.cli import main

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # argparse usage errors
            code = exc.code if isinstance(exc.code, int) else 2
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


@pytest.fixture
def unprivileged_cli():
    """A factory: ``unprivileged_cli(base)`` runs the real CLI as its own process with ``--data-dir
    base/data`` and HOME=base. As root (which reads anything) it first drops the capabilities that
    bypass file permissions, with util-linux's setpriv, so unreadable files really are unreadable."""
    import subprocess
    import sys

    def make(base: Path):  # type: ignore[no-untyped-def]
        prefix: list[str] = []
        if os.geteuid() == 0:
            caps = "-dac_override,-dac_read_search"
            prefix = ["setpriv", f"--inh-caps={caps}", f"--bounding-set={caps}"]
        env = {**os.environ, "HOME": str(base), "HF_HUB_OFFLINE": "1"}

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            cmd = [*prefix, sys.executable, "-m", "desktop_search", "--data-dir", str(base / "data"), *args]
            return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)

        return run

    return make
