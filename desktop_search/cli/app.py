"""Command line entry (contract in DESIGN.md). Exit codes: 0 ok, 1 failure (one line on stderr), 2 usage.

Each command is a function ``(service, args) -> exit code`` in a module named for its group (folders,
search, maintenance); :data:`COMMANDS` maps the sub-command to it and :func:`_run` opens the service and
turns the service's errors into one line.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import sqlite3
import sys
from collections.abc import Callable
from typing import Any

from . import folders, maintenance, search, similar, skipped
from .common import EXIT_FAIL, CliError, _data_dir
from .parser import _parser

COMMANDS: dict[str, Callable[[Any, argparse.Namespace], int]] = {
    "index": folders._cmd_index, "remove": folders._cmd_remove, "watch": folders._cmd_watch,
    "exclude": folders._cmd_exclude, "include": folders._cmd_include, "exclusions": folders._cmd_exclusions,
    "search": search._cmd_search, "similar": similar._cmd_similar,
    "status": maintenance._cmd_status, "failed": maintenance._cmd_failed,
    "skipped": skipped._cmd_skipped, "doctor": maintenance._cmd_doctor,
    "model": maintenance._cmd_model, "eval": maintenance._cmd_eval, "rebuild": maintenance._cmd_rebuild,
}



def main(argv: list[str] | None = None) -> int:
    raw = sys.argv[1:] if argv is None else argv
    if raw[:1] == ["--extract-worker"]:  # the extraction pool's worker (packaging/entry.py does this when frozen)
        from desktop_search.core.extract.worker import main as worker_main

        sys.argv = [sys.argv[0], *raw[1:]]
        return worker_main()
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        from desktop_search.gui import run_app

        return run_app(args)
    code = _command(args)
    if argv is None:  # a process of its own (console script, python -m), not a test calling main([...])
        _exit_now(code)
    return code


def _command(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except CliError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_FAIL
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    except Exception as exc:  # a bug: one line for the person, the traceback in a log file
        log = _write_crash_log()
        sys.stderr.write(f"error: unexpected {type(exc).__name__}: {exc} (details in {log})\n")
        return EXIT_FAIL


def _exit_now(code: int) -> None:
    """End the process without the interpreter's teardown: with the model loaded, freeing PyTorch and its
    thread pools takes ~3 s after the work is done (a Ctrl+C'd index would take that long to end). By
    now the service is closed (catalog committed and closed, lock released); only output is flushed."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


def _write_crash_log() -> str:
    import tempfile
    import traceback

    from desktop_search.core.service import redacted_traceback

    # mkstemp: mode 0600; messages left out unless opted in (they may quote documents or queries)
    fd, path = tempfile.mkstemp(prefix="desktop-search-crash-", suffix=".log")
    with os.fdopen(fd, "w") as handle:
        exc_type, exc, tb = sys.exc_info()
        if exc_type is not None and exc is not None:
            handle.write(redacted_traceback(exc_type, exc, tb))
        else:
            traceback.print_exc(file=handle)
    return path


WRITERS = ("index", "remove", "eval", "rebuild")  # commands that change the index (doctor --repair too)


def _open(args: argparse.Namespace) -> Any:
    from desktop_search.core.service import CatalogDamaged, Service

    try:
        service = Service(args.data_dir, model=args.model, context_length=args.context_length,
                          threads=args.threads, progress=lambda m: sys.stderr.write(m + "\n"))
    except CatalogDamaged as exc:  # only real corruption is worth a rebuild; busy/full/read-only say so
        raise CliError(f"{exc}; run `desktop-search doctor --repair` to rebuild it") from exc
    if getattr(args, "device", None):  # for this run, like --threads (nothing runs yet)
        service.settings.device = args.device
    if getattr(args, "ocr", None):  # for this run too
        service.settings.ocr = args.ocr
    if service.read_only and (args.command in WRITERS or (args.command == "doctor" and args.repair)):
        service.close()
        from desktop_search.core.service import DiskFull

        if isinstance(service.read_only_reason, DiskFull):
            raise CliError(str(service.read_only_reason))
        raise CliError(f"the data folder {service.data_dir} is read-only: searching works, "
                       f"`{args.command}` cannot update the index")
    return service


def _run(args: argparse.Namespace) -> int:
    from desktop_search.core.service import (
        Busy,
        CatalogError,
        EvalError,
        ModelMismatch,
        ModelUnavailable,
        QueryError,
        describe,
    )

    if args.command == "extract":
        return maintenance._cmd_extract(args)
    if args.command == "doctor" and args.repair:
        # a catalog too damaged to open is moved aside and rebuilt from the mirrored roots; one that is
        # busy, full, read-only or sound is never touched (rebuild_catalog refuses)
        from desktop_search.core.service import CatalogDamaged, Service, rebuild_catalog

        try:
            Service(args.data_dir, model=args.model).close()
        except CatalogDamaged as exc:
            info = rebuild_catalog(args.data_dir)
            sys.stderr.write(f"catalog was damaged ({exc}); set aside in {', '.join(info['set_aside'])}, "
                             f"rebuilding the index of {info['roots']} folder(s)\n")
    if args.model and args.command in ("index", "search", "eval", "doctor"):
        from desktop_search.core.service import find_model

        try:  # a model the person named explicitly must be usable, or we say so at once
            find_model(args.model, _data_dir(args))
        except ModelUnavailable as exc:
            raise CliError(str(exc)) from exc
    try:
        service = _open(args)
    except CatalogError as exc:
        raise CliError(str(exc)) from exc
    try:
        handler = COMMANDS[args.command]
        return handler(service, args)
    except (FileNotFoundError, NotADirectoryError, QueryError, Busy, CatalogError, EvalError) as exc:
        raise CliError(str(exc).strip("'\"")) from exc
    except (ModelUnavailable, ModelMismatch) as exc:
        raise CliError(str(exc)) from exc
    except sqlite3.Error as exc:  # busy, full, read-only, I/O: named for what they are
        raise CliError(str(describe(exc, service.data_dir))) from exc
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
            raise CliError(str(describe(exc, service.data_dir))) from exc
        if isinstance(exc, PermissionError):
            raise CliError(f"permission denied: {exc.filename}") from exc
        raise CliError(f"{exc.strerror or exc}: {exc.filename or ''}".strip(": ")) from exc
    finally:
        service.close()
