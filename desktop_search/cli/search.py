"""`search`: ranked files with their best passage, highlights marked on a terminal."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .common import EXIT_OK, _exact_paths, _print_json


def _cmd_search(service: Any, args: argparse.Namespace) -> int:
    # --json: every result explains itself (which words matched, literally or by meaning, how strongly)
    response = service.search(args.query, limit=args.limit, mode=args.mode, sort=args.sort, explain=args.json)
    if args.json:
        data = response.as_json()
        data["results"] = _exact_paths(data["results"])
        _print_json(data)
        return EXIT_OK
    if response.notice:
        sys.stderr.write(f"note: {response.notice}\n")
    print_results(response)
    return EXIT_OK


def print_results(response: Any) -> None:
    """Ranked results as numbered lines with their snippet, highlights marked (search, similar)."""
    from desktop_search.core.service import display

    if not response.results:
        print("no results")
    for i, r in enumerate(response.results, 1):
        page = f" (page {r.page})" if r.page else ""
        print(f"{i:2d}. {display(r.path)}{page}  [{r.score:.3f}]")
        if r.snippet:
            print(f"    {_mark(r.snippet, r.highlights)}")
    print(f"({response.took_ms:.0f} ms, {response.mode})", file=sys.stderr)


def _mark(text: str, spans: list[list[int]]) -> str:
    use_color = sys.stdout.isatty()
    out, pos = [], 0
    for s, e in spans:
        out.append(text[pos:s])
        out.append(("\x1b[1;33m" + text[s:e] + "\x1b[0m") if use_color else f"[{text[s:e]}]")
        pos = e
    out.append(text[pos:])
    return "".join(out)
