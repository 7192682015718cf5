"""gpiozero backends: induction loops, signal-head lamp sense and digital outputs on GPIO pins.

Every device is given its gpiozero pin factory explicitly (``pin_factory=``); gpiozero's global
``Device.pin_factory`` is never read or set, so two sites (or a test and a simulator) can run
side by side in one process.

Edges are stamped from the pin's own edge ticks (the ``ticks`` gpiozero's pin passes to its
``when_changed`` callback), never from a poll or from the time the callback thread ran: a loop
detector's edge must be placed to well under a millisecond for spot speeds.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from importlib.metadata import entry_points

from gpiozero import DigitalOutputDevice, InputDevice
from gpiozero.exc import GPIOZeroError
from gpiozero.pins import Factory

from roadcam.appliance.clock import Clock
from roadcam.common.errors import BackendNotFound, HardwareError

from .base import LAMP_COLOURS, SIGNAL_STATES, LampInput, LoopInput, Output

#: What each gpiozero pin factory needs, for error messages.
PIN_FACTORY_NEEDS = {
    "lgpio": "the lgpio package (Raspberry Pi OS: pip install 'roadcam[pi]')",
    "rpigpio": "the RPi.GPIO package (pip install 'roadcam[pi]' installs rpi-lgpio, which provides it)",
    "pigpio": "the pigpio package and a running pigpiod daemon (sudo systemctl start pigpiod)",
    "native": "a Raspberry Pi (it drives /dev/gpiomem directly)",
    "mock": "nothing (simulated pins for a bench without hardware)",
}


def make_pin_factory(name: str) -> Factory:
    """A new gpiozero pin factory by name (lgpio, rpigpio, pigpio, native, mock).

    Raises :class:`BackendNotFound` naming the factory and what it needs when it is unknown, its
    library is not installed, or it cannot start on this machine (not a Pi, daemon not running).
    """
    factories = entry_points(group="gpiozero_pin_factories")
    if name not in factories.names:
        raise BackendNotFound(
            f"unknown pin factory {name!r} (gpio.pin_factory): choose one of "
            f"{', '.join(sorted(factories.names))}")
    needs = PIN_FACTORY_NEEDS.get(name, "its library")
    try:
        factory_class = factories[name].load()
    except ImportError as exc:
        raise BackendNotFound(
            f"pin factory {name!r} needs {needs}, which is not installed ({exc}); "
            f"on a bench without GPIO use gpio.pin_factory: mock") from exc
    try:
        return factory_class()
    except Exception as exc:  # each library fails its own way when the hardware is absent
        raise BackendNotFound(
            f"pin factory {name!r} could not start: {exc}. It needs {needs}; "
            f"on a bench without GPIO use gpio.pin_factory: mock") from exc


class EdgeClock:
    """Turns a pin factory's edge ticks into roadcam time.

    Ticks are opaque and only comparable through ``factory.ticks_diff``; some wrap (pigpio's are
    32-bit microseconds and wrap every 71.6 minutes) and some run on their own oscillator. So each
    edge is placed by its age: how long before *now* it happened, measured in ticks, subtracted
    from the clock's monotonic *now* read at the same moment. The age is the callback latency (a
    few milliseconds at most), which keeps wrap and oscillator drift out of the result.
    """

    def __init__(self, pin_factory: Factory, clock: Clock):
        self._factory = pin_factory
        self._clock = clock

    def stamp(self, edge_ticks) -> tuple[int, int]:
        """(mono_ns, time_ns) of the edge that happened at ``edge_ticks``."""
        now_ticks = self._factory.ticks()
        now_mono_ns = self._clock.mono_ns()
        age_s = self._factory.ticks_diff(now_ticks, edge_ticks)
        mono_ns = now_mono_ns - round(age_s * 1e9)
        return mono_ns, self._clock.wall_from_mono(mono_ns)


def _open_input(label: str, pin: str, active_high: bool, pin_factory: Factory) -> InputDevice:
    """An input on ``pin`` with edge events on both edges, pulled towards its inactive level.

    An active-low input (open-collector loop detector) gets the pull-up it needs; an active-high
    one a pull-down, so an unconnected input reads inactive.
    """
    device = None
    try:
        device = InputDevice(pin, pull_up=not active_high, pin_factory=pin_factory)
        device.pin.edges = "both"
    except GPIOZeroError as exc:
        if device is not None:
            device.close()
        raise HardwareError(
            f"{label} on pin {pin}: {exc}: check the pin name in the config and that no other "
            f"device or program uses that pin") from exc
    return device


class GpioLoop(LoopInput):
    """One induction loop detector output on a GPIO pin.

    ``when_changed(loop, occupied, time_ns)`` is called from gpiozero's callback thread on every
    change, stamped from the edge. ``active_high=False`` (the default) suits the usual
    open-collector detector output, pulled low while a vehicle is over the loop.
    """

    def __init__(self, name: str, pin: str, *, pin_factory: Factory, clock: Clock,
                 active_high: bool = False):
        self.name = name
        self.when_changed: Callable[[str, bool, int], None] | None = None
        self._active_high = active_high
        self._edge_clock = EdgeClock(pin_factory, clock)
        self._changed = threading.Condition()
        self._device = _open_input(f"loop {name!r}", pin, active_high, pin_factory)
        self._occupied = bool(self._device.is_active)
        self._device.pin.when_changed = self._pin_changed

    @property
    def occupied(self) -> bool:
        with self._changed:
            return self._occupied

    def wait_for_occupied(self, timeout_s: float | None = None) -> bool:
        """Block until a vehicle is over the loop; False if ``timeout_s`` passed first."""
        return self._wait_until(True, timeout_s)

    def wait_for_free(self, timeout_s: float | None = None) -> bool:
        """Block until the loop is free; False if ``timeout_s`` passed first."""
        return self._wait_until(False, timeout_s)

    def close(self) -> None:
        self._device.close()

    def _wait_until(self, occupied: bool, timeout_s: float | None) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self._occupied == occupied, timeout_s)

    def _pin_changed(self, ticks, level) -> None:
        _, time_ns = self._edge_clock.stamp(ticks)
        occupied = bool(level) == self._active_high
        with self._changed:
            if occupied == self._occupied:
                return
            self._occupied = occupied
            self._changed.notify_all()
        callback = self.when_changed
        if callback is not None:
            callback(self.name, occupied, time_ns)


class _LampSense:
    """One lamp-sense input of a signal head; hands its edges to the head with its colour.

    gpiozero keeps only a weak reference to a pin's ``when_changed``, so each pin needs a bound
    method of an object that lives as long as the head: this one.
    """

    def __init__(self, colour: str, device: InputDevice, active_high: bool,
                 on_edge: Callable[[str, object, bool], None]):
        self.colour = colour
        self.device = device
        self._active_high = active_high
        self._on_edge = on_edge
        device.pin.when_changed = self._pin_changed

    def _pin_changed(self, ticks, level) -> None:
        self._on_edge(self.colour, ticks, bool(level) == self._active_high)


def _head_state(lit: dict[str, bool]) -> str:
    """The state a head shows given which lamps are lit: the most restrictive lit lamp, or dark."""
    return next((colour for colour in LAMP_COLOURS if lit[colour]), "dark")


class GpioSignalHead(LampInput):
    """A signal head sensed by three GPIO inputs, one per lamp (red, amber, green).

    ``state`` is the lit lamp, or ``dark`` when none is lit. When two lamps are lit at once (a
    controller fault or a sensing fault) the head reports the most restrictive one and
    ``conflict`` is True. ``when_changed(head, state, time_ns)`` is called on every change of
    state, and ``when_lamps_changed(head, lit, time_ns)`` on every lamp edge, each stamped from
    the edge that caused it.
    """

    def __init__(self, head: str, *, red: str, amber: str, green: str, pin_factory: Factory,
                 clock: Clock, active_high: bool = True):
        self.head = head
        self.when_changed: Callable[[str, str, int], None] | None = None
        self._edge_clock = EdgeClock(pin_factory, clock)
        self._changed = threading.Condition()
        devices: dict[str, InputDevice] = {}
        try:
            for colour, pin in zip(LAMP_COLOURS, (red, amber, green)):
                devices[colour] = _open_input(f"signal head {head!r} {colour} sense", pin,
                                              active_high, pin_factory)
        except HardwareError:
            for device in devices.values():
                device.close()
            raise
        self._lit = {colour: bool(device.is_active) for colour, device in devices.items()}
        self._state = _head_state(self._lit)
        self._lamps = [_LampSense(colour, device, active_high, self._lamp_changed)
                       for colour, device in devices.items()]

    @property
    def state(self) -> str:
        with self._changed:
            return self._state

    @property
    def lit(self) -> tuple[str, ...]:
        with self._changed:
            return tuple(colour for colour in LAMP_COLOURS if self._lit[colour])

    @property
    def conflict(self) -> bool:
        """True while more than one lamp is lit."""
        with self._changed:
            return sum(self._lit.values()) > 1

    def wait_for_state(self, state: str, timeout_s: float | None = None) -> bool:
        """Block until the head shows ``state`` (red, amber, green, dark); False on timeout."""
        if state not in SIGNAL_STATES:
            raise ValueError(f"unknown signal state {state!r}: use one of {', '.join(SIGNAL_STATES)}")
        with self._changed:
            return self._changed.wait_for(lambda: self._state == state, timeout_s)

    def close(self) -> None:
        for lamp in self._lamps:
            lamp.device.close()

    def _lamp_changed(self, colour: str, ticks, lit: bool) -> None:
        _, time_ns = self._edge_clock.stamp(ticks)
        with self._changed:
            self._lit[colour] = lit
            lamps = tuple(c for c in LAMP_COLOURS if self._lit[c])
            state = _head_state(self._lit)
            changed = state != self._state
            if changed:
                self._state = state
                self._changed.notify_all()
        lamps_callback = self.when_lamps_changed
        if lamps_callback is not None:
            lamps_callback(self.head, lamps, time_ns)
        callback = self.when_changed
        if changed and callback is not None:
            callback(self.head, state, time_ns)


class GpioOutput(Output):
    """A digital output (flash trigger, relay, status lamp) on a GPIO pin; starts inactive."""

    def __init__(self, name: str, pin: str, *, pin_factory: Factory, active_high: bool = True):
        self.name = name
        try:
            self._device = DigitalOutputDevice(pin, active_high=active_high, initial_value=False,
                                               pin_factory=pin_factory)
        except GPIOZeroError as exc:
            raise HardwareError(
                f"output {name!r} on pin {pin}: {exc}: check the pin name in the config and "
                f"that no other device or program uses that pin") from exc

    def on(self) -> None:
        self._device.on()

    def off(self) -> None:
        self._device.off()

    @property
    def is_active(self) -> bool:
        return bool(self._device.is_active)

    def close(self) -> None:
        self._device.close()
