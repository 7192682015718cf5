"""Wall and monotonic time, and how well the wall clock is synchronised.

Every timestamp in roadcam is UTC nanoseconds (``time_ns``) from a :class:`Clock`. Hardware edges
are stamped on the monotonic clock and converted with :meth:`Clock.wall_from_mono`, so a wall
clock step between an edge and its processing cannot bend a measured time.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
import time

from .events import ClockState


class Clock:
    """The system clock. Sync state comes from the kernel's NTP state (``ntp_adjtime``), which
    chrony, ntpd and gpsd-fed chrony all keep up to date."""

    def wall_ns(self) -> int:
        return time.time_ns()

    def mono_ns(self) -> int:
        return time.monotonic_ns()

    def wall_from_mono(self, mono_ns: int) -> int:
        """UTC nanoseconds of a moment stamped on the monotonic clock."""
        return self.wall_ns() - (self.mono_ns() - mono_ns)

    def state(self) -> ClockState:
        return _kernel_clock_state()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class ManualClock(Clock):
    """A clock that only moves when told to: the simulator's and the tests'.

    ``advance_to`` / ``advance`` move both wall and monotonic time together; ``sleep`` returns at
    once (simulated time does not wait for real time).
    """

    def __init__(self, start_wall_ns: int, synced: bool = True, error_ms: float = 1.0):
        self._lock = threading.Lock()
        self._start_wall_ns = start_wall_ns
        self._mono_ns = 0
        self._state = ClockState(synced=synced, error_ms=error_ms)

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
        return self._state

    def sleep(self, seconds: float) -> None:
        return None


class _Timex(ctypes.Structure):
    # struct timex from <sys/timex.h> (Linux, 64-bit): only the leading fields are read.
    _fields_ = [
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("constant", ctypes.c_long),
        ("precision", ctypes.c_long),
        ("tolerance", ctypes.c_long),
        ("time_sec", ctypes.c_long),
        ("time_usec", ctypes.c_long),
        ("tick", ctypes.c_long),
        ("_rest", ctypes.c_byte * 200),
    ]


_TIME_ERROR = 5  # ntp_adjtime's return value when the clock is not synchronised


def _kernel_clock_state() -> ClockState:
    """Read the kernel's NTP discipline state; unsynced when it cannot be read."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        timex = _Timex()
        result = libc.ntp_adjtime(ctypes.byref(timex))
    except (OSError, AttributeError):
        return ClockState(synced=False, error_ms=None)
    if result < 0 or result == _TIME_ERROR:
        return ClockState(synced=False, error_ms=None)
    return ClockState(synced=True, error_ms=timex.maxerror / 1000.0)
