import threading
from pathlib import Path

from desktop_search.core.service import Service
from desktop_search.core.watcher import ChangeMonitor, watch


def test_watch_picks_up_new_and_deleted_files(tmp_path, topics):
    reports = []
    done_once = threading.Event()
    changed = threading.Event()

    def on_report(report):
        reports.append(report)
        (done_once if len(reports) == 1 else changed).set()

    with Service(tmp_path / "data") as service:
        service.add_roots([str(topics)])
        stop = threading.Event()
        thread = threading.Thread(target=watch, args=(service, stop),
                                  kwargs={"debounce_s": 0.2, "on_report": on_report}, daemon=True)
        service.settings.batch_files = 64
        thread.start()
        try:
            assert done_once.wait(120)
            assert reports[0].new == 10
            (topics / "lighthouse.txt").write_text("The lighthouse keeper trims the lamp every evening.")
            (topics / "bread.txt").unlink()
            assert changed.wait(120)
            while sum(r.new for r in reports[1:]) < 1 or sum(r.deleted for r in reports[1:]) < 1:
                changed.clear()
                assert changed.wait(120)
        finally:
            stop.set()
            thread.join(60)
        names = [Path(r.path).name for r in service.search("lighthouse keeper", mode="keyword").results]
        assert names == ["lighthouse.txt"]
        assert service.search("sourdough", mode="keyword").results == []


def test_change_monitor_debounces_bursts(tmp_path):
    calls = []
    fired = threading.Event()
    monitor = ChangeMonitor(lambda paths: (calls.append(paths), fired.set()), debounce_s=0.3, max_wait_s=5.0)
    monitor.start([str(tmp_path)])
    try:
        for i in range(20):
            (tmp_path / f"f{i}.txt").write_text("x")
        assert fired.wait(30)
    finally:
        monitor.stop()
    assert len(calls) == 1
    assert calls[0] == {str(tmp_path / f"f{i}.txt") for i in range(20)}


def test_too_many_changes_or_lost_events_ask_for_a_full_reconcile(tmp_path):
    import logging

    calls = []
    fired = threading.Event()
    monitor = ChangeMonitor(lambda paths: (calls.append(paths), fired.set()), debounce_s=0.2, max_wait_s=1.0,
                            max_paths=10)
    monitor.start([str(tmp_path)])
    try:
        for i in range(30):
            (tmp_path / f"f{i}.txt").write_text("x")
        assert fired.wait(30)
        assert calls[-1] is None  # overflow: everything is reconciled
        fired.clear()
        (tmp_path / "one.txt").write_text("x")
        assert fired.wait(30)
        assert calls[-1] == {str(tmp_path / "one.txt")}
        fired.clear()
        # watchdog only logs a kernel queue overflow: that warning is the signal
        logging.getLogger("watchdog.observers.inotify_c").warning("Inotify queue overflowed; events were lost")
        assert fired.wait(30)
        assert calls[-1] is None
    finally:
        monitor.stop()


def test_paths_arrive_within_the_cap_while_a_file_keeps_changing(tmp_path):
    calls = []
    got = threading.Event()
    monitor = ChangeMonitor(lambda paths: (calls.append(paths), got.set()), debounce_s=0.5, max_wait_s=1.0)
    monitor.start([str(tmp_path)])
    stop = threading.Event()

    def churn():
        while not stop.wait(0.1):  # never quiet for the 0.5 s debounce
            (tmp_path / "busy.txt").write_text("x")

    t = threading.Thread(target=churn, daemon=True)
    t.start()
    try:
        (tmp_path / "real.txt").write_text("x")
        deadline = 30
        while deadline > 0 and not any(c and str(tmp_path / "real.txt") in c for c in calls):
            got.wait(1.0)
            got.clear()
            deadline -= 1
        assert any(c and str(tmp_path / "real.txt") in c for c in calls)
    finally:
        stop.set()
        t.join()
        monitor.stop()
