"""Needle benchmark (issue 13): long files, each with one planted fact, found by questions that
paraphrase the fact.

    python tests/benchmarks/bench_needle.py [--model DIR] [--data-dir DIR] [--files 20] [--tokens 20000]

Each file is SciFact abstracts (../shared/data/scifact, shuffled with a fixed seed) until it holds at
least ``--tokens`` tokens of the model's tokenizer, with one invented fact (names that occur nowhere
else) put at a random depth between 10% and 90%. Every fact has two questions that paraphrase it
(other words for the thing asked about, the answer never in the question). A question passes at rank
1 when its file is the first hybrid result, and its snippet passes when the snippet shown for that
file (its best passage's) contains the fact's answer. Writes tests/benchmarks/results/needle.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "tests" / "benchmarks" / "results"

# (fact planted, answer that the snippet must show, two paraphrasing questions)
FACTS = [
    ("The spare key to the Lindqvist boathouse is hidden under the third flowerpot by the east door.",
     "third flowerpot", ["Where can I find the extra key for the Lindqvist boat shed?",
                         "Lindqvist boat shed second key location"]),
    ("Dr. Amara Okonkwo's grant renewal deadline was moved to the fourteenth of March.",
     "fourteenth of March", ["When is the new due date for Okonkwo's funding extension?",
                             "Okonkwo funding extension postponed date"]),
    ("The Feldspar project budget was capped at 42,000 euros after the October review.",
     "42,000 euros", ["What spending limit was set for the Feldspar initiative?",
                      "maximum money allowed for Feldspar"]),
    ("Our cat Pemberton is allergic to salmon and must only eat the turkey formula.",
     "allergic to salmon", ["Which fish makes Pemberton the cat sick?", "food Pemberton cannot tolerate"]),
    ("The Quillon server room door code is 7391, changed after the January audit.",
     "7391", ["What is the access number for the Quillon machine room entrance?",
              "Quillon computer room entry PIN"]),
    ("Grandmother Rosalind's bread recipe uses two spoons of caraway seeds and a pinch of fennel.",
     "caraway", ["Which spices go into Rosalind's loaf?", "seasoning in Rosalind's baking"]),
    ("The Tarvik bridge inspection found a crack in the northern support pillar.",
     "crack in the northern support pillar", ["What damage did engineers discover on the Tarvik crossing?",
                                              "Tarvik crossing structural defect"]),
    ("Marguerite Delacroix will present the quarterly results in the Orchid conference room.",
     "Orchid conference room", ["In which meeting room does Delacroix give the quarterly figures?",
                                "where Delacroix reports earnings this quarter"]),
    ("The Halvorsen family reunion takes place at the Birchwood lake cabin in late July.",
     "Birchwood lake cabin", ["Where will the Halvorsen relatives gather this summer?",
                              "venue of the Halvorsen get-together"]),
    ("The vaccine shipment for the Kestrel clinic must be stored between two and eight degrees Celsius.",
     "between two and eight degrees", ["At what temperature should the Kestrel clinic keep its vaccine delivery?",
                                       "Kestrel immunisation consignment cold storage range"]),
    ("Invoice 88412 from Brightwater Plumbing was paid twice by mistake in May.",
     "88412", ["Which Brightwater Plumbing bill got a duplicate payment?",
               "Brightwater plumber charge settled two times"]),
    ("The Osgood telescope's main mirror was recoated with aluminium in 2019.",
     "aluminium", ["What metal covers the Osgood observatory's primary mirror?",
                   "Osgood observatory reflector coating material"]),
    ("Professor Yuki Tanabe prefers to receive thesis drafts as printed copies, not email attachments.",
     "printed copies", ["How does Tanabe want dissertation drafts delivered?",
                        "Tanabe preferred format for dissertation chapters"]),
    ("The Corvid rowing club's new boat is named Silver Heron.",
     "Silver Heron", ["What did the Corvid rowers call their new shell?", "name of the Corvid club's latest vessel"]),
    ("The warranty on the Zephyrine dishwasher expires on 30 September 2027.",
     "30 September 2027", ["Until when is the Zephyrine appliance covered by guarantee?",
                           "Zephyrine machine guarantee end date"]),
    ("Ansel Brightman's flight to Reykjavik leaves from gate B17 at 06:40.",
     "B17", ["Which gate does Brightman board at for Iceland?", "Brightman departure gate Iceland trip"]),
    ("The Marlow community garden charges a yearly plot fee of 35 pounds.",
     "35 pounds", ["How much does an allotment at Marlow cost per year?", "Marlow allotment annual price"]),
    ("The Pellucid app stores its backups in the folder named vault-archive on the external drive.",
     "vault-archive", ["Where does Pellucid put its backup copies?", "Pellucid program saved copies directory"]),
    ("Tobias Wren was elected treasurer of the Finch Street tenants association.",
     "Tobias Wren", ["Who became the Finch Street tenants' money keeper?",
                     "Finch Street renters group person handling finances"]),
    ("The Galloway orchard lost most of its pear harvest to a late frost in April.",
     "late frost", ["What ruined the Galloway fruit farm's pear crop?", "cause of Galloway pear losses"]),
]


def filler(beir: Path) -> list[str]:
    """SciFact's abstracts (title + text, as the scale benchmark reads them), shuffled with a fixed seed."""
    from scale_corpus import scifact_texts  # this folder is on sys.path when the script runs

    texts = scifact_texts(beir)
    random.Random(13).shuffle(texts)
    return texts


def make_files(folder: Path, beir: Path, model: Path, n_files: int, min_tokens: int) -> list[dict]:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(model / "tokenizer.json"))
    tok.no_truncation()  # the stand-in's tokenizer.json truncates at 128: count every token
    texts = filler(beir)
    rng = random.Random(1313)
    folder.mkdir(parents=True, exist_ok=True)
    made, pos = [], 0
    for i in range(n_files):
        fact, answer, questions = FACTS[i % len(FACTS)]
        parts, tokens = [], 0
        while tokens < min_tokens:
            text = texts[pos % len(texts)]
            pos += 1
            parts.append(text)
            tokens += len(tok.encode(text, add_special_tokens=False).ids)
        depth = rng.uniform(0.1, 0.9)
        at = max(1, int(len(parts) * depth))
        parts.insert(at, fact)
        body = "\n\n".join(parts) + "\n"
        path = folder / f"report-{i + 1:02d}.txt"
        if not path.exists() or path.read_text(encoding="utf-8") != body:  # a rerun reuses the index
            path.write_text(body, encoding="utf-8")
        made.append({"path": str(path), "fact": fact, "answer": answer, "questions": questions,
                     "depth": round(depth, 2), "tokens": len(tok.encode(body, add_special_tokens=False).ids)})
    return made


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).lower()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=Path("/tmp/shared-bench/standin-model"))
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/shared-bench/needle-data"))
    parser.add_argument("--beir", type=Path, default=ROOT.parent / "shared" / "data" / "scifact")
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--tokens", type=int, default=20000)
    parser.add_argument("--mode", default="hybrid")
    parser.add_argument("--reuse-index", action="store_true",
                        help="search the index in --data-dir as it is (a copy of another run's: its files keep their "
                             "first paths, matched here by name), without indexing")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from desktop_search.core.service import Service

    folder = args.data_dir / "files"
    if folder.exists() and len(list(folder.glob("*.txt"))) != args.files:
        shutil.rmtree(folder)
    made = make_files(folder, args.beir, args.model, args.files, args.tokens)
    with Service(args.data_dir / "index", model=str(args.model), allow_download=False) as service:
        t0 = time.perf_counter()
        report = None if args.reuse_index else service.index([str(folder)])
        index_s = time.perf_counter() - t0
        status = service.status()
        rows, times = [], []
        for item in made:
            for question in item["questions"]:
                response = service.search(question, limit=10, mode=args.mode)
                times.append(response.took_ms)
                paths = [Path(r.path).name if args.reuse_index else r.path for r in response.results]
                key = Path(item["path"]).name if args.reuse_index else item["path"]
                rank = paths.index(key) + 1 if key in paths else None
                shown = response.results[rank - 1] if rank else None
                rows.append({"question": question, "file": Path(item["path"]).name, "rank": rank,
                             "snippet_has_fact": bool(shown and _norm(item["answer"]) in _norm(shown.snippet)),
                             "any_passage_has_fact": bool(shown and any(_norm(item["answer"]) in _norm(p.snippet)
                                                                        for p in shown.passages)),
                             "weak_divider_above": bool(shown and shown.weak),
                             "snippet": shown.snippet if shown else None})
    n = len(rows)
    top1 = sum(r["rank"] == 1 for r in rows)
    snip = sum(r["rank"] == 1 and r["snippet_has_fact"] for r in rows)
    out = {
        "files": len(made), "min_tokens": min(m["tokens"] for m in made), "mean_tokens": round(
            statistics.fmean(m["tokens"] for m in made)), "questions": n, "mode": args.mode,
        "model": status["model"], "context_length": status["context_length"],
        "index_seconds": None if report is None else round(index_s, 1),
        "encoded_files": None if report is None else report.encoded_files,
        "rank1": top1, "rank1_share": round(top1 / n, 4),
        "snippet_has_fact": snip, "snippet_share": round(snip / n, 4),
        "search_p50_ms": round(statistics.median(times), 1), "rows": rows,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "needle.json").write_text(json.dumps(out, indent=1))
    lines = [
        f"Needle benchmark: {out['files']} files of ≥ {args.tokens} tokens (min {out['min_tokens']}, mean "
        f"{out['mean_tokens']}), SciFact abstracts with one planted fact each, {n} paraphrased questions, "
        f"{args.mode} search, model {out['model']} (context {out['context_length']} tokens per window)",
        "",
        "| measure | value | goal |",
        "|---|---|---|",
        f"| file ranked 1st | {top1}/{n} ({out['rank1_share']:.1%}) | ≥ 95% |",
        f"| its snippet contains the fact | {snip}/{n} ({out['snippet_share']:.1%}) | ≥ 90% |",
        f"| index time (extract + encode, loaded 2-core machine) | "
        f"{'reused (--reuse-index)' if report is None else str(out['index_seconds']) + ' s'} | |",
        f"| search p50 | {out['search_p50_ms']} ms | |",
        "",
        "| question | file | rank | snippet has fact |",
        "|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['question']} | {r['file']} | {r['rank']} | {'yes' if r['snippet_has_fact'] else 'no'} |")
    text = "\n".join(lines) + "\n"
    (RESULTS / "needle.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
