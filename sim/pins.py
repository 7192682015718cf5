"""gpiozero pins driven by the simulated road, stamped with simulated time.

:class:`SimPinFactory` is a real gpiozero mock factory, so the appliance's gpiozero devices
(``DigitalInputDevice`` and friends) work on it unchanged. Its :meth:`~SimPinFactory.ticks`
is the simulation's monotonic clock in seconds, and every edge is stamped with that clock at
the moment the simulator drives it, which it sets to the edge's exact time first.
"""

from __future__ import annotations

from gpiozero.pins.mock import MockFactory, MockPin, PinState

from roadcam.appliance.clock import ManualClock


class SimPin(MockPin):
    """A mock input pin whose level an external driver (the simulated detector or lamp) holds.

    A line held by a driver ignores its pull resistor: configuring a pull-up on a loop input
    does not lift a line the detector holds low.
    """

    def __init__(self, factory, info):
        self._held_level: bool | None = None
        super().__init__(factory, info)

    def drive(self, level: bool) -> None:
        """Hold the line at ``level`` from now on (firing ``when_changed`` on a change)."""
        self._held_level = bool(level)
        if level:
            self.drive_high()
        else:
            self.drive_low()

    def _change_state(self, value):
        if self._held_level is not None and bool(value) != self._held_level:
            return False
        if self._state != value:
            now = self.factory.ticks()
            self._state = value
            self.states.append(PinState(now - self._last_change, value))
            self._last_change = now
            return True
        return False

    def clear_states(self):
        self._last_change = self.factory.ticks()
        self.states = [PinState(0.0, self._state)]


class SimPinFactory(MockFactory):
    """gpiozero pin factory on simulated time: ``ticks()`` is the clock's monotonic seconds."""

    def __init__(self, clock: ManualClock, revision: str | None = None):
        self.clock = clock
        super().__init__(revision=revision, pin_class=SimPin)

    def ticks(self) -> float:
        return self.clock.mono_ns() / 1e9

    @staticmethod
    def ticks_diff(later: float, earlier: float) -> float:
        return later - earlier

    def drive(self, pin: str, level: bool) -> None:
        """Hold input ``pin`` (e.g. "GPIO5") at ``level`` now."""
        self.pin(pin).drive(level)
