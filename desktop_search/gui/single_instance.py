"""One window per data folder: starting the app again brings the open window to the front.

The first window process listens on a local socket (:class:`QLocalServer`) named after its data folder;
a later launch on the same folder connects (:func:`hand_over`), asks it to come to the front and exits
without opening a :class:`~desktop_search.core.service.Service`.

Thread rule: everything here runs on the Qt main thread. :func:`hand_over` blocks briefly (up to its
timeout) and never waits for a reply, so it is safe before the event loop runs and even in the same
process as the listener (the tests do that); :class:`FirstInstance` answers through the event loop.

What it guarantees: a launch that finds a live listener for its data folder (same user; the socket is
owner-only) hands over and returns ``True``; a name left behind by a crashed instance (nobody answers)
is removed so it never blocks a new first instance; different data folders (and different users) use
different names. Two launches racing at the same moment settle on one listener (a lock file orders
their ask-then-listen): the loser of :meth:`FirstInstance.listen` hands over to the winner.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import sys
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QDir, QLockFile, QObject
from PySide6.QtNetwork import QLocalServer, QLocalSocket

ACTIVATE = b"activate\n"
_MAX_MESSAGE = 64  # bytes read from a client; anything longer is not ours
_LOCK_WAIT_MS = 3000


def server_name(data_dir: str | os.PathLike[str]) -> str:
    """A short name, the same for every launch by this user on this data folder."""
    try:
        user = str(os.getuid()) if hasattr(os, "getuid") else getpass.getuser()
    except Exception:  # no user name available: the path alone still separates data folders
        user = ""
    key = f"{user}\0{Path(data_dir).expanduser().resolve()}"
    return "desktop-search-" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def hand_over(data_dir: str | os.PathLike[str], *, activate: bool = True, timeout_ms: int = 1000) -> bool:
    """If a window already runs on ``data_dir``, ask it to come to the front (unless not ``activate``).

    Returns ``True`` when one is listening (this launch should then exit), ``False`` when none answers.
    """
    if activate and sys.platform == "win32":  # let the running window take the foreground from us
        try:
            import ctypes

            ctypes.windll.user32.AllowSetForegroundWindow(-1)  # type: ignore[attr-defined]  # ASFW_ANY
        except Exception:  # only the focus suffers
            pass
    socket = QLocalSocket()
    socket.connectToServer(server_name(data_dir))
    if not socket.waitForConnected(timeout_ms):
        return False
    if activate:
        socket.write(ACTIVATE)
        socket.flush()
        socket.waitForBytesWritten(timeout_ms)
    socket.disconnectFromServer()
    if socket.state() != QLocalSocket.LocalSocketState.UnconnectedState:
        socket.waitForDisconnected(timeout_ms)
    return True


class FirstInstance(QObject):
    """The running window's listener: each launch that hands over calls the activation handler.

    A request that arrives before :meth:`set_handler` is kept and delivered when the handler is set.
    """

    def __init__(self, data_dir: str | os.PathLike[str], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = server_name(data_dir)
        self._data_dir = data_dir
        self._server = QLocalServer(self)
        self._server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self._server.newConnection.connect(self._accept)
        self._handler: Callable[[], None] | None = None
        self._pending = False

    def listen(self) -> bool:
        """Become the listener; ``False`` if another live instance already is (or listening fails).

        Asks first: Qt's listen with socket options replaces an existing name, even a live one. A lock
        file (stale ones, from a crash, are taken over) makes ask-then-listen one step across launches.
        """
        lock = QLockFile(str(Path(QDir.tempPath()) / f"{self.name}.lock"))
        locked = lock.tryLock(_LOCK_WAIT_MS)  # not locked after the wait: go on; only a race is left open
        try:
            if hand_over(self._data_dir, activate=False):
                return False
            QLocalServer.removeServer(self.name)  # left by a crashed instance: nobody answers on it
            return self._server.listen(self.name)
        finally:
            if locked:
                lock.unlock()

    def set_handler(self, handler: Callable[[], None]) -> None:
        self._handler = handler
        if self._pending:
            self._pending = False
            handler()

    def close(self) -> None:
        self._server.close()

    def _accept(self) -> None:
        while (conn := self._server.nextPendingConnection()) is not None:
            buffer = bytearray()

            def read(conn: QLocalSocket = conn, buffer: bytearray = buffer) -> None:
                buffer += bytes(conn.readAll().data())
                if ACTIVATE in buffer:
                    buffer.clear()
                    conn.disconnectFromServer()
                    self._activate()
                elif len(buffer) > _MAX_MESSAGE:
                    conn.abort()

            conn.readyRead.connect(read)
            conn.disconnected.connect(conn.deleteLater)
            if conn.bytesAvailable():
                read()

    def _activate(self) -> None:
        if self._handler is None:
            self._pending = True
        else:
            self._handler()


__all__ = ["ACTIVATE", "FirstInstance", "hand_over", "server_name"]
