"""What a data folder holds, for the CLI's and the window's reports: status, the files skipped and
failed (and forgetting failures), per-folder counts, a file's indexed text.

A mixin of :class:`core.service.Service` (it uses the service's reader, store, writer and model
description); every read goes through this thread's reader connection, the one write through the writer.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import paths as P
from .catalog import Catalog
from .config import Settings
from .layout import CATALOG
from .members import split_member
from .model import key_name
from .scan import root_state, skip_counts

if TYPE_CHECKING:
    from .catalog import Writer
    from .index import SegmentStore


class Reports:
    # set up by Service.__init__ / provided by Service and its other mixins
    data_dir: Path
    store: SegmentStore
    writer: Writer
    settings: Settings
    reader: Callable[[], Catalog]
    roots: Callable[[], list[str]]
    root_states: Callable[[], list[dict[str, Any]]]
    model_description: Callable[[], dict[str, Any]]
    context_length_status: Callable[[], dict[str, Any]]
    device_description: Callable[[], dict[str, Any]]

    def status(self) -> dict[str, Any]:
        c = self.reader()
        counts = c.counts()
        vector_bytes = self.store.disk_bytes()
        index_key = c.get_setting("model_key")
        catalog_bytes = sum(
            f.stat().st_size for f in self.data_dir.glob(CATALOG + "*") if f.is_file()
        )
        out: dict[str, Any] = {
            "data_dir": str(self.data_dir),
            "roots": [P.display(r) for r in self.roots()],
            "folders": self.root_states(),  # each watched folder: ok | offline | unreadable | not a folder
            **counts,
            "index_bytes": catalog_bytes + vector_bytes,
            "vector_bytes": vector_bytes,
            **c.segment_stats(),  # counted in the catalog: no segment is loaded to report
            **self.model_description(),
            "index_model": key_name(index_key) if index_key else None,  # the model the vectors are of
            # the window in force (the encoder's, else the setting capped by the model's config) and the setting
            **self.context_length_status(),
            "threads": self.settings.effective_threads(),
            # text recognition (issue 15): the setting, whether runs use it now, files/pages read by it
            "ocr": self.settings.ocr,
            "ocr_active": self.settings.ocr_active(),
            **c.ocr_counts(),
            **self.device_description(),
        }
        # files met and not read, per reason: "not a document", "excluded", "symbolic link"... (issue 15)
        out["skipped_by_reason"] = skip_counts(c.skipped_reasons())
        out["skipped"] = sum(out["skipped_by_reason"].values())
        return out

    def skipped(self) -> list[dict[str, Any]]:
        """Files the index met and does not read, each with its reason (``{"path", "reason", "size",
        "failed_at"}``, by path); the counts per reason are in :meth:`status`."""
        return [{**r, "path": P.display(P.from_db(r["path"]))} for r in self.reader().skipped()]

    @staticmethod
    def open_target(path: str) -> str:
        """The file to open for a result's ``path``: the archive on disk for a member of one
        (``a.zip!/docs/x.txt`` -> ``a.zip``; nested ones too), else ``path`` itself."""
        found = split_member(path)
        return found[0] if found else path

    def failed(self) -> list[dict[str, Any]]:
        """Failed files: ``path`` for display, plus ``path_bytes_b64`` (the exact bytes) when the name
        is not valid UTF-8 and the display form could not open it."""
        out = []
        for r in self.reader().failures():
            path = P.from_db(r["path"])
            out.append({**r, "path": P.display(path), **P.exact_form(path)})
        return out

    def retry_failed(self, paths: list[str] | None = None) -> int:
        """Forget failures (all, or those of ``paths``) so the next index run reads those files again."""

        def forget(c: Catalog) -> int:
            with c.transaction():
                # a failed archive member is read again with its archive (core/members.py)
                c.reread_archives_of_failed_members(None if paths is None else [P.to_db(p) for p in paths])
                if paths is None:
                    return c.forget_failures()
                return sum(c.forget_failure(P.to_db(p)) for p in paths)

        return self.writer.call(forget)

    def folder_counts(self) -> list[dict[str, Any]]:
        """Every watched folder with its indexed, waiting (keyword-only so far) and failed file counts."""
        c = self.reader()
        out = []
        for root in self.roots():
            state, detail = root_state(root)
            out.append({"path": root, **c.counts_under(root), "exists": os.path.exists(root), "state": state,
                        "detail": detail})
        return out

    def document_text(self, file_id: int) -> tuple[str, list[int], dict[int, int]]:
        """The indexed text of a file: (text, page start offsets, passage id → char offset)."""
        rows = self.reader().document_passages(file_id)
        page_starts: list[int] = []
        for r in rows:
            while r["page"] is not None and len(page_starts) < r["page"]:
                page_starts.append(r["char_start"])
        return "".join(r["text"] for r in rows), page_starts, {r["id"]: r["char_start"] for r in rows}

    def ocr_pages(self, file_id: int) -> int:
        """How many pages of an indexed file's text came from OCR (0: none); the preview marks such text."""
        return self.reader().ocr_pages_of(file_id)
