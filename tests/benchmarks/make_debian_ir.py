"""Build the second retrieval collection (issue 13): Debian package descriptions as a BEIR folder.

    python tests/benchmarks/make_debian_ir.py [--status /var/lib/dpkg/status] [--out DIR]

Public text that is on every Debian machine: for each installed package, ``/var/lib/dpkg/status``
holds a one-line synopsis written by its maintainer and a long description. The synopsis is the
query; the long description (synopsis left out) is the document; the package's own description is
the one relevant document (a known-item task, like BEIR's title→body sets). Nothing was written or
judged by us, and nothing was tuned on it: fusion settings come from SciFact only.

Honesty filters: descriptions under 20 words are dropped; packages sharing a first paragraph (``-dev``,
``-doc``, library splits) keep one document, and the queries of the others are dropped too; synopses
shared by several packages, or with fewer than 3 words after function words, are dropped. Documents
are named by number (``deb0001``), so file names carry nothing.

The folder written is committed at tests/benchmarks/data/debian-packages (so the numbers can be
reproduced on a machine with another package set).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FUNCTION_WORDS = {"a", "an", "and", "for", "of", "the", "to", "in", "on", "with", "from", "-", "(", ")"}


def packages(status: str) -> list[tuple[str, str, str]]:
    """(package, synopsis, long description) of each record with a description."""
    out = []
    for record in status.split("\n\n"):
        name = re.search(r"^Package: (.+)$", record, re.M)
        desc = re.search(r"^Description: (.*)\n((?:[ \t].*(?:\n|$))*)", record, re.M)
        if not name or not desc:
            continue
        lines = [ln[1:] if ln.startswith(" ") else ln.strip() for ln in desc.group(2).splitlines()]
        body = "\n".join("" if ln.strip() == "." else ln for ln in lines).strip()
        out.append((name.group(1).strip(), desc.group(1).strip(), body))
    return out


def build(status: str) -> tuple[list[dict], list[dict], list[tuple[str, str, int]]]:
    records = sorted(packages(status))
    seen_para: dict[str, str] = {}
    synopsis_count: dict[str, int] = {}
    for _, synopsis, _ in records:
        key = synopsis.lower()
        synopsis_count[key] = synopsis_count.get(key, 0) + 1
    corpus, queries, qrels = [], [], []
    for name, synopsis, body in records:
        if len(body.split()) < 20:
            continue
        first = re.sub(r"\s+", " ", body.split("\n\n")[0]).strip().lower()
        if first in seen_para:
            continue
        seen_para[first] = name
        doc_id = f"deb{len(corpus) + 1:04d}"
        corpus.append({"_id": doc_id, "title": "", "text": body})
        words = [w for w in re.findall(r"\w+", synopsis.lower()) if w not in FUNCTION_WORDS]
        if synopsis_count[synopsis.lower()] > 1 or len(words) < 3:
            continue
        qid = f"q{len(queries) + 1:04d}"
        queries.append({"_id": qid, "text": synopsis, "package": name})
        qrels.append((qid, doc_id, 1))
    return corpus, queries, qrels


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--status", type=Path, default=Path("/var/lib/dpkg/status"))
    parser.add_argument("--out", type=Path, default=ROOT / "tests" / "benchmarks" / "data" / "debian-packages")
    args = parser.parse_args()
    corpus, queries, qrels = build(args.status.read_text(encoding="utf-8", errors="replace"))
    (args.out / "qrels").mkdir(parents=True, exist_ok=True)
    with open(args.out / "corpus.jsonl", "w", encoding="utf-8") as f:
        for doc in corpus:
            f.write(json.dumps(doc, ensure_ascii=False) + "\n")
    with open(args.out / "queries.jsonl", "w", encoding="utf-8") as f:
        for q in queries:
            f.write(json.dumps(q, ensure_ascii=False) + "\n")
    with open(args.out / "qrels" / "test.tsv", "w", encoding="utf-8") as f:
        f.write("query-id\tcorpus-id\tscore\n")
        for qid, did, rel in qrels:
            f.write(f"{qid}\t{did}\t{rel}\n")
    print(f"{len(corpus)} documents, {len(queries)} queries -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
