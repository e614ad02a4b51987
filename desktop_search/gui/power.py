"""Pausing indexing while the computer runs on battery, and resuming it on mains power.

The power state comes from ``psutil.sensors_battery()``: one call that works on Linux (sysfs),
Windows (GetSystemPowerStatus) and macOS (IOKit). Qt has no power API and reading
``/sys/class/power_supply`` would cover Linux only. The state is polled (every 30 s) because no
portable change notification exists; reading it costs well under a millisecond.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

POLL_MS = 30_000


def on_battery() -> bool | None:
    """True on battery, False on mains power, None when unknown or there is no battery."""
    try:
        import psutil

        battery = psutil.sensors_battery()
    except Exception:  # no sensor support on this platform, or it failed: behave as if plugged in
        return None
    if battery is None or battery.power_plugged is None:
        return None
    return not battery.power_plugged


class BatteryGuard(QObject):
    """Pauses an :class:`IndexController` when the power goes to battery; resumes it on mains power.

    Only a pause it made itself is undone: if the person resumes by hand while on battery, indexing goes
    on until the next switch to battery. ``changed`` tells the window to update its status line.
    """

    changed = Signal(bool)  # paused because of the battery

    def __init__(self, indexer: Any, enabled: bool = False, probe: Callable[[], bool | None] = on_battery,
                 interval_ms: int = POLL_MS, parent: QObject | None = None):
        super().__init__(parent)
        self.indexer = indexer
        self.probe = probe
        self.enabled = False
        self.paused_by_battery = False
        self.last_state: bool | None = None
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.poll)
        indexer.paused_changed.connect(self._on_paused_changed)
        self.set_enabled(enabled)

    def set_enabled(self, enabled: bool) -> None:
        self.enabled = enabled
        if enabled:
            self.last_state = None  # act on the current state at once
            self.timer.start()
            self.poll()
        else:
            self.timer.stop()
            self._release()

    def poll(self) -> None:
        if not self.enabled:
            return
        battery = bool(self.probe())  # unknown counts as mains power
        if battery and self.last_state is not True and not self.indexer.paused:
            self.paused_by_battery = True
            self.indexer.pause()
            self.changed.emit(True)
        elif not battery:
            self._release()
        self.last_state = battery

    def _release(self) -> None:
        if self.paused_by_battery:
            self.paused_by_battery = False
            self.indexer.resume()
            self.changed.emit(False)

    def _on_paused_changed(self, paused: bool) -> None:
        if not paused and self.paused_by_battery:  # resumed by hand (or cancelled): respect it
            self.paused_by_battery = False
            self.changed.emit(False)
