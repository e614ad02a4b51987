"""The core must stay usable without Qt: the CLI, the tests and a future server drive it directly.

That no core module *imports* Qt is one of the layering rules in test_layering.py; this checks what loading
the core actually pulls in."""

import subprocess
import sys


def test_importing_the_core_loads_neither_qt_nor_the_model_stack():
    code = (
        "import sys, pkgutil, importlib, desktop_search.core as core\n"
        "for m in pkgutil.walk_packages(core.__path__, 'desktop_search.core.'):\n"
        "    importlib.import_module(m.name)\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'PyQt5', 'PyQt6', 'shiboken6', 'pylate')]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
