"""A network guard for tests: a Python audit hook that records, and blocks, every attempt to resolve a
host name or to connect/send over a non-local socket (AF_UNIX, i.e. D-Bus and local IPC, is not network).

Audit hooks see every socket use made through Python, whichever library makes it. They cannot see a C
library opening its own sockets (libxml2's HTTP client, say): the tests point hostile documents at a
local listener for that, which notices any connection from any process.

Worker processes are guarded too, without sitecustomize: :func:`guarded_python` writes a stand-in for
``sys.executable`` that starts :mod:`netguard_boot`, which installs the same hook (logging to the file
named by ``NETGUARD_LOG``) and then runs the ``-m`` module it was asked to run.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path
from typing import Any

NET_EVENTS = {"socket.connect", "socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex",
              "socket.gethostbyaddr", "socket.getnameinfo", "socket.sendto", "socket.sendmsg"}
# client libraries that have no business in an offline app's processes (plain `socket` is imported by
# the stdlib email package, so it is not listed)
NET_MODULES = {"ssl", "http.client", "urllib.request", "urllib3", "requests", "httpx", "ftplib", "smtplib",
               "aiohttp", "websocket", "xmlrpc.client"}
LOG_ENV = "NETGUARD_LOG"


def _is_network(event: str, args: tuple[Any, ...]) -> bool:
    if event not in NET_EVENTS:
        return False
    local = getattr(args[0], "family", None) == getattr(socket, "AF_UNIX", object()) if args else False
    return not (event in ("socket.connect", "socket.sendto", "socket.sendmsg") and local)  # UNIX sockets are local


class Guard:
    def __init__(self, log: Path | None = None):
        self.active = False
        self.attempts: list[str] = []
        self.imports: list[str] = []
        self.log = log

    def _record(self, line: str) -> None:
        if self.log is not None:
            with open(self.log, "a", encoding="utf-8") as out:
                out.write(f"{os.getpid()} {line}\n")
        else:
            self.attempts.append(line)

    def hook(self, event: str, args: tuple[Any, ...]) -> None:
        if not self.active:
            return
        if event == "import":
            if args and args[0] in NET_MODULES and args[0] not in self.imports:
                self.imports.append(args[0])
                self._record(f"import {args[0]}")
            return
        if _is_network(event, args):
            self._record(f"{event} {args[1:]!r}"[:300])
            raise PermissionError(f"network use blocked by the test guard: {event}")


_GUARD: Guard | None = None


def install() -> Guard:
    """The process's guard (audit hooks cannot be removed: it is installed once and switched on/off)."""
    global _GUARD
    if _GUARD is None:
        _GUARD = Guard()
        sys.addaudithook(_GUARD.hook)
    return _GUARD


def guarded_python(folder: Path) -> Path:
    """An executable that runs Python like ``sys.executable`` does, with the guard installed first."""
    boot = Path(__file__).with_name("netguard_boot.py")
    script = folder / "guarded-python"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{boot}" "$@"\n')
    script.chmod(0o755)
    return script
