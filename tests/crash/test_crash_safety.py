"""A short run of the kill -9 trials (the full 20-trial run: python tests/crash/crash_trials.py)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import crash_trials  # noqa: E402


def test_index_survives_kill_9_at_random_moments(tmp_path, tiny_model):
    report = crash_trials.run(trials=3, files=100, model=tiny_model, seed=3, work=tmp_path)
    failures = [r for r in report["results"] if not r["ok"]]
    assert failures == []
    assert report["killed"] >= 2  # the kills really landed mid-run


def test_same_ranking_tolerates_only_ties():
    a = [("x", 1.0), ("y", 0.5)]
    assert crash_trials.same_ranking(a, [("x", 1.0), ("y", 0.5)])
    assert not crash_trials.same_ranking(a, [("y", 1.0), ("x", 0.5)])
    assert crash_trials.same_ranking([("x", 1.0), ("y", 1.0)], [("y", 1.0), ("x", 1.0)])
    assert not crash_trials.same_ranking(a, [("x", 1.0), ("z", 0.5)])
    assert crash_trials.same_ranking(a, [("x", 1.02), ("y", 0.49), ("z", 0.1)], tol=0.05, head=1)
    assert not crash_trials.same_ranking(a, [("z", 1.0), ("x", 0.5)], tol=0.05, head=1)
