"""`similar PATH[:PAGE]`: files most like a file (or one page of it) by its own stored vectors."""

from __future__ import annotations

import argparse
from typing import Any

from .common import EXIT_OK, _exact_paths, _print_json
from .search import print_results


def _cmd_similar(service: Any, args: argparse.Namespace) -> int:
    from desktop_search.core.service import parse_target

    path, page = parse_target(args.target)
    response = service.similar(path, page=page, limit=args.limit)
    if args.json:
        data = response.as_json()
        data["results"] = _exact_paths(data["results"])
        _print_json(data)
        return EXIT_OK
    print_results(response)
    return EXIT_OK
