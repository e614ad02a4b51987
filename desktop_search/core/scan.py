"""Scan and diff: what is on disk now against what the catalog knows.

A full scan walks every watched folder (start-up, overflow, changed exclusions); an incremental one
looks only at the paths the watcher reported (a folder among them is walked). Either way the diff
only judges files inside the scan's *scopes*: a known file there that the scan did not see is gone,
unless its watched folder is offline or a folder above it could not be read (those keep their index).
Moves need no special case: a new path whose content hash equals a gone one's takes over its row, so
its passages and vectors stay as they are.

Runs on the indexing thread; catalog writes go through the writer, reads through the given reader.
"""

from __future__ import annotations

import os
import stat as stat_mod
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from . import paths as P
from .catalog import Catalog, Writer
from .exclusions import Rules
from .extract import is_candidate
from .extract.registry import has_members, skip_reason
from .index.segments import file_digest
from .members import SEPARATOR, archive_of

ROOT_OK, ROOT_OFFLINE, ROOT_UNREADABLE, ROOT_NOT_FOLDER = "ok", "offline", "unreadable", "not a folder"


@dataclass(slots=True)
class Seen:
    path: str
    size: int
    mtime: float


@dataclass
class ScanResult:
    seen: dict[str, Seen] = field(default_factory=dict)
    scopes: list[str] | None = None  # None: every watched folder that is online
    online_roots: list[str] = field(default_factory=list)
    missing_roots: list[str] = field(default_factory=list)
    unreadable_dirs: list[str] = field(default_factory=list)
    # met and not read, with the reason the skipped list gives: path -> (size, mtime, reason)
    skipped: dict[str, tuple[int, float, str]] = field(default_factory=dict)


EXCLUDED = "excluded: matches an exclusion pattern"
EXCLUDED_RULE = "excluded: an exclusion rule, .gitignore or the app's own data"


_CATEGORIES = (  # reason starts with -> category, first match wins
    ("excluded", "excluded"),
    ("symbolic link out of the folder", "symbolic link out of the folder"),
    ("symbolic link", "symbolic link"),
    ("not a document", "not a document"),
    ("unsupported file type", "unsupported type"),
    ("legacy office", "unsupported type"),
    ("image", "image (text recognition off)"),
    ("file is larger", "too large"),
)


def skip_category(reason: str) -> str:
    """The category ``status`` counts a skipped file's reason under."""
    lowered = reason.lower()
    for start, category in _CATEGORIES:
        if lowered.startswith(start):
            return category
    if "not a regular file" in lowered:
        return "not a regular file"
    return "other"


def skip_counts(reasons: dict[str, int]) -> dict[str, int]:
    out: dict[str, int] = {}
    for reason, n in reasons.items():
        category = skip_category(reason)
        out[category] = out.get(category, 0) + n
    return out


def _link_reason(path: str, root: str) -> str:
    try:
        target = os.path.realpath(path)
    except (OSError, ValueError):
        return "symbolic link: not followed"
    if not os.path.exists(target):
        return "symbolic link: broken"
    if P.under(target, root):
        return "symbolic link: not followed (its target is in the folder)"
    return "symbolic link out of the folder: not followed"


def root_state(root: str) -> tuple[str, str]:
    """(state, detail) of a watched folder, as ``status`` shows it; never raises."""
    try:
        st = os.stat(root)
    except FileNotFoundError:
        return ROOT_OFFLINE, "not there (unplugged or removed?); its files stay in the index"
    except OSError as exc:  # ELOOP (symlink loop), EACCES on a parent, ENAMETOOLONG...
        return ROOT_UNREADABLE, exc.strerror or str(exc)
    if not stat_mod.S_ISDIR(st.st_mode):
        if stat_mod.S_ISREG(st.st_mode):
            return ROOT_NOT_FOLDER, "a file: indexed on its own"
        return ROOT_NOT_FOLDER, "neither a folder nor a file: nothing to index"
    if not os.access(root, os.R_OK | os.X_OK):
        return ROOT_UNREADABLE, "permission denied"
    return ROOT_OK, ""


class Scanner:
    def __init__(self, rules: Rules, progress: Callable[[int, str], None] | None = None,
                 check: Callable[[], None] | None = None):
        self.rules = rules
        self._progress = progress or (lambda _n, _where: None)
        self._check = check or (lambda: None)
        self._candidate: dict[str, bool] = {}  # by suffix: is_candidate builds a Path per call

    @staticmethod
    def _skip(result: ScanResult, path: str, reason: str, st: os.stat_result | None = None) -> None:
        """Remember a file (or folder) met and not read, for the skipped list."""
        if st is None:
            try:
                st = os.lstat(path)
            except OSError:
                return
        result.skipped[path] = (st.st_size if stat_mod.S_ISREG(st.st_mode) else 0, st.st_mtime, reason)

    def _is_candidate(self, name: str) -> bool:
        suffix = os.path.splitext(name)[1].lower()
        known = self._candidate.get(suffix)
        if known is None:
            known = self._candidate[suffix] = is_candidate(name)
        return known

    def full(self, roots: list[str]) -> ScanResult:
        result = ScanResult()
        for root in roots:
            self._root(root, result)
        result.scopes = None
        return result

    def _root(self, root: str, result: ScanResult) -> bool:
        try:
            st = os.stat(root)
        except OSError:
            result.missing_roots.append(root)
            return False
        result.online_roots.append(root)
        if stat_mod.S_ISREG(st.st_mode):
            if self._is_candidate(os.path.basename(root)):
                result.seen[root] = Seen(root, st.st_size, st.st_mtime)
        elif stat_mod.S_ISDIR(st.st_mode):
            self._walk(root, root, result)
        return True

    def changed(self, paths: Iterable[str], roots: list[str]) -> ScanResult:
        """Look at ``paths`` only (files, or folders walked whole); each becomes a scope of the diff."""
        result = ScanResult(scopes=[])
        online: dict[str, bool] = {}
        # a folder in the set covers everything under it: walk the outermost ones only
        ordered = sorted(set(paths), key=lambda p: (p.count(os.sep), p))
        taken: set[str] = set()
        for path in ordered:
            root = self.rules.root_of(path)
            if root is None or root not in roots:
                continue
            if root not in online:
                online[root] = os.path.exists(root)
                (result.online_roots if online[root] else result.missing_roots).append(root)
            if not online[root]:
                continue  # an unplugged drive keeps its index
            if any(P.under(path, t) for t in _ancestors_in(path, taken)):
                continue
            if path != root and self.rules.skip(path):
                # left out now (a move into a hidden name, say): whatever was indexed there is gone
                result.scopes.append(path)  # type: ignore[union-attr]
                taken.add(path)
                if not self.rules.own(path) and not self.rules.skip(os.path.dirname(path)):
                    self._skip(result, path, EXCLUDED)  # only where the left-out part starts, as a full scan lists it
                continue
            taken.add(path)
            result.scopes.append(path)  # type: ignore[union-attr]
            try:
                st = os.lstat(path)
            except OSError:
                continue  # gone: the diff drops what was known there
            if stat_mod.S_ISDIR(st.st_mode):
                self._walk(root, path, result)
            elif stat_mod.S_ISLNK(st.st_mode):
                self._skip(result, path, _link_reason(path, root), st)
            elif stat_mod.S_ISREG(st.st_mode) or _special(st.st_mode):
                if self._is_candidate(os.path.basename(path)):
                    result.seen[path] = Seen(path, st.st_size, st.st_mtime)
                else:
                    self._skip(result, path, _not_document(os.path.basename(path)), st)
        return result

    def _walk(self, root: str, top: str, result: ScanResult) -> None:
        rules = self.rules
        matcher = rules.matcher_for(root)
        cut = len(root) + 1 if root != os.sep else 1
        slow = rules.needs_entry_check(top)  # .gitignore files, excluded paths, our data folder below
        seen = result.seen
        last = time.monotonic()
        stack = [top]
        while stack:
            folder = stack.pop()
            try:
                with os.scandir(folder) as it:
                    entries = list(it)
            except OSError:
                result.unreadable_dirs.append(folder)
                continue
            for entry in entries:
                path = entry.path
                rel = path[cut:]
                try:
                    is_dir = entry.is_dir(follow_symlinks=False)
                except OSError:
                    continue
                if matcher.match(rel + "/" if is_dir else rel):
                    self._skip(result, path, EXCLUDED)
                    continue
                if slow and rules.skip_entry(root, rel, path, is_dir):
                    if not rules.own(path):
                        self._skip(result, path, EXCLUDED_RULE)
                    continue
                if is_dir:
                    stack.append(path)
                    continue
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if stat_mod.S_ISLNK(st.st_mode):
                    self._skip(result, path, _link_reason(path, root), st)
                elif not self._is_candidate(entry.name):
                    self._skip(result, path, _not_document(entry.name), st)
                elif stat_mod.S_ISREG(st.st_mode) or _special(st.st_mode):
                    seen[path] = Seen(path, st.st_size, st.st_mtime)
            now = time.monotonic()
            if now - last > 0.5:
                last = now
                self._progress(len(seen), folder)
                self._check()


@dataclass
class DiffCounts:
    unchanged: int = 0
    new: int = 0
    changed: int = 0
    moved: int = 0
    deleted: int = 0


def diff(writer: Writer, reader: Catalog, scan: ScanResult, roots: list[str],
         counts: DiffCounts) -> list[tuple[Seen, str]]:
    """Apply moves, touches and deletions to the catalog; return the files to extract with their hashes
    ("" for those left to :func:`hash_after_extraction`)."""
    seen = scan.seen
    known = {P.from_db(r[1]): r for r in reader.known_files(scan.scopes)}
    failed = {P.from_db(r[0]): r for r in reader.known_failures(scan.scopes)}
    # an archive's members are not on disk: they live and die with their archive (core/members.py)
    for p in [p for p in known if SEPARATOR in p and archive_of(p, known)]:
        del known[p]
    for p in [p for p in failed if SEPARATOR in p and archive_of(p, known)]:
        del failed[p]
    by_scanner = {P.from_db(p) for p in reader.scanner_skipped_paths(scan.scopes)}
    scopes = [r for r in roots if r not in scan.missing_roots] if scan.scopes is None else scan.scopes
    protected = scan.unreadable_dirs + scan.missing_roots

    def in_scope(p: str) -> bool:
        # an incremental scan's rows all come from its scopes already (one range query each)
        if scan.scopes is None and not any(P.under(p, s) for s in scopes):
            return False
        return not any(P.under(p, d) for d in protected)

    gone = {p: r for p, r in known.items() if p not in seen and in_scope(p)}
    gone_by_hash: dict[tuple[str, int], list[str]] = {}
    for p, r in gone.items():
        if not has_members(p):  # a moved archive is read again: its members' paths change with it
            gone_by_hash.setdefault((r[4], r[2]), []).append(p)
    # Each file is read once on a first index: a new file is hashed here only if a gone file of its size
    # may have moved to it, a known one only if its size is unchanged (a touch keeps its vectors); any
    # other is read by extraction alone and hashed right after it, from the page cache (digest "")
    gone_sizes = {size for _digest, size in gone_by_hash}
    to_extract: list[tuple[Seen, str]] = []
    touch: list[tuple[int, float]] = []
    moves: list[tuple[int, str, str, str]] = []
    for path, s in seen.items():
        row = known.get(path)
        if row is not None and row[2] == s.size and row[3] == s.mtime:
            counts.unchanged += 1
            continue
        f = failed.get(path)
        if row is None and f is not None and f[1] == s.size and f[2] == s.mtime and path not in by_scanner:
            counts.unchanged += 1
            continue
        if s.size in gone_sizes if row is None else row[2] == s.size:
            try:
                digest = file_digest(path)
            except FileNotFoundError:
                continue  # vanished since the scan
            except OSError:
                digest = ""  # unreadable: extraction records the reason in the failed list
        else:  # no hash can save work here (issue 14): see hash_after_extraction
            digest = ""
        if row is not None and digest and row[4] == digest:
            touch.append((row[0], s.mtime))
            counts.unchanged += 1
            continue
        candidates = gone_by_hash.get((digest, s.size)) if digest else None
        if row is None and candidates:
            old = candidates.pop()
            fid = gone.pop(old)[0]
            name = os.path.basename(path)
            moves.append((fid, P.to_db(path), P.display(name), os.path.splitext(name)[1].lower().lstrip(".")))
            touch.append((fid, s.mtime))
            counts.moved += 1
            continue
        if row is None:
            counts.new += 1
        else:
            counts.changed += 1
        to_extract.append((s, digest))
    deleted_ids = [r[0] for r in gone.values()]
    vanished = [P.to_db(p) for p in failed if p not in seen and p not in scan.skipped and in_scope(p)]
    counts.deleted += len(deleted_ids)
    gone_archives = [P.to_db(p) for p in gone if has_members(p)]
    if gone_archives:
        deleted_ids += reader.member_ids(gone_archives)
        vanished += reader.member_failure_paths(gone_archives)
    if moves or touch or deleted_ids or vanished:
        writer.call(lambda c: c.apply_scan(moves, touch, deleted_ids, vanished))
    skipped = [(P.to_db(p), size, mtime, reason) for p, (size, mtime, reason) in scan.skipped.items()
               if (f := failed.get(p)) is None or f[1] != size or f[2] != mtime]
    if skipped:
        writer.call(lambda c: _record_skipped(c, skipped))
    return to_extract


def _record_skipped(c: Catalog, entries: list[tuple[str, int, float, str]]) -> None:
    with c.transaction():
        c.record_skipped(entries, time.time())


def _not_document(name: str) -> str:
    return f"not a document: {skip_reason(name) or 'unsupported file type'}"


def hash_after_extraction(seen: Seen) -> str:
    """The content hash of a file extraction has just read (its bytes are still in the page cache, so
    the disk is read once), or "" when the file changed since the scan (size or mtime): then the stored
    hash must not vouch for the text, and the next scan looks at the file again."""
    try:
        digest = file_digest(seen.path)
        st = os.stat(seen.path)
    except OSError:
        return ""
    return digest if (st.st_size, st.st_mtime) == (seen.size, seen.mtime) else ""


def _ancestors_in(path: str, taken: set[str]) -> list[str]:
    """Those of ``taken`` that are ``path`` or a folder above it (cheap: walks up ``path``)."""
    out = []
    p = path
    while True:
        if p in taken:
            out.append(p)
        parent = os.path.dirname(p)
        if parent == p:
            return out
        p = parent


def _special(mode: int) -> bool:
    """FIFOs, sockets and device files are handed on like files so that they are listed as skipped, with
    a reason, instead of vanishing silently; nothing opens them (file_digest and the extractor refuse
    anything but a regular file before reading, without blocking)."""
    return stat_mod.S_ISFIFO(mode) or stat_mod.S_ISSOCK(mode) or stat_mod.S_ISCHR(mode) or stat_mod.S_ISBLK(mode)
