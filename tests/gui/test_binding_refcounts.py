"""The Qt binding must not drop references to None/True/False (PySide6 6.12.0 did, on Python 3.11).

On Python 3.11 these singletons are ordinary objects: a binding that releases a reference it never took
on every void call or ``emit`` brings their count to zero after some minutes of use, and the window
dies with "Fatal Python error: none_dealloc". Python 3.12+ makes them immortal, which hides the bug.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, Qt, Signal
from PySide6.QtWidgets import QLineEdit


def drift(fn: Callable[[], Any], n: int = 500) -> dict[str, float]:
    fn()
    before = {name: sys.getrefcount(obj) for name, obj in (("None", None), ("True", True), ("False", False))}
    for _ in range(n):
        fn()
    return {name: (sys.getrefcount(obj) - before[name]) / n
            for name, obj in (("None", None), ("True", True), ("False", False))}


class _Emitter(QObject):
    value = Signal(object)


class _Model(QAbstractListModel):
    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 1

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        return None


def test_void_calls_emits_and_model_data_keep_singleton_references(qtbot: Any) -> None:
    field = QLineEdit()
    qtbot.addWidget(field)
    emitter = _Emitter()
    emitter.value.connect(lambda _: None)
    model = _Model()
    checks = {
        "void method": lambda: field.setMaxLength(10),
        "emit": lambda: emitter.value.emit(1),
        "model data() returning None": lambda: model.index(0).data(Qt.ItemDataRole.UserRole),
    }
    drifts = {name: drift(fn) for name, fn in checks.items()}
    leaks = {name: d for name, d in drifts.items() if any(abs(v) >= 0.5 for v in d.values())}
    assert not leaks, f"the Qt binding mishandles singleton references: {leaks}"
