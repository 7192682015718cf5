"""Active faults: each is raised once, and cleared once, as events.

A fault never stops the appliance. Raising a fault that is already active does nothing, so a
camera that keeps failing produces one ``fault.raised``, not one per retry.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from .events import EventDraft

log = logging.getLogger("roadcam.faults")


@dataclass(frozen=True)
class Fault:
    """One active fault. ``code`` is stable (``camera.unavailable``); ``component`` names the
    part at fault (a camera, a loop, a plugin hook); ``message`` says what to fix."""

    code: str
    component: str
    message: str
    since_ns: int

    @property
    def key(self) -> tuple[str, str]:
        return self.code, self.component


class FaultBoard:
    """The set of active faults. Returns the event drafts to store for each change."""

    def __init__(self):
        self._lock = threading.Lock()
        self._active: dict[tuple[str, str], Fault] = {}

    def raise_fault(self, code: str, component: str, message: str, time_ns: int) -> list[EventDraft]:
        fault = Fault(code, component, message, time_ns)
        with self._lock:
            if fault.key in self._active:
                return []
            self._active[fault.key] = fault
        log.error("fault %s [%s]: %s", code, component, message)
        return [EventDraft("fault.raised", {"code": code, "component": component, "message": message}, time_ns)]

    def clear_fault(self, code: str, component: str, time_ns: int) -> list[EventDraft]:
        with self._lock:
            fault = self._active.pop((code, component), None)
        if fault is None:
            return []
        log.warning("fault cleared %s [%s]", code, component)
        duration_s = round((time_ns - fault.since_ns) / 1e9, 3)
        return [EventDraft("fault.cleared", {"code": code, "component": component, "duration_s": duration_s}, time_ns)]

    def active(self) -> list[Fault]:
        with self._lock:
            return list(self._active.values())
