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
