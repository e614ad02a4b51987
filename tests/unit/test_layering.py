"""The layering contract (issue 16), checked on the source with ``ast``; no import-linter needed.

- the window (``desktop_search/gui``) and the CLI (``cli/``) reach the core only through
  ``desktop_search.core.service`` (which re-exports the types, errors and small helpers they use);
- extraction (``core/extract``) imports neither torch nor numpy nor the catalog (nor SQLite): it runs in
  worker processes that must stay small and start fast, and knows nothing of storage;
- the segment index (``core/index``) never imports the indexer that drives it;
- the core never imports Qt (the CLI, the tests and a future server drive it without one).

Every import counts: module level, inside functions (lazy imports), relative ones, ``__import__`` and
``importlib.import_module`` with a literal name. The last tests feed the checker deliberate violations.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "desktop_search"
SERVICE = "desktop_search.core.service"
QT_PACKAGES = ("PySide6", "PyQt5", "PyQt6", "shiboken6", "PySide2", "qtpy")

# (file, module it may import despite the rules): reason. Keep this short; each entry must still be in use.
ALLOWED: dict[tuple[str, str], str] = {
    ("desktop_search/cli/app.py", "desktop_search.core.extract.worker"): (
        "the hidden --extract-worker entry (the frozen app's extraction worker processes start through it) "
        "imports only the worker, before anything heavy: going through the service would load numpy, the "
        "catalog and the index into every worker"
    ),
    ("desktop_search/core/extract/ocr.py", "numpy"): (
        "OCR (issue 15) hands pictures to ONNX Runtime as arrays; imported inside the OCR functions only, so a "
        "worker loads numpy when it meets its first image or scanned page, never for other files"
    ),
}


def _under(*parts: str) -> Callable[[str], bool]:
    prefix = "/".join(parts) + "/"
    return lambda path: path.startswith(prefix)


def _module_or_below(*names: str) -> Callable[[str], bool]:
    return lambda mod: any(mod == n or mod.startswith(n + ".") for n in names)


def _core_past_service(mod: str) -> bool:
    return mod.startswith("desktop_search.core.") and not (mod == SERVICE or mod.startswith(SERVICE + "."))


@dataclass(frozen=True)
class Rule:
    name: str
    applies: Callable[[str], bool]  # to a file, by its path relative to the repository ("/"-separated)
    forbids: Callable[[str], bool]  # an imported module, by its absolute dotted name


RULES = [
    Rule("the window and the CLI use the core only through core.service",
         lambda p: p.startswith("desktop_search/gui/") or p.startswith("desktop_search/cli/"), _core_past_service),
    Rule("extraction imports neither torch, numpy, the catalog nor SQLite", _under("desktop_search", "core", "extract"),
         _module_or_below("torch", "numpy", "desktop_search.core.catalog", "sqlite3", "sqlite_utils")),
    Rule("the segment index does not import the indexer", _under("desktop_search", "core", "index"),
         _module_or_below("desktop_search.core.indexer")),
    Rule("the core does not import Qt", _under("desktop_search", "core"), _module_or_below(*QT_PACKAGES)),
]


def module_name(path: str) -> tuple[str, bool]:
    """'desktop_search/gui/window.py' -> ('desktop_search.gui.window', False); an __init__ -> (package, True)."""
    parts = path.removesuffix(".py").split("/")
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


def imports(source: str, path: str) -> Iterator[tuple[int, str]]:
    """(line, absolute dotted name) of everything the module at ``path`` imports, at any depth.
    ``from a import b`` yields ``a`` and ``a.b`` (b may be a submodule)."""
    module, is_package = module_name(path)
    package = module.split(".") if is_package else module.split(".")[:-1]
    for node in ast.walk(ast.parse(source, filename=path)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            yield node.lineno, mod
            for alias in node.names:
                if alias.name != "*":
                    yield node.lineno, f"{mod}.{alias.name}"
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            arg = node.args[0]
            if name in ("__import__", "import_module") and isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                yield node.lineno, arg.value


def violations(sources: dict[str, str], allowed: dict[tuple[str, str], str] | None = None) -> list[str]:
    """Broken rules in ``sources`` ({repository-relative path: module text}), one line each."""
    allowed = ALLOWED if allowed is None else allowed
    found = []
    for path, source in sorted(sources.items()):
        rules = [r for r in RULES if r.applies(path)]
        if not rules:
            continue
        for line, mod in imports(source, path):
            if any(f == path and (mod == m or mod.startswith(m + ".")) for f, m in allowed):
                continue
            found += [f"{path}:{line} imports {mod} ({r.name})" for r in rules if r.forbids(mod)]
    return sorted(set(found))


def package_sources() -> dict[str, str]:
    return {p.relative_to(REPO).as_posix(): p.read_text(encoding="utf-8") for p in PACKAGE.rglob("*.py")}


def test_the_code_keeps_its_layers():
    assert violations(package_sources()) == []


def test_every_allowed_exception_is_still_needed():
    sources = package_sources()
    for path, mod in ALLOWED:
        unexcused = violations({path: sources[path]}, allowed={})
        assert any(f" imports {mod} " in v or f" imports {mod}." in v for v in unexcused), f"drop {mod} from ALLOWED"


# --- the checker itself: deliberate violations fail it -------------------------------------------------------


def test_a_window_module_reaching_past_the_service_is_caught_lazy_and_relative_imports_too():
    source = (
        "from desktop_search.core.service import Service\n"  # fine
        "from desktop_search.core import service\n"  # fine
        "def later():\n"
        "    from ..core.catalog import Catalog\n"  # relative, inside a function
        "    from ..core import paths\n"
        "    import desktop_search.core.search\n"
    )
    found = violations({"desktop_search/gui/fake.py": source})
    assert [v.split(" (")[0] for v in found] == [
        "desktop_search/gui/fake.py:4 imports desktop_search.core.catalog",
        "desktop_search/gui/fake.py:4 imports desktop_search.core.catalog.Catalog",
        "desktop_search/gui/fake.py:5 imports desktop_search.core.paths",
        "desktop_search/gui/fake.py:6 imports desktop_search.core.search",
    ]


def test_the_cli_exception_covers_only_the_extract_worker():
    source = "from desktop_search.core.extract.worker import main\nfrom desktop_search.core.indexer import Cancelled\n"
    found = violations({"desktop_search/cli/app.py": source})
    assert found == ["desktop_search/cli/app.py:2 imports desktop_search.core.indexer (the window and the CLI use the "
                     "core only through core.service)",
                     "desktop_search/cli/app.py:2 imports desktop_search.core.indexer.Cancelled (the window and the "
                     "CLI use the core only through core.service)"]
    # the same import in the window is not excused
    assert violations({"desktop_search/gui/fake.py": source.splitlines()[0]})


def test_extraction_importing_torch_numpy_or_the_catalog_is_caught():
    source = ("import numpy as np\n"
              "def f():\n"
              "    import torch.nn\n"
              "    from ..catalog import Catalog\n"
              "    __import__('sqlite3')\n")
    found = violations({"desktop_search/core/extract/fake.py": source})
    assert {v.split(" imports ")[1].split(" (")[0] for v in found} == {
        "numpy", "torch.nn", "desktop_search.core.catalog", "desktop_search.core.catalog.Catalog", "sqlite3"}


def test_the_index_importing_the_indexer_and_the_core_importing_qt_are_caught():
    assert violations({"desktop_search/core/index/fake.py": "from ..indexer import Indexer\n"})
    assert violations({"desktop_search/core/index/__init__.py": "from .. import indexer\n"})
    assert violations({"desktop_search/core/fake.py": "import importlib\nimportlib.import_module('PySide6.QtCore')\n"})
    assert violations({"desktop_search/core/extract/fake.py": "from PySide6 import QtCore\n"})
    # the window may import Qt, and the index may import numpy
    assert not violations({"desktop_search/gui/fake.py": "from PySide6 import QtCore\n"})
    assert not violations({"desktop_search/core/index/fake.py": "import numpy\nfrom ..catalog import Catalog\n"})
