"""Crash safety: kill -9 the indexer or a settings write at random moments, then check that it recovers.

Trial kinds rotate:

* ``index-flat``: ``desktop-search index`` on a folder of generated files in a fresh data dir (exact
  flat segments only), SIGKILLed after a random delay (lands in extract or encode);
* ``index-plaid``: the same with a low flat-segment limit, so that kills also land inside PLAID compaction;
* ``settings``: on a copy of a fully indexed data dir, ``exclude 'doc-000*'`` (or, every other time,
  ``include 'doc-000*'`` on a copy of a data dir built with that exclusion) SIGKILLed after a random
  delay up to its measured duration (for half of them in its last 40 %); the phase is read from the
  catalog the kill left behind.

After the kill the same command is rerun (``index``; or the settings command, then ``index``) and the
trial passes when it finishes, ``doctor`` exits 0 and reports the index consistent, searches rank as a
clean build with the same exclusions does, and the catalog holds every expected file exactly once and
no other (no duplicate or missing results: each file indexed, each passage encoded and live in exactly
one live segment).

    python tests/crash/crash_trials.py --trials 20 --files 300 [--flat-limit N] [--model DIR] [--json OUT] [--md OUT]
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

TOPICS = [
    "volcano magma eruption lava crust", "sourdough bread flour yeast oven", "football match goal penalty striker",
    "invoice payment amount due bank", "jupiter planet moons gas giant", "vaccine immune antibodies infection",
    "knitting wool scarf needles stitch", "python function loop variable", "train station platform ticket",
    "tomato garden soil watering sun", "piano sonata chord melody", "mortgage interest rate loan",
]
QUERIES = ["magma eruption", "bread oven", "penalty goal", "planet moons", "garden watering tomatoes"]
KINDS = ("index-flat", "index-plaid", "settings")
PATTERN = "doc-000*"  # the exclusion the settings trials add or remove (doc-0000 .. doc-0009)


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


def integrity(data: Path, expected: set[str]) -> list[str]:
    """No duplicate or missing results: what is wrong with the catalog and live segments of ``data``
    (empty when nothing is). Reads catalog.db read-only."""
    import numpy as np

    problems = []
    db = sqlite3.connect(f"file:{data / 'catalog.db'}?mode=ro", uri=True)
    try:
        dup = db.execute("SELECT path, COUNT(*) FROM files GROUP BY path HAVING COUNT(*) > 1").fetchall()
        if dup:
            problems.append(f"duplicate file paths: {dup[:5]}")
        names = Counter(Path(p).name for (p,) in db.execute("SELECT path FROM files"))
        if dup_names := sorted(n for n, c in names.items() if c > 1):
            problems.append(f"files listed twice: {dup_names[:5]}")
        if missing := sorted(expected - names.keys()):
            problems.append(f"{len(missing)} files missing: {missing[:5]}")
        if extra := sorted(names.keys() - expected):
            problems.append(f"{len(extra)} files that should not be there: {extra[:5]}")
        if states := db.execute("SELECT state, COUNT(*) FROM files WHERE state != 'indexed' GROUP BY state").fetchall():
            problems.append(f"files not indexed: {states}")
        if empty := db.execute("SELECT COUNT(*) FROM files f WHERE NOT EXISTS "
                               "(SELECT 1 FROM passages p WHERE p.file_id = f.id)").fetchone()[0]:
            problems.append(f"{empty} files without passages")
        if dup := db.execute("SELECT file_id, seq, COUNT(*) FROM passages GROUP BY file_id, seq "
                             "HAVING COUNT(*) > 1").fetchall():
            problems.append(f"passages listed twice: {dup[:5]}")
        if unencoded := db.execute("SELECT COUNT(*) FROM passages WHERE segment_id IS NULL").fetchone()[0]:
            problems.append(f"{unencoded} passages not encoded")
        segment_of = dict(db.execute("SELECT id, segment_id FROM passages"))
        live = db.execute("SELECT id, dir FROM segments WHERE state = 'live'").fetchall()
    finally:
        db.close()
    live_ids = {sid for sid, _ in live}
    if dangling := sum(1 for sid in segment_of.values() if sid is not None and sid not in live_ids):
        problems.append(f"{dangling} passages point at segments that are not live")
    in_live: Counter[int] = Counter()  # catalog passages found in the passage_ids of each live segment
    for sid, folder in live:
        try:
            pids = np.load(data / "segments" / folder / "passage_ids.npy").tolist()
        except OSError as exc:
            problems.append(f"live segment {folder} unreadable: {exc}")
            continue
        counts = Counter(pids)
        in_live.update(pid for pid in counts if pid in segment_of)
        if twice := [pid for pid, c in counts.items() if c > 1]:
            problems.append(f"segment {folder} holds passages twice: {twice[:5]}")
        owned = [pid for pid, s in segment_of.items() if s == sid]
        if absent := [pid for pid in owned if pid not in counts]:
            problems.append(f"{len(absent)} passages of segment {folder} are not in it: {absent[:5]}")
    if two := [pid for pid, c in in_live.items() if c > 1]:
        problems.append(f"{len(two)} passages in two live segments: {two[:5]}")
    return problems


def doctor_ok(done: subprocess.CompletedProcess[str]) -> bool:
    """doctor exits 0 and says ``consistent`` with no problem found (notes about pending work are fine)."""
    lines = done.stdout.splitlines()
    return done.returncode == 0 and "consistent" in lines and not any(
        ln.startswith(("problem:", "still:", "repaired:")) for ln in lines)


def catalog_phase(data: Path, adding: bool, n_matching: int) -> str:
    """Where a killed ``exclude``/``include`` of PATTERN got to, read from the catalog it left."""
    db = sqlite3.connect(f"file:{data / 'catalog.db'}?mode=ro", uri=True)
    try:
        has_pattern = db.execute("SELECT COUNT(*) FROM exclusions WHERE pattern = ?", (PATTERN,)).fetchone()[0] > 0
        matching = sum(fnmatch.fnmatch(Path(p).name, PATTERN) for (p,) in db.execute("SELECT path FROM files"))
    finally:
        db.close()
    if has_pattern != adding:
        return "before-write"
    done = matching == 0 if adding else matching >= n_matching
    return "after-reconcile" if done else "reconcile"


def run(trials: int, files: int, model: Path | None, seed: int, work: Path, flat_limit: int = 20_000,
        kinds: tuple[str, ...] = KINDS, keep_failed: Path | None = None) -> dict:
    if model is None:
        from desktop_search.testing.models import build_tiny

        model = build_tiny(work / "tiny-model")
    corpus = work / "corpus"
    make_corpus(corpus, files, seed)
    everything = {p.name for p in corpus.iterdir()}
    left_in = {n for n in everything if not fnmatch.fnmatch(n, PATTERN)}
    rng = random.Random(seed)
    clean: dict[str, dict] = {}
    timings: dict[str, float] = {}
    # the flat kinds stay flat whatever the product's flat limit (issue 14 lowered it to 32k tokens): their
    # rankings are compared with a tolerance that codecs trained on other files would exceed
    always_flat = 10**12
    limits = {"index-flat": always_flat, "index-plaid": flat_limit, "excluded": always_flat}
    builds = ["index-flat", "index-plaid"] if "index-plaid" in kinds else ["index-flat"]
    if "settings" in kinds:
        builds.append("excluded")
    for name in builds:
        data = work / f"clean-{name}"
        set_flat_limit(data, limits.get(name))
        t0 = time.monotonic()
        if name == "excluded":  # a clean build that has the exclusion from the start
            done = cli(data, model, "exclude", PATTERN)
            if done.returncode != 0:
                raise SystemExit(f"clean exclude failed: {done.stderr}")
        done = cli(data, model, "index", str(corpus))
        timings[name] = time.monotonic() - t0
        if done.returncode != 0:
            raise SystemExit(f"clean build failed: {done.stderr}")
        clean[name] = rankings(data, model, exact=name == "index-plaid")
        problems = integrity(data, left_in if name == "excluded" else everything)
        if problems:
            raise SystemExit(f"clean build {name} fails the integrity check: {problems}")
    if "settings" in kinds:  # how long each settings command takes, on a throwaway copy
        for verb, source in (("exclude", "index-flat"), ("include", "excluded")):
            data = work / f"measure-{verb}"
            shutil.copytree(work / f"clean-{source}", data)
            t0 = time.monotonic()
            done = cli(data, model, verb, PATTERN)
            timings[verb] = time.monotonic() - t0
            if done.returncode != 0:
                raise SystemExit(f"{verb} failed: {done.stderr}")
            shutil.rmtree(data)
    results = []
    settings_trials = 0
    for trial in range(trials):
        kind = kinds[trial % len(kinds)]
        data = work / f"trial-{trial}"
        t_start = time.monotonic()
        if kind == "settings":
            verb = ("exclude", "include")[settings_trials % 2]
            settings_trials += 1
            source, reference = ("index-flat", "excluded") if verb == "exclude" else ("excluded", "index-flat")
            expected = left_in if verb == "exclude" else everything
            command = [verb, PATTERN]
            # every other pair late in the run, where the write and the reconcile are (the start-up comes first)
            low = 0.05 if (settings_trials - 1) // 2 % 2 == 0 else 0.6 * timings[verb]
            delay = rng.uniform(low, timings[verb])
            exact = False
        else:
            verb, source, reference, expected = "index", "", kind, everything
            command = ["index", str(corpus)]
            delay = rng.uniform(0.3, 0.7 * timings[kind])
            exact = kind == "index-plaid"
        for _attempt in range(6):  # a run that finished before the kill is retried with a shorter delay
            shutil.rmtree(data, ignore_errors=True)
            if source:
                shutil.copytree(work / f"clean-{source}", data)
            else:
                set_flat_limit(data, limits[kind])
            cmd = [sys.executable, "-m", "desktop_search", "--data-dir", str(data), "--model", str(model), *command]
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
        stderr = proc.stderr.read() if proc.stderr else ""
        if kind == "settings":
            phase = catalog_phase(data, verb == "exclude", len(everything - left_in)) if killed else "finished"
        else:
            lines = [ln for ln in stderr.splitlines() if ln.startswith("[")]
            phase = lines[-1].split("]")[0].strip("[") if lines else "start"
        reruns = [cli(data, model, *command)] if kind == "settings" else []
        # include is not idempotent: once the pattern is gone it says so and exits 1, and `index` reads the files
        # the removed pattern lets in
        if (verb == "include" and reruns[0].returncode == 1 and "no exclusion" in reruns[0].stderr
                and phase in ("reconcile", "after-reconcile")):
            reruns[0].returncode = 0
        reruns.append(cli(data, model, "index"))
        rerun_exit = max(r.returncode for r in reruns)
        doctor = cli(data, model, "doctor")
        ok_rank = rerun_exit == 0 and same_ranking_all(clean[reference], rankings(data, model, exact))
        problems = integrity(data, expected)
        row = {
            "trial": trial, "kind": kind, "command": verb, "flat_limit": limits.get(kind),
            "kill_after_s": round(delay, 2), "killed": killed, "phase_at_kill": phase, "rerun_exit": rerun_exit,
            "doctor_exit": doctor.returncode,
            "doctor": doctor.stdout.strip().splitlines()[-1:] or doctor.stderr.strip().splitlines()[-1:],
            "same_results": ok_rank, "integrity": problems or "ok",
        }
        row["ok"] = rerun_exit == 0 and doctor_ok(doctor) and ok_rank and not problems
        if not row["ok"]:
            row["stderr"] = {"killed": stderr[-2000:], "rerun": [r.stderr[-2000:] for r in reruns],
                             "doctor": (doctor.stdout + doctor.stderr)[-2000:]}
            if keep_failed is not None:
                keep_failed.mkdir(parents=True, exist_ok=True)
                shutil.copytree(data, keep_failed / data.name, dirs_exist_ok=True)
                row["kept"] = str(keep_failed / data.name)
        shutil.rmtree(data, ignore_errors=True)
        row["seconds"] = round(time.monotonic() - t_start, 1)
        results.append(row)
        print(json.dumps(row), flush=True)
    by_kind: dict[str, dict[str, dict[str, int]]] = {}
    for r in results:
        cell = by_kind.setdefault(r["kind"], {}).setdefault(r["phase_at_kill"], {"trials": 0, "passed": 0})
        cell["trials"] += 1
        cell["passed"] += r["ok"]
    return {
        "trials": trials, "files": files, "flat_limit": flat_limit, "passed": sum(r["ok"] for r in results),
        "killed": sum(r["killed"] for r in results), "by_kind_phase": by_kind,
        "clean_seconds": {k: round(v, 1) for k, v in timings.items()}, "results": results,
    }


def same_ranking_all(a: dict, b: dict, tol: float = 2e-3) -> bool:
    return a.keys() == b.keys() and all(same_ranking(a[q], b[q], tol) for q in a)


def markdown(report: dict, args: str) -> str:
    lines = [f"# kill -9 crash trials (tests/crash/crash_trials.py {args}, tiny model)", "",
             f"{report['passed']}/{report['trials']} trials recovered; {report['killed']} killed mid-run; "
             f"{report['files']} files. A trial passes when the rerun finishes, doctor exits 0 and reports the "
             "index consistent, searches rank as a clean build with the same exclusions, and every expected file "
             "is in the catalog exactly once, indexed, with each passage live in exactly one live segment.", "",
             "| kind | phase at kill | trials | passed |", "|---|---|---|---|"]
    for kind, phases in report["by_kind_phase"].items():
        for phase, cell in sorted(phases.items()):
            lines.append(f"| {kind} | {phase} | {cell['trials']} | {cell['passed']} |")
    lines += ["", "| trial | kind | command | killed after s | phase at kill | rerun exit | doctor | same results "
              "| integrity | ok |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in report["results"]:
        integrity_ = r["integrity"] if r["integrity"] == "ok" else "; ".join(r["integrity"])
        lines.append(f"| {r['trial']} | {r['kind']} | {r['command']} | {r['kill_after_s']} | {r['phase_at_kill']} "
                     f"| {r['rerun_exit']} | {' '.join(r['doctor'])} | {r['same_results']} | {integrity_} "
                     f"| {r['ok']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--model", type=Path)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--flat-limit", type=int, default=20_000, help="flat-segment token limit of index-plaid")
    parser.add_argument("--kinds", default=",".join(KINDS), help=f"trial kinds, rotating (default {','.join(KINDS)})")
    parser.add_argument("--keep-failed", type=Path, help="copy the data dir of each failed trial here")
    parser.add_argument("--json", type=Path, help="write the report here")
    parser.add_argument("--md", type=Path, help="write a Markdown summary here")
    args = parser.parse_args(argv)
    kinds = tuple(args.kinds.split(","))
    with tempfile.TemporaryDirectory(prefix="ds-crash-") as tmp:
        report = run(args.trials, args.files, args.model, args.seed, Path(tmp), args.flat_limit, kinds,
                     args.keep_failed)
    summary = f"{report['passed']}/{report['trials']} trials recovered ({report['killed']} killed mid-run)"
    print(summary)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1))
    if args.md:
        args.md.parent.mkdir(parents=True, exist_ok=True)
        args.md.write_text(markdown(report, " ".join(sys.argv[1:] if argv is None else argv)))
    return 0 if report["passed"] == report["trials"] else 1


if __name__ == "__main__":
    sys.exit(main())
