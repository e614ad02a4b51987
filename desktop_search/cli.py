"""Command line (contract in DESIGN.md). Exit codes: 0 ok, 1 failure (one line on stderr), 2 usage."""

from __future__ import annotations

import argparse
import errno
import json
import os
import signal
import sqlite3
import sys
import threading
import time
from typing import Any

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


class CliError(Exception):
    pass


def _at_least(minimum: int) -> Any:
    """An argparse type: an integer >= ``minimum`` (anything else is a usage error, exit 2)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum} (got {value})")
        return value

    return parse


MIN_CONTEXT_LENGTH = 32  # below this no passage fits in a window with its special tokens

QUERY_SYNTAX = """query syntax:
  solar panels        words: files with more of them first (by meaning and keyword; word forms
                      match: study finds studies); no prefix unless written photo*
  "red spot"          exact phrase, must appear ("cat" is not Caterpillar)
  -moon  -"a phrase"  leave out files containing it
  cat OR dog          alternatives ("a b" OR "c d": one of the phrases must appear)
  photo*              prefix, anywhere in the query
  title:budget        the document title contains it; name:report the file name (author: not yet)
  ext:pdf,docx  dir:Projects  date:2024  date:2024-01..2024-06  date:>2024-03-01  size:>1M  size:<200k
  filters alone (ext:pdf, dir:Projects date:2024) list the matching files, newest first"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="desktop-search", description="Find files on this computer by meaning.")
    p.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    p.add_argument("--data-dir", help="where the index lives (env DESKTOP_SEARCH_HOME)")
    p.add_argument("--model", help="model id or folder (env DESKTOP_SEARCH_MODEL)")
    p.add_argument("--context-length", type=_at_least(MIN_CONTEXT_LENGTH),
                   help="tokens per encoder window, for this run")
    p.add_argument("--threads", type=_at_least(1), help="CPU threads for encoding, for this run")
    p.add_argument("--minimized", action="store_true",
                   help="open the app in the system tray without showing its window (used at login)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    s = sub.add_parser("index", help="add folders and bring the index up to date")
    s.add_argument("paths", nargs="*")
    s.add_argument("--keyword-only", action="store_true", help="extract text only; encode later")
    s = sub.add_parser("remove", help="stop watching folders and drop their files")
    s.add_argument("paths", nargs="+")
    s = sub.add_parser("search", help="search the index", epilog=QUERY_SYNTAX,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("query")
    s.add_argument("--limit", type=_at_least(1), default=10)
    s.add_argument("--mode", choices=["hybrid", "semantic", "keyword"], default="hybrid")
    s.add_argument("--sort", choices=["relevance", "date", "name", "size"], default="relevance",
                   help="order of the best matches: relevance, date (newest first), name, size (largest first)")
    s.add_argument("--json", action="store_true")
    s = sub.add_parser("status", help="what is indexed")
    s.add_argument("--json", action="store_true")
    s = sub.add_parser("failed", help="files that could not be read, with reasons")
    s.add_argument("--json", action="store_true")
    sub.add_parser("watch", help="keep the index current until interrupted")
    s = sub.add_parser("exclude", help="leave files matching .gitignore-style patterns out of the index")
    s.add_argument("patterns", nargs="+", metavar="PATTERN")
    s.add_argument("--folder", help="only under this watched folder (default: every folder)")
    s = sub.add_parser("include", help="remove exclusion patterns (defaults too)")
    s.add_argument("patterns", nargs="+", metavar="PATTERN")
    s.add_argument("--folder", help="the watched folder the patterns were given for")
    s = sub.add_parser("exclusions", help="list exclusion patterns; --gitignore on|off")
    s.add_argument("--gitignore", choices=["on", "off"], help="honour .gitignore files in watched folders")
    s.add_argument("--json", action="store_true")
    s = sub.add_parser("model", help="show the index's model, or switch it (says how many files get re-encoded)")
    s.add_argument("model_id", nargs="?", metavar="ID_OR_DIR", help="hub id or model folder; 'default' for the default")
    s.add_argument("--json", action="store_true")
    s = sub.add_parser("extract", help="show the text the app sees in a file")
    s.add_argument("file")
    s.add_argument("--json", action="store_true")
    s = sub.add_parser("doctor", help="check catalog, segments and disk agree")
    s.add_argument("--repair", action="store_true")
    s.add_argument("--json", action="store_true")
    s = sub.add_parser("eval", help="index a BEIR folder and measure retrieval quality and speed")
    s.add_argument("beir_dir")
    s.add_argument("--split", default="test")
    s.add_argument("--mode", choices=["hybrid", "semantic", "keyword"], default="semantic")
    s.add_argument("--exact", action="store_true", help="score every document by exact MaxSim (reference)")
    s.add_argument("--json", action="store_true")
    s.add_argument("--limit-queries", type=_at_least(0), default=0, help=argparse.SUPPRESS)
    return p


class ProgressPrinter:
    """One updating line on a terminal; a line every few seconds otherwise (logs, CI)."""

    def __init__(self, stream: Any = None):
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.last = 0.0
        self.last_phase = ""

    def __call__(self, progress: Any) -> None:
        now = time.monotonic()
        changed = progress.phase != self.last_phase
        if not changed and now - self.last < (0.2 if self.tty else 5.0) and progress.phase != "done":
            return
        self.last, self.last_phase = now, progress.phase
        if progress.phase == "done":
            if self.tty:
                self.stream.write("\r\x1b[K")
            return
        parts = [f"[{progress.phase}]"]
        if progress.total:
            pct = 100.0 * progress.done / progress.total
            parts.append(f"{progress.done}/{progress.total} ({pct:.0f}%)")
        elif progress.done:
            parts.append(str(progress.done))
        if progress.eta_s is not None:
            parts.append(f"ETA {_duration(progress.eta_s)}")
        if progress.message:
            parts.append(progress.message)
        if progress.current:
            parts.append(progress.current[-60:])
        line = " ".join(parts)
        if self.tty:
            self.stream.write("\r\x1b[K" + line[: os.get_terminal_size(self.stream.fileno()).columns - 1])
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _exact_paths(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``path`` as readable text plus ``path_bytes_b64`` (the exact bytes, base64) where the name is
    not valid UTF-8: JSON cannot carry such bytes, and the U+FFFD display form opens nothing."""
    from desktop_search.core.service import display, exact_form

    return [{**r, "path": display(r["path"]), **exact_form(r["path"])} if isinstance(r.get("path"), str) else r
            for r in rows]


def _print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=1, default=str).encode("utf-8", "surrogateescape").decode(
        "utf-8", "replace"))


def _stop_flag() -> threading.Event:
    """First Ctrl+C / SIGTERM asks the job to stop at the next safe point."""
    flag = threading.Event()

    def handler(signum: int, frame: Any) -> None:
        if flag.is_set():
            raise KeyboardInterrupt
        flag.set()
        sys.stderr.write("\nstopping after the current step (Ctrl+C again to abort)…\n")

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return flag


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("desktop-search")
    except PackageNotFoundError:
        return "unknown"


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
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
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


def _data_dir(args: argparse.Namespace) -> Any:
    from desktop_search.core.service import resolve_data_dir

    return resolve_data_dir(args.data_dir)


WRITERS = ("index", "remove", "eval")  # commands that change the index (doctor --repair too)


def _open(args: argparse.Namespace) -> Any:
    from desktop_search.core.service import CatalogDamaged, Service

    try:
        service = Service(args.data_dir, model=args.model, context_length=args.context_length,
                          threads=args.threads, progress=lambda m: sys.stderr.write(m + "\n"))
    except CatalogDamaged as exc:  # only real corruption is worth a rebuild; busy/full/read-only say so
        raise CliError(f"{exc}; run `desktop-search doctor --repair` to rebuild it") from exc
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
        return _cmd_extract(args)
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
        handler = globals()[f"_cmd_{args.command}"]
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


def _cmd_search(service: Any, args: argparse.Namespace) -> int:
    response = service.search(args.query, limit=args.limit, mode=args.mode, sort=args.sort)
    if args.json:
        data = response.as_json()
        data["results"] = _exact_paths(data["results"])
        _print_json(data)
        return EXIT_OK
    if response.notice:
        sys.stderr.write(f"note: {response.notice}\n")
    if not response.results:
        print("no results")
    for i, r in enumerate(response.results, 1):
        from desktop_search.core.service import display

        page = f" (page {r.page})" if r.page else ""
        print(f"{i:2d}. {display(r.path)}{page}  [{r.score:.3f}]")
        if r.snippet:
            print(f"    {_mark(r.snippet, r.highlights)}")
    print(f"({response.took_ms:.0f} ms, {response.mode})", file=sys.stderr)
    return EXIT_OK


def _mark(text: str, spans: list[list[int]]) -> str:
    use_color = sys.stdout.isatty()
    out, pos = [], 0
    for s, e in spans:
        out.append(text[pos:s])
        out.append(("\x1b[1;33m" + text[s:e] + "\x1b[0m") if use_color else f"[{text[s:e]}]")
        pos = e
    out.append(text[pos:])
    return "".join(out)


def _cmd_status(service: Any, args: argparse.Namespace) -> int:
    status = service.status()
    if args.json:
        _print_json(status)
        return EXIT_OK
    print(f"data folder:    {status['data_dir']}")
    print(f"folders:        {', '.join(status['roots']) or '(none)'}")
    for f in status.get("folders", []):
        if f["state"] != "ok":
            print(f"  {f['path']}: {f['state']} ({f['detail']})")
    print(f"files:          {status['indexed']} indexed, {status['pending']} waiting for encoding, "
          f"{status['failed']} failed")
    print(f"index size:     {status['index_bytes'] / 1e6:.1f} MB ({status['segments']} segment(s))")
    print(f"model:          {status['model']} ({status['model_state']})")
    print(f"context length: {status['context_length']} tokens, {status['threads']} thread(s)")
    return EXIT_OK


def _cmd_failed(service: Any, args: argparse.Namespace) -> int:
    rows = service.failed()
    if args.json:
        _print_json(rows)
        return EXIT_OK
    if not rows:
        print("no failed files")
    for r in rows:
        print(f"{r['path']}: {r['reason']}")
    return EXIT_OK


def _cmd_extract(args: argparse.Namespace) -> int:
    from desktop_search.core.service import extract_file

    if not os.path.exists(args.file):
        raise CliError(f"no such file: {args.file}")
    if os.path.isdir(args.file):
        raise CliError(f"{args.file} is a folder, not a file")
    outcome = extract_file(args.file)
    if args.json:
        r = outcome.result
        _print_json({
            "path": outcome.path, "ok": r is not None, "error": outcome.error, "skipped": outcome.skipped,
            "title": r.title if r else None, "extractor": r.extractor if r else None,
            "pages": r.page_count if r else 0, "page_starts": r.page_starts if r else [],
            "metadata": r.metadata if r else {}, "text": r.text if r else None,
        })
        return EXIT_OK if r is not None else EXIT_FAIL
    if outcome.result is None:
        raise CliError(f"{outcome.path}: {outcome.error}")
    r = outcome.result
    if r.title:
        print(f"title: {r.title}")
    if r.page_starts:
        bounds = list(r.page_starts) + [len(r.text)]
        for i in range(len(r.page_starts)):
            print(f"--- page {i + 1} ---")
            print(r.text[bounds[i] : bounds[i + 1]].rstrip())
    else:
        print(r.text)
    return EXIT_OK


def _cmd_doctor(service: Any, args: argparse.Namespace) -> int:
    result = service.doctor(repair=args.repair, progress=ProgressPrinter())
    if args.json:
        _print_json(result)
    else:
        if result["consistent"] and not result["problems"]:
            print("consistent")
        for p in result["problems"]:
            print(f"problem: {p}")
        for r in result["repaired"]:
            print(f"repaired: {r}")
        for p in result.get("remaining", []):
            print(f"still: {p}")
        if result["problems"] and result["consistent"]:
            print("consistent (after repair)")
        for n in result.get("notes", []):  # normal pending work, not a problem: exit 0
            print(f"note: {n}")
    return EXIT_OK if result["consistent"] else EXIT_FAIL


def _cmd_model(service: Any, args: argparse.Namespace) -> int:
    if args.model_id is None:
        state = service.model_state()
        if args.json:
            _print_json(state)
            return EXIT_OK
        print(f"model:          {state['model']}")
        print(f"vectors made by {state['index_model'] or '(nothing encoded yet)'}")
        print(f"files to encode: {state['files_to_encode']}")
        return EXIT_OK
    choice = None if args.model_id == "default" else args.model_id
    result = service.switch_model(choice)
    if args.json:
        _print_json(result)
        return EXIT_OK
    print(f"model is now {result['model']}: {result['files_to_encode']} file(s) will be re-encoded by the next "
          "`desktop-search index` (or the running app); until then the old vectors answer the old model only")
    return EXIT_OK


def _cmd_watch(service: Any, args: argparse.Namespace) -> int:
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


def _cmd_eval(service: Any, args: argparse.Namespace) -> int:
    from desktop_search.core.service import run_eval

    result = run_eval(service, args.beir_dir, split=args.split, mode=args.mode, exact=args.exact,
                      progress=ProgressPrinter(), limit_queries=args.limit_queries)
    if args.json:
        _print_json(result)
    else:
        for key, value in result.items():
            print(f"{key:16s} {value}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
