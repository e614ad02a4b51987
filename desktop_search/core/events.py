"""The service's one "what changed" event: a plain observer, Qt-free.

Views (the window's status bar, its results, the folders dialog; a future CLI dashboard) subscribe once
instead of refreshing by hand after each call. Every service call that changes the index, its folders
or its settings announces a :class:`Change` when it returns (or fails: a failed call may have changed
part of it), and an index run announces ``files`` as soon as its newly read files are keyword-searchable.

Threads: :meth:`ChangeEvents.emit` calls the subscribers on the thread that made the change (the
indexing thread, a worker); subscribers must be quick and thread-safe (the window's bridge only emits
a queued Qt signal). The subscriber list is guarded by a lock never held while a subscriber runs.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

# what a change touched; a view refreshes what it shows of these
FILES = "files"  # files added, changed, removed or (re)encoded: search results and counts
FOLDERS = "folders"  # watched folders added or removed
SETTINGS = "settings"  # settings, exclusion patterns, the .gitignore choice
MODEL = "model"  # the index's model was switched
FAILURES = "failures"  # the failed-files list
KINDS = frozenset({FILES, FOLDERS, SETTINGS, MODEL, FAILURES})


@dataclass(frozen=True)
class Change:
    kinds: frozenset[str]
    source: str = ""  # the service call that made it (for logs and tests)

    def __or__(self, other: Change) -> Change:
        return Change(self.kinds | other.kinds, self.source or other.source)

    def touches(self, *kinds: str) -> bool:
        return bool(self.kinds & set(kinds))


Subscriber = Callable[[Change], None]


class ChangeEvents:
    """Subscribers of one service's changes."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        """Call ``fn(change)`` after every change; returns a function that unsubscribes it."""
        with self._lock:
            self._subscribers.append(fn)

        def unsubscribe() -> None:
            with self._lock:
                if fn in self._subscribers:
                    self._subscribers.remove(fn)

        return unsubscribe

    def emit(self, change: Change) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for fn in subscribers:
            try:
                fn(change)
            except Exception:  # one broken view must not fail the call that changed the index
                log.exception("a change subscriber failed")


def _changes_of(owner: Any) -> ChangeEvents | None:
    return getattr(owner, "changes", None)


def _watch_progress(owner: Any, source: str, progress: Callable[[Any], None]) -> Callable[[Any], None]:
    """``progress`` that also announces ``files`` when a run leaves its extract phase: the files read so
    far are committed and keyword-searchable while encoding goes on."""
    last = [""]

    def forward(p: Any) -> None:
        phase = getattr(p, "phase", "")
        if last[0] == "extract" and phase != "extract":
            events = _changes_of(owner)
            if events is not None:
                events.emit(Change(frozenset({FILES}), source))
        last[0] = phase
        progress(p)

    return forward


def announce(cls: type, table: dict[str, Iterable[str]]) -> None:
    """Make each method named in ``table`` announce a Change of its kinds on ``self.changes`` when it
    returns or raises. One table in service.py says which call changes what."""
    for name, kinds in table.items():
        original = getattr(cls, name)
        frozen = frozenset(kinds)
        unknown = frozen - KINDS
        if unknown:
            raise ValueError(f"unknown change kind(s) for {name}: {sorted(unknown)}")

        def wrapper(self: Any, *args: Any, __original: Any = original, __kinds: frozenset[str] = frozen,
                    __name: str = name, **kwargs: Any) -> Any:
            if kwargs.get("progress") is not None:
                kwargs["progress"] = _watch_progress(self, __name, kwargs["progress"])
            try:
                return __original(self, *args, **kwargs)
            finally:
                events = _changes_of(self)
                if events is not None:
                    events.emit(Change(__kinds, __name))

        functools.update_wrapper(wrapper, original)
        setattr(cls, name, wrapper)
