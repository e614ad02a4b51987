"""The command line's arguments (contract in DESIGN.md): one sub-command per job."""

from __future__ import annotations

import argparse

from .common import MIN_CONTEXT_LENGTH, _at_least

QUERY_SYNTAX = """query syntax:
  solar panels        words: files with more of them first (by meaning and keyword; word forms
                      match: study finds studies); no prefix unless written photo*
  "red spot"          exact phrase, must appear ("cat" is not Caterpillar)
  -moon  -"a phrase"  leave out files containing it
  cat OR dog          alternatives ("a b" OR "c d": one of the phrases must appear)
  photo*              prefix, anywhere in the query
  title:budget        the document title contains it; author:austen its author (PDF, Office,
                      ODF, EPUB, RTF metadata; a mail's sender); name:report the file name;
                      plain words match the name, title, author and keywords too
  -author:smith       leave out files with it in that field (-title:, -name: too), not in the text
  岩浆  パン          Chinese and Japanese words are found inside runs of characters
  ext:pdf,docx  dir:Projects  date:2024  date:2024-01..2024-06  date:>2024-03-01  size:>1M  size:<200k
  filters alone (ext:pdf, dir:Projects date:2024) list the matching files, newest first"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="desktop-search", description="Find files on this computer by meaning.")
    p.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    p.add_argument("--data-dir", help="where the index lives (env DESKTOP_SEARCH_HOME)")
    p.add_argument("--model", help="model id or folder (env DESKTOP_SEARCH_MODEL)")
    p.add_argument("--context-length", type=_at_least(MIN_CONTEXT_LENGTH),
                   help="tokens per encoder window, for this run")
    p.add_argument("--threads", type=_at_least(1), help="CPU threads for encoding, for this run")
    p.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"),
                   help="where the model encodes, for this run (auto: CUDA, then Apple MPS, then the CPU)")
    p.add_argument("--ocr", choices=("auto", "on", "off"),
                   help="read images and scanned PDF pages by text recognition, for this run (auto: not on battery)")
    p.add_argument("--minimized", action="store_true",
                   help="open the app in the system tray without showing its window (used at login)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    s = sub.add_parser("index", help="add folders and bring the index up to date")
    s.add_argument("paths", nargs="*")
    s.add_argument("--keyword-only", action="store_true", help="extract text only; encode later")
    s = sub.add_parser("remove", help="stop watching folders and drop their files")
    s.add_argument("paths", nargs="+")
    s = sub.add_parser("search", help="search the index", epilog=QUERY_SYNTAX,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("query")
    s.add_argument("--limit", type=_at_least(1), default=10)
    s.add_argument("--mode", choices=["hybrid", "semantic", "keyword"], default="hybrid")
    s.add_argument("--sort", choices=["relevance", "date", "name", "size"], default="relevance",
                   help="order of the best matches: relevance, date (newest first), name, size (largest first)")
    s.add_argument("--json", action="store_true")
    s = sub.add_parser("similar", help="files most like a file, or one page of it (by its own vectors)",
                       description="More like this: the file's (or page's) stored vectors are the query; no "
                                   "model is loaded. The file itself comes first (score about 1.0).")
    s.add_argument("target", metavar="PATH[:PAGE]", help="an indexed file, optionally :PAGE (e.g. report.pdf:3)")
    s.add_argument("--limit", type=_at_least(1), default=10)
    s.add_argument("--json", action="store_true", help="the same JSON shape as search --json (mode: similar)")
    s = sub.add_parser("status", help="what is indexed")
    s.add_argument("--json", action="store_true")
    s = sub.add_parser("failed", help="files that could not be read, with reasons")
    s.add_argument("--json", action="store_true")
    s = sub.add_parser("skipped", help="files met and not read (not documents, excluded, links), with reasons")
    s.add_argument("--json", action="store_true", help="{by_reason: counts, files: [{path, reason, size}]}")
    sub.add_parser("watch", help="keep the index current until interrupted")
    s = sub.add_parser("exclude", help="leave files matching .gitignore-style patterns out of the index")
    s.add_argument("patterns", nargs="+", metavar="PATTERN")
    s.add_argument("--folder", help="only under this watched folder (default: every folder)")
    s = sub.add_parser("include", help="remove exclusion patterns (defaults too)")
    s.add_argument("patterns", nargs="+", metavar="PATTERN")
    s.add_argument("--folder", help="the watched folder the patterns were given for")
    s = sub.add_parser("exclusions", help="list exclusion patterns; --gitignore on|off")
    s.add_argument("--gitignore", choices=["on", "off"], help="honour .gitignore files in watched folders")
    s.add_argument("--json", action="store_true")
    s = sub.add_parser("model", help="show the index's model, or switch it (says how many files get re-encoded)")
    s.add_argument("model_id", nargs="?", metavar="ID_OR_DIR", help="hub id or model folder; 'default' for the default")
    s.add_argument("--json", action="store_true")
    s = sub.add_parser("extract", help="show the text the app sees in a file")
    s.add_argument("file")
    s.add_argument("--json", action="store_true")
    s = sub.add_parser("doctor", help="check catalog, segments and disk agree")
    s.add_argument("--repair", action="store_true")
    s.add_argument("--json", action="store_true")
    s = sub.add_parser("rebuild", help="re-train the index's codec on every vector and write it anew (searches go on)",
                       description="The deliberate rebuild: every vector of the index's model is re-coded on a "
                                   "codec trained on all of them, as one segment. Searches keep working; Ctrl+C "
                                   "stops it and leaves the index as it was. No model is loaded.")
    s.add_argument("--json", action="store_true")
    s = sub.add_parser("eval", help="index a BEIR folder and measure retrieval quality and speed")
    s.add_argument("beir_dir")
    s.add_argument("--split", default="test")
    s.add_argument("--mode", choices=["hybrid", "semantic", "keyword"], default="semantic")
    s.add_argument("--exact", action="store_true", help="score every document by exact MaxSim (reference)")
    s.add_argument("--json", action="store_true")
    s.add_argument("--limit-queries", type=_at_least(0), default=0, help=argparse.SUPPRESS)
    return p


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("desktop-search")
    except PackageNotFoundError:
        return "unknown"
