"""Damaged parts are moved aside, never deleted first.

A repair renames what it gives up on (a damaged catalog, a segment whose checksum failed) into
``<data dir>/set-aside/<stamp>/``, inside the data folder so the rename needs no free space and
cannot fail halfway on a full disk. Set-aside folders are kept until the next repair that ends with
a deep check passing; only then are the older ones removed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from pathlib import Path

from .privacy import make_private_dir

SET_ASIDE = "set-aside"
_made_here: set[Path] = set()  # this process's repair (a rebuilt catalog, then doctor) keeps its own parts


def new_folder(data_dir: Path) -> Path:
    """A fresh, owner-only folder for this repair's set-aside parts."""
    base = data_dir / SET_ASIDE
    make_private_dir(base)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for n in range(1000):
        target = base / (stamp if n == 0 else f"{stamp}-{n}")
        try:
            target.mkdir(mode=0o700)
            _made_here.add(target)
            return target
        except FileExistsError:
            continue
    raise FileExistsError(f"too many set-aside folders in {base}")


def move(path: Path, folder: Path, name: str | None = None) -> Path:
    """Rename ``path`` into ``folder`` (same file system: no copy, no space needed)."""
    target = folder / (name or path.name)
    make_private_dir(target.parent)
    os.replace(path, target)
    return target


def folders(data_dir: Path) -> list[Path]:
    base = data_dir / SET_ASIDE
    return sorted(p for p in base.iterdir() if p.is_dir()) if base.is_dir() else []


def drop_older(data_dir: Path, keep: Path | None = None) -> list[str]:
    """After a repair whose deep check passed: remove the set-aside folders of earlier repairs (not
    ``keep``, nor any this process made: those belong to the repair that just passed)."""
    dropped = []
    for folder in folders(data_dir):
        if folder == keep or folder in _made_here:
            continue
        shutil.rmtree(folder, ignore_errors=True)
        dropped.append(folder.name)
    base = data_dir / SET_ASIDE
    with contextlib.suppress(OSError):
        base.rmdir()  # only when empty
    return dropped
