"""What the scanner and the watcher leave out: one set of rules for both.

Patterns use .gitignore syntax (via pathspec): a pattern without a slash matches a name at any depth
(``node_modules/``, ``*.log``), one with a slash is anchored at the watched folder (``/build``), and
``!pattern`` re-includes. Global patterns apply under every watched folder, folder patterns under
theirs only; ``.gitignore`` files are honoured when that option is on. The app's own data folder is
always left out (except ``eval/``, where ``eval`` puts the documents it indexes on purpose).

Owner and threads: a :class:`Rules` is built from a catalog snapshot and is read-only afterwards,
except its ``.gitignore`` cache (a dict; a lost race only reads a file twice), so the scanner's thread
and the watcher's thread may share one.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass

import pathspec
from pathspec.patterns import GitWildMatchPattern

from .paths import under

GLOBAL = ""  # the folder of a pattern that applies under every watched folder
# hidden files and folders (".git", ".cache", ".venv", ".tox" included, and listed again on their own
# so that removing ".*" keeps them out), package and build caches, virtual environments
DEFAULT_PATTERNS = (".*", ".git/", "node_modules/", "__pycache__/", ".cache/", ".venv/", "venv/",
                    "__pypackages__/", ".tox/")
GITIGNORE_SETTING = "respect_gitignore"
_GITIGNORE_MAX_BYTES = 1024 * 1024


class PatternError(ValueError):
    """A pattern that cannot be used (empty, or not valid .gitignore syntax)."""


def check_pattern(pattern: str) -> str:
    """The pattern, stripped; raises PatternError with a one-line reason."""
    p = pattern.strip()
    if not p or p.startswith("#"):
        raise PatternError(f"not a pattern: {pattern!r}")
    try:
        GitWildMatchPattern(p)
    except Exception as exc:  # pathspec raises plain ValueErrors / its own errors on bad globs
        raise PatternError(f"not a valid pattern {pattern!r}: {exc}") from exc
    return p


@dataclass(frozen=True)
class Exclusion:
    folder: str  # GLOBAL, or the watched folder it applies under
    pattern: str
    default: bool = False

    def as_json(self) -> dict[str, object]:
        return {"folder": self.folder or None, "pattern": self.pattern, "default": self.default}


class _Matcher:
    """Patterns against paths relative to one folder. Without ``!`` patterns all of them are folded
    into one regular expression: one C-level match per file, which the 50k-file scan needs."""

    def __init__(self, patterns: Iterable[str]):
        lines = list(patterns)
        compiled = [GitWildMatchPattern(p) for p in lines]
        compiled = [c for c in compiled if c.include is not None]
        self.empty = not compiled
        self._regex: re.Pattern[str] | None = None
        self._spec: pathspec.PathSpec | None = None
        if self.empty:
            return
        if all(c.include for c in compiled):
            # the named group pathspec puts in every pattern would clash once they are joined
            parts = [c.regex.pattern.replace("(?P<ps_d>", "(?:") for c in compiled]  # type: ignore[union-attr]
            self._regex = re.compile("|".join(f"(?:{p})" for p in parts))
        else:
            self._spec = pathspec.PathSpec(compiled)  # last matching pattern wins, as in git

    def match(self, rel: str) -> bool:
        """``rel`` uses "/" and ends with "/" for a folder."""
        if self.empty:
            return False
        if self._regex is not None:
            return self._regex.match(rel) is not None
        return self._spec.match_file(rel)  # type: ignore[union-attr]


class Rules:
    def __init__(
        self,
        roots: Iterable[str],
        exclusions: Iterable[Exclusion] = (),
        gitignore: bool = False,
        data_dir: str | os.PathLike[str] | None = None,
        excluded_paths: Iterable[str] = (),
    ):
        self.roots = sorted({r.rstrip(os.sep) or os.sep for r in roots}, key=len, reverse=True)
        items = list(exclusions)
        self.exclusions = items
        self.gitignore = gitignore
        global_patterns = [e.pattern for e in items if e.folder == GLOBAL]
        self._matchers = {
            root: _Matcher(global_patterns + [e.pattern for e in items if e.folder.rstrip(os.sep) == root])
            for root in self.roots
        }
        self._data_dir = os.fspath(data_dir).rstrip(os.sep) if data_dir else None
        self._eval_dir = os.path.join(self._data_dir, "eval") if self._data_dir else None
        self._paths = [p.rstrip(os.sep) for p in excluded_paths]  # whole folders left out (older catalogs)
        self._gitignores: dict[str, pathspec.PathSpec | None] = {}

    # --- the one question ------------------------------------------------------------------------
    def root_of(self, path: str) -> str | None:
        """The innermost watched folder holding ``path``."""
        for root in self.roots:  # longest first
            if path == root or path.startswith(root + os.sep) or root == os.sep:
                return root
        return None

    def skip(self, path: str, is_dir: bool | None = None) -> bool:
        """Whether the scanner leaves ``path`` out (by itself or because a folder above it is left out).
        ``is_dir`` None: look at the disk (a path that is gone counts as a file)."""
        if self.own(path):
            return True
        root = self.root_of(path)
        if root is None:
            return True
        if path == root:
            return False
        if is_dir is None:
            is_dir = os.path.isdir(path) and not os.path.islink(path)
        rel = path[len(root) + 1 :] if root != os.sep else path[1:]
        if os.sep != "/":
            rel = rel.replace(os.sep, "/")
        if self._matchers[root].match(rel + "/" if is_dir else rel):
            return True
        return self.gitignore and self._ignored_by_git(root, path, is_dir)

    def own(self, path: str) -> bool:
        """The app's own files (catalog, segments, models, logs) and folders excluded by path."""
        if self._data_dir and _under(path, self._data_dir) and not _under(path, self._eval_dir or ""):
            return True
        return any(_under(path, p) for p in self._paths)

    # --- used by the scanner while it walks a folder ---------------------------------------------
    def skip_entry(self, root: str, rel: str, path: str, is_dir: bool) -> bool:
        """Like :meth:`skip` for an entry the scanner reached from ``root`` (no root lookup, ancestors
        already checked)."""
        if self._matchers[root].match(rel + "/" if is_dir else rel):
            return True
        if (self._data_dir or self._paths) and self.own(path):
            return True
        return self.gitignore and self._ignored_by_git(root, path, is_dir)

    def needs_entry_check(self, top: str) -> bool:
        """Whether a walk from ``top`` needs :meth:`skip_entry` besides the pattern match."""
        data_below = bool(self._data_dir) and _under(self._data_dir or "", top)
        return self.gitignore or bool(self._paths) or data_below or self.own(top)

    def matcher_for(self, root: str) -> _Matcher:
        return self._matchers[root.rstrip(os.sep) or os.sep]

    # --- .gitignore ------------------------------------------------------------------------------
    def _spec_in(self, folder: str) -> pathspec.PathSpec | None:
        if folder not in self._gitignores:
            spec = None
            try:
                # O_NONBLOCK + regular files only: a FIFO named .gitignore must not block the scan for good
                # (opening a FIFO for reading waits for a writer); and a huge one is read only in part.
                fd = os.open(os.path.join(folder, ".gitignore"), os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
                with open(fd, "rb") as raw:
                    if not stat.S_ISREG(os.fstat(fd).st_mode):
                        raise OSError("not a regular file")
                    lines = raw.read(_GITIGNORE_MAX_BYTES).decode("utf-8", "replace").splitlines()
                spec = pathspec.GitIgnoreSpec.from_lines(lines)
            except OSError:
                spec = None
            except Exception:  # a malformed line: ignore that file rather than fail the scan
                spec = None
            self._gitignores[folder] = spec
        return self._gitignores[folder]

    def forget_gitignore(self, folder: str) -> None:
        """A .gitignore changed: read it again next time."""
        self._gitignores.pop(folder, None)

    def _ignored_by_git(self, root: str, path: str, is_dir: bool) -> bool:
        # every folder from the root down to the path's parent may hold a .gitignore for it
        parent = os.path.dirname(path)
        chain = []
        folder = parent
        while True:
            chain.append(folder)
            if folder == root or len(folder) <= len(root):
                break
            folder = os.path.dirname(folder)
        for folder in reversed(chain):
            spec = self._spec_in(folder)
            if spec is None:
                continue
            rel = os.path.relpath(path, folder).replace(os.sep, "/")
            if spec.match_file(rel + "/" if is_dir else rel):
                return True
        return False


def _under(path: str, root: str) -> bool:
    return bool(root) and under(path, root)  # an empty root (no folder) holds nothing
