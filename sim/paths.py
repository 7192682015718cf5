"""Where vehicles drive: one sampled centre-line path per lane and movement.

A path runs along its lane from behind the world's entry, over the stop line and the
crosswalk, then straight on or round a circular arc into the cross street, and out of the
world. Turning arcs of all lanes share one centre per direction (concentric), so turning side
by side never crosses. Paths are sampled every ``SAMPLE_M`` metres, so a position along the
path is an index, and each path carries the fastest speed a vehicle may have at every point
and still make its curves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .layout import RoadLayout

SAMPLE_M = 0.1
#: Path length behind the world's entry, so a vehicle entering there has its body on the path.
PRE_ROLL_M = 20.0
_LATERAL_ACCEL_MPS2 = 2.0
_PLANNING_DECEL_MPS2 = 2.0
_RIGHT_RADIUS_M = 7.0
#: Closest two paths from different lanes may come past the stop line without conflicting.
CLEARANCE_M = 2.8


@dataclass(frozen=True)
class _Segment:
    """A straight line (``radius`` 0) or circular arc, as start point, start angle and turn."""

    start: tuple[float, float]
    heading_rad: float
    length_m: float
    turn_sign: int = 0  # +1 turns left (counter-clockwise), -1 right
    radius_m: float = 0.0

    def sample(self, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Points and heading angles at distances ``s`` from the segment's start."""
        x0, y0 = self.start
        if not self.turn_sign:
            return (np.stack([x0 + s * math.cos(self.heading_rad), y0 + s * math.sin(self.heading_rad)], axis=1),
                    np.full(len(s), self.heading_rad))
        angle = self.heading_rad + self.turn_sign * s / self.radius_m
        normal = self.heading_rad + self.turn_sign * math.pi / 2
        cx, cy = x0 + self.radius_m * math.cos(normal), y0 + self.radius_m * math.sin(normal)
        back = angle - self.turn_sign * math.pi / 2
        return np.stack([cx + self.radius_m * np.cos(back), cy + self.radius_m * np.sin(back)], axis=1), angle


class Path:
    """A sampled centre line: points, unit headings, curvature-safe speeds, from one lane."""

    def __init__(self, lane: int, movement: str, segments: list[_Segment], entry_s: float):
        self.lane = lane
        self.movement = movement
        self.entry_s = entry_s
        lengths = np.array([seg.length_m for seg in segments])
        self.length_m = float(lengths.sum())
        s = np.arange(0.0, self.length_m, SAMPLE_M)
        starts = np.concatenate([[0.0], np.cumsum(lengths)[:-1]])
        owner = np.clip(np.searchsorted(starts, s, side="right") - 1, 0, len(segments) - 1)
        points = np.empty((len(s), 2))
        angles = np.empty(len(s))
        curvature = np.zeros(len(s))
        for index, seg in enumerate(segments):
            mask = owner == index
            points[mask], angles[mask] = seg.sample(s[mask] - starts[index])
            if seg.turn_sign:
                curvature[mask] = 1.0 / seg.radius_m
        self.points = points
        self.headings = np.stack([np.cos(angles), np.sin(angles)], axis=1)
        self.max_speed_mps = _speed_envelope(curvature)
        self.turn_start_s = next((float(starts[i]) for i, seg in enumerate(segments) if seg.turn_sign), None)

    def index(self, s: float) -> int:
        return min(max(int(round(s / SAMPLE_M)), 0), len(self.points) - 1)

    def point(self, s: float) -> np.ndarray:
        return self.points[self.index(s)]

    def heading(self, s: float) -> np.ndarray:
        return self.headings[self.index(s)]

    def s_at_y(self, y: float) -> float:
        """Distance along the path where it crosses road y on the approach (before any turn)."""
        return float(self.points[0, 1] - y)

    def speed_cap(self, s: float) -> float:
        return float(self.max_speed_mps[self.index(s)])


def _speed_envelope(curvature: np.ndarray) -> np.ndarray:
    """Fastest speed at each sample that still lets a vehicle brake gently into every curve ahead."""
    limit = np.where(curvature > 0, np.sqrt(_LATERAL_ACCEL_MPS2 / np.maximum(curvature, 1e-9)), np.inf)
    envelope = limit.copy()
    step = 2 * _PLANNING_DECEL_MPS2 * SAMPLE_M
    for i in range(len(envelope) - 2, -1, -1):
        envelope[i] = min(limit[i], math.sqrt(envelope[i + 1] ** 2 + step))
    return envelope


class PathNetwork:
    """Every lane's paths: the allowed movements, plus the forbidden ones a wrong-lane driver
    may take without crossing another lane's path."""

    def __init__(self, layout: RoadLayout):
        self.layout = layout
        scenario = layout.scenario
        self.allowed = {lane.id: list(lane.movements) for lane in scenario.lanes}
        self.turn_start_y_m = min(layout.stop_line_y_m - 0.5, layout.cross_near_y_m - layout.lane_width_m / 2
                                  + _RIGHT_RADIUS_M)
        self._left_centre_x, self._right_centre_x = self._turn_centres()
        self._paths: dict[tuple[int, str], Path] = {}
        for lane in self.allowed:
            for movement in ("straight", "left", "right"):
                self._paths[(lane, movement)] = self._build(lane, movement)
        self.wrong_choices = self._conflict_free_wrong_moves()

    def path(self, lane: int, movement: str) -> Path:
        return self._paths[(lane, movement)]

    def _turn_centres(self) -> tuple[float, float]:
        layout = self.layout
        lanes = list(self.allowed)
        inner_x = layout.lane_centre_x(max(lanes))
        outer_x = layout.lane_centre_x(min(lanes))
        left_end_y = layout.cross_near_y_m - layout.scenario.road.cross_street_width_m / 2 - layout.lane_width_m / 2
        right_end_y = layout.cross_near_y_m - layout.lane_width_m / 2
        return inner_x + (self.turn_start_y_m - left_end_y), outer_x - (self.turn_start_y_m - right_end_y)

    def _build(self, lane: int, movement: str) -> Path:
        layout = self.layout
        x = layout.lane_centre_x(lane)
        start_y = layout.entry_y_m + PRE_ROLL_M
        down = -math.pi / 2
        if movement == "straight":
            segments = [_Segment((x, start_y), down, start_y - layout.exit_y_m)]
        else:
            approach = _Segment((x, start_y), down, start_y - self.turn_start_y_m)
            if movement == "left":
                radius, sign = self._left_centre_x - x, 1
                exit_length = layout.far_kerb_x_m + layout.side_exit_m - (x + radius)
            else:
                radius, sign = x - self._right_centre_x, -1
                exit_length = (x - radius) + layout.side_exit_m
            arc = _Segment((x, self.turn_start_y_m), down, radius * math.pi / 2, sign, radius)
            end = arc.sample(np.array([arc.length_m]))[0][0]
            out = _Segment((float(end[0]), float(end[1])), down + sign * math.pi / 2, exit_length)
            segments = [approach, arc, out]
        return Path(lane, movement, segments, entry_s=PRE_ROLL_M)

    def _past_stop_line(self, path: Path) -> np.ndarray:
        points = path.points[:: int(0.5 / SAMPLE_M)]
        keep = (points[:, 1] < self.layout.stop_line_y_m) & (points[:, 1] > self.layout.cross_far_y_m - 5)
        return points[keep]

    def conflicts(self, first: Path, second: Path) -> bool:
        """True when two paths from different lanes come closer than :data:`CLEARANCE_M` past the
        stop line."""
        a, b = self._past_stop_line(first), self._past_stop_line(second)
        if not len(a) or not len(b):
            return False
        return float(np.min(np.linalg.norm(a[:, None, :] - b[None, :, :], axis=2))) < CLEARANCE_M

    def _conflict_free_wrong_moves(self) -> list[tuple[int, str]]:
        """Forbidden (lane, movement) pairs whose paths cross no allowed path of another lane nor
        each other; chosen greedily from the kerb outwards."""
        allowed_paths = [self.path(lane, move) for lane, moves in self.allowed.items() for move in moves]
        chosen: list[tuple[int, str]] = []
        for lane, moves in self.allowed.items():
            for movement in ("straight", "left", "right"):
                if movement in moves:
                    continue
                path = self.path(lane, movement)
                others = [p for p in allowed_paths if p.lane != lane] + [self.path(*c) for c in chosen if c[0] != lane]
                if not any(self.conflicts(path, other) for other in others):
                    chosen.append((lane, movement))
        return chosen
