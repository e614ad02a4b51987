"""`skipped`: files the index met and does not read (not documents, excluded, links...), each with its reason."""

from __future__ import annotations

import argparse
from typing import Any

from .common import EXIT_OK, _print_json


def _cmd_skipped(service: Any, args: argparse.Namespace) -> int:
    rows = service.skipped()
    if args.json:
        _print_json({"by_reason": service.status().get("skipped_by_reason", {}), "files": rows})
        return EXIT_OK
    if not rows:
        print("no skipped files")
        return EXIT_OK
    for r in rows:
        print(f"{r['path']}: {r['reason']}")
    counts = service.status().get("skipped_by_reason", {})
    print("; ".join(f"{n} {reason}" for reason, n in sorted(counts.items(), key=lambda kv: -kv[1])))
    return EXIT_OK
