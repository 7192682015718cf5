"""Contracts every hardware backend fulfils.

Each abstract class says what a backend *must* implement and what it *may* override. Devices
are context managers and have ``close()``; callbacks carry the event's own timestamp (from
the pin's edge ticks or the camera's capture time), never the time a thread got round to it.

Times: ``*_ns`` are integers in nanoseconds. ``time_ns`` is UTC wall time; ``mono_ns`` is the
monotonic clock of :class:`roadcam.appliance.clock.Clock` that stamped it.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

#: The states a signal head can show. ``dark`` means no lamp lit (failure or switched off).
SIGNAL_STATES = ("red", "amber", "green", "dark")
#: Lamps of a signal head from most to least restrictive: when two are lit, the first wins.
LAMP_COLOURS = ("red", "amber", "green")


@dataclass(frozen=True)
class Frame:
    """One captured image and when it was captured."""

    camera: str
    index: int
    time_ns: int
    mono_ns: int
    image: np.ndarray  # height x width x 3, BGR, uint8

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return self.image.shape[1], self.image.shape[0]


class Device(abc.ABC):
    """Anything that holds a hardware resource. Must implement ``close()``; is a context manager."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the resource. Must be safe to call twice."""

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class Camera(Device):
    """A source of frames.

    Must implement :meth:`open`, :meth:`read` and :meth:`close`, and set ``name``.
    May override :attr:`live` (default True) and :attr:`nominal_fps`.
    """

    name: str

    @abc.abstractmethod
    def open(self) -> None:
        """Connect to the camera. Must raise :class:`roadcam.common.errors.CameraUnavailable` with a
        message naming the camera and the source when it cannot be opened."""

    @abc.abstractmethod
    def read(self) -> Frame | None:
        """Block until the next frame and return it, stamped at capture. Return None when a
        finite source (file, scenario) has ended. Must raise CameraUnavailable when a live
        source stops delivering."""

    @property
    def live(self) -> bool:
        """True for sources that run on their own clock (a real camera): when the analysis is
        slower, old frames are dropped. False for recorded or simulated sources, which wait for
        the analysis instead, so no frame is lost and runs are repeatable."""
        return True

    @property
    def nominal_fps(self) -> float | None:
        """Frames per second the source is set to deliver, when known."""
        return None


class LampInput(Device):
    """The state of one signal head, read from its lamp-sense inputs.

    Must implement :attr:`state` and call ``when_changed(head, state, time_ns)`` on every change,
    with ``time_ns`` taken from the edge itself. Must set ``head``. A backend that senses each
    lamp should override :attr:`lit` and call ``when_lamps_changed(head, lit, time_ns)`` on every
    lamp edge, so that two lamps lit at once (which :attr:`state` hides) can be seen.
    """

    head: str
    when_changed: Callable[[str, str, int], None] | None = None
    when_lamps_changed: Callable[[str, tuple[str, ...], int], None] | None = None

    @property
    @abc.abstractmethod
    def state(self) -> str:
        """One of :data:`SIGNAL_STATES`."""

    @property
    def lit(self) -> tuple[str, ...]:
        """The lamps lit now, most restrictive first; by default the lamp :attr:`state` names."""
        state = self.state
        return () if state == "dark" else (state,)


class LoopInput(Device):
    """One induction loop (or a virtual one): occupied or free.

    Must implement :attr:`occupied` and call ``when_changed(loop, occupied, time_ns)`` on every
    edge, stamped from the pin's edge ticks (sub-millisecond), never from a poll. Must set
    ``name``.
    """

    name: str
    when_changed: Callable[[str, bool, int], None] | None = None

    @property
    @abc.abstractmethod
    def occupied(self) -> bool:
        """True while a vehicle is over the loop."""


class Output(Device):
    """A digital output (flash trigger, relay, status lamp).

    Must implement :meth:`on`, :meth:`off` and :attr:`is_active`. May override :meth:`pulse`.
    """

    name: str

    @abc.abstractmethod
    def on(self) -> None:
        """Drive the output active."""

    @abc.abstractmethod
    def off(self) -> None:
        """Drive the output inactive."""

    @property
    @abc.abstractmethod
    def is_active(self) -> bool:
        """True while driven active."""

    def pulse(self, duration_s: float) -> None:
        """Drive active for ``duration_s`` seconds, then inactive. Blocks for the duration."""
        import time

        self.on()
        try:
            time.sleep(duration_s)
        finally:
            self.off()


class SerialLink(Device):
    """A byte link to a device on a serial port (signal controller, radar, loop detector card).

    Must implement :meth:`write`, :meth:`read_line` and :meth:`close`, and set ``name``.
    """

    name: str

    @abc.abstractmethod
    def write(self, data: bytes) -> None:
        """Send bytes; must raise :class:`roadcam.common.errors.HardwareError` when the port is gone."""

    @abc.abstractmethod
    def read_line(self, timeout_s: float) -> bytes | None:
        """Return the next line (without its terminator), or None when none came in time."""
