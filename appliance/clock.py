"""Wall and monotonic time, and how well the wall clock is synchronised.

Every timestamp in roadcam is UTC nanoseconds (``time_ns``) from a :class:`Clock`. Hardware edges
are stamped on the monotonic clock and converted with :meth:`Clock.wall_from_mono`, so a wall
clock step between an edge and its processing cannot bend a measured time.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Protocol

from .events import ClockState


@dataclass(frozen=True)
class ClockStatus:
    """One reading of the clock's discipline. ``offset_ms``: how far the clock is ahead of true
    time as the source measures it (positive: fast), None when it does not say. ``fault``: why
    the source could not be read (then ``synced`` is False and nothing else is known)."""

    source: str
    synced: bool
    error_ms: float | None = None
    offset_ms: float | None = None
    fault: str | None = None

    @property
    def state(self) -> ClockState:
        """What every event's envelope carries: the error bound only for a synced clock."""
        return ClockState(synced=self.synced, error_ms=self.error_ms if self.synced else None)


class StatusSource(Protocol):
    """What a :class:`Clock` reads its status from (the HAL's ``ClockStatusSource``)."""

    def read(self) -> ClockStatus: ...


class Clock:
    """The system clock. Its sync state, error bound and offset come from ``status_source``
    (:class:`roadcam.hal.clock_status.ClockStatusSource`: chrony, the kernel's NTP state or
    timedatectl, as the site's ``clock.source`` says); left out, the ``auto`` choice."""

    def __init__(self, status_source: StatusSource | None = None):
        if status_source is None:  # the HAL's reader, imported only when a real clock is made
            from roadcam.hal.clock_status import ClockStatusSource

            status_source = ClockStatusSource()
        self._status_source = status_source

    def wall_ns(self) -> int:
        return time.time_ns()

    def mono_ns(self) -> int:
        return time.monotonic_ns()

    def wall_from_mono(self, mono_ns: int) -> int:
        """UTC nanoseconds of a moment stamped on the monotonic clock."""
        return self.wall_ns() - (self.mono_ns() - mono_ns)

    def status(self) -> ClockStatus:
        """The latest reading of the clock's discipline, with its source and any fault reading it."""
        return self._status_source.read()

    def state(self) -> ClockState:
        """What every event's envelope carries."""
        return self.status().state

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class ManualClock(Clock):
    """A clock that only moves when told to: the simulator's and the tests'.

    ``advance_to`` / ``advance`` move both wall and monotonic time together; ``sleep`` returns at
    once (simulated time does not wait for real time). Its status is the injected ``synced`` and
    ``error_ms``, or with ``status_source`` what that source reads (simulated time on a real
    chrony or kernel status: the tests of the status readers).
    """

    def __init__(self, start_wall_ns: int, synced: bool = True, error_ms: float = 1.0,
                 status_source: StatusSource | None = None):
        self._lock = threading.Lock()
        self._start_wall_ns = start_wall_ns
        self._mono_ns = 0
        self._state = ClockState(synced=synced, error_ms=error_ms)
        self._status_source = status_source

    def wall_ns(self) -> int:
        with self._lock:
            return self._start_wall_ns + self._mono_ns

    def mono_ns(self) -> int:
        with self._lock:
            return self._mono_ns

    def wall_from_mono(self, mono_ns: int) -> int:
        return self._start_wall_ns + mono_ns

    def advance_to(self, mono_ns: int) -> None:
        with self._lock:
            if mono_ns < self._mono_ns:
                raise ValueError("a clock cannot go back in time")
            self._mono_ns = mono_ns

    def advance(self, seconds: float) -> None:
        self.advance_to(self.mono_ns() + round(seconds * 1e9))

    def state(self) -> ClockState:
        return self._state if self._status_source is None else self._status_source.read().state

    def status(self) -> ClockStatus:
        """The status source's reading, else the injected state as the simulator's reading."""
        if self._status_source is not None:
            return self._status_source.read()
        state = self.state()
        return ClockStatus(source="simulated", synced=state.synced, error_ms=state.error_ms)

    def sleep(self, seconds: float) -> None:
        return None
