"""Reading the shared extraction corpus (``../shared/corpus`` next to the repository) and judging outcomes."""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from desktop_search.core.extract import ExtractOutcome, page_at

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"

# Formats the corpus lists as "unsupported" (need not be read) that this app reads on purpose.
READ_ANYWAY = {"mbox", "xls", "zip", "7z", "tar", "gz", "msg", "doc", "ppt"}  # archives, Outlook, Office 97 (issue 15)


@dataclass
class Row:
    path: str  # as written in the manifest
    format: str
    expect: str
    min_chars: int
    must_contain: str
    page: int | None
    note: str

    def file(self, files: Path) -> Path:
        raw = self.path
        if "\\x" in raw:
            raw = os.fsdecode(raw.encode("ascii", "backslashreplace").decode("unicode_escape").encode("latin-1"))
        return files / raw


def load_rows(corpus: Path = CORPUS) -> list[Row]:
    rows = []
    with open(corpus / "MANIFEST.tsv", encoding="utf-8", newline="\n") as handle:
        header = handle.readline().rstrip("\n").split("\t")
        for line in handle:
            if not line.strip():
                continue
            fields = dict(zip(header, line.rstrip("\n").split("\t"), strict=False))
            rows.append(
                Row(
                    path=fields["path"],
                    format=fields["format"],
                    expect=fields["expect"],
                    min_chars=int(fields["min_chars"] or 0),
                    must_contain=fields["must_contain"],
                    page=int(fields["page"]) if fields.get("page") else None,
                    note=fields.get("note", ""),
                )
            )
    return rows


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", text)).strip()


def judge(row: Row, outcome: ExtractOutcome) -> str | None:
    """None when the outcome meets the row's expectation, else why not."""
    result = outcome.result
    if row.expect == "text":
        if result is None:
            return f"failed: {outcome.error}"
        text = result.text
        if row.page is not None and result.page_starts:
            starts = result.page_starts + [len(text)]
            if row.page > len(result.page_starts):
                return f"only {len(result.page_starts)} pages, phrase expected on page {row.page}"
            text = text[starts[row.page - 1] : starts[row.page]]
        if normalise(row.must_contain) not in normalise(text):
            return f"phrase {row.must_contain!r} missing (page {row.page})"
        n = len(normalise(result.text))
        if n < row.min_chars:
            return f"{n} chars < min_chars {row.min_chars}"
        return None
    if row.expect == "empty":
        if result is None:
            return f"failed instead of empty: {outcome.error}"
        if normalise(result.text):
            return f"expected empty text, got {len(result.text)} chars"
        return None
    if row.expect == "error":
        if result is not None and normalise(result.text):
            return f"expected a failure, got {len(result.text)} chars"
        if result is None and not outcome.error:
            return "failed without a reason"
        return None
    if row.expect == "unsupported":
        if result is None:
            return None if outcome.error else "failed without a reason"
        if row.format in READ_ANYWAY:
            return None
        return f"expected skipped/unsupported, got {len(result.text)} chars"
    return f"unknown expectation {row.expect}"


__all__ = ["CORPUS", "Row", "load_rows", "normalise", "judge", "page_at"]
