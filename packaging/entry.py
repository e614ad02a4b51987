"""Entry point of the frozen app (PyInstaller runs this file as ``__main__``).

The extraction pool re-launches this very executable as ``desktop-search --extract-worker MEM PID GUARD``
(a frozen app has no ``python -m``). That flag is handled first, before argparse, Qt or torch are imported,
so a worker starts as fast as ``python -m desktop_search.core.extract.worker`` does and loads only the
extraction libraries.
"""

import sys

# The bundle's code is precompiled (PYZ); never write __pycache__ into an install folder (a root run would
# leave files behind that the package manager does not know, and `apt-get purge` could not remove).
sys.dont_write_bytecode = True

if len(sys.argv) > 1 and sys.argv[1] == "--extract-worker":
    from desktop_search.core.extract.worker import main as _worker_main

    del sys.argv[1]
    sys.exit(_worker_main())



def _install_startup_probe(out_path: str) -> None:
    """DESKTOP_SEARCH_STARTUP_PROBE=out.json (packaging/bench_startup.py): once the window's event loop runs,
    record the time, type a query into the search field as key events, record when the first results are
    listed, write both (seconds since DESKTOP_SEARCH_STARTUP_T0, the launcher's clock) and quit."""
    import json
    import os
    import time

    import desktop_search.gui as gui

    t0 = float(os.environ.get("DESKTOP_SEARCH_STARTUP_T0") or time.time())
    query = os.environ.get("DESKTOP_SEARCH_STARTUP_QUERY", "sourdough")
    create_app = gui.create_app

    def probed_create_app(*args, **kwargs):  # type: ignore[no-untyped-def]
        from PySide6.QtCore import QEvent, Qt, QTimer
        from PySide6.QtGui import QKeyEvent
        from PySide6.QtWidgets import QApplication

        app, service, window = create_app(*args, **kwargs)
        marks: dict[str, float] = {"created": time.time() - t0}

        def finish(timed_out: bool = False) -> None:
            marks["timed_out"] = timed_out
            with open(out_path, "w", encoding="utf-8") as handle:
                json.dump(marks, handle)
            app.quit()

        def poll() -> None:
            if window.results_model.rowCount() > 0:
                marks["results"] = time.time() - t0
                marks["rows"] = window.results_model.rowCount()
                finish()
            elif time.time() - t0 > 120:
                finish(timed_out=True)
            else:
                QTimer.singleShot(5, poll)

        def type_query() -> None:  # first turn of the event loop: the window takes input from here on
            marks["window"] = time.time() - t0
            window.search.setFocus()
            for ch in query:
                for kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
                    QApplication.sendEvent(window.search, QKeyEvent(kind, Qt.Key.Key_unknown,
                                                                    Qt.KeyboardModifier.NoModifier, ch))
            marks["typed"] = time.time() - t0
            poll()

        QTimer.singleShot(0, type_query)
        return app, service, window

    gui.create_app = probed_create_app


if __name__ == "__main__":
    import multiprocessing
    import os

    multiprocessing.freeze_support()  # a library that spawns processes must not re-run the app

    if os.environ.get("DESKTOP_SEARCH_STARTUP_PROBE"):
        _install_startup_probe(os.environ["DESKTOP_SEARCH_STARTUP_PROBE"])

    from desktop_search.cli import main

    sys.exit(main())
