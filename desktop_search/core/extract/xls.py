"""Legacy Excel 97-2003 workbooks (.xls) via xlrd, sheet = section."""

from __future__ import annotations

from pathlib import Path

from .builder import TextBuilder
from .types import Extracted, ExtractionFailed, ExtractLimits


def extract_xls(path: Path, limits: ExtractLimits) -> Extracted:
    import xlrd

    try:
        book = xlrd.open_workbook(str(path), on_demand=True, formatting_info=False, logfile=_Null())
    except xlrd.XLRDError as exc:
        msg = str(exc)
        if "encrypt" in msg.lower():
            raise ExtractionFailed("password-protected Excel workbook") from exc
        raise ExtractionFailed(f"corrupt Excel workbook ({msg[:80]})") from exc
    except (MemoryError, RecursionError, OSError):
        raise  # the worker's own reasons (memory cap, nesting, I/O)
    except Exception as exc:  # xlrd is pure Python: any other error (CompDocError, struct.error…) is corruption
        raise ExtractionFailed("corrupt Excel workbook") from exc
    builder = TextBuilder(limits.max_text_chars)
    budget = limits.max_cells
    names: list[str] = []
    try:
        for index in range(book.nsheets):
            sheet = book.sheet_by_index(index)
            names.append(sheet.name)
            builder.section()
            for r in range(sheet.nrows):
                cells = []
                for value in sheet.row_values(r):
                    if value is None or value == "":
                        continue
                    if isinstance(value, float) and value.is_integer():
                        value = int(value)
                    cells.append(str(value))
                budget -= len(cells)
                if cells:
                    builder.add("\t".join(cells))
                    builder.add("\n")
                if builder.full or budget <= 0:
                    break
            book.unload_sheet(index)
            if builder.full or budget <= 0:
                break
    except (MemoryError, RecursionError, OSError):
        raise
    except Exception as exc:  # sheets load lazily (on_demand): their damage shows up only here (fuzzing)
        raise ExtractionFailed("corrupt Excel workbook (damaged sheet)") from exc
    finally:
        book.release_resources()
    meta = {"sheets": ", ".join(names)[:500]}
    if getattr(book, "user_name", ""):
        meta["author"] = str(book.user_name)[:200]
    text = builder.text() if builder.has_text() else ""
    return Extracted(text=text, extractor="xlrd", page_starts=builder.page_starts if text else [], metadata=meta)


class _Null:
    def write(self, *_args: object) -> None:
        pass
