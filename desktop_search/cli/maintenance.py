"""Commands that report on or look after the index: status, failed, extract, doctor, rebuild, model, eval."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from .common import EXIT_FAIL, EXIT_OK, CliError, ProgressPrinter, _print_json, _stop_flag


def _cmd_status(service: Any, args: argparse.Namespace) -> int:
    status = service.status()
    if args.json:
        _print_json(status)
        return EXIT_OK
    print(f"data folder:    {status['data_dir']}")
    print(f"folders:        {', '.join(status['roots']) or '(none)'}")
    for f in status.get("folders", []):
        if f["state"] != "ok":
            print(f"  {f['path']}: {f['state']} ({f['detail']})")
    print(f"files:          {status['indexed']} indexed, {status['pending']} waiting for encoding, "
          f"{status['failed']} failed, {status.get('skipped', 0)} skipped (see `desktop-search skipped`)")
    print(f"index size:     {status['index_bytes'] / 1e6:.1f} MB ({status['segments']} segment(s))")
    print(f"model:          {status['model']} ({status['model_state']})")
    note = status.get("context_length_note")  # why the window in force is shorter than the setting
    print(f"context length: {status['context_length']} tokens{f' ({note})' if note else ''}, "
          f"{status['threads']} thread(s)")
    if "device" in status:
        print(f"device:         {status['device']} (setting {status['device_setting']})"
              + (f": {status['device_note']}" if status.get("device_note") else ""))
    if "ocr" in status:
        print(f"OCR:            {'on' if status['ocr_active'] else 'off'} (setting {status['ocr']}): "
              f"{status['ocr_files']} file(s), {status['ocr_pages']} page(s) read by it"
              + (f"; {status['ocr_waiting_files']} file(s) with scanned pages wait for it"
                 if status["ocr_waiting_files"] else ""))
    return EXIT_OK


def _cmd_failed(service: Any, args: argparse.Namespace) -> int:
    rows = service.failed()
    if args.json:
        _print_json(rows)
        return EXIT_OK
    if not rows:
        print("no failed files")
    for r in rows:
        print(f"{r['path']}: {r['reason']}")
    return EXIT_OK


def _cmd_extract(args: argparse.Namespace) -> int:
    from desktop_search.core.service import Settings, extract_file

    if not os.path.exists(args.file):
        raise CliError(f"no such file: {args.file}")
    if os.path.isdir(args.file):
        raise CliError(f"{args.file} is a folder, not a file")
    outcome = extract_file(args.file, Settings(ocr=args.ocr) if getattr(args, "ocr", None) else None)
    if args.json:
        r = outcome.result
        _print_json({
            "path": outcome.path, "ok": r is not None, "error": outcome.error, "skipped": outcome.skipped,
            "title": r.title if r else None, "extractor": r.extractor if r else None,
            "pages": r.page_count if r else 0, "page_starts": r.page_starts if r else [],
            "metadata": r.metadata if r else {}, "text": r.text if r else None,
        })
        return EXIT_OK if r is not None else EXIT_FAIL
    if outcome.result is None:
        raise CliError(f"{outcome.path}: {outcome.error}")
    r = outcome.result
    if r.title:
        print(f"title: {r.title}")
    if r.page_starts:
        bounds = list(r.page_starts) + [len(r.text)]
        for i in range(len(r.page_starts)):
            print(f"--- page {i + 1} ---")
            print(r.text[bounds[i] : bounds[i + 1]].rstrip())
    else:
        print(r.text)
    return EXIT_OK


def _cmd_doctor(service: Any, args: argparse.Namespace) -> int:
    result = service.doctor(repair=args.repair, progress=ProgressPrinter())
    if args.json:
        _print_json(result)
    else:
        if result["consistent"] and not result["problems"]:
            print("consistent")
        for p in result["problems"]:
            print(f"problem: {p}")
        for r in result["repaired"]:
            print(f"repaired: {r}")
        for p in result.get("remaining", []):
            print(f"still: {p}")
        if result["problems"] and result["consistent"]:
            print("consistent (after repair)")
        for n in result.get("notes", []):  # normal pending work, not a problem: exit 0
            print(f"note: {n}")
    return EXIT_OK if result["consistent"] else EXIT_FAIL


def _cmd_rebuild(service: Any, args: argparse.Namespace) -> int:
    """Re-train the codec on every vector and write one segment; searches go on meanwhile; Ctrl+C stops
    it and leaves the index as it was."""
    from desktop_search.core.service import Cancelled

    stop = _stop_flag()
    try:
        result = service.rebuild(progress=ProgressPrinter(), should_stop=stop.is_set)
    except Cancelled:
        sys.stderr.write("stopped; the index is as it was\n")
        return EXIT_FAIL
    if args.json:
        _print_json(result)
    elif not result["rebuilt"]:
        print(f"nothing rebuilt: {result.get('reason', 'no vectors')}")
    else:
        print(f"rebuilt {result['vectors']:,} vectors: {result['segments_before']} segment(s) -> "
              f"{result['segments_after']} in {result['seconds']:.1f} s"
              f"{' (codec re-trained)' if result['trained'] else ''}")
        for p in result.get("problems", []):
            print(f"problem: {p}")
        if result["set_aside"]:
            print(f"the check found problems: the old segments are kept in {result['set_aside']}; "
                  "run `desktop-search doctor --repair`")
    return EXIT_OK if result["consistent"] else EXIT_FAIL


def _cmd_model(service: Any, args: argparse.Namespace) -> int:
    if args.model_id is None:
        state = service.model_state()
        if args.json:
            _print_json(state)
            return EXIT_OK
        print(f"model:          {state['model']}")
        print(f"vectors made by {state['index_model'] or '(nothing encoded yet)'}")
        print(f"files to encode: {state['files_to_encode']}")
        return EXIT_OK
    choice = None if args.model_id == "default" else args.model_id
    result = service.switch_model(choice)
    if args.json:
        _print_json(result)
        return EXIT_OK
    print(f"model is now {result['model']}: {result['files_to_encode']} file(s) will be re-encoded by the next "
          "`desktop-search index` (or the running app); until then the old vectors answer the old model only")
    return EXIT_OK


def _cmd_eval(service: Any, args: argparse.Namespace) -> int:
    from desktop_search.core.service import run_eval

    result = run_eval(service, args.beir_dir, split=args.split, mode=args.mode, exact=args.exact,
                      progress=ProgressPrinter(), limit_queries=args.limit_queries)
    if args.json:
        _print_json(result)
    else:
        for key, value in result.items():
            print(f"{key:16s} {value}")
    return EXIT_OK
