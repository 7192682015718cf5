"""Active faults: each is raised once, and cleared once, as events; and a log of losses whose
lines come at a bounded rate.

A fault never stops the appliance. Raising a fault that is already active does nothing, so a
camera that keeps failing produces one ``fault.raised``, not one per retry.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from roadcam.protocol.events import iso_utc

from .events import EventDraft

log = logging.getLogger("roadcam.faults")


#: Fault severities, most urgent first: ``critical`` (the site is blind or cannot report),
#: ``major`` (evidence is degraded), ``minor`` (worth a look at the next visit).
SEVERITIES = ("critical", "major", "minor")


@dataclass
class Fault:
    """One active fault. ``code`` is stable (``camera.unavailable``); ``component`` names the
    part at fault (a camera, a loop, a plugin hook); ``message`` says what to fix. Its ``id``
    (``code:component``) is stable across raises, restarts and devices' reports;
    ``since_ns`` is when it was first seen, ``last_seen_ns`` the latest raise while active."""

    code: str
    component: str
    message: str
    since_ns: int
    severity: str = "major"
    last_seen_ns: int = 0

    @property
    def key(self) -> tuple[str, str]:
        return self.code, self.component

    @property
    def id(self) -> str:
        return f"{self.code}:{self.component}"


class FaultBoard:
    """The set of active faults. Returns the event drafts to store for each change."""

    def __init__(self):
        self._lock = threading.Lock()
        self._active: dict[tuple[str, str], Fault] = {}

    def raise_fault(self, code: str, component: str, message: str, time_ns: int,
                    severity: str = "major") -> list[EventDraft]:
        """The ``fault.raised`` draft for a new fault; none when it is already active (its
        last-seen time moves on)."""
        if severity not in SEVERITIES:
            raise ValueError(f"fault severity {severity!r} is not one of {', '.join(SEVERITIES)}")
        fault = Fault(code, component, message, time_ns, severity, time_ns)
        with self._lock:
            active = self._active.get(fault.key)
            if active is not None:
                active.last_seen_ns = max(active.last_seen_ns, time_ns)
                return []
            self._active[fault.key] = fault
        log.error("fault %s [%s]: %s", code, component, message)
        return [EventDraft("fault.raised", {"code": code, "component": component, "message": message,
                                            "id": fault.id, "severity": severity,
                                            "first_seen": iso_utc(time_ns)}, time_ns)]

    def clear_fault(self, code: str, component: str, time_ns: int) -> list[EventDraft]:
        """The ``fault.cleared`` draft for an active fault; none when it is not active."""
        with self._lock:
            fault = self._active.pop((code, component), None)
        if fault is None:
            return []
        log.warning("fault cleared %s [%s]", code, component)
        duration_s = round((time_ns - fault.since_ns) / 1e9, 3)
        return [EventDraft("fault.cleared", {"code": code, "component": component, "duration_s": duration_s,
                                             "id": fault.id, "severity": fault.severity,
                                             "first_seen": iso_utc(fault.since_ns),
                                             "last_seen": iso_utc(fault.last_seen_ns)}, time_ns)]

    def active(self) -> list[Fault]:
        with self._lock:
            return list(self._active.values())

    def summary(self) -> dict:
        """The active faults as the retained health summary gives them: ``faults`` (their ids),
        ``severities`` (id -> severity) and ``worst_severity`` (None when nothing is active), so
        whoever reads only the retained topic can rank a device by urgency."""
        active = sorted(self.active(), key=lambda fault: fault.id)
        worst = min((SEVERITIES.index(fault.severity) for fault in active), default=None)
        return {"faults": [fault.id for fault in active],
                "severities": {fault.id: fault.severity for fault in active},
                "worst_severity": None if worst is None else SEVERITIES[worst]}


class LossLog:
    """Logs things lost (events the store refused) at a bounded rate.

    A store that stays full refuses every frame's events; one line each would flood the
    journal and bury everything else. The first loss is logged at once, later ones at most once
    per ``interval_s`` as one line with the number lost since the previous line, and
    :meth:`recovered` logs what was lost since the last line when writes succeed again.
    """

    def __init__(self, logger: logging.Logger, interval_s: float):
        self._logger = logger
        self._interval_s = interval_s
        self._lock = threading.Lock()
        self._unlogged = 0
        self._next_line_s = float("-inf")

    def lost(self, count: int, reason: str) -> None:
        """``count`` events were not stored because of ``reason``."""
        with self._lock:
            self._unlogged += count
            now_s = time.monotonic()
            if now_s < self._next_line_s:
                return
            count, self._unlogged = self._unlogged, 0
            self._next_line_s = now_s + self._interval_s
        self._logger.error("%d event(s) not stored: %s (at most one such line per %g s)",
                           count, reason, self._interval_s)

    def recovered(self) -> None:
        """Writes succeed again: log the losses not logged yet, if any."""
        with self._lock:
            count, self._unlogged = self._unlogged, 0
            self._next_line_s = float("-inf")
        if count:
            self._logger.error("%d more event(s) were not stored before the store took writes again", count)
