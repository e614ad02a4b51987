"""Keep the index current: watchdog events become sets of changed paths for incremental index runs.

Policy: every event's paths (source and destination of a move) go into a set at once, unless the
scanner would skip them (hidden, excluded, the app's data folder). The set is handed on when events
have been quiet for ``debounce_s`` or, at the latest, ``max_wait_s`` after its first path arrived, so
a change is picked up within about a second even while another file is rewritten every 0.2 s. Only
at start-up, on overflow (more than ``max_paths`` paths, or the kernel dropped events) or when the
watched folders or exclusions change does a full reconcile run. Watched folders are checked every
few seconds: one that disappears (unplugged drive) is reported offline and keeps its index; when it
comes back its watch is renewed and its files reconciled.

Owner and threads: watchdog's observer thread only adds to the set (under ``_lock``); the monitor's
own thread hands batches to ``on_change``; ``watch`` runs the index jobs on the caller's thread.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from .exclusions import Rules
from .indexer import Cancelled, IndexReport, Progress

Changes = set[str] | None  # None: reconcile everything
ROOT_POLL_S = 3.0
QUIET_CAP_S = 60.0  # ...but at least this often, so a log appended to all day is searchable by meaning too
RETRY_S = 30.0  # after an index run failed (disk full, say), the same work is tried again this much later


class _OverflowLog(logging.Handler):
    """watchdog rebuilds its inotify watches after a queue overflow but tells handlers nothing: its
    warning is the only sign that events were lost, so it is caught here."""

    def __init__(self, monitor: ChangeMonitor):
        super().__init__(logging.WARNING)
        self.monitor = monitor

    def emit(self, record: logging.LogRecord) -> None:
        if "overflow" in record.getMessage().lower():
            self.monitor.overflow()


class ChangeMonitor:
    """Calls ``on_change(paths)`` on its own thread with the changed paths (``None``: reconcile
    everything). Used by ``watch`` below and by the window, which runs the index job itself."""

    def __init__(
        self,
        on_change: Callable[[Changes], None],
        rules: Rules | None = None,
        ignore: Iterable[str] = (),
        debounce_s: float = 0.3,
        max_wait_s: float = 1.0,
        max_paths: int = 5000,
        on_roots: Callable[[dict[str, bool]], None] | None = None,
    ):
        self._on_change = on_change
        self._on_roots = on_roots
        self.rules = rules
        self._ignore = [str(i).rstrip(os.sep) for i in ignore]
        self.debounce_s = debounce_s
        self.max_wait_s = max_wait_s
        self.max_paths = max_paths
        self._lock = threading.Lock()
        self._paths: set[str] = set()
        self._overflow = False
        self._first = 0.0
        self._last = 0.0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._observer: Any = None
        self._watches: dict[str, Any] = {}
        self._online: dict[str, bool] = {}
        self._thread: threading.Thread | None = None
        self._log = _OverflowLog(self)
        self.dropped = 0  # paths dropped at once because the scanner skips them (tests, stats)

    # --- watchdog's handler interface (observer thread) --------------------------------------------
    def dispatch(self, event: Any) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return  # reads change nothing
        if event.is_directory and event.event_type == "modified":
            return  # a folder's "modified" only echoes its children's own events: walking it is waste
        paths = [os.fsdecode(event.src_path)]
        if getattr(event, "dest_path", ""):
            paths.append(os.fsdecode(event.dest_path))
        keep = [p for p in paths if not self._skip(p, event.is_directory)]
        if not keep:
            self.dropped += 1
            return
        self.add(keep)

    def _skip(self, path: str, is_dir: bool) -> bool:
        if any(path == i or path.startswith(i + os.sep) for i in self._ignore):
            return True
        rules = self.rules
        if rules is None:
            return False
        if rules.gitignore and os.path.basename(path) == ".gitignore":
            rules.forget_gitignore(os.path.dirname(path))
            self.overflow()  # what it leaves out changed: look at everything again
            return True
        return rules.skip(path, is_dir)

    def add(self, paths: Iterable[str]) -> None:
        now = time.monotonic()
        with self._lock:
            if not self._paths and not self._overflow:
                self._first = now
            self._last = now
            self._paths.update(paths)
            if len(self._paths) > self.max_paths:
                self._overflow = True
                self._paths.clear()
        self._wake.set()

    def overflow(self) -> None:
        """Events were lost (or cannot be trusted): the next batch is a full reconcile."""
        now = time.monotonic()
        with self._lock:
            if not self._paths and not self._overflow:
                self._first = now
            self._last = now
            self._overflow = True
            self._paths.clear()
        self._wake.set()

    @property
    def pending(self) -> bool:
        with self._lock:
            return bool(self._paths) or self._overflow

    # --- lifetime --------------------------------------------------------------------------------
    def start(self, roots: Iterable[str]) -> None:
        from watchdog.observers import Observer

        self.stop()
        self._stop.clear()
        self._observer = Observer()
        self._watches = {}
        self._online = {}
        for root in roots:
            self._online[root] = self._schedule(root)
        self._observer.start()
        logging.getLogger("watchdog.observers.inotify_c").addHandler(self._log)
        self._thread = threading.Thread(target=self._loop, name="change-monitor", daemon=True)
        self._thread.start()

    def _schedule(self, root: str) -> bool:
        try:
            if os.path.isdir(root):
                self._watches[root] = self._observer.schedule(self, root, recursive=True)
            elif os.path.isfile(root):  # a single file: its folder, not recursively (rules drop the rest)
                self._watches[root] = self._observer.schedule(self, os.path.dirname(root), recursive=False)
            else:
                return False
        except OSError:  # unreadable, too many watches, or gone meanwhile: polled again later
            return False
        return True

    def online(self) -> dict[str, bool]:
        return dict(self._online)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        logging.getLogger("watchdog.observers.inotify_c").removeHandler(self._log)
        if self._observer is not None:
            self._observer.stop()
            self._observer.join()
            self._observer = None
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        self._thread = None

    # --- the monitor's thread --------------------------------------------------------------------
    def _loop(self) -> None:
        next_poll = time.monotonic() + ROOT_POLL_S
        while not self._stop.is_set():
            now = time.monotonic()
            with self._lock:
                waiting = bool(self._paths) or self._overflow
                due = min(self._last + self.debounce_s, self._first + self.max_wait_s) if waiting else None
            if due is not None and now >= due:
                with self._lock:
                    batch: Changes = None if self._overflow else set(self._paths)
                    self._paths.clear()
                    self._overflow = False
                self._on_change(batch)
                continue
            timeout = min(next_poll, due if due is not None else next_poll) - now
            self._wake.clear()
            self._wake.wait(max(0.01, timeout))
            if time.monotonic() >= next_poll:
                next_poll = time.monotonic() + ROOT_POLL_S
                self._poll_roots()

    def _poll_roots(self) -> None:
        """A folder that came back (remounted drive, re-created) is watched again and reconciled; the
        observer's death (it can raise on odd file systems) means events were lost."""
        if self._observer is None:
            return
        if not self._observer.is_alive():
            self.overflow()
            return
        changed = False
        for root, was in list(self._online.items()):
            now = os.path.exists(root)
            if now and not was:
                now = self._schedule(root)
                if now:
                    self.add([root])
            elif was and not now:
                watch = self._watches.pop(root, None)
                if watch is not None:
                    with contextlib.suppress(KeyError, OSError):
                        self._observer.unschedule(watch)
            if now != was:
                self._online[root] = now
                changed = True
        if changed and self._on_roots:
            self._on_roots(self.online())


def watch(
    service: Any,
    stop: threading.Event,
    progress: Callable[[Progress], None] | None = None,
    debounce_s: float = 0.3,
    max_wait_s: float = 1.0,
    on_report: Callable[[IndexReport], None] | None = None,
    idle_check_s: float = 5.0,
    quiet_s: float = 2.0,
    restart_when_released: bool = False,
) -> bool:
    """Headless: reconcile, then index what changed until ``stop`` is set.

    Changed paths are extracted at once (keyword-searchable); encoding follows once a file has not changed
    for ``quiet_s`` (a growing log is not re-encoded at every line) and gives way, between batches, to
    newer changes. The model is released after ``settings.model_idle_minutes`` idle; with
    ``restart_when_released`` watch then returns True so that the caller (CLI ``watch``) restarts the
    process: the libraries the model needed (torch, transformers: ~800 MB resident) cannot be unloaded
    otherwise, and a start-up reconcile of 50k unchanged files takes about a second. A writer lock held
    by another process is waited for; changes seen meanwhile are kept for after. Returns False once
    ``stop`` is set."""
    lock = threading.Lock()
    state: dict[str, Any] = {"paths": set(), "full": True}  # start-up reconcile
    wake = threading.Event()

    def has_work() -> bool:
        with lock:
            return bool(state["full"] or state["paths"])

    def on_change(paths: Changes) -> None:
        with lock:
            if paths is None:
                state["full"] = True
            else:
                state["paths"] |= paths
        wake.set()

    monitor = service.change_monitor(on_change, debounce_s=debounce_s, max_wait_s=max_wait_s)
    config = service.watch_config()
    monitor.start(config[0])
    encode_due = True
    encode_at: float | None = None  # when files left to quiet down are due
    last_forced = time.monotonic()
    next_idle = time.monotonic() + idle_check_s
    try:
        while not stop.is_set():
            with lock:
                full, paths = state["full"], state["paths"]
                state["full"], state["paths"] = False, set()
            try:
                if full or paths:
                    report = service.index_changes(None if full else paths, progress=progress,
                                                   should_stop=stop.is_set, encode=False)
                    encode_due = True
                    if on_report:
                        on_report(report)
                    continue
                now = time.monotonic()
                due = encode_due or (encode_at is not None and now >= encode_at)
                if due and not service.reader().counts().get("pending"):
                    encode_due, encode_at, due = False, None, False  # nothing to encode: no model needed
                if due and not service.prepare_model():
                    encode_due, encode_at = False, now + 0.5  # loading in the background: changes go on
                elif due:
                    encode_due, encode_at = False, None
                    # a file that never stops changing (a log) still gets vectors now and then
                    force = now - last_forced >= QUIET_CAP_S
                    if force:
                        last_forced = now
                    report = service.encode_pending(progress=progress, should_stop=stop.is_set,
                                                    yield_to=lambda: monitor.pending or has_work(),
                                                    quiet_s=0.0 if force else quiet_s)
                    if report.deferred:
                        encode_at = now + quiet_s
                    if on_report and report.encoded_files:
                        on_report(report)
            except Cancelled:
                if stop.is_set():
                    return False
                encode_due = True  # newer changes came first; encoding goes on after them
                with lock:
                    if full:
                        state["full"] = True
                    state["paths"] |= paths
                continue
            except Exception as exc:  # a full disk, an unreadable catalog: say so, keep the work, retry
                if progress is not None:
                    progress(Progress("error", message=f"{exc}; trying again in {RETRY_S:.0f} s"))
                encode_due = True
                with lock:
                    state["full"] = state["full"] or full
                    state["paths"] |= paths
                if stop.wait(RETRY_S):
                    return False
                continue
            wake.wait(1.0)
            wake.clear()
            if time.monotonic() >= next_idle:
                next_idle = time.monotonic() + idle_check_s
                idle = not has_work() and not service.reader().counts().get("pending")  # nothing to encode
                if idle and service.release_model_if_idle():
                    if progress is not None:
                        progress(Progress("idle", message="search model unloaded (unused)"))
                    if restart_when_released and "torch" in sys.modules:
                        if progress is not None:
                            progress(Progress("restart", message="restarting to give the model's libraries' "
                                                                 "memory back"))
                        return True
                service.release_idle_workers()
                now_config = service.watch_config()
                if now_config != config:  # folders or exclusions changed (CLI, window): start over
                    config = now_config
                    monitor.rules = service.rules()
                    monitor.start(config[0])
                    on_change(None)
    finally:
        monitor.stop()
    return False
