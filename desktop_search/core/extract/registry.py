"""Which extractor reads which file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .types import Extracted, ExtractionFailed, ExtractLimits

Extractor = Callable[[Path, ExtractLimits], Extracted]

TEXT_SUFFIXES = {
    ".txt", ".text", ".md", ".markdown", ".rst", ".org", ".log", ".csv", ".tsv", ".json", ".xml",
    ".yaml", ".yml", ".toml", ".ini", ".cfg", ".conf", ".py", ".js", ".ts", ".c", ".h", ".cpp", ".hpp",
    ".java", ".rs", ".go", ".rb", ".sh", ".bat", ".ps1", ".sql", ".tex", ".css", ".kt", ".swift", ".php",
    ".pl", ".lua", ".r", ".m", ".scala", ".cs", ".tsx", ".jsx",
}


def _text(path: Path, limits: ExtractLimits) -> Extracted:
    from .text import extract_text

    return extract_text(path, limits)


def _pdf(path: Path, limits: ExtractLimits) -> Extracted:
    from .pdf import extract_pdf

    return extract_pdf(path, limits)


def extractor_for(path: Path) -> Extractor | None:
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        return _pdf
    if suffix in TEXT_SUFFIXES:
        return _text
    return None


def is_candidate(path: Path) -> bool:
    """Cheap check used by the scanner: could this file be indexed at all?"""
    return extractor_for(path) is not None


def run_extractor(path: Path, limits: ExtractLimits) -> Extracted:
    extractor = extractor_for(path)
    if extractor is None:
        raise ExtractionFailed("unsupported file type")
    size = path.stat().st_size
    if size > limits.max_file_bytes:
        raise ExtractionFailed(
            f"file is larger than the {limits.max_file_bytes // (1024 * 1024)} MB limit"
        )
    result = extractor(path, limits)
    if len(result.text) > limits.max_text_chars:
        result.text = result.text[: limits.max_text_chars]
        result.page_starts = [p for p in result.page_starts if p < limits.max_text_chars]
    return result
