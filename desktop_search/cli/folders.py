"""Commands that choose what is indexed: index, remove, watch, exclude, include, exclusions."""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

from .common import EXIT_FAIL, EXIT_OK, CliError, ProgressPrinter, _print_json, _stop_flag


def _cmd_index(service: Any, args: argparse.Namespace) -> int:
    from desktop_search.core.service import Cancelled

    for p in args.paths:
        if not os.path.exists(p):
            raise CliError(f"no such file or folder: {p}")
    if not args.paths and not service.roots():
        raise CliError("no folders to index: give one, e.g. `desktop-search index ~/Documents`")
    stop = _stop_flag()
    started = time.monotonic()
    try:
        report = service.index(args.paths, progress=ProgressPrinter(), should_stop=stop.is_set,
                               encode=not args.keyword_only)
    except Cancelled:
        sys.stderr.write("stopped; run `desktop-search index` again to continue\n")
        return EXIT_FAIL
    took = time.monotonic() - started
    for w in report.warnings:
        sys.stderr.write(f"warning: {w}\n")
    if not report.semantic:
        sys.stderr.write("note: semantic search is unavailable until a model can be loaded; keyword search works\n")
    sys.stderr.write(
        f"indexed in {took:.1f} s: {report.scanned} files seen, {report.new} new, {report.changed} changed, "
        f"{report.moved} moved, {report.deleted} removed, {report.failed} failed"
        f"{' (see `desktop-search failed`)' if report.failed else ''}, "
        f"{f'{report.skipped} skipped (not documents; `extract FILE` says why), ' if report.skipped else ''}"
        f"{report.encoded_files} encoded\n"
    )
    return EXIT_OK


def _cmd_remove(service: Any, args: argparse.Namespace) -> int:
    dropped = service.remove(args.paths)
    sys.stderr.write(f"removed {len(args.paths)} folder(s), {dropped} file(s) dropped from the index\n")
    return EXIT_OK


def _cmd_watch(service: Any, _args: argparse.Namespace) -> int:
    from desktop_search.core.service import watch

    stop = _stop_flag()
    for f in service.root_states():
        if f["state"] != "ok":
            sys.stderr.write(f"note: {f['path']} is {f['state']} ({f['detail']}); watching the others\n")
    if watch(service, stop, progress=ProgressPrinter(), restart_when_released=True) and not stop.is_set():
        # the model was unloaded after its idle time: start afresh without the libraries it needed
        # (~800 MB resident); the new process reconciles at start-up, so nothing changed meanwhile is lost
        service.close()
        sys.stderr.flush()
        argv = sys.argv[1:] if getattr(sys, "frozen", False) else sys.orig_argv[1:]
        os.execv(sys.executable, [sys.executable, *argv])
    return EXIT_OK


def _change_exclusions(service: Any, args: argparse.Namespace, adding: bool) -> int:
    from desktop_search.core.service import PatternError

    change = service.exclude if adding else service.include
    try:
        count = change(args.patterns, folder=args.folder)
    except PatternError as exc:
        raise CliError(str(exc)) from exc
    sys.stderr.write(f"{count} pattern(s) {'added' if adding else 'removed'}\n")
    return _reconcile(service)


def _cmd_exclude(service: Any, args: argparse.Namespace) -> int:
    return _change_exclusions(service, args, adding=True)


def _cmd_include(service: Any, args: argparse.Namespace) -> int:
    return _change_exclusions(service, args, adding=False)


def _reconcile(service: Any) -> int:
    """After exclusions changed: drop what they now leave out, read what they now let in (keyword-searchable
    at once; encoded by the next `index`, or by a running `watch` or window within seconds)."""
    from desktop_search.core.service import Cancelled

    if not service.roots():
        return EXIT_OK
    stop = _stop_flag()
    try:
        report = service.index(progress=ProgressPrinter(), should_stop=stop.is_set, encode=False)
    except Cancelled:
        sys.stderr.write("stopped; run `desktop-search index` to bring the index up to date\n")
        return EXIT_FAIL
    sys.stderr.write(f"index updated: {report.deleted} file(s) dropped, {report.new} added"
                     f"{' (keyword-searchable; `desktop-search index` encodes them)' if report.new else ''}\n")
    return EXIT_OK


def _cmd_exclusions(service: Any, args: argparse.Namespace) -> int:
    if args.gitignore:
        service.set_gitignore(args.gitignore == "on")
    items = service.exclusions()
    gitignore = service.gitignore()
    if args.json:
        _print_json({"gitignore": gitignore, "patterns": [e.as_json() for e in items]})
    else:
        for e in items:
            where = e.folder or "(every folder)"
            print(f"{e.pattern:24s} {where}{'  [default]' if e.default else ''}")
        print(f".gitignore files: {'honoured' if gitignore else 'not honoured'} (exclusions --gitignore on|off)")
    if args.gitignore:
        return _reconcile(service)
    return EXIT_OK
