"""Where the app's read-only files live, frozen (PyInstaller bundle) or run from a checkout.

One place answers "where is ``resources/``" for the window (icons), the packaging scripts and the tests:

* frozen: PyInstaller unpacks data next to the code in ``sys._MEIPASS`` (the one-folder bundle's
  ``_internal/``; inside a macOS ``.app`` that is ``Contents/Frameworks``, with data mirrored into
  ``Contents/Resources``); the spec copies the repository's ``resources/`` there as ``resources/``;
* not frozen: the repository's ``resources/`` beside the ``desktop_search`` package.

``DESKTOP_SEARCH_RESOURCES`` overrides both (tests, distribution packages that move the files).
Pure standard library: importing it loads neither Qt nor the core.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

RESOURCES_ENV = "DESKTOP_SEARCH_RESOURCES"


def is_frozen() -> bool:
    """True inside a PyInstaller (or similar) bundle."""
    return bool(getattr(sys, "frozen", False))


def bundle_root() -> Path:
    """The folder the bundled data was unpacked to (frozen), else the repository root."""
    if is_frozen():
        return Path(getattr(sys, "_MEIPASS", Path(sys.executable).resolve().parent))
    return Path(__file__).resolve().parent.parent


def resources_dir() -> Path:
    override = os.environ.get(RESOURCES_ENV)
    if override:
        return Path(override)
    return bundle_root() / "resources"


def resource_path(*parts: str) -> Path:
    """``resources/<parts>``; the path may not exist (callers fall back, e.g. to a theme icon)."""
    return resources_dir().joinpath(*parts)


__all__ = ["RESOURCES_ENV", "bundle_root", "is_frozen", "resource_path", "resources_dir"]
