"""The desktop window (PySide6): a thin layer over :class:`desktop_search.core.service.Service`.

Qt is imported only here and below; ``desktop_search.core`` never imports it. One job per module:

- the window that assembles the parts, its menus: ``window.py``, ``menus.py``
- search field, filters, sort, help: ``search_bar.py``, ``help_popover.py``
- results list (cards, "less relevant" divider, context menu), its model and delegate:
  ``results_panel.py``, ``results.py``
- preview pane, which result it shows and when, explanations: ``preview.py``,
  ``preview_coordinator.py``, ``explanations.py``
- status bar (indexing, the model and its download), tray icon: ``status_bar.py``,
  ``download_status.py``, ``tray.py``
- background work (Jobs, the job queue, worker threads, ``to_main``): ``jobs.py``, ``tasks.py``
- controllers: ``search_controller.py``, ``index_controller.py``, ``model_loader.py``
- commands on folders and settings, what index runs say: ``folder_commands.py``, ``index_feedback.py``
- dialogs and pages: ``folders_dialog.py``, ``failed_dialog.py``, ``welcome.py``, ``banner.py``, ``crash.py``
- the desktop around it: ``desktop.py``, ``autostart.py``, ``power.py``, ``single_instance.py``, ``theme.py``

Views refresh on the service's one "what changed" event (``Service.changes``), bridged by the window
to a queued Qt signal; nothing refreshes by hand after a call.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any


def _application(argv: list[str] | None = None) -> Any:
    """The QApplication (created once, named before creation)."""
    from PySide6.QtWidgets import QApplication

    QApplication.setApplicationName("Desktop Search")
    QApplication.setOrganizationName("desktop-search")
    QApplication.setDesktopFileName("desktop-search")
    return QApplication.instance() or QApplication(argv if argv is not None else sys.argv[:1])


def create_app(args: argparse.Namespace | None = None, argv: list[str] | None = None) -> tuple[Any, Any, Any]:
    """Build the QApplication, the Service and the main window (shown, model not yet loaded).

    Returns ``(app, service, window)``; raises ``CatalogError`` if the catalog cannot be opened.
    """
    from PySide6.QtCore import QSettings

    from .theme import app_icon, apply_theme

    app = _application(argv)
    app.setWindowIcon(app_icon())
    apply_theme(app)  # type: ignore[arg-type]

    from desktop_search.core.service import Service

    from .tasks import init_dispatcher, to_main
    from .window import MainWindow

    init_dispatcher()
    opts: dict[str, Any] = vars(args) if args is not None else {}
    settings = QSettings("desktop-search", "desktop-search")
    # the catalog names the model (Service.model_choice); --model / DESKTOP_SEARCH_MODEL override one run
    model = opts.get("model") or os.environ.get("DESKTOP_SEARCH_MODEL") or None
    legacy_model = settings.value("model")  # where older versions kept the window's choice
    window_ref: list[Any] = []

    def download_message(message: str) -> None:  # called from the model-loading thread
        to_main(lambda: window_ref and window_ref[0].statusBar().showMessage(message, 15000))

    # allow_download=False: only the window's ModelLoader downloads (with a progress bar and Cancel);
    # an index run that needs the model meanwhile goes on keyword-only instead of downloading silently
    service = Service(opts.get("data_dir"), model=model, context_length=opts.get("context_length"),
                      threads=opts.get("threads"), allow_download=False, progress=download_message)
    if legacy_model:
        service.adopt_model(str(legacy_model))
        settings.remove("model")
    window = MainWindow(service, model_option=model, settings=settings)
    window_ref.append(window)
    from .crash import CrashReporter

    # an exception that escapes from here on is logged under <data dir>/logs/ and shown in a dialog
    window.crash_reporter = CrashReporter(service.data_dir / "logs", parent=window).install()
    # started at login: stay in the tray (indexing and watching go on); without a tray, show the window
    # rather than run invisibly with no way to reach it
    if not (opts.get("minimized") and window.tray is not None):
        window.show()
    return app, service, window


def run_app(args: argparse.Namespace | None = None, argv: list[str] | None = None) -> int:
    """Show the window at once; the model loads in the background. Returns the exit code.

    If a window already runs on the same data folder, bring it to the front instead (``--minimized``:
    leave it as it is) and return 0 before the Service or the model starts.
    """
    from desktop_search.core.service import CatalogDamaged, CatalogError, resolve_data_dir

    from .single_instance import FirstInstance, hand_over

    data_dir = resolve_data_dir(getattr(args, "data_dir", None))
    _application(argv)
    activate = not getattr(args, "minimized", False)
    if hand_over(data_dir, activate=activate):
        return 0
    instance = FirstInstance(data_dir)
    if not instance.listen() and hand_over(data_dir, activate=activate):  # another launch won the race
        return 0
    try:
        try:
            app, service, window = create_app(args, argv)
        except CatalogDamaged as exc:  # offer the repair; busy, full and read-only are never "damaged"
            from PySide6.QtWidgets import QMessageBox

            from desktop_search.core.service import rebuild_catalog

            answer = QMessageBox.question(
                None, "Desktop Search",
                f"{exc}\n\nRepair it now? The damaged catalog is moved aside (not deleted) and the index is "
                "rebuilt from your folders.",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
            if answer != QMessageBox.StandardButton.Yes:
                instance.close()
                return 1
            rebuild_catalog(getattr(args, "data_dir", None))
            app, service, window = create_app(args, argv)
    except CatalogError as exc:
        from PySide6.QtWidgets import QMessageBox

        QMessageBox.critical(None, "Desktop Search", str(exc))
        instance.close()
        return 1
    instance.set_handler(window.show_and_focus)
    try:
        return int(app.exec())
    finally:
        instance.close()
        window.crash_reporter.uninstall()
        window.shutdown()
        service.close()


__all__ = ["create_app", "run_app"]
