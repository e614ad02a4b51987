"""`similar PATH[:PAGE]`: files most like a file (or one page of it) by its own stored vectors."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .common import EXIT_OK, _exact_paths, _print_json
from .search import _mark


def _cmd_similar(service: Any, args: argparse.Namespace) -> int:
    from desktop_search.core.service import display, parse_target

    path, page = parse_target(args.target)
    response = service.similar(path, page=page, limit=args.limit)
    if args.json:
        data = response.as_json()
        data["results"] = _exact_paths(data["results"])
        _print_json(data)
        return EXIT_OK
    if not response.results:
        print("no results")
    for i, r in enumerate(response.results, 1):
        where = f" (page {r.page})" if r.page else ""
        print(f"{i:2d}. {display(r.path)}{where}  [{r.score:.3f}]")
        if r.snippet:
            print(f"    {_mark(r.snippet, r.highlights)}")
    print(f"({response.took_ms:.0f} ms, similar)", file=sys.stderr)
    return EXIT_OK
