"""`status` and the Folders dialog say which context length applies: the loaded encoder's window, else
the setting capped by the model's own limit (read from its config.json, PyTorch not loaded), and why it
differs from the setting."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from desktop_search.core.service import Service


def test_status_gives_the_models_limit_when_no_encoder_is_loaded(tmp_path: Path, tiny_model: Path) -> None:
    limit = json.loads((tiny_model / "config.json").read_text())["max_position_embeddings"]
    assert limit == 8192  # the tiny model's own limit, below the 32768 setting
    torch_loaded = "torch" in sys.modules
    with Service(tmp_path / "data", model=str(tiny_model), allow_download=False) as service:
        status = service.status()
        assert status["context_length_setting"] == 32768
        assert status["context_length"] == 8192 and status["context_length_source"] == "model"
        assert status["context_length_note"] == "the model reads at most 8192 tokens; setting 32768"
        if not torch_loaded:
            assert "torch" not in sys.modules  # read from the config, not by loading the model
        service.update_settings(context_length=4096)  # below the model's limit: the setting applies
        status = service.status()
        assert (status["context_length"], status["context_length_source"], status["context_length_note"]) == (
            4096, "setting", None)
        service.update_settings(context_length=32768)
        service.encoder()  # loaded: its window is what applies
        status = service.status()
        assert status["context_length"] == 8192 and status["context_length_source"] == "encoder"
        assert "8192" in (status["context_length_note"] or "")


def test_the_command_line_status_says_which_length_applies(cli: Any, tmp_path: Path, tiny_model: Path) -> None:
    data = tmp_path / "data"
    code, out, err = cli("--data-dir", data, "--model", tiny_model, "status")
    assert code == 0, err
    line = next(x for x in out.splitlines() if x.startswith("context length:"))
    assert line.startswith("context length: 8192 tokens (the model reads at most 8192 tokens; setting 32768)"), line
    code, out, _ = cli("--data-dir", data, "--model", tiny_model, "--context-length", "256", "status", "--json")
    status = json.loads(out)
    assert (status["context_length"], status["context_length_setting"], status["context_length_note"]) == (
        256, 256, None)


def test_the_folders_dialog_shows_the_length_in_use(qtbot: Any, make_service: Any, make_window: Any,
                                                    tiny_model: Path) -> None:
    service = make_service(model=str(tiny_model))
    window = make_window(service)
    dialog = window.show_folders()
    qtbot.waitUntil(lambda: dialog.loaded, timeout=60000)
    assert dialog.context.value() == 32768
    assert dialog.context_applies.isVisibleTo(dialog)
    assert dialog.context_applies.text() == ("In use: 8192 tokens "
                                             "(the model reads at most 8192 tokens; setting 32768)")
    dialog.close()
    service.update_settings(context_length=2048)
    dialog = window.show_folders()
    qtbot.waitUntil(lambda: dialog.loaded, timeout=60000)
    assert not dialog.context_applies.isVisibleTo(dialog) and dialog.context.value() == 2048
