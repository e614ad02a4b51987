"""The service's model: which one is in force (the catalog's choice, or a one-run ``--model``), switching
it, loading the PyTorch encoder on first use, the device it runs on, and the first run's download.

A mixin of :class:`core.service.Service` (it uses the service's reader, writer and ``_model_lock``).
Threads: any caller; loading, switching and following a switch made elsewhere run under ``_model_lock``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import DEFAULT_MODEL, MODEL_ENV
from .encoder import Encoder, choose_device
from .model import (
    ModelLocation,
    ModelUnavailable,
    find_model,
    key_name,
    load_colbert,
    looks_like_hub_id,
    model_key,
    resolve_model,
)

if TYPE_CHECKING:
    from .catalog import Catalog, Writer
    from .config import Settings


class ModelOwner:
    # set up by Service.__init__ / provided by Service
    data_dir: Path
    settings: Settings
    writer: Writer
    reader: Callable[[], Catalog]
    _model_lock: threading.Lock
    _encoder: Encoder | None
    _model_error: str | None
    _location: ModelLocation | None
    _model_option: str | None
    _allow_download: bool
    _resolved_choice: str | None
    _progress_message: Callable[[str], None]

    def model_choice(self) -> str | None:
        """The model in force: ``--model`` / DESKTOP_SEARCH_MODEL for this run, else the one the catalog
        records (set by :meth:`switch_model`), else None (the default model)."""
        return self._model_option or os.environ.get(MODEL_ENV) or self.reader().get_setting("model") or None

    def model_location(self, allow_download: bool | None = None) -> ModelLocation:
        if self._location is None:
            allow = self._allow_download if allow_download is None else allow_download
            choice = self.model_choice()
            self._location = resolve_model(choice, self.data_dir, allow_download=allow,
                                           progress=self._progress_message)
            self._resolved_choice = choice
        return self._location

    def _follow_catalog_model(self) -> None:
        """(Under _model_lock.) When the index's model was switched elsewhere (the CLI, another window)
        and no one-run override is in force, forget the loaded one: the next use loads the catalog's."""
        if self._location is None or self._model_option or os.environ.get(MODEL_ENV):
            return
        if self.model_choice() != self._resolved_choice:
            self._location, self._encoder, self._model_error = None, None, None

    def model_state(self) -> dict[str, Any]:
        """The chosen model, the model the index's vectors are of, and how many files wait for encoding."""
        c = self.reader()
        index_key = c.get_setting("model_key")
        key = self._model_key() or index_key or ""
        return {"model": self.model_choice() or DEFAULT_MODEL,
                "index_model": key_name(index_key) if index_key else None,
                "files_to_encode": c.files_to_reencode(key)}

    def adopt_model(self, choice: str) -> bool:
        """Record ``choice`` as the index's model unless the catalog names one already (older windows
        kept it in their own settings); nothing is re-encoded. Returns whether it was recorded."""

        def adopt(c: Catalog) -> bool:
            if c.get_setting("model") is not None:
                return False
            c.set_setting("model", choice)
            return True

        adopted = bool(self.writer.call(adopt))
        if adopted:
            self._save_state()
        return adopted

    def switch_model(self, choice: str | None) -> dict[str, Any]:
        """Make ``choice`` (hub id or model folder; None: the default) this index's model, recorded in
        the catalog for the window and the command line alike. Files whose vectors another model made
        wait for encoding again; their old vectors stay searchable by the old model until the new ones
        replace them, and are never served to the new one. Returns the model and how many files the
        next index run encodes."""
        if choice and not looks_like_hub_id(choice):
            choice = str(Path(choice).expanduser().absolute())
        location = resolve_model(choice, self.data_dir, allow_download=self._allow_download,
                                 progress=self._progress_message)
        key = model_key(location)
        stored = None if choice in (None, DEFAULT_MODEL) else choice
        with self._exclusive():
            files = self.writer.call(lambda c: c.switch_model(stored, key))
        with self._model_lock:  # the next encoder() call loads the new model
            self._model_option = None
            self._location = location
            self._resolved_choice = self.model_choice()
            self._encoder = None
            self._model_error = None
        self._save_state()
        return {"model": location.name, "files_to_encode": int(files)}

    def encoder(self) -> Encoder | None:
        """The loaded encoder, loading it on first use; raises ModelUnavailable with a one-line reason."""
        with self._model_lock:
            self._follow_catalog_model()
            if self._encoder is not None:
                return self._encoder
            if self._model_error is not None:
                raise ModelUnavailable(self._model_error)
            try:
                location = self.model_location()
                device = choose_device(self.settings.device)  # int8 layers run on the CPU only
                model = load_colbert(location, self.settings.effective_threads(),
                                     quantize=self.settings.quantize and device.name == "cpu")
                self._encoder = Encoder(model, self.settings.context_length, key=model_key(location), device=device)
            except ModelUnavailable as exc:
                self._model_error = str(exc)
                raise
            return self._encoder

    def device_description(self) -> dict[str, Any]:
        """``device``: where the model encodes (the loaded encoder's, else where it would load), the
        ``device_setting`` asked for, and ``device_note`` when they differ (one line, else None)."""
        encoder = self._encoder
        if encoder is not None:
            name, note = encoder.device, encoder.device_note
        else:
            choice = choose_device(self.settings.device)
            name, note = choice.name, choice.note
        return {"device": name, "device_setting": self.settings.device, "device_note": note}

    def _model_key(self) -> str | None:
        """The key of the model in force, found without loading it (None: not on disk yet)."""
        if self._location is None:
            try:
                self.model_location(allow_download=False)
            except ModelUnavailable:
                return None
        return model_key(self._location) if self._location else None

    def context_length_status(self) -> dict[str, Any]:
        """What ``status`` says about the context length, without loading the model: ``context_length``
        is the window documents are encoded in: the loaded encoder's (which may also cut it to fit the
        memory at hand), else the setting capped by the model's own limit (``max_position_embeddings``
        in its config.json); ``context_length_setting`` the setting; ``context_length_source``
        encoder | model | setting; ``context_length_note`` why the window is shorter than the setting."""
        setting = self.settings.context_length
        out: dict[str, Any] = {"context_length": setting, "context_length_setting": setting,
                               "context_length_source": "setting", "context_length_note": None}
        encoder = self._encoder
        if encoder is not None:
            note = getattr(encoder, "context_note", None)
            if note is None and encoder.context_length < setting:
                note = f"the model reads at most {encoder.context_length} tokens; setting {setting}"
            return {**out, "context_length": encoder.context_length, "context_length_source": "encoder",
                    "context_length_note": note}
        location = self._location
        if location is None:
            try:
                location, _ = find_model(self.model_choice(), self.data_dir)
            except ModelUnavailable:
                location = None
        limit = model_max_positions(location.path) if location is not None else None
        if limit is not None and limit < setting:
            return {**out, "context_length": limit, "context_length_source": "model",
                    "context_length_note": f"the model reads at most {limit} tokens; setting {setting}"}
        return out

    def model_description(self) -> dict[str, Any]:
        try:
            location, model_id = find_model(self.model_choice(), self.data_dir)
        except ModelUnavailable as exc:
            return {"model": self.model_choice(), "model_state": "invalid", "model_error": str(exc)}
        if location is None:
            return {"model": model_id, "model_state": "not downloaded"}
        return {"model": location.name, "model_path": str(location.path), "model_state": "ready"}


    def download_model(
        self, progress: Callable[[Any], None] | None = None, should_cancel: Callable[[], bool] | None = None
    ) -> ModelLocation:
        """Fetch the configured hub model now, whatever ``allow_download`` says, with byte progress.

        ``progress`` gets a ``core.download.DownloadProgress``; ``should_cancel`` returning true raises
        ``core.download.DownloadCancelled`` (the partial files are kept and resumed next time). After a
        success the next ``encoder()`` call loads the model, even if an earlier call failed because it
        was not downloaded yet.
        """
        from .model import download_model as fetch

        choice = self.model_choice()
        location, model_id = find_model(choice, self.data_dir)
        if location is None:
            location = fetch(model_id, self.data_dir, self._progress_message, on_bytes=progress,
                             should_cancel=should_cancel)
        with self._model_lock:
            self._location = location
            self._resolved_choice = choice
            self._model_error = None
        return location


def model_max_positions(folder: Path) -> int | None:
    """The longest input the model's transformer takes (``max_position_embeddings`` of the config.json
    of its sentence-transformers Transformer module, else of the folder), read without loading it."""
    import json

    def read(path: Path) -> dict[str, Any]:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    where = folder
    try:
        modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        modules = []
    for module in modules if isinstance(modules, list) else []:
        if isinstance(module, dict) and str(module.get("type", "")).endswith("models.Transformer"):
            where = folder / str(module.get("path", ""))
            break
    value = read(where / "config.json").get("max_position_embeddings") or read(folder / "config.json").get(
        "max_position_embeddings")
    try:
        return int(value) if value else None
    except (TypeError, ValueError):
        return None
