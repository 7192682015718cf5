"""A simulated device clock that drifts and steps, for the clock's part of section speed: the
device stamps its edges, frames and events with this clock's wall time, off from the simulated
world's true time by a drift (ppm of elapsed time) and by steps (a clock set by hand, an NTP
step), and reports the sync state its discipline would: synced, with an error bound of its base
error plus the offset it measures against its time sources (chrony's system time offset).
"""

from __future__ import annotations

from collections.abc import Sequence

from roadcam.appliance.clock import ManualClock
from roadcam.appliance.events import ClockState


class DriftingClock(ManualClock):
    """A :class:`ManualClock` whose wall time runs ``drift_ppm`` fast (negative: slow) and jumps
    by each ``(at_s, step_ms)`` of ``steps`` at that many seconds of true time; monotonic time is
    true time. ``synced`` False reports an unsynced clock whatever its offset."""

    def __init__(self, start_wall_ns: int, *, drift_ppm: float = 0.0, steps: Sequence[tuple[float, float]] = (),
                 error_ms: float = 1.0, synced: bool = True):
        super().__init__(start_wall_ns, synced=synced, error_ms=error_ms)
        self.drift_ppm = drift_ppm
        self.steps = sorted((round(at_s * 1e9), round(step_ms * 1e6)) for at_s, step_ms in steps)
        self.base_error_ms = error_ms
        self.synced = synced

    def offset_ns(self, mono_ns: int) -> int:
        """How far the wall clock is ahead of true time at true time ``mono_ns``."""
        return round(mono_ns * self.drift_ppm * 1e-6) + sum(step for at, step in self.steps if at <= mono_ns)

    def wall_ns(self) -> int:
        mono = self.mono_ns()
        return super().wall_from_mono(mono) + self.offset_ns(mono)

    def wall_from_mono(self, mono_ns: int) -> int:
        return super().wall_from_mono(mono_ns) + self.offset_ns(mono_ns)

    def state(self) -> ClockState:
        if not self.synced:
            return ClockState(synced=False, error_ms=None)
        offset_ms = abs(self.offset_ns(self.mono_ns())) / 1e6
        return ClockState(synced=True, error_ms=round(self.base_error_ms + offset_ms, 3))
