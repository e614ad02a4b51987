"""Checking and repairing a data folder: ``doctor`` (catalog, segments and disk agree?), the repair
that moves damaged parts aside and re-encodes what they held, and the rebuild of a catalog too damaged
to open from the roots and settings mirrored in ``state.json``.

A mixin of :class:`core.service.Service` (it uses the service's reader, store, writer, write lock and
indexer); the catalog rebuild runs without a service, since the catalog cannot be opened.
"""

from __future__ import annotations

import errno
import json
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from filelock import FileLock
from filelock import Timeout as LockTimeout

from . import paths as P
from . import setaside
from .catalog import Catalog, CatalogError
from .config import Settings, resolve_data_dir
from .errors import CatalogDamaged, describe, writable
from .exclusions import GITIGNORE_SETTING
from .layout import CATALOG, STATE, WRITE_LOCK, Busy
from .members import on_disk

if TYPE_CHECKING:
    from .catalog import Writer
    from .index import SegmentStore
    from .indexer import Indexer, Progress


class Repair:
    # set up by Service.__init__ / provided by Service
    data_dir: Path
    store: SegmentStore
    writer: Writer
    read_only: bool
    read_only_reason: Exception | None
    reader: Callable[[], Catalog]
    indexer: Callable[..., Indexer]
    roots: Callable[[], list[str]]
    _exclusive: Callable[..., Any]
    _model_key: Callable[[], str | None]
    settings: Settings

    def _inspect(self, c: Catalog) -> tuple[list[str], list[str], Any]:
        """(problems, notes, segment check) of the catalog, the segments (deep: checksums) and disk.
        Notes are normal work waiting (files to encode, files deleted since the last run): not problems."""
        problems = [f"catalog: {p}" for p in c.quick_check()]
        fts = c.fts_problem()
        if fts is not None:
            problems.append(f"full-text index is inconsistent ({fts})")
        check = self.store.check(c, deep=True)
        if check.orphans:
            problems.append(f"{len(check.orphans)} segment folder(s) not in the catalog (left by an interrupted write)")
        for d in check.damaged:
            problems.append(f"segment {d.segment_id} is damaged: {d.reason}")
        if check.dangling_passages:
            problems.append(f"{check.dangling_passages} passage(s) point at missing segments")
        notes = []
        pending = c.counts()["pending"]
        if pending:
            notes.append(f"{pending} file(s) wait for encoding (`desktop-search index` encodes them)")
        missing = sum(1 for p in c.file_paths() if not on_disk(P.from_db(p)))  # a member: its archive
        if missing:
            notes.append(f"{missing} indexed file(s) no longer exist (the next index run drops them)")
        return problems, notes, check

    def damaged_parts(self) -> dict[str, str]:
        """Segments left out of search because they failed their checksum or could not be opened
        (what the window's start-up banner offers to repair), by folder name → reason."""
        self.store.refresh(self.reader())
        return {str(k): v for k, v in self.store.damaged.items()}

    def doctor(self, repair: bool = False, progress: Callable[[Progress], None] | None = None) -> dict[str, Any]:
        """Check catalog ↔ segments ↔ disk. With ``repair``: take the writer lock, move damaged parts
        aside, re-encode what they held, then check deep again; consistent only if that passes.
        Busy, full and read-only raise errors.CatalogBusy / DiskFull / ReadOnly before anything moves."""
        c = self.reader()
        try:
            problems, notes, check = self._inspect(c)
        except (OSError, sqlite3.Error) as exc:
            if isinstance(exc, OSError) and not _media_error(exc):
                raise
            raise describe(exc, self.data_dir) from exc
        if not repair:
            return {"consistent": not problems, "problems": problems, "notes": notes, "repaired": [],
                    **c.counts()}
        if self.read_only:
            raise self.read_only_reason or describe(PermissionError(13, "read-only", str(self.data_dir)),
                                                    self.data_dir)
        repaired: list[str] = []
        folder = None
        with self._exclusive():
            try:
                self.writer.call(lambda w: w.check_writable())  # busy or read-only: stop before touching anything
                if any(p.startswith("full-text index") for p in problems):
                    self.writer.call(lambda w: w.rebuild_fts())
                    repaired.append("rebuilt the full-text index")
                indexer = self.indexer(progress)
                if check.damaged:
                    folder = setaside.new_folder(self.data_dir)
                n = indexer.recover(deep=True, set_aside=folder)
                if check.orphans:
                    repaired.append(f"removed {len(check.orphans)} uncommitted segment folder(s)")
                if n:
                    repaired.append(f"moved {n} damaged segment(s) to {folder} and re-queued their files for encoding")
                report = indexer.run(self.roots())
                repaired.append(
                    f"brought the index up to date ({report.encoded_files} file(s) encoded, {report.deleted} removed)"
                )
                self.store.refresh(self.reader(), force=True)
                after, notes, _ = self._inspect(self.reader())
            except (OSError, sqlite3.Error) as exc:
                if isinstance(exc, OSError) and not _media_error(exc):
                    raise
                raise describe(exc, self.data_dir) from exc
            if folder is not None and not any(folder.iterdir()):
                folder.rmdir()
                folder = None
            if not after:  # a deep check passed: earlier repairs' set-aside parts may go now
                dropped = setaside.drop_older(self.data_dir, keep=folder)
                if dropped:
                    repaired.append(f"removed {len(dropped)} set-aside folder(s) of earlier repairs")
        return {"consistent": not after, "problems": problems, "remaining": after, "notes": notes,
                "repaired": repaired, **self.reader().counts()}


    def rebuild(self, progress: Callable[[Progress], None] | None = None,
                should_stop: Callable[[], bool] | None = None) -> dict[str, Any]:
        """The deliberate rebuild (issue 14): re-train the codec on every live vector of the index's model
        and write them as one PLAID segment (compaction.Compactor.rebuild). No model is loaded.

        Safe by construction: searches go on with the current segments until the new one is committed in
        one catalog transaction; before that, the current segments are linked into a set-aside folder
        (hard links: no copy, no space), so that the swap deletes nothing that is not kept aside too; that
        folder is removed once a deep check of the new index passes, and kept (and named) otherwise.
        ``should_stop`` cancels between chunks of work (Cancelled): the half-written segment is removed,
        nothing is committed, the old index is untouched. Busy, full and read-only raise before anything
        is written. Holds the writer lock throughout (an index run waits, or is waited for)."""
        from .compaction import Compactor
        from .indexer import Cancelled
        from .indexer import Progress as Step

        stop = should_stop or (lambda: False)

        def check() -> None:
            if stop():
                raise Cancelled()

        def say(message: str) -> None:
            if progress is not None:
                progress(Step("rebuild", message=message))

        if self.read_only:
            raise self.read_only_reason or describe(PermissionError(13, "read-only", str(self.data_dir)),
                                                    self.data_dir)
        with self._exclusive(should_stop, progress):
            try:
                self.writer.call(lambda w: w.check_writable())  # busy or read-only: stop before writing
                reader = self.reader()
                key = reader.get_setting("model_key") or self._model_key()
                self.store.refresh(reader, force=True)
                before = reader.segment_stats()
                entries = [e for e in self.store.view.entries if key and e.model_key == key]
                if not key or not any(e.state == "live" for e in entries):
                    return {"rebuilt": False, "reason": "no vectors to rebuild yet (`desktop-search index` makes them)",
                            "segments_before": before["segments"], "segments_after": before["segments"],
                            "vectors": before["vectors"], "consistent": True, "set_aside": None}
                folder = setaside.new_folder(self.data_dir)
                originals = [self.store.root / e.dir for e in entries]
                try:
                    _link_aside(originals, folder)
                    say(f"current segments kept aside in {folder} until the new index passes its check")
                    report = Compactor(self.store, self.writer, reader, self.settings, key, message=say,
                                       check=check).rebuild()
                except BaseException:
                    if all(p.is_dir() for p in originals):  # nothing was swapped: the aside links go
                        _drop_folder(folder)
                    raise
                say("checking the new index")
                self.store.refresh(reader, force=True)
                after = self.store.check(reader, deep=True)
                consistent = not after.damaged and not after.dangling_passages
                if consistent:
                    _drop_folder(folder)
            except (OSError, sqlite3.Error) as exc:
                if isinstance(exc, OSError) and not _media_error(exc):
                    raise
                raise describe(exc, self.data_dir) from exc
        stats = self.reader().segment_stats()
        return {"rebuilt": report is not None, "segments_before": before["segments"],
                "segments_after": stats["segments"], "vectors": stats["vectors"],
                "trained": bool(report and report.trained), "seconds": report.seconds if report else 0.0,
                "consistent": consistent, "set_aside": None if consistent else str(folder),
                "problems": [f"segment {d.segment_id}: {d.reason}" for d in after.damaged]
                + ([f"{after.dangling_passages} passage(s) point at missing segments"]
                   if after.dangling_passages else [])}


def _link_aside(folders: list[Path], target: Path) -> None:
    """Hard-link every file of ``folders`` into ``target/<folder name>/`` (a copy where the file system
    has no hard links): the originals can then be deleted and their bytes are still there."""
    import shutil

    for src in folders:
        for f in src.rglob("*"):
            if not f.is_file():
                continue
            dest = target / src.name / f.relative_to(src)
            dest.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            try:
                os.link(f, dest)
            except OSError as exc:
                if exc.errno not in (errno.EPERM, errno.EXDEV, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP):
                    raise
                shutil.copy2(f, dest)


def _drop_folder(folder: Path) -> None:
    """Remove one set-aside folder (and the set-aside base when it is left empty)."""
    import contextlib
    import shutil

    shutil.rmtree(folder, ignore_errors=True)
    with contextlib.suppress(OSError):
        folder.parent.rmdir()


def rebuild_catalog(data_dir: str | os.PathLike[str] | None) -> dict[str, Any]:
    """Move a damaged catalog (and the segments, meaningless without it) aside and start a new one
    from the mirrored roots and settings.

    Refuses, changing nothing, unless the catalog is really damaged: one that is busy, on a full
    disk or read-only raises that error; one that passes SQLite's integrity check raises
    CatalogError. Holds the writer lock throughout; a rebuild that fails puts the old parts back."""
    root = resolve_data_dir(data_dir)
    if not writable(root):
        raise describe(PermissionError(13, "read-only", str(root)), root)
    lock = FileLock(str(root / WRITE_LOCK), mode=0o600)
    try:
        lock.acquire(timeout=0.5)
    except LockTimeout as exc:
        raise Busy(f"another desktop-search process is updating {root}") from exc
    try:
        reason = _damage(root / CATALOG)
        if reason is None:
            raise CatalogError(f"catalog {root / CATALOG} passes its integrity check: nothing to rebuild")
        folder = setaside.new_folder(root)
        moved: list[tuple[Path, Path]] = []
        for name in (CATALOG, CATALOG + "-wal", CATALOG + "-shm", "segments"):
            if (root / name).exists():
                moved.append((root / name, setaside.move(root / name, folder)))
        try:
            state: dict[str, Any] = {}
            try:
                state = json.loads((root / STATE).read_text())
            except (OSError, ValueError):
                state = {}
            catalog = Catalog(root / CATALOG)
            try:
                with catalog.transaction():
                    for r in state.get("roots", []):
                        catalog.add_root(r)
                    for r in state.get("excludes", []):
                        catalog.add_root(r, "exclude")
                    if state.get("settings"):
                        catalog.save_settings(Settings.from_mapping(state["settings"]))
                    if "exclusions" in state:  # older state files have none: the defaults stay
                        catalog.replace_exclusions([(f, p, bool(d)) for f, p, d in state["exclusions"]])
                    if state.get("gitignore"):
                        catalog.set_setting(GITIGNORE_SETTING, True)
                    if state.get("model"):
                        catalog.set_setting("model", state["model"])
            finally:
                catalog.close()
        except BaseException as exc:  # e.g. the disk filled up: the new catalog goes, the old one comes back
            for suffix in ("", "-wal", "-shm"):
                (root / (CATALOG + suffix)).unlink(missing_ok=True)
            for original, aside in moved:
                os.replace(aside, original)
            if isinstance(exc, (OSError, sqlite3.Error)):
                raise describe(exc, root) from exc
            raise
        return {"set_aside": [str(folder)], "reason": reason, "roots": len(state.get("roots", []))}
    finally:
        lock.release()


def _damage(path: Path) -> str | None:
    """Why the catalog at ``path`` counts as damaged, or None if it is sound (or absent). Errors
    that are not corruption (busy, full, read-only, I/O) are raised, never taken for damage."""
    if not path.exists():
        return None
    try:
        catalog = Catalog(path, create=False)
    except CatalogDamaged as exc:
        return str(exc)
    try:
        problems = catalog.quick_check()
    except sqlite3.DatabaseError as exc:
        error = describe(exc, path)
        if isinstance(error, CatalogDamaged):
            return str(error)
        raise error from exc
    finally:
        catalog.close()
    return "; ".join(problems[:3]) if problems else None


def _media_error(exc: OSError) -> bool:
    return exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO)
