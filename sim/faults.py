"""Fault injection for the simulator: a camera whose frames are spoiled between two moments, and
input pins (lamp sense, loop detectors) held at a wrong level, as failing equipment on a pole
would. It lives with the simulator (the HAL stays clean); a test or a bench hands the camera to
``Hardware(sim_cameras=...)`` and the pin factory to ``Hardware(pin_factory=...)``.

Camera faults: :class:`FaultyCamera` with :class:`CameraFault` entries.

Kinds (``CameraFault.kind``):

- ``freeze``: the last good frame again and again (the image stops; time stamps go on);
- ``black``: an all-black image (lens covered, sensor dead);
- ``washed_out``: a nearly white, flat image (exposure stuck, glare);
- ``blur``: a strong Gaussian blur (``strength``: sigma in pixels at 1920 wide; defocus, fogged window);
- ``moved``: the view turned (shifted by ``strength`` × image width and slightly rotated);
- ``blocked``: the top ``strength`` share of the view covered by a flat object;
- ``drop``: only one frame in ``every`` delivered (the others lost; frame rate falls);
- ``no_frames``: nothing delivered at all;
- ``ir_off``: the night scene without the camera's IR illuminator, street light only (the
  image times ``strength``, 0.3 unless given).

Pin faults: :class:`FaultyPinFactory` with :class:`PinFault` entries (:func:`lamp_conflict`,
:func:`lamp_out`, :func:`lamps_dark`, :func:`loop_stuck` build them from the scenario's heads and
loops). A held pin changes at the fault's start and end at the first frame step after them.

Box faults: :func:`fill_disk` (a real file filling the store's disk). A drifting or stepped
clock, or one that loses its time source, is :class:`roadcam.sim.clocks.DriftingClock`; a broker
that goes down is a real Mosquitto stopped (``roadcam.collector.local_broker.Broker.kill``).

Times are seconds of the scenario from its first frame.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from roadcam.hal.base import Camera, Frame

from .pins import SimPinFactory
from .road import SimRoad
from .scenario import Scenario

FaultKind = Literal["freeze", "black", "washed_out", "blur", "moved", "blocked", "drop", "no_frames", "ir_off"]


@dataclass(frozen=True)
class CameraFault:
    """One injected fault: ``kind`` from ``start_s`` to ``end_s`` (scenario seconds)."""

    kind: FaultKind
    start_s: float
    end_s: float
    strength: float = 0.0   # blur sigma (px at 1920 wide), moved shift (share of width), blocked share, ir_off
    every: int = 2          # drop: deliver one frame in this many

    def active(self, t_s: float) -> bool:
        return self.start_s <= t_s < self.end_s


class FaultyCamera(Camera):
    """Wraps ``camera`` (whose frames carry scenario time from ``start_ns``) and applies the
    ``faults`` active at each frame's time; with ``pins``, steps their faults at every frame."""

    def __init__(self, camera: Camera, faults: list[CameraFault], start_ns: int, fps: float,
                 pins: FaultyPinFactory | None = None):
        self.name = camera.name
        self._camera = camera
        self._pins = pins
        self._faults = list(faults)
        self._start_ns = start_ns
        self._fps = fps
        self._last_good: Frame | None = None
        self._frozen_image: np.ndarray | None = None

    def open(self) -> None:
        self._camera.open()

    def close(self) -> None:
        self._camera.close()

    @property
    def live(self) -> bool:
        return self._camera.live

    @property
    def nominal_fps(self) -> float:
        return self._fps

    def read(self) -> Frame | None:
        while True:
            frame = self._camera.read()
            if frame is None:
                return None
            if self._pins is not None:
                self._pins.update()
            t_s = (frame.time_ns - self._start_ns) / 1e9
            active = [f for f in self._faults if f.active(t_s)]
            if any(f.kind == "no_frames" for f in active):
                continue
            if any(f.kind == "drop" and frame.index % max(1, f.every) for f in active):
                continue
            return self._spoil(frame, active)

    def _spoil(self, frame: Frame, active: list[CameraFault]) -> Frame:
        image = frame.image
        if not any(f.kind == "freeze" for f in active):
            self._frozen_image = None
        for fault in active:
            if fault.kind == "freeze":
                if self._frozen_image is None:
                    self._frozen_image = image
                image = self._frozen_image
            elif fault.kind == "black":
                image = np.zeros_like(image)
            elif fault.kind == "washed_out":
                image = np.full_like(image, 250)
            elif fault.kind == "blur":
                image = blurred(image, fault.strength or 8.0)
            elif fault.kind == "moved":
                image = moved(image, fault.strength or 0.08)
            elif fault.kind == "ir_off":
                image = (image * (fault.strength or 0.3)).astype(np.uint8)
            elif fault.kind == "blocked":
                image = image.copy()
                image[: int(image.shape[0] * (fault.strength or 0.6))] = 90
        return replace(frame, image=image)


def blurred(image: np.ndarray, sigma_px: float) -> np.ndarray:
    """A defocused copy: Gaussian blur of ``sigma_px`` at 1920 wide (done at a quarter size, fast)."""
    height, width = image.shape[:2]
    small = cv2.resize(image, (width // 4, height // 4), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma_px * width / 1920 / 4)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def moved(image: np.ndarray, shift: float) -> np.ndarray:
    """The view turned: shifted by ``shift`` × width to the side, a quarter of that down, and
    rotated 2 degrees (the edges filled by replication, as a wider scene would)."""
    height, width = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), 2.0, 1.0)
    matrix[0, 2] += shift * width
    matrix[1, 2] += shift * width / 4
    return cv2.warpAffine(image, matrix, (width, height), borderMode=cv2.BORDER_REPLICATE)


@dataclass(frozen=True)
class PinFault:
    """Input ``pin`` held at ``level`` from ``start_s`` to ``end_s`` (scenario seconds), whatever
    the simulated world drives it to."""

    pin: str
    level: bool
    start_s: float
    end_s: float

    def active(self, t_s: float) -> bool:
        return self.start_s <= t_s < self.end_s


def lamp_conflict(scenario: Scenario, head: str, start_s: float, end_s: float) -> list[PinFault]:
    """The head's green lamp lit throughout (so red and green show together in its red phase)."""
    return [PinFault(_head_pins(scenario, head).green, True, start_s, end_s)]


def lamp_out(scenario: Scenario, head: str, colour: str, start_s: float, end_s: float) -> list[PinFault]:
    """One lamp of the head never lit (burnt out, dead sense input)."""
    return [PinFault(getattr(_head_pins(scenario, head), colour), False, start_s, end_s)]


def lamps_dark(scenario: Scenario, head: str, start_s: float, end_s: float) -> list[PinFault]:
    """Every lamp of the head off (signal switched off, sense cable cut)."""
    pins = _head_pins(scenario, head)
    return [PinFault(pin, False, start_s, end_s) for pin in (pins.red, pins.amber, pins.green)]


def loop_stuck(scenario: Scenario, loop: str, occupied: bool, start_s: float, end_s: float) -> list[PinFault]:
    """The loop detector's output stuck at occupied (stuck on) or free (stuck off)."""
    spec = next((spec for spec in scenario.loops if spec.name == loop), None)
    if spec is None:
        raise ValueError(f"scenario {scenario.name!r} has no loop {loop!r}")
    return [PinFault(spec.pin, occupied == spec.active_high, start_s, end_s)]


def _head_pins(scenario: Scenario, head: str):
    spec = next((spec for spec in scenario.signals.heads if spec.name == head), None)
    if spec is None or spec.pins is None:
        raise ValueError(f"scenario {scenario.name!r} has no signal head {head!r} with lamp pins")
    return spec.pins


class FaultyPinFactory(SimPinFactory):
    """The simulated road's pin factory with some input pins held at fault levels.

    :meth:`install` puts it in place of a :class:`~roadcam.sim.road.SimRoad`'s factory (before
    the hardware opens any pin). Every level the world drives is remembered; while a fault is
    active its pin shows the fault's level instead. :meth:`update` (called at every frame step,
    by :class:`FaultyCamera` or the test stepping the road) starts and ends faults on time.
    """

    def __init__(self, road: SimRoad, faults: list[PinFault]):
        super().__init__(road.clock)
        self._faults = list(faults)
        self._true_levels: dict[str, bool] = {}
        for pin, level in road.world.pin_levels().items():
            self.drive(pin, level)

    @classmethod
    def install(cls, road: SimRoad, faults: list[PinFault]) -> FaultyPinFactory:
        road.pin_factory = factory = cls(road, faults)
        return factory

    def drive(self, pin: str, level: bool) -> None:
        self._true_levels[pin] = bool(level)
        super().drive(pin, self._level(pin))

    def update(self) -> None:
        """Show each faulted pin at its level for now (the fault's, or the world's again)."""
        for pin in {fault.pin for fault in self._faults}:
            if pin in self._true_levels:
                super().drive(pin, self._level(pin))

    def _level(self, pin: str) -> bool:
        t_s = self.clock.mono_ns() / 1e9
        held = [fault.level for fault in self._faults if fault.pin == pin and fault.active(t_s)]
        return held[-1] if held else self._true_levels[pin]


def fill_disk(directory: Path, megabytes: int) -> Path:
    """Write a real ``megabytes`` MiB file (not sparse, flushed to disk) into ``directory`` and
    return its path; delete it to end the fault."""
    path = Path(directory) / "disk-filler.bin"
    block = os.urandom(1024 * 1024)
    with path.open("wb") as file:
        for _ in range(megabytes):
            file.write(block)
        file.flush()
        os.fsync(file.fileno())
    return path
