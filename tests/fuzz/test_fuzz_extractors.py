"""Fuzz every extractor entry point with mutated seed files (issue 11, hostile input).

Each format module's function is called directly (a finding: any exception other than a refusal) and
through the registry as a worker runs it (a finding: an uncaught "extractor error", or text that would
break storage). A bounded sample also goes through the isolated pool, where a crash or hang is contained
and reported instead of stopping the run. Bounded in CI; ``FUZZ_EXAMPLES=N`` or ``run_long.py`` for more.
Findings are kept under ``regressions/`` (see test_fuzz_regressions.py).
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from fuzzlib import (
    REGISTRY_SUFFIXES,
    TARGETS,
    HypothesisChooser,
    all_seeds,
    check_direct,
    check_outcome,
    fuzz_settings,
    limits_for_fuzz,
    mutate,
    seeds_for,
)
from hypothesis import given
from hypothesis import strategies as st

from desktop_search.core.extract import extract_many, extract_one
from desktop_search.core.extract.pool import extract_in_process

CI_EXAMPLES = 25


@pytest.mark.parametrize("kind", sorted(TARGETS))
def test_format_extractor_survives_mutated_files(kind: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    seeds = seeds_for(kind)
    assert seeds
    folder = tmp_path_factory.mktemp(f"fuzz-{kind}")
    suffix = TARGETS[kind][0]
    limits = limits_for_fuzz()

    @fuzz_settings(CI_EXAMPLES)
    @given(st.data())
    def run(data: st.DataObject) -> None:
        seed = seeds[data.draw(st.integers(0, len(seeds) - 1), label="seed")]
        blob = mutate(seed, HypothesisChooser(data.draw))
        path = folder / f"input{suffix}"
        path.write_bytes(blob)
        problem = check_direct(kind, path)
        assert problem is None, f"{kind} on a mutation of {seed.name}: {problem}"
        problem = check_outcome(extract_in_process(path, limits))
        assert problem is None, f"registry ({kind}) on a mutation of {seed.name}: {problem}"

    run()


def test_registry_survives_mutated_files_under_any_name(tmp_path: Path) -> None:
    """The registry decides by name and bytes: a PDF called .docx, a ZIP with no suffix, an SVG…"""
    seeds = all_seeds()
    limits = limits_for_fuzz()

    @fuzz_settings(CI_EXAMPLES * 2)
    @given(st.data())
    def run(data: st.DataObject) -> None:
        seed = seeds[data.draw(st.integers(0, len(seeds) - 1), label="seed")]
        suffix = data.draw(st.sampled_from(REGISTRY_SUFFIXES), label="suffix")
        blob = mutate(seed, HypothesisChooser(data.draw))
        path = tmp_path / f"input{suffix}"
        path.write_bytes(blob)
        problem = check_outcome(extract_in_process(path, limits))
        path.unlink()
        assert problem is None, f"registry ({suffix or 'no suffix'}) on a mutation of {seed.name}: {problem}"

    run()


def test_isolated_pool_contains_a_bounded_sample(tmp_path: Path) -> None:
    """Mutated files of every kind through the real worker pool: one outcome each, no crash, no hang."""
    rng = random.Random(11)
    paths = []
    for i, kind in enumerate(sorted(TARGETS) * 2):
        seeds = seeds_for(kind)
        seed = seeds[rng.randrange(len(seeds))]
        path = tmp_path / f"{i:03d}-{kind}{TARGETS[kind][0]}"
        path.write_bytes(mutate(seed, rng))
        paths.append(str(path))
    outcomes = list(extract_many(paths, limits_for_fuzz(), workers=2))
    assert sorted(o.path for o in outcomes) == sorted(paths)
    problems = {o.path: check_outcome(o) for o in outcomes}
    assert {p: m for p, m in problems.items() if m} == {}
    single = extract_one(paths[0], limits_for_fuzz())  # the one-file entry point (`desktop-search extract`)
    assert single.path == paths[0] and check_outcome(single) is None
