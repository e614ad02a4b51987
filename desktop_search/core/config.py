"""Typed settings and where things live on disk."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

APP_NAME = "desktop-search"
DEFAULT_MODEL = "mixedbread-ai/mxbai-edge-colbert-v0-32m"
HOME_ENV = "DESKTOP_SEARCH_HOME"
MODEL_ENV = "DESKTOP_SEARCH_MODEL"


def default_data_dir() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME, appauthor=False))


def resolve_data_dir(option: str | os.PathLike[str] | None = None) -> Path:
    if option:
        return Path(option).expanduser().absolute()
    env = os.environ.get(HOME_ENV)
    if env:
        return Path(env).expanduser().absolute()
    return default_data_dir()


def on_battery() -> bool:
    """True while the computer runs on battery (psutil; False when unknown or there is no battery)."""
    try:
        import psutil

        battery = psutil.sensors_battery()
    except Exception:  # noqa: BLE001 - no sensor support here: behave as if plugged in
        return False
    return bool(battery is not None and battery.power_plugged is False)


@dataclass
class Settings:
    """Settings persisted in the catalog; the CLI may override some for one run."""

    context_length: int = 32768  # tokens per encoder window; blocked attention keeps 32k within ~1.5 GB RSS
    quantize: bool = False  # int8 Linear layers, kept only if token vectors stay within cosine 0.99 of fp32
    threads: int = 0  # 0 = all cores
    passage_chars: int = 1200  # target passage size; passages are slices of an encoded window
    batch_files: int = 256  # files per committed encoding batch at most (fewer when they fill the encoder's pool)
    # exact-MaxSim (flat) segments are compacted to PLAID above this many 64-d tokens (scaled by 64/dim):
    # where exact search costs what a PLAID query does (one core, 64-d, CPU ms: flat 15 at 50k tokens, 62
    # at 200k, 346 at 1M; PLAID 12 / 21 / 56; tests/benchmarks/results/codec.md). Was 1.5M: an index under
    # 1.5M tokens was searched exactly (~0.65 s a query at 1M).
    flat_max_tokens: int = 32_768
    plaid_nbits: int = 0  # 0 = choose from the vector width
    max_file_bytes: int = 200 * 1024 * 1024
    max_text_chars: int = 5_000_000
    extract_timeout_s: float = 60.0
    extract_memory_mb: int = 1024
    keep_raw_vectors: bool = False  # keep exact vectors after compaction (used by `eval --exact`)
    model_idle_minutes: float = 10.0  # the model is unloaded after this long unused (idle memory)
    device: str = "auto"  # auto | cpu | cuda | mps: where the model encodes (auto: CUDA, then MPS, then CPU)
    # auto | on | off: text recognition for images and scanned PDF pages (issue 15); auto = on, but off
    # while the computer runs on battery (OCR costs seconds of CPU a page)
    ocr: str = "auto"

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> Settings:
        known = {f.name: f for f in fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, value in values.items():
            if key in known:
                kwargs[key] = type(getattr(cls(), key))(value)
        return cls(**kwargs)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def ocr_active(self) -> bool:
        """Whether index runs started now read images and scanned pages (see ``ocr``)."""
        choice = self.ocr.strip().lower()
        if choice in ("on", "off"):
            return choice == "on"
        return not on_battery()

    def effective_threads(self) -> int:
        return self.threads if self.threads > 0 else max(1, os.cpu_count() or 1)
