"""People on the crosswalk: they arrive at either kerb, wait for the walk signal, cross, and
walk off along the far pavement. They never step into a vehicle."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .layout import Rect
from .scenario import Scenario

WIDTH_M = 0.5
DEPTH_M = 0.35
HEIGHT_M = 1.7
_KERB_WAIT_M = 1.0
_LEAVE_M = 6.0
_SHIRTS = [(40, 40, 170), (200, 200, 200), (30, 30, 30), (150, 90, 40), (60, 140, 200), (120, 60, 130)]
_TROUSERS = [(40, 35, 30), (90, 60, 40), (50, 50, 50), (140, 120, 100)]


@dataclass(frozen=True)
class PedestrianArrival:
    at_s: float
    from_near_side: bool
    lane_y_m: float
    speed_mps: float
    colours: dict[str, tuple[int, int, int]]


@dataclass
class Pedestrian:
    """One person. ``phase`` is waiting, crossing, leaving or gone."""

    id: int
    x_m: float
    y_m: float
    direction: int  # +1 walks towards larger x
    speed_mps: float
    colours: dict[str, tuple[int, int, int]]
    phase: str = "waiting"
    left_m: float = 0.0

    @property
    def heading(self) -> np.ndarray:
        if self.phase == "leaving":
            return np.array([0.0, -1.0])
        return np.array([float(self.direction), 0.0])


def schedule_pedestrians(scenario: Scenario, crosswalk: Rect | None,
                         rng: np.random.Generator) -> list[PedestrianArrival]:
    """Every pedestrian arrival, in time order."""
    if crosswalk is None:
        return []
    spec = scenario.pedestrians
    wanted = [(person.at_s, person.side, person.speed_mps) for person in spec.people]
    if spec.per_minute > 0:
        t = float(rng.exponential(60.0 / spec.per_minute))
        while t < scenario.duration_s:
            wanted.append((round(t, 3), None, None))
            t += float(rng.exponential(60.0 / spec.per_minute))
    arrivals = []
    for at, side, speed in sorted(wanted, key=lambda item: item[0]):
        near = bool(rng.random() < 0.5) if side is None else side == "near"
        arrivals.append(PedestrianArrival(
            at_s=at,
            from_near_side=near,
            lane_y_m=float(rng.uniform(crosswalk.y_min + 0.7, crosswalk.y_max - 0.7)),
            speed_mps=speed or float(rng.uniform(*spec.speed_mps)),
            colours={"shirt": _SHIRTS[int(rng.integers(len(_SHIRTS)))],
                     "trousers": _TROUSERS[int(rng.integers(len(_TROUSERS)))],
                     "skin": (110, 150, 190)},
        ))
    return arrivals


class PedestrianMover:
    """Moves pedestrians across one crosswalk, obeying its walk signal and the vehicles."""

    def __init__(self, crosswalk: Rect):
        self.crosswalk = crosswalk

    def spawn(self, arrival: PedestrianArrival, pedestrian_id: int) -> Pedestrian:
        near = arrival.from_near_side
        x = self.crosswalk.x_min - _KERB_WAIT_M if near else self.crosswalk.x_max + _KERB_WAIT_M
        return Pedestrian(pedestrian_id, x, arrival.lane_y_m, 1 if near else -1, arrival.speed_mps, arrival.colours)

    def on_road(self, person: Pedestrian) -> bool:
        return person.phase == "crossing" and self.crosswalk.x_min <= person.x_m <= self.crosswalk.x_max

    def step(self, person: Pedestrian, walk_state: str, dt_s: float, blocked) -> None:
        """Advance one person by ``dt_s``. ``walk_state`` is the pedestrian head's state;
        ``blocked(here, there)`` says whether a vehicle keeps the person from stepping there."""
        if person.phase == "waiting":
            if walk_state == "green":
                person.phase = "crossing"
            return
        step = person.speed_mps * dt_s
        if person.phase == "crossing":
            x = person.x_m + person.direction * step
            if blocked((person.x_m, person.y_m), (x + person.direction * 0.3, person.y_m)):
                return
            person.x_m = x
            beyond = (x > self.crosswalk.x_max + _KERB_WAIT_M if person.direction > 0
                      else x < self.crosswalk.x_min - _KERB_WAIT_M)
            if beyond:
                person.phase = "leaving"
            return
        if person.phase == "leaving":
            person.y_m -= step
            person.left_m += step
            if person.left_m > _LEAVE_M:
                person.phase = "gone"
