"""The window's one background-job pattern (gui/jobs.py) and its worker threads (gui/tasks.py)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QObject
from shiboken6 import Shiboken

from desktop_search.gui.jobs import Job, JobQueue, run_job
from desktop_search.gui.tasks import Pool, init_dispatcher


@pytest.fixture(autouse=True)
def dispatcher(qapp: Any) -> None:
    init_dispatcher()


def test_a_job_returns_its_result_on_the_ui_thread(qtbot: Any) -> None:
    owner = QObject()
    ui = threading.get_ident()
    seen: list[Any] = []
    job = run_job(owner, "answer", lambda: (threading.get_ident(), 42), on_done=seen.append)
    qtbot.waitUntil(lambda: bool(seen), timeout=5000)
    worker, value = seen[0]
    assert value == 42 and worker != ui and job.state == "done" and job.result == (worker, 42)


def test_a_job_whose_parent_is_gone_calls_nothing_back(qtbot: Any) -> None:
    """A dialog closed while its data loads is never touched again."""
    owner = QObject()
    release = threading.Event()
    seen: list[Any] = []
    job = run_job(owner, "slow", lambda: release.wait(5) and "data", on_done=seen.append,
                  on_error=seen.append)
    Shiboken.delete(owner)  # the parent goes while the job runs
    release.set()
    qtbot.waitUntil(lambda: job.state == "done", timeout=5000)
    qtbot.wait(20)
    assert seen == []


def test_a_failing_job_reports_its_error(qtbot: Any) -> None:
    owner = QObject()
    errors: list[BaseException] = []

    def boom() -> None:
        raise OSError("disk on fire")

    run_job(owner, "boom", boom, on_error=errors.append)
    qtbot.waitUntil(lambda: bool(errors), timeout=5000)
    assert isinstance(errors[0], OSError) and "disk on fire" in str(errors[0])


def test_the_queue_runs_one_job_at_a_time_coalesces_keys_and_puts_urgent_jobs_first(qtbot: Any) -> None:
    queue = JobQueue("test")
    gate = threading.Event()
    ran: list[str] = []

    def job(name: str, key: str | None = None, hold: bool = False) -> Job:
        def fn(ctx: Any) -> str:
            if hold:
                gate.wait(5)
            ran.append(name)
            return name

        return Job(name, fn, key=key)

    first = queue.add(job("first", hold=True))
    one = queue.add(job("index", key="index"))
    assert queue.add(job("index again", key="index")) is one  # asked twice while waiting: queued once
    queue.add(job("remove"), urgent=True)
    assert queue.current is first and [j.name for j in queue.waiting()] == ["remove", "index"]
    gate.set()
    qtbot.waitUntil(lambda: queue.current is None and not queue.waiting(), timeout=5000)
    assert ran == ["first", "remove", "index"] and one.result == "index"
    queue.shutdown()


def test_a_cancelled_waiting_job_does_not_swallow_a_new_one(qtbot: Any) -> None:
    queue = JobQueue("test")
    gate = threading.Event()
    queue.add(Job("first", lambda ctx: gate.wait(5)))
    stale = queue.add(Job("changes", lambda ctx: "stale", key="changes"))
    stale.cancel()
    fresh = queue.add(Job("changes", lambda ctx: "fresh", key="changes"))
    assert fresh is not stale
    gate.set()
    qtbot.waitUntil(lambda: fresh.state == "done", timeout=5000)
    assert fresh.result == "fresh" and stale.state == "cancelled"
    queue.shutdown()


def test_pause_holds_a_job_at_its_safe_point_and_cancel_stops_it(qtbot: Any) -> None:
    queue = JobQueue("test")
    steps: list[int] = []
    started = threading.Event()

    def work(ctx: Any) -> None:
        started.set()
        for i in range(1000):
            if ctx.should_stop():
                raise RuntimeError("stopped")
            steps.append(i)
            threading.Event().wait(0.001)

    job = Job("work", work, is_cancel=lambda exc: "stopped" in str(exc))
    queue.pause()
    queue.add(job)
    started.wait(5)
    qtbot.wait(100)
    assert steps == []  # paused before its first step
    cancelled: list[bool] = []
    job.cancelled.connect(lambda: cancelled.append(True))
    queue.cancel_current()  # also resumes, so the job reaches its safe point and stops
    qtbot.waitUntil(lambda: bool(cancelled), timeout=5000)
    assert job.state == "cancelled" and not queue.paused and len(steps) < 1000
    queue.shutdown()


def test_a_pool_worker_keeps_its_reader_connection(qtbot: Any, make_service: Any, docs: Path) -> None:
    """Python worker threads keep their thread state: one reader connection per worker, not per task
    (a QThreadPool thread lost it, and its finalizer crashed, after every task)."""
    service = make_service()
    service.index([str(docs)], encode=False)
    pool = Pool(1, "reader-test")
    readers: list[int] = []
    for _ in range(5):
        pool.start(lambda: readers.append(id(service.reader())) or service.search("magma", mode="keyword"))
    assert pool.waitForDone(10000)
    assert len(set(readers)) == 1 and service.open_readers() >= 1


def test_an_idle_pool_thread_retires_and_a_new_one_takes_over(qtbot: Any) -> None:
    pool = Pool(2, "expiry", expiry_s=0.05)
    names: list[str] = []
    pool.start(lambda: names.append(threading.current_thread().name))
    assert pool.waitForDone(5000)
    # the idle worker retires (with its thread state); an upper bound, not a timing assertion
    qtbot.waitUntil(lambda: not any(t.name == "expiry-1" for t in threading.enumerate()), timeout=10000)
    pool.start(lambda: names.append(threading.current_thread().name))
    assert pool.waitForDone(5000)
    assert names == ["expiry-1", "expiry-2"]
