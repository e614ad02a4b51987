"""Every crash, hang or uncaught error the fuzzers found, kept as a file under ``regressions/`` (with a
``.note`` saying what it did and what fixed it): each must now give a clean outcome, in-process through its
format's extractor and the registry, and in the isolated pool."""

from __future__ import annotations

from pathlib import Path

import pytest
from fuzzlib import REGRESSIONS, TARGETS, check_direct, check_outcome, limits_for_fuzz

from desktop_search.core.extract import extract_many
from desktop_search.core.extract.pool import extract_in_process

FILES = sorted(p for p in REGRESSIONS.glob("*") if p.is_file() and p.suffix != ".note")


def _kind(path: Path) -> str:
    return path.name.split("-", 1)[0]


def test_every_regression_has_a_note() -> None:
    assert FILES
    for path in FILES:
        assert path.with_name(path.name + ".note").is_file(), path.name


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_regression_is_a_clean_outcome_in_process(path: Path) -> None:
    kind = _kind(path)
    if kind in TARGETS:
        assert check_direct(kind, path) is None
    assert check_outcome(extract_in_process(path, limits_for_fuzz())) is None


def test_regressions_in_the_isolated_pool() -> None:
    paths = [str(p) for p in FILES]
    outcomes = list(extract_many(paths, limits_for_fuzz(), workers=2))
    assert sorted(o.path for o in outcomes) == sorted(paths)
    assert {o.path: check_outcome(o) for o in outcomes if check_outcome(o)} == {}
