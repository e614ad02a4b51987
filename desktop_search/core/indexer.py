"""scan → diff → extract → encode → commit. Resumable: everything it knows lives in the catalog.

Indexing is two-phase: extracted text goes into the catalog (and FTS5) at once, so files are
keyword-searchable within seconds; encoding follows and commits vectors batch by batch as immutable
segments. A crash at any instant leaves the last committed state; the next run redoes the rest.

Length (~450 lines): the run's steps share one transaction discipline and one progress/cancel state;
scanning (scan.py), compaction (compaction.py) and merging (index/) already live elsewhere.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import paths as P
from .catalog import Catalog, Writer
from .compaction import Compactor
from .config import Settings
from .encoder import Encoder, EncodingStopped
from .exclusions import Rules
from .extract import ExtractLimits, ExtractOutcome, KeptPool, extract_many
from .extract.image import OCR_OFF
from .index import SegmentStore, write_segment
from .members import store_members
from .model import ModelMismatch, key_name
from .passages import passage_rows
from .scan import DiffCounts, Scanner, ScanResult, Seen, diff, hash_after_extraction


class Cancelled(Exception):
    pass


@dataclass
class Progress:
    phase: str  # scan | extract | encode | compact | done
    done: int = 0
    total: int = 0
    current: str = ""
    eta_s: float | None = None
    message: str = ""


@dataclass
class IndexReport:
    scanned: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    moved: int = 0
    deleted: int = 0
    failed: int = 0
    skipped: int = 0
    encoded_files: int = 0
    encoded_tokens: int = 0
    repaired_segments: int = 0
    warnings: list[str] = field(default_factory=list)
    semantic: bool = True
    deferred: int = 0  # files left for later encoding: changed less than ``Indexer.quiet_s`` ago


def _ocr_pages(metadata: dict[str, str]) -> int:
    """Pages of an extracted file's text that came from OCR (the extractor's ``ocr_pages``), 0 if none;
    minus the scanned pages left unread while OCR was off (``ocr_waiting_pages``: read again once it is on)."""
    try:
        return max(0, int(metadata.get("ocr_pages", 0))) or -max(0, int(metadata.get("ocr_waiting_pages", 0)))
    except ValueError:
        return 0


def _rearm_ocr(c: Catalog) -> None:
    with c.transaction():
        c.forget_skipped(OCR_OFF)
        c.requeue_for_ocr()


class Indexer:
    def __init__(
        self,
        data_dir: Path,
        writer: Writer,
        reader: Catalog,
        store: SegmentStore,
        settings: Settings,
        encoder: Callable[[], Encoder | None],
        model_key: Callable[[], str | None],
        progress: Callable[[Progress], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ):
        self.data_dir = data_dir
        self.writer = writer
        self.reader = reader
        self.store = store
        self.settings = settings
        self._encoder = encoder
        self._model_key = model_key
        self._progress = progress or (lambda _p: None)
        self._should_stop = should_stop or (lambda: False)
        self.yield_to: Callable[[], bool] = lambda: False
        self.kept_pool: KeptPool | None = None  # extraction workers kept between incremental runs
        self.quiet_s = 0.0  # the watcher encodes a file only once it has not changed for this long

    def _check(self) -> None:
        if self._should_stop():
            raise Cancelled()

    # ------------------------------------------------------------------------------------------------
    def run(self, roots: Iterable[str] | None = None, encode: bool = True, rules: Rules | None = None) -> IndexReport:
        """Full reconcile: every watched folder is scanned (start-up, overflow, changed exclusions)."""
        report = IndexReport()
        self.recover(report)
        roots = list(roots) if roots is not None else [P.from_db(r) for r in self.writer.call(lambda c: c.roots())]
        rules = rules or Rules(roots, data_dir=self.data_dir)
        scan = self._scanner(rules).full(roots)
        self._check()
        self._apply_scan(scan, roots, report)
        if encode:
            self.encode_pending(report)
        self._progress(Progress("done", message="index is up to date"))
        return report

    def run_changes(self, paths: Iterable[str], roots: list[str], rules: Rules, encode: bool = True) -> IndexReport:
        """Incremental: only ``paths`` (files, or folders walked whole) are looked at; what the catalog
        knows under them and no longer finds is dropped, moves keep their vectors."""
        report = IndexReport()
        scan = self._scanner(rules).changed(paths, roots)
        self._apply_scan(scan, roots, report)
        if encode:
            self.encode_pending(report)
        self._progress(Progress("done", message="index is up to date"))
        return report

    def encode_pending(self, report: IndexReport | None = None, yield_to: Callable[[], bool] | None = None,
                       quiet_s: float = 0.0) -> IndexReport:
        """Encode every file still waiting for vectors (keyword-searchable already), then compact.
        ``yield_to`` is asked between batches only: unlike ``should_stop`` it never drops a batch half
        encoded, so a file changing every 0.2 s cannot starve encoding."""
        if yield_to is not None:
            self.yield_to = yield_to
        self.quiet_s = quiet_s
        report = report if report is not None else IndexReport()
        if not self.reader.files_waiting_for_encoding():
            # nothing to encode: the model is not loaded for it (a window that only searches keeps
            # PyTorch out of memory), but another model is still refused, and segments left unmerged
            # by an interrupted run are merged (their key is known without the model)
            self._ensure_model_key()
            self._compact(final=True)
            return report
        encoder = None
        try:
            encoder = self._encoder()
        except Exception as exc:  # ModelUnavailable and friends: keyword search still works
            report.warnings.append(str(exc))
        if encoder is None:
            report.semantic = False
        else:
            self._ensure_model_key()
            self._encode(encoder, report)
            self._compact(final=True)
        return report

    # --- recovery ------------------------------------------------------------------------------------
    def recover(self, report: IndexReport | None = None, deep: bool = False, set_aside: Path | None = None) -> int:
        """Drop what no commit points at; re-queue what a damaged segment held. Returns repairs.

        ``deep`` compares every segment file with its checksum (``doctor --repair``); a damaged
        segment's folder is moved into ``set_aside`` (default: a new set-aside folder) before the
        catalog forgets it, never deleted."""
        check = self.store.check(self.reader, deep=deep)
        self.store.remove_orphans(check.orphans)  # uncommitted writes: nothing was ever served from them
        repaired = 0
        if check.damaged or check.dangling_passages:
            ids = [d.segment_id for d in check.damaged]
            if ids:
                from . import setaside

                dirs = self.reader.segment_dirs(ids)
                folder = set_aside or setaside.new_folder(self.data_dir)
                for name in dirs.values():
                    if (self.store.root / name).exists():
                        setaside.move(self.store.root / name, folder / "segments")
            self.writer.call(lambda c: self._requeue_segments(c, ids))
            repaired = len(ids)
            if report is not None:
                report.repaired_segments += repaired
                for d in check.damaged:
                    report.warnings.append(f"segment {d.segment_id} was damaged ({d.reason}); re-encoding its files")
        return repaired

    @staticmethod
    def _requeue_segments(c: Catalog, segment_ids: list[int]) -> None:
        with c.transaction():
            c.requeue_segments(segment_ids)

    def _ensure_model_key(self) -> None:
        """This run adds vectors only of the index's model (the catalog's ``model_key``). The first run
        records its model; a run with another one (a one-run ``--model``) is refused with one line:
        switching is an explicit action (Service.switch_model) that keeps the old vectors until the
        new ones are in, never a silent re-encoding of everything."""
        key = self._model_key()
        if key is None:
            return

        def claim(c: Catalog) -> str:
            current = c.get_setting("model_key")
            if current is None:
                c.set_setting("model_key", key)
                return key
            return str(current)

        current = self.writer.call(claim)
        if current != key:
            raise ModelMismatch(
                f"this index is encoded with {key_name(current)}, not {key_name(key)}: run with its model, or "
                "switch with `desktop-search model ID_OR_DIR` (it says how many files it re-encodes)")

    # --- scan & diff (core/scan.py) -------------------------------------------------------------------
    def _scanner(self, rules: Rules) -> Scanner:
        return Scanner(rules, progress=lambda n, where: self._progress(Progress("scan", done=n,
                                                                                current=P.display(where))),
                       check=self._check)

    def _apply_scan(self, scan: ScanResult, roots: list[str], report: IndexReport) -> None:
        for root in scan.missing_roots:
            report.warnings.append(f"folder {P.display(root)} is not there (unplugged?); its files are kept")
        report.scanned = len(scan.seen)
        if self._limits().ocr:  # images skipped and scanned pages left while OCR was off are read now
            self.writer.call(_rearm_ocr)
        counts = DiffCounts()
        to_extract = diff(self.writer, self.reader, scan, roots, counts)
        self._record_unreadable(scan.unreadable_dirs, report)
        report.unchanged += counts.unchanged
        report.new += counts.new
        report.changed += counts.changed
        report.moved += counts.moved
        report.deleted += counts.deleted
        self._extract(to_extract, report)

    def _record_unreadable(self, folders: list[str], report: IndexReport) -> None:
        """A folder the scan could not open is never skipped silently: a warning now and an entry in
        the failed list (after the diff, which keeps what was indexed under it and drops the entry
        once the folder can be read again)."""
        if not folders:
            return
        entries = []
        for folder in folders:
            try:
                os.listdir(folder)
                reason = "could not be read while scanning"
            except OSError as exc:
                reason = exc.strerror or type(exc).__name__
            report.warnings.append(f"folder {P.display(folder)} cannot be read ({reason}); its files are left out")
            entries.append((P.to_db(folder), f"folder cannot be read: {reason}"))
        self.writer.call(lambda c: c.record_failures(entries))

    # --- extract ---------------------------------------------------------------------------------
    def _limits(self) -> ExtractLimits:
        s = self.settings
        return ExtractLimits(
            max_file_bytes=s.max_file_bytes, max_text_chars=s.max_text_chars,
            timeout_s=s.extract_timeout_s, memory_mb=s.extract_memory_mb, ocr=s.ocr_active(),
        )

    def _extract(self, items: list[tuple[Seen, str]], report: IndexReport) -> None:
        if not items:
            return
        by_path = {s.path: (s, digest) for s, digest in items}
        pending: list[tuple[ExtractOutcome, Seen, str]] = []
        started = time.monotonic()
        done = 0

        def flush() -> None:
            batch = list(pending)
            pending.clear()
            if batch:
                self.writer.call(lambda c: self._store_extracted(c, batch))

        try:
            for outcome in self._extract_iter(list(by_path)):
                s, digest = by_path[outcome.path]
                if not digest and outcome.result is not None:  # read once: hashed after extraction
                    digest = hash_after_extraction(s)
                pending.append((outcome, s, digest))
                done += 1
                if outcome.result is None:
                    if outcome.skipped:
                        report.skipped += 1
                    elif os.path.exists(outcome.path):  # one deleted meanwhile is gone, not failed
                        report.failed += 1
                else:  # an archive's members that could not be read are failures too
                    report.failed += sum(1 for m in outcome.result.members if m.error and not m.skipped)
                if len(pending) >= 32:
                    flush()
                elapsed = time.monotonic() - started
                eta = elapsed / done * (len(items) - done) if done else None
                self._progress(Progress("extract", done, len(items), P.display(outcome.path), eta))
                self._check()
        finally:
            flush()

    def _extract_iter(self, paths: list[str]) -> Iterator[ExtractOutcome]:
        """Through the kept workers when the service lends them (the watcher's small batches), else a
        pool for this run only."""
        kept = self.kept_pool
        if kept is not None and kept.limits == self._limits():
            return kept.extract(paths, should_stop=self._should_stop)
        return extract_many(paths, self._limits(), should_stop=self._should_stop)

    def _store_extracted(self, c: Catalog, batch: list[tuple[ExtractOutcome, Seen, str]]) -> None:
        now = time.time()
        target = self.settings.passage_chars
        with c.transaction():
            for outcome, s, digest in batch:
                dbpath = P.to_db(s.path)
                old = c.file_id(s.path)  # looked up by dbpath, the stored form
                if old is not None:
                    c.drop_passages(old)
                c.drop_members(dbpath)  # an archive's members are replaced with it (core/members.py)
                if outcome.result is None:
                    if old is not None:
                        c.drop_file(old)
                    if not os.path.exists(s.path):  # deleted while we worked: simply gone, not a failure
                        continue
                    c.record_failure(dbpath, s.size, s.mtime, outcome.error or "unknown error", outcome.skipped, now)
                    continue
                res = outcome.result
                name = os.path.basename(s.path)
                values = dict(
                    path=dbpath, name=P.display(name), ext=Path(name).suffix.lower().lstrip("."), size=s.size,
                    mtime=s.mtime, hash=digest, state="extracted", title=res.title, extractor=res.extractor,
                    pages=res.page_count, chars=len(res.text), updated_at=now,
                    # searchable as author: (names_fts); a mail's sender is its author
                    author=res.metadata.get("author") or res.metadata.get("from"),
                    keywords=res.metadata.get("keywords"),
                    ocr_pages=_ocr_pages(res.metadata),
                )
                if old is None:
                    file_id = c.add_file(values)
                else:
                    c.update_file(old, values)
                    file_id = old
                rows = passage_rows(file_id, res.text, res.page_starts, target)
                c.add_passages(rows)
                if not rows:
                    c.mark_indexed(file_id)
                c.forget_failure(dbpath)
                if res.members:
                    store_members(c, dbpath, s.size, s.mtime, res.members, now, target)
            c.bump_generation()

    # --- encode ----------------------------------------------------------------------------------
    def _encode(self, encoder: Encoder, report: IndexReport) -> None:
        pending = self.reader.files_waiting_for_encoding()
        if self.quiet_s > 0:  # a file still being written (a growing log) is encoded once it is quiet
            cutoff = time.time() - self.quiet_s
            report.deferred += sum(1 for r in pending if r["updated_at"] > cutoff)
            pending = [r for r in pending if r["updated_at"] <= cutoff]
        if not pending:
            return
        total_chars = sum(r["chars"] for r in pending) or 1
        done_chars = 0
        started = time.monotonic()
        batch: list[dict[str, Any]] = []
        batch_chars = 0
        # a commit batch holds the encoder's pool of tokens (~4 chars each: several full forward batches,
        # so the last, partly filled one costs little) or ``batch_files`` files, whichever comes first
        max_batch_chars = 4 * int(getattr(encoder, "pool_tokens", 100_000))

        def run_batch() -> None:
            nonlocal done_chars, batch_chars
            if not batch:
                return
            self._encode_batch(encoder, batch, report)
            done_chars += batch_chars
            elapsed = time.monotonic() - started
            eta = elapsed / done_chars * (total_chars - done_chars) if done_chars else None
            self._progress(Progress("encode", report.encoded_files, len(pending),
                                    P.display(P.from_db(batch[-1]["path"])), eta))
            batch.clear()
            batch_chars = 0
            self._check()
            self._compact(final=False)
            if self.yield_to():  # newer changes wait (the watcher): stop here, between committed batches
                raise Cancelled()

        self._progress(Progress("encode", 0, len(pending)))
        for row in pending:
            batch.append(row)
            batch_chars += row["chars"]
            if len(batch) >= self.settings.batch_files or batch_chars >= max_batch_chars:
                run_batch()
        run_batch()

    def _encode_batch(self, encoder: Encoder, files: list[dict[str, Any]], report: IndexReport) -> None:
        ids = [f["id"] for f in files]
        rows = self.reader.passages_to_encode(ids)
        by_file: dict[int, list[dict[str, Any]]] = {}
        for r in rows:
            by_file.setdefault(r["file_id"], []).append(r)
        file_ids = [fid for fid in ids if fid in by_file]
        texts = ["".join(p["text"] for p in by_file[fid]) for fid in file_ids]
        ranges = [[(p["char_start"], p["char_end"]) for p in by_file[fid]] for fid in file_ids]
        try:  # a stop between forward calls: this batch is dropped, the committed ones stay
            encoded = encoder.encode_documents(texts, ranges, should_stop=self._should_stop) if file_ids else []
        except EncodingStopped as exc:
            raise Cancelled() from exc
        passage_ids: list[int] = []
        vectors: list[np.ndarray] = []
        spans: list[np.ndarray] = []
        empty: list[int] = []
        for fid, per_passage in zip(file_ids, encoded, strict=True):
            for prow, pv in zip(by_file[fid], per_passage, strict=True):
                if len(pv.vectors):
                    passage_ids.append(prow["id"])
                    vectors.append(pv.vectors)
                    spans.append(pv.spans)
                else:
                    empty.append(prow["id"])
        name = f"flat-{uuid.uuid4().hex[:12]}"
        if vectors:
            write_segment(self.store.root, name, "flat", passage_ids, vectors, spans)
        n_tokens = int(sum(len(v) for v in vectors))

        def commit(c: Catalog) -> None:
            with c.transaction():
                if vectors:
                    sid = c.add_flat_segment(name, c.get_setting("model_key", ""), int(vectors[0].shape[1]),
                                             len(vectors), n_tokens)
                    c.assign_vectors(sid, passage_ids)
                c.mark_without_vectors(empty)
                # a file is indexed once none of its passages waits for vectors (it may have changed meanwhile)
                c.mark_encoded(ids)
                c.bump_generation()

        self.writer.call(commit)
        report.encoded_files += len(file_ids)
        report.encoded_tokens += n_tokens

    # --- compaction (core/compaction.py: policy in index/merge_policy.py, merging in index/merge.py) ---
    def compactor(self) -> Compactor:
        return Compactor(self.store, self.writer, self.reader, self.settings, self._model_key() or "",
                         message=lambda m: self._progress(Progress("compact", message=m)), check=self._check)

    def _compact(self, final: bool) -> None:
        """Merge segments as the tiered policy says: flat segments (exact, fast to write, slow to search)
        become PLAID ones on the index's codec; PLAID segments merge by size tier. Only segments of
        this run's model take part: another model's vectors never enter its merges."""
        self.compactor().run(final)
