"""The camera's view of a loop-timed vehicle: which track crossed the pair's road-plane zone
while the loops were occupied, and how fast that track moved on the road plane.

A loop pair's speed is evidence; a second, independent measurement of the same vehicle catches
what the loops alone cannot (a wrong spacing in the config, a loop detector with a slow
output, a vehicle changing lanes between the loops). The camera's speed is far coarser than the
loops' (a ground point from a box bottom, 25 frames a second), so it checks, it never replaces.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

#: How long a track's road-plane points are kept after its last one (s): longer than any hold.
KEEP_S = 10.0
#: Fewest track points in the zone for a track to be the loops' vehicle.
MIN_ZONE_POINTS = 2
#: Fewest track points for a speed fit.
MIN_FIT_POINTS = 4


@dataclass
class RoadTrack:
    """One track's measured road-plane points (UTC ns, x m, y m), oldest first."""

    points: deque[tuple[int, float, float]] = field(default_factory=deque)


class TrackSpeeds:
    """Road-plane points of one camera's tracks over the last few seconds, and the speed of the
    track that crossed a zone in a time span."""

    def __init__(self, camera: str):
        self.camera = camera
        self.tracks: dict[int, RoadTrack] = {}
        self.last_frame_ns: int | None = None

    def add_frame(self, time_ns: int, tracks) -> None:
        """Take each live track's newest point if it was measured this frame on the road plane."""
        self.last_frame_ns = time_ns
        for track in tracks:
            point = track.last
            if point.time_ns != time_ns or not point.measured or point.road_xy is None:
                continue
            kept = self.tracks.setdefault(track.id, RoadTrack())
            kept.points.append((time_ns, float(point.road_xy[0]), float(point.road_xy[1])))
        oldest = time_ns - int(KEEP_S * 1e9)
        for track_id in [tid for tid, kept in self.tracks.items() if kept.points[-1][0] < oldest]:
            del self.tracks[track_id]
        for kept in self.tracks.values():
            while kept.points[0][0] < oldest:
                kept.points.popleft()

    def crossing(self, zone: tuple[float, float, float, float], start_ns: int, end_ns: int,
                 window_ns: int) -> tuple[int, float, int] | None:
        """(track id, road speed m/s, points fitted) of the track with the most points inside
        ``zone`` (x_min, x_max, y_min, y_max) between ``start_ns`` and ``end_ns``; its speed is a
        least-squares fit of its points within ``window_ns`` of the span's middle. None when no
        track was there, or too few points to fit."""
        x_min, x_max, y_min, y_max = zone
        best: tuple[int, int] | None = None
        for track_id, kept in self.tracks.items():
            inside = sum(1 for t, x, y in kept.points
                         if start_ns <= t <= end_ns and x_min <= x <= x_max and y_min <= y <= y_max)
            if inside >= MIN_ZONE_POINTS and (best is None or inside > best[1]):
                best = (track_id, inside)
        if best is None:
            return None
        middle = (start_ns + end_ns) // 2
        near = [p for p in self.tracks[best[0]].points if abs(p[0] - middle) <= window_ns]
        if len(near) < MIN_FIT_POINTS:
            return None
        return best[0], _fitted_speed(near), len(near)


def _fitted_speed(points: list[tuple[int, float, float]]) -> float:
    """Speed (m/s) of straight-line motion fitted to (ns, x, y) points by least squares."""
    t0 = points[0][0]
    ts = [(t - t0) / 1e9 for t, _, _ in points]
    mean_t = sum(ts) / len(ts)
    spread = sum((t - mean_t) ** 2 for t in ts)
    if spread == 0:
        return 0.0
    slopes = []
    for axis in (1, 2):
        values = [p[axis] for p in points]
        mean_v = sum(values) / len(values)
        slopes.append(sum((t - mean_t) * (v - mean_v) for t, v in zip(ts, values)) / spread)
    return math.hypot(*slopes)
