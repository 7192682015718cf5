"""Vehicle classes (size, driving dynamics, body shape) and the state of one vehicle.

Body shapes are a few boxes in the vehicle's own frame: u along its length from the rear
(0) to the front (length), v across it (positive to its left), z up. The renderer projects
them; the world only needs the footprint.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .paths import Path


@dataclass(frozen=True)
class Part:
    """One box of a body: extents in the vehicle frame and which colour it takes."""

    u0: float
    u1: float
    v0: float
    v1: float
    z0: float
    z1: float
    role: str  # body, glass, dark, rider, helmet


@dataclass(frozen=True)
class VehicleClass:
    """Size, car-following parameters (intelligent driver model) and shape of a class."""

    kind: str
    length_m: float
    width_m: float
    height_m: float
    max_accel_mps2: float
    comfort_decel_mps2: float
    headway_s: float
    min_gap_m: float
    plate_size_m: tuple[float, float]
    plate_height_m: float
    parts: tuple[Part, ...]


def _car_parts(length: float, width: float) -> tuple[Part, ...]:
    half = width / 2
    return (
        Part(0.15, length - 0.15, -half + 0.1, half - 0.1, 0.0, 0.35, "dark"),
        Part(0.0, length, -half, half, 0.3, 0.95, "body"),
        Part(0.9, length - 1.3, -half + 0.12, half - 0.12, 0.95, 1.45, "glass"),
        Part(1.0, length - 1.45, -half + 0.16, half - 0.16, 1.45, 1.5, "body"),
    )


CLASSES: dict[str, VehicleClass] = {
    "car": VehicleClass("car", 4.5, 1.8, 1.5, 1.6, 2.5, 1.2, 2.0, (0.38, 0.16), 0.55, _car_parts(4.5, 1.8)),
    "scooter": VehicleClass(
        "scooter", 1.9, 0.7, 1.75, 2.0, 3.0, 0.9, 1.5, (0.21, 0.14), 0.75,
        (
            Part(0.2, 1.7, -0.12, 0.12, 0.0, 0.5, "dark"),
            Part(0.05, 1.85, -0.34, 0.34, 0.35, 0.85, "body"),
            Part(0.55, 1.05, -0.25, 0.25, 0.85, 1.5, "rider"),
            Part(0.65, 0.95, -0.14, 0.14, 1.5, 1.75, "helmet"),
        ),
    ),
    "truck": VehicleClass(
        "truck", 7.5, 2.4, 3.2, 0.9, 2.0, 1.8, 2.5, (0.38, 0.16), 0.7,
        (
            Part(0.3, 7.2, -1.0, 1.0, 0.0, 0.7, "dark"),
            Part(5.4, 7.5, -1.2, 1.2, 0.6, 2.3, "body"),
            Part(5.9, 7.5, -1.1, 1.1, 2.3, 2.7, "glass"),
            Part(0.0, 5.3, -1.2, 1.2, 0.8, 3.2, "cargo"),
        ),
    ),
    "bus": VehicleClass(
        "bus", 11.0, 2.5, 3.2, 0.9, 2.0, 1.6, 2.5, (0.38, 0.16), 0.65,
        (
            Part(0.5, 10.5, -1.1, 1.1, 0.0, 0.5, "dark"),
            Part(0.0, 11.0, -1.25, 1.25, 0.35, 1.3, "body"),
            Part(0.05, 10.95, -1.2, 1.2, 1.3, 2.45, "glass"),
            Part(0.0, 11.0, -1.25, 1.25, 2.45, 3.2, "body"),
        ),
    ),
}


@dataclass
class Vehicle:
    """One vehicle in the world. ``s_m`` is its front's distance along its path; ``offset_m``
    its sideways shift from the path (towards the kerb is negative)."""

    id: int
    kind: str
    plate: str
    behaviour: str
    lane: int
    movement: str
    path: Path
    desired_speed_mps: float
    entered_s: float
    s_m: float
    speed_mps: float
    colours: dict[str, tuple[int, int, int]]
    offset_m: float = 0.0
    accel_mps2: float = 0.0
    committed: bool = False
    phase: str = "driving"  # driving, pulling_in, parked, pulling_out, box_waiting
    phase_until_s: float = 0.0
    target_s_m: float | None = None
    stop_started_s: float | None = None
    crossed_stop_line: bool = False
    entered_crosswalk: bool = False
    hold_y_m: float = 0.0  # where its front stops at red (road y): the stop line, the scooter box, an overrun
    past_hold: bool = False
    over_on_red_s: float | None = None  # its front went over the stop line on red, to stop past it
    change_offset_m: float | None = None  # lane changers: the offset of the lane they move into
    change_at_y_m: float = 0.0  # ... and where their rear crosses the lane line
    rear_x_m: float | None = None
    flags: set[str] = field(default_factory=set)

    @property
    def spec(self) -> VehicleClass:
        return CLASSES[self.kind]

    def pose(self) -> tuple[np.ndarray, np.ndarray]:
        """Footprint centre (x, y) and unit heading: the body spans the path from its front
        back one length, shifted sideways by ``offset_m``."""
        front = self.path.point(self.s_m)
        rear = self.path.point(self.s_m - self.spec.length_m)
        heading = front - rear
        norm = float(np.hypot(*heading))
        heading = heading / norm if norm > 1e-6 else self.path.heading(self.s_m)
        left = np.array([-heading[1], heading[0]])
        return (front + rear) / 2 + self.offset_m * left, heading
