"""Attention glue: what the encoder changes in a loaded model before use, and the stop hooks that let a
stop end a forward call between modules."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from .vectors import EncodingStopped


def prepare_model(model: Any) -> Any:
    """Replace ModernBERT's attention with the blocked long-context path (others are left as they are)."""
    from ..attention import install

    install(model)
    return model


def is_blocked(model: Any) -> tuple[Any | None, bool]:
    """(the ModernBERT backbone or None, whether it runs the blocked attention)."""
    from ..attention import find_modernbert

    backbone = find_modernbert(model)
    return backbone, bool(backbone is not None and getattr(backbone, "_desktop_search_blocked", False))


@contextmanager
def stop_hooks(model: Any, should_stop: Callable[[], bool] | None) -> Iterator[None]:
    """Let a stop end a forward call at its next module: one call on a 32k-token window takes up to a
    minute on a laptop CPU, a layer of it a few seconds. Only this thread's calls check (a query
    encoded meanwhile on another thread is never stopped); the hooks go when encoding ends."""
    if should_stop is None or not hasattr(model, "modules"):
        yield
        return
    owner = threading.get_ident()

    def check(_module: Any, _args: Any) -> None:
        if threading.get_ident() == owner and should_stop():
            raise EncodingStopped()

    handles = [m.register_forward_pre_hook(check) for m in model.modules()]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()
