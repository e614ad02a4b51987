"""Searching as you type: debounced, cancellable, keyword results at once, the hybrid ranking when ready.

Each search is a Job (jobs.py) on the two-thread search pool. Every change of the query, the sort or
the index bumps ``generation`` and cancels the job in flight; a job whose generation is no longer
current stops at its next check and its results are dropped, so an older, slower query can never
overwrite a newer one. "Find similar" runs through the same path (mode ``similar``).

Threads: the controller lives on the UI thread; jobs read ``generation`` (an int) from their worker.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from .jobs import Job, JobContext
from .tasks import make_pool, to_main

DEBOUNCE_MS = 150
RESULT_LIMIT = 20  # first page: what typing waits for (50 took twice as long to rank and build)
MORE_RESULTS = 50  # rows added each time the list is scrolled to its end
SORTS = ("relevance", "date", "name", "size")


def _accepts(fn: Any, name: str) -> bool:
    """Whether ``fn`` takes the keyword ``name`` (a service older or newer than this window)."""
    import inspect

    try:
        return name in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


@dataclass
class SearchOutcome:
    generation: int
    query: str
    mode: str  # keyword | hybrid | semantic | similar
    response: Any  # SearchResponse
    final: bool  # no better ranking will follow for this query
    limit: int = 0  # how many results were asked for (fewer came back: there are no more)


@dataclass
class _Similar:
    path: str
    page: int | None

    def label(self) -> str:
        page = f", page {self.page}" if self.page else ""
        return f"similar to {os.path.basename(self.path)}{page}"


class SearchController(QObject):
    results = Signal(object)  # SearchOutcome
    more_results = Signal(object)  # SearchOutcome of a longer search for the same query (append)
    failed = Signal(int, str)  # generation, message
    cleared = Signal()
    busy_changed = Signal(bool)

    def __init__(self, service: Any, parent: QObject | None = None, debounce_ms: int = DEBOUNCE_MS,
                 limit: int = RESULT_LIMIT):
        super().__init__(parent)
        self.service = service
        self.limit = limit
        self.generation = 0
        self.semantic_ready = False
        self.query = ""
        self.sort = "relevance"
        self.similar_to: _Similar | None = None  # "Find similar" replaces the typed query until it changes
        self.stale = 0  # searches cancelled or dropped because a newer query came (for tests and stats)
        self.pool = make_pool(2, "search")
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(debounce_ms)
        self._timer.timeout.connect(self._start)
        self._jobs: list[Job] = []
        # results carry their explanation (per query word: what it matched by meaning) for the preview
        self._stage_options = {"explain": True} if _accepts(service.search_stages, "explain") else {}

    # --- commands --------------------------------------------------------------------------------
    def set_query(self, text: str) -> None:
        self._bump()  # cancels whatever is in flight right now, before the debounce ends
        self.query = text
        self.similar_to = None
        if not text.strip():
            self._timer.stop()
            self.cleared.emit()
            return
        self._timer.start()

    def set_sort(self, sort: str) -> None:
        if sort not in SORTS:
            raise ValueError(f"unknown sort {sort!r} (one of {', '.join(SORTS)})")
        if sort != self.sort:
            self.sort = sort
            self.refresh()

    def refresh(self) -> None:
        """Run the current query again now (new files were indexed, the model became ready, a new sort)."""
        if self.query.strip() or self.similar_to is not None:
            self._bump()
            self._timer.stop()
            self._start()

    def set_semantic_ready(self, ready: bool) -> None:
        self.semantic_ready = ready
        self.refresh()

    def find_similar(self, path: str, page: int | None = None) -> None:
        """Files like ``path`` (its passage on ``page``), by the file's own vectors."""
        self._bump()
        self._timer.stop()
        self.similar_to = _Similar(path, page)
        self._start()

    def can_find_similar(self) -> bool:
        return callable(getattr(self.service, "similar", None))

    def _bump(self) -> None:
        self.generation += 1
        for job in self._jobs:
            job.cancel()

    # --- jobs ------------------------------------------------------------------------------------
    def _start(self) -> None:
        gen, text, hybrid, sort, similar = self.generation, self.query, self.semantic_ready, self.sort, self.similar_to
        limit = self.limit

        def work(ctx: JobContext) -> None:
            def should_stop() -> bool:
                return ctx.cancelled() or gen != self.generation

            if similar is not None:
                response = self._similar(similar, limit)
                to_main(self._deliver, SearchOutcome(gen, similar.label(), "similar", response, True, limit))
                return
            modes = ("keyword", "hybrid") if hybrid else ("keyword",)
            delivered = 0
            for response in self.service.search_stages(text, limit=limit, modes=modes, should_stop=should_stop,
                                                       sort=sort, **self._stage_options):
                delivered += 1
                to_main(self._deliver, SearchOutcome(gen, text, response.mode, response, delivered == len(modes),
                                                     limit))
            if delivered < len(modes):
                to_main(self._drop)

        self._run(Job("search", work, self), gen)

    def _similar(self, similar: _Similar, limit: int) -> Any:
        response = self.service.similar(similar.path, page=similar.page, limit=limit)
        if isinstance(response, list):  # a bare list of results: wrap it like a search response
            from types import SimpleNamespace

            response = SimpleNamespace(query=similar.label(), mode="similar", took_ms=0.0, results=response,
                                       notice=None)
        return response

    def load_more(self, shown: int) -> None:
        """Search the current query again for ``shown + MORE_RESULTS`` results (the final ranking only)."""
        gen, text, sort = self.generation, self.query, self.sort
        if not text.strip() or self.similar_to is not None:
            return
        mode = "hybrid" if self.semantic_ready else "keyword"
        limit = shown + MORE_RESULTS

        def work(ctx: JobContext) -> None:
            response = self.service.search(text, limit=limit, mode=mode, sort=sort,
                                           should_stop=lambda: ctx.cancelled() or gen != self.generation,
                                           **(self._stage_options if _accepts(self.service.search, "explain") else {}))
            to_main(self._deliver_more, SearchOutcome(gen, text, mode, response, True, limit))

        self._run(Job("more results", work, self), gen, busy=False)

    def _run(self, job: Job, gen: int, busy: bool = True) -> None:
        self._jobs.append(job)
        if busy and len([j for j in self._jobs if j.name == "search"]) == 1:
            self.busy_changed.emit(True)
        job.on_failure(lambda exc: self._error(gen, exc))
        job.ended.connect(lambda: self._ended(job))
        job.run_in_background(self.pool)

    def _ended(self, job: Job) -> None:
        if job in self._jobs:
            self._jobs.remove(job)
            if job.name == "search" and not any(j.name == "search" for j in self._jobs):
                self.busy_changed.emit(False)

    # --- results (UI thread) ---------------------------------------------------------------------
    def _deliver_more(self, outcome: SearchOutcome) -> None:
        if outcome.generation == self.generation:
            self.more_results.emit(outcome)

    def _drop(self) -> None:
        self.stale += 1

    def _deliver(self, outcome: SearchOutcome) -> None:
        if outcome.generation != self.generation:
            self.stale += 1
            return
        self.results.emit(outcome)

    def _error(self, gen: int, exc: BaseException) -> None:
        if gen == self.generation:
            self.failed.emit(gen, str(exc) or type(exc).__name__)

    @property
    def busy(self) -> bool:
        return any(j.name == "search" for j in self._jobs)

    def shutdown(self, timeout_ms: int = 3000) -> None:
        self._bump()
        self._timer.stop()
        self.pool.waitForDone(timeout_ms)
