"""What every command shares: exit codes, the one-line error, progress lines, JSON output, Ctrl+C."""

from __future__ import annotations

import argparse
import json
import os
import signal
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

    def handler(_signum: int, _frame: Any) -> None:
        if flag.is_set():
            raise KeyboardInterrupt
        flag.set()
        sys.stderr.write("\nstopping after the current step (Ctrl+C again to abort)…\n")

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return flag


def _data_dir(args: argparse.Namespace) -> Any:
    from desktop_search.core.service import resolve_data_dir

    return resolve_data_dir(args.data_dir)
