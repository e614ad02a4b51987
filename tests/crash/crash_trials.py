"""Crash safety: kill -9 the indexer at random moments, then check that it recovers.

Each trial starts ``desktop-search index`` on a folder of generated files in a fresh data dir,
SIGKILLs it after a random delay, then checks that rerunning ``index`` finishes, ``doctor`` reports
the index consistent and searches give the same ranking as a clean build. Half of the trials use a
low flat-segment limit so that kills also land inside PLAID compaction.

    python tests/crash/crash_trials.py --trials 20 --files 300 [--model DIR] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TOPICS = [
    "volcano magma eruption lava crust", "sourdough bread flour yeast oven", "football match goal penalty striker",
    "invoice payment amount due bank", "jupiter planet moons gas giant", "vaccine immune antibodies infection",
    "knitting wool scarf needles stitch", "python function loop variable", "train station platform ticket",
    "tomato garden soil watering sun", "piano sonata chord melody", "mortgage interest rate loan",
]
QUERIES = ["magma eruption", "bread oven", "penalty goal", "planet moons", "garden watering tomatoes"]


def make_corpus(folder: Path, n: int, seed: int) -> None:
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        topic = TOPICS[i % len(TOPICS)].split()
        words = [rng.choice(topic) if rng.random() < 0.3 else rng.choice(["the", "a", "of", "and", "note", "day",
                 "report", "plan", "list", "item", "week", "idea"]) for _ in range(rng.randint(40, 900))]
        (folder / f"doc-{i:04d}.txt").write_text(" ".join(words) + "\n")


def cli(data: Path, model: Path, *args: str, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "desktop_search", "--data-dir", str(data), "--model", str(model), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=_env())


def _env() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def set_flat_limit(data: Path, tokens: int | None) -> None:
    if tokens is None:
        return
    from desktop_search.core.catalog import Catalog

    data.mkdir(parents=True, exist_ok=True)
    catalog = Catalog(data / "catalog.db")
    settings = catalog.load_settings()
    settings.flat_max_tokens = tokens
    settings.keep_raw_vectors = True  # lets the check compare exact scores (see rankings)
    catalog.save_settings(settings)
    catalog.close()


def rankings(data: Path, model: Path, exact: bool = False) -> dict[str, list[tuple[str, float]]]:
    """Top 10 per query: hybrid search as a person sees it; with ``exact``, keyword search plus exact
    MaxSim over the raw vectors. PLAID scores are approximate: two builds whose float16 vectors differ
    in a last bit (encoding batches differ after a crash) quantise differently, and the tiny random
    model leaves many near-ties, so PLAID trials compare what the index holds exactly instead."""
    import math

    from desktop_search.core.service import Service

    with Service(data, model=str(model)) as service:
        out = {}
        for q in QUERIES:
            if not exact:
                response = service.search(q, limit=10, mode="hybrid", snippets=False)
                out[q] = [(Path(r.path).name, round(r.score, 4)) for r in response.results]
                continue
            response = service.search(q, limit=10, mode="keyword", snippets=False)
            out["keyword " + q] = [(Path(r.path).name, round(r.score, 4)) for r in response.results]
            c = service.reader()
            service.store.refresh(c, force=True)
            owner = dict(c.db.execute("SELECT p.id, f.name FROM passages p JOIN files f ON f.id = p.file_id"))
            best: dict[str, float] = {}
            for pid, score in service.store.exact_scores(service.encoder().encode_query(q).vectors).items():
                name = owner.get(pid)
                if name is not None and score > best.get(name, -math.inf):
                    best[name] = score
            out[q] = [(n, round(best[n], 4)) for n in sorted(best, key=lambda n: -best[n])[:10]]
        return out


def same_ranking(a: list[tuple[str, float]], b: list[tuple[str, float]], tol: float = 2e-3,
                 head: int | None = None) -> bool:
    """Equal, allowing only swaps between results whose scores tie within ``tol``. With ``head``, only
    the first ``head`` results of each must appear in the other with a score within ``tol``."""
    if head is None and len(a) != len(b):
        return False
    for first, second in ((a, b), (b, a)):
        for i, (path, score) in enumerate(first[: head or len(first)]):
            if head is None and (abs(score - second[i][1]) > tol):
                return False
            if not any(p == path and abs(s - score) <= tol for p, s in second):
                return False
    return True


def run(trials: int, files: int, model: Path | None, seed: int, work: Path) -> dict:
    if model is None:
        from desktop_search.testing.models import build_tiny

        model = build_tiny(work / "tiny-model")
    corpus = work / "corpus"
    make_corpus(corpus, files, seed)
    rng = random.Random(seed)
    clean: dict[int | None, dict] = {}
    timings: dict[int | None, float] = {}
    limits = [None, 20_000]  # exact segments only / compaction to PLAID during the run
    for limit in limits:
        data = work / f"clean-{limit}"
        set_flat_limit(data, limit)
        t0 = time.monotonic()
        done = cli(data, model, "index", str(corpus))
        timings[limit] = time.monotonic() - t0
        if done.returncode != 0:
            raise SystemExit(f"clean build failed: {done.stderr}")
        clean[limit] = rankings(data, model, exact=limit is not None)
    results = []
    for trial in range(trials):
        limit = limits[trial % len(limits)]
        data = work / f"trial-{trial}"
        delay = rng.uniform(0.3, 0.7 * timings[limit])
        for _attempt in range(5):  # a run that finished before the kill is retried with a shorter delay
            shutil.rmtree(data, ignore_errors=True)
            set_flat_limit(data, limit)
            cmd = [sys.executable, "-m", "desktop_search", "--data-dir", str(data), "--model", str(model),
                   "index", str(corpus)]
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=_env())
            try:
                proc.wait(timeout=delay)
                killed = False
                delay /= 2
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                killed = True
                break
        phase = ""
        if proc.stderr:
            lines = [ln for ln in proc.stderr.read().splitlines() if ln.startswith("[")]
            phase = lines[-1].split("]")[0].strip("[") if lines else "start"
        rerun = cli(data, model, "index")
        doctor = cli(data, model, "doctor")
        ok_rank = rerun.returncode == 0 and same_ranking_all(clean[limit], rankings(data, model, limit is not None))
        row = {
            "trial": trial, "flat_limit": limit, "kill_after_s": round(delay, 2), "killed": killed,
            "phase_at_kill": phase, "rerun_exit": rerun.returncode, "doctor_exit": doctor.returncode,
            "doctor": doctor.stdout.strip().splitlines()[-1:] or doctor.stderr.strip().splitlines()[-1:],
            "same_results": ok_rank,
        }
        row["ok"] = rerun.returncode == 0 and doctor.returncode == 0 and ok_rank
        results.append(row)
        print(json.dumps(row), flush=True)
    return {
        "trials": trials, "files": files, "passed": sum(r["ok"] for r in results),
        "killed": sum(r["killed"] for r in results), "clean_index_seconds": {str(k): round(v, 1)
                                                                              for k, v in timings.items()},
        "results": results,
    }


def same_ranking_all(a: dict, b: dict, tol: float = 2e-3) -> bool:
    return a.keys() == b.keys() and all(same_ranking(a[q], b[q], tol) for q in a)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--model", type=Path)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, help="write the report here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ds-crash-") as tmp:
        report = run(args.trials, args.files, args.model, args.seed, Path(tmp))
    summary = f"{report['passed']}/{report['trials']} trials recovered ({report['killed']} killed mid-run)"
    print(summary)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1))
    return 0 if report["passed"] == report["trials"] else 1


if __name__ == "__main__":
    sys.exit(main())
