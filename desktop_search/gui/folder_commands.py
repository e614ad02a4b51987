"""The window's commands on folders and settings: add, remove, retry failed files, exclusions, the
model, settings, repair, rebuild, and the two dialogs that ask for them.

A mixin of MainWindow (it uses the window's service, controllers, status bar and banner). Every
change goes through the service in a Job or on the index thread: settings are never mutated on the UI
thread (``Service.update_settings`` puts a new copy in force), and no view is refreshed by hand here:
the service announces what changed and the window refreshes what shows it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import QFileDialog

from . import autostart
from .failed_dialog import FailedDialog
from .folders_dialog import FoldersDialog
from .jobs import run_job
from .tasks import make_pool

if TYPE_CHECKING:
    from .window import MainWindow

    _Base = MainWindow
else:
    _Base = object


# settings are saved one at a time, in order: Service.update_settings copies the settings in force,
# so two saves at once on two threads could each miss the other's change
_SETTINGS_POOL = make_pool(1, "settings")


class FolderCommands(_Base):
    def choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Choose a folder to index", os.path.expanduser("~"))
        if path:
            self.add_folders([path])

    def add_folders(self, paths: list[str]) -> None:
        """Watch ``paths`` and start indexing them (adding the roots runs off the UI thread too)."""
        self.stack.setCurrentWidget(self.main_page)
        self.index_status.label.setText("Adding folder…")

        def added(_: Any) -> None:
            if self._load_model:
                self.model_loader.load()
            self.indexer.start()
            self.watch_folders()
            self.focus_search()

        run_job(self, "add folders", lambda: self.service.add_roots(paths), on_done=added,
                on_error=lambda exc: self._warn("Could not add the folder", exc))

    def watch_folders(self) -> None:
        def start() -> None:  # off the UI thread: a watch per subfolder takes a while on big trees
            with self._monitor_lock:  # one start or stop at a time (window.py), none once the window closed
                if self._closing:
                    return
                self.monitor.rules = self.service.rules()
                self.monitor.start(self.service.roots())

        run_job(self, "watch folders", start)

    def remove_folder(self, path: str) -> None:
        self.indexer.run_exclusive("remove", lambda: self.service.remove([path]))
        self.watch_folders()
        self.indexer.start()  # the cancelled run (if any) picks up where it stopped

    def retry_failed(self, paths: list[str]) -> None:
        self.indexer.run_exclusive("retry", lambda: self.service.retry_failed(paths), cancel_current=False)
        self.indexer.start()

    def save_settings(self, values: dict[str, Any]) -> None:
        model = values.get("model") or None
        if model != self.service.model_choice():  # an explicit switch, recorded in the catalog
            self.switch_model(model)
        if "pause_on_battery" in values:
            self.qsettings.setValue("pause_on_battery", bool(values["pause_on_battery"]))
            self.battery.set_enabled(bool(values["pause_on_battery"]))
        if "start_at_login" in values and bool(values["start_at_login"]) != autostart.is_enabled():
            try:
                autostart.set_enabled(bool(values["start_at_login"]), autostart.launch_command(self.service.data_dir))
            except OSError as exc:
                self._warn("Could not change the start at login setting", exc)
        changes = {"context_length": int(values["context_length"]), "threads": int(values["threads"])}
        if values.get("max_file_bytes"):
            changes["max_file_bytes"] = int(values["max_file_bytes"])  # the next index run reads with it
        if "exclusions" in values:
            self.set_exclusions(values["exclusions"], bool(values.get("gitignore")))
        run_job(self, "save settings", lambda: self.service.update_settings(**changes),
                on_done=lambda _: self.statusBar().showMessage("Settings saved; they apply at the next start", 5000),
                on_error=lambda exc: self._warn("Could not save the settings", exc), pool=_SETTINGS_POOL)

    def switch_model(self, model: str | None) -> None:
        """Make ``model`` (a folder; None: the default) the index's model; files encoded by another
        model are re-encoded in the background (meaning search covers the ones done so far)."""

        def switched(result: dict[str, Any]) -> None:
            self.statusBar().showMessage(
                f"Model is now {result['model']}: {result['files_to_encode']:,} file(s) will be re-encoded", 15000)
            if self._load_model:
                self.model_loader.load()
            self.indexer.start()

        run_job(self, "switch model", lambda: self.service.switch_model(model), on_done=switched,
                on_error=lambda exc: self._warn("Could not switch the model", exc))

    def set_exclusions(self, patterns: list[str], gitignore: bool) -> None:
        """New global exclusion patterns: stored, then a full reconcile drops what they leave out and reads
        what they let in; the watcher restarts with the new rules."""
        def apply() -> None:
            self.service.set_exclusions(patterns)
            self.service.set_gitignore(gitignore)

        job = self.indexer.run_exclusive("exclusions", apply)
        job.on_success(lambda _: (self.watch_folders(), self.indexer.start()))

    def repair(self) -> None:
        def done(result: Any) -> None:
            if result.get("consistent"):
                self.banner.clear("damaged")
                self.statusBar().showMessage("Index repaired", 8000)
            else:
                self.banner.show_message("damaged", "Repair did not finish: " + "; ".join(result.get("remaining", [])))

        self.indexer.run_exclusive("repair", lambda: self.service.doctor(repair=True)).on_success(done)

    def rebuild_index(self) -> None:
        """Re-train the index's codec on every vector and write it anew, after the current run (a Job with
        progress in the status bar and Stop; searches go on meanwhile)."""
        def done(result: dict[str, Any]) -> None:
            if not result.get("rebuilt"):
                self._index_ended(f"Nothing to rebuild: {result.get('reason', 'no vectors yet')}")
            elif result.get("consistent"):
                self._index_ended(f"Index rebuilt: {result['vectors']:,} vectors, {result['segments_before']} "
                                  f"segment(s) -> {result['segments_after']}")
            else:
                self._index_ended("Index rebuilt, but its check found problems; the old parts are kept in "
                                  f"{result['set_aside']}")
                self.banner.show_message("damaged", "The rebuilt index did not pass its check.", "Repair",
                                         self.repair)

        self.indexer.rebuild().on_success(done)

    def show_folders(self) -> FoldersDialog:
        dialog = FoldersDialog(self.service, self.service.model_choice(), self,
                               pause_on_battery=self.pause_on_battery_setting(), start_at_login=autostart.is_enabled())
        dialog.add_requested.connect(lambda p: self.add_folders([p]))
        dialog.remove_requested.connect(self.remove_folder)
        dialog.settings_saved.connect(self.save_settings)
        self.status_refreshed.connect(dialog.follow_status)
        self.folders_dialog = dialog
        dialog.show()
        return dialog

    def show_failed(self) -> FailedDialog:
        dialog = FailedDialog(self.service, self)
        dialog.retry_requested.connect(self.retry_failed)
        dialog.retry_requested.connect(lambda _: dialog.accept())
        self.failed_dialog = dialog
        dialog.show()
        return dialog
