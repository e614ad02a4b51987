"""OLE2 compound files (olefile) for the .msg, .doc and .ppt readers: opening one, and one-line reasons
for what olefile raises on a damaged one (TypeError for a storage where a stream should be, OverflowError
and IndexError for sector numbers out of range...: found by fuzzing)."""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from .types import ExtractionFailed

F = TypeVar("F", bound=Callable[..., Any])


def open_ole(path: Path, what: str) -> Any:
    """An :class:`olefile.OleFileIO` for ``path``, or a one-line failure."""
    import olefile

    try:
        if not olefile.isOleFile(str(path)):
            raise ExtractionFailed(f"not a valid {what} file (no OLE2 container)")
        return olefile.OleFileIO(str(path))
    except ExtractionFailed:
        raise
    except (OSError, ValueError, struct.error, IndexError, KeyError, TypeError, OverflowError) as exc:
        if isinstance(exc, OSError) and exc.errno is not None:
            raise
        raise ExtractionFailed(f"corrupt {what} file (damaged OLE2 container)") from exc


def ole_errors(what: str) -> Callable[[F], F]:
    """Turn olefile's errors on a damaged container into ``corrupt <what> file (damaged OLE2 container)``;
    real I/O errors (with an errno) and memory exhaustion pass through."""

    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except (OSError, ValueError, struct.error, IndexError, KeyError, TypeError, OverflowError) as exc:
                if isinstance(exc, OSError) and exc.errno is not None:
                    raise
                raise ExtractionFailed(f"corrupt {what} file (damaged OLE2 container)") from exc

        return run  # type: ignore[return-value]

    return wrap
