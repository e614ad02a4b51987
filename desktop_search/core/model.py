"""Finding, downloading and loading the ColBERT model. torch/pylate are imported lazily.

Resolution order (DESIGN.md): ``--model``/``DESKTOP_SEARCH_MODEL`` (hub id or folder) → the user data
dir → a ``models/`` dir next to a frozen app → first-run download with progress.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import DEFAULT_MODEL, MODEL_ENV


class ModelUnavailable(Exception):
    """No usable model: the message is one line a person can act on."""


class ModelMismatch(Exception):
    """The index's vectors were made by another model than the one in use (one line, says what to do)."""


@dataclass(frozen=True)
class ModelLocation:
    path: Path
    name: str  # hub id or folder name, for display


def _slug(model_id: str) -> str:
    return model_id.replace("/", "--")


def looks_like_hub_id(value: str) -> bool:
    parts = value.split("/")
    return len(parts) == 2 and all(parts) and not value.startswith((".", "/", "~")) and not Path(value).exists()


def validate_model_dir(path: Path) -> None:
    """Raise ModelUnavailable unless ``path`` looks like a sentence-transformers/PyLate model folder."""
    if not path.is_dir():
        raise ModelUnavailable(f"model folder {path} does not exist")
    if not (path / "config.json").is_file() and not (path / "modules.json").is_file():
        raise ModelUnavailable(f"{path} is not a model folder (no config.json or modules.json)")
    has_weights = any(path.glob("*.safetensors")) or any(path.glob("*.bin")) or any(path.glob("*/*.safetensors"))
    if not has_weights:
        raise ModelUnavailable(f"{path} is not a model folder (no weights)")
    has_tokenizer = (path / "tokenizer.json").is_file() or (path / "vocab.txt").is_file()
    if not has_tokenizer:
        raise ModelUnavailable(f"{path} is not a model folder (no tokenizer)")


def bundled_models_dir() -> Path | None:
    if getattr(sys, "frozen", False):
        base = Path(getattr(sys, "_MEIPASS", Path(sys.executable).parent))
        return base / "models"
    return None


def find_model(option: str | None, data_dir: Path) -> tuple[ModelLocation | None, str]:
    """Locate a model without downloading. Returns (location or None, the hub id still to fetch)."""
    choice = option or os.environ.get(MODEL_ENV) or DEFAULT_MODEL
    candidate = Path(choice).expanduser()
    if not looks_like_hub_id(choice):
        candidate = candidate.absolute()
        validate_model_dir(candidate)
        return ModelLocation(candidate, candidate.name), choice
    local = data_dir / "models" / _slug(choice)
    if (local / ".complete").exists():
        from .download import damaged_files, set_aside

        damaged = damaged_files(local)  # sizes against the download's manifest: a cut-short file is never loaded
        if not damaged:
            return ModelLocation(local, choice), choice
        try:  # download it again (the damaged files only)
            (local / ".complete").unlink(missing_ok=True)
            set_aside(local, sorted(damaged))
        except OSError:
            pass  # a read-only data folder: still never loaded; the download will say what is wrong
    bundled = bundled_models_dir()
    if bundled is not None and (bundled / _slug(choice)).is_dir():
        return ModelLocation(bundled / _slug(choice), choice), choice
    return None, choice


def download_model(
    model_id: str, data_dir: Path, progress: Callable[[str], None] | None = None,
    on_bytes: Callable[[Any], None] | None = None, should_cancel: Callable[[], bool] | None = None,
) -> ModelLocation:
    """First-run download into the data dir (resumable; ``.complete`` is written only after success).

    ``on_bytes`` gets a :class:`desktop_search.core.download.DownloadProgress` as bytes arrive;
    ``should_cancel`` returning true raises :class:`desktop_search.core.download.DownloadCancelled`.
    """
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        raise ModelUnavailable(
            f"model {model_id} is not downloaded and HF_HUB_OFFLINE=1; pass --model FOLDER"
        )
    target = data_dir / "models" / _slug(model_id)
    target.mkdir(parents=True, exist_ok=True)
    if progress:
        progress(f"downloading model {model_id} to {target}")
    from .download import DownloadCancelled, download_snapshot, pin_for, set_aside, verify_files, write_manifest

    pin = pin_for(model_id)  # a known commit and file hashes: the download must match them exactly
    revision = pin.revision if pin else None
    patterns = sorted(pin.sha256) if pin else None
    bad: dict[str, str] = {}
    for _attempt in range(2):  # a file that fails verification is set aside and fetched once more
        try:
            if on_bytes is None and should_cancel is None:  # the command line: the hub's own bars on stderr
                from huggingface_hub import snapshot_download

                from .download import hub_tuned

                with hub_tuned():
                    kwargs: dict[str, Any] = {"revision": revision} if revision else {}
                    if patterns is not None:
                        kwargs["allow_patterns"] = patterns
                    snapshot_download(repo_id=model_id, local_dir=str(target), **kwargs)
            else:
                download_snapshot(model_id, target, on_bytes, should_cancel, revision=revision,
                                  allow_patterns=patterns)
        except DownloadCancelled:
            raise
        except Exception as exc:
            raise ModelUnavailable(
                f"could not download model {model_id} ({type(exc).__name__}); keyword search still works"
            ) from exc
        bad = verify_files(target, pin.sha256) if pin else {}
        if not bad:
            break
        set_aside(target, sorted(bad))
    if bad:  # never marked complete, so never loaded
        name, problem = next(iter(bad.items()))
        raise ModelUnavailable(
            f"downloaded model {model_id} failed verification ({name}: {problem}); it was set aside and will "
            "not be used; keyword search still works"
        )
    validate_model_dir(target)
    write_manifest(target, model_id, revision)
    (target / ".complete").write_text(model_id)
    return ModelLocation(target, model_id)


def resolve_model(
    option: str | None, data_dir: Path, *, allow_download: bool = True,
    progress: Callable[[str], None] | None = None,
) -> ModelLocation:
    location, model_id = find_model(option, data_dir)
    if location is not None:
        return location
    if not allow_download:
        raise ModelUnavailable(f"model {model_id} is not downloaded yet")
    return download_model(model_id, data_dir, progress)


def model_key(location: ModelLocation) -> str:
    """Identifies the vectors a model makes: a change of model means re-encoding."""
    stat_bits = []
    for name in ("config.json", "modules.json", "config_sentence_transformers.json"):
        f = location.path / name
        if f.exists():
            stat_bits.append(f"{name}:{f.stat().st_size}")
    weights = sorted(location.path.glob("**/*.safetensors")) + sorted(location.path.glob("**/*.bin"))
    for w in weights[:4]:
        stat_bits.append(f"{w.name}:{w.stat().st_size}")
    return f"{location.name}|{'|'.join(stat_bits)}"


def key_name(key: str | None) -> str:
    """The model's name inside a model key, for messages."""
    return (key or "").split("|", 1)[0] or "an unknown model"


@contextmanager
def _hub_offline() -> Iterator[None]:
    """Hub offline while a model loads (nothing may reach the network), then as it was: the hub reads
    HF_HUB_OFFLINE once into a module constant, so setting it for good here would also break a later
    first-run download of another model in the same process (issue 11)."""
    from huggingface_hub import constants

    before_env = os.environ.get("HF_HUB_OFFLINE")
    before = constants.HF_HUB_OFFLINE
    os.environ["HF_HUB_OFFLINE"] = "1"
    constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = before
        if before_env is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = before_env


def load_colbert(location: ModelLocation, threads: int, quantize: bool = False) -> Any:
    """Load a PyLate ColBERT from a local folder with no network call (``quantize``: int8 if faithful)."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch

    torch.set_num_threads(max(1, threads))
    import logging

    for noisy in ("pylate", "sentence_transformers", "transformers"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # one bar per load is noise on stderr
    try:
        from pylate import models

        with _hub_offline():
            model = models.ColBERT(model_name_or_path=str(location.path), device="cpu", local_files_only=True)
    except Exception as exc:
        raise ModelUnavailable(f"could not load model from {location.path}: {type(exc).__name__}: {exc}"[:400]) from exc
    model.eval()
    if quantize:
        from .encoder import quantize_if_close

        model, note = quantize_if_close(model)
        model.desktop_search_quantize_note = note
    return model
