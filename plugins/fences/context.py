"""One camera's fences at run time: its placer, its recent frames, its stop line on the road
plane, and the questions every rule asks (which lane, which movement, when the front crossed)."""

from __future__ import annotations

import math

from roadcam.appliance.geometry import RoadGeometry

from .config import CameraFences, FencesConfig, LaneFence
from .evidence import FrameBuffer
from .placement import CameraPlacer, Placed

#: Vehicle length by class (m), to find when the front reached a line from where the box's
#: bottom centre (the rear, for traffic moving away from the camera) was.
LENGTH_M = {"car": 4.5, "scooter": 1.9, "truck": 7.5, "bus": 11.0}
#: With calibration, a vehicle counts as come up the approach once it was placed in a lane at
#: least this far (m) before the stop line: more than the detector's jitter and a scooter's
#: length, so a pedestrian on the crosswalk (just past the line) taken for a scooter is not.
APPROACH_M = 3.0
#: Longest gap (s) between two measured placements across which a front counts as crossing.
CROSSING_GAP_S = 0.5
#: With calibration, a vehicle past the stop line whose heading is this far (degrees) from
#: straight on, towards a turn's exit zone, for ``TURN_FRAMES`` frames in a row, made that turn
#: even if its track is lost before the exit zone (far exits, a bus hiding it, a new identity).
TURNED_DEG = 45.0
TURN_FRAMES = 8
#: ... measured over the last half second, in which it must have moved this far (m): a slow
#: vehicle's jitter has no heading.
TURN_MIN_MOVE_M = 1.0


class CameraContext:
    """What the rules share about one camera."""

    def __init__(self, fences: CameraFences, geometry: RoadGeometry | None, config: FencesConfig, buffer_frames: int):
        self.name = fences.camera
        self.fences = fences
        self.config = config
        self.placer = CameraPlacer(fences, geometry)
        self.frames = FrameBuffer(buffer_frames)
        self.lanes = {lane.id: lane for lane in fences.lanes}
        self.stop = fences.line(fences.stop_line)
        self._stop_road: tuple | None = None
        self._exit_centres: dict[str, tuple[float, float]] | None = None
        #: The faults that make this camera's fences meaningless now (see the plugin).
        self.blind_by: set[str] = set()
        #: This frame's pedestrians: (picture point, road point), set before the rules look.
        self.people: list[tuple[tuple[float, float], tuple[float, float] | None]] = []

    @property
    def blind(self) -> bool:
        return bool(self.blind_by)

    def lane_of(self, placed: Placed) -> LaneFence | None:
        lane = placed.lane_at_line if placed.lane_at_line is not None else placed.lane.value
        return self.lanes.get(lane) if lane is not None else None

    def note_approach(self, placed: Placed) -> None:
        """Mark a vehicle seen coming up its lane to the stop line (once marked, it stays so).

        Rules about crossing the stop line judge only such vehicles: a road user first seen at
        or past the line (someone walking the crosswalk and taken for a scooter, a track
        started on a vehicle already in the junction) has no lane it came from. With
        calibration it must have been in a lane ``APPROACH_M`` before the line; without, in a
        lane before it crossed the line."""
        if placed.approached or placed.lane.value is None or self.stop is None:
            return
        if self.placer.geometry is None:
            placed.approached = placed.crossed(self.stop.name) is None
            return
        distance = self.distance_to_stop_m(placed.last.road)
        placed.approached = distance is not None and distance >= APPROACH_M

    def note_turn(self, placed: Placed) -> None:
        """With calibration, past the stop line: note a turn the vehicle's heading shows (see
        ``TURNED_DEG``); the turn is the exit zone (left or right) it heads for."""
        if placed.turned or self.stop is None or self.placer.geometry is None or not placed.crossed(self.stop.name):
            return
        answer = self._heading_for(placed)
        before, count = placed.turning
        placed.turning = (answer, count + 1 if answer == before else 1)
        if answer is not None and placed.turning[1] >= TURN_FRAMES:
            placed.turned = answer

    def _heading_for(self, placed: Placed) -> str | None:
        last = placed.last
        first = next((s for s in placed.samples if last.time_ns - s.time_ns <= 0.5e9 and s.road), None)
        forward = self._forward()
        if last.road is None or first is None or forward is None:
            return None
        dx, dy = last.road[0] - first.road[0], last.road[1] - first.road[1]
        norm = math.hypot(dx, dy)
        if norm < TURN_MIN_MOVE_M or (dx * forward[0] + dy * forward[1]) / norm > math.cos(math.radians(TURNED_DEG)):
            return None
        best, best_cos = None, 0.5
        for movement, (cx, cy) in self._turn_exits().items():
            ex, ey = cx - last.road[0], cy - last.road[1]
            cos = (dx * ex + dy * ey) / (norm * (math.hypot(ex, ey) or 1.0))
            if cos > best_cos:
                best, best_cos = movement, cos
        return best

    def _forward(self) -> tuple[float, float] | None:
        """Unit vector on the road plane across the stop line, the way traffic crosses it."""
        stop = self._stop_on_road()
        if stop is None:
            return None
        ra, rb, scale = stop
        fx, fy = rb[1] - ra[1], -(rb[0] - ra[0])
        norm = math.hypot(fx, fy) * (1.0 if scale > 0 else -1.0)
        return fx / norm, fy / norm

    def _turn_exits(self) -> dict[str, tuple[float, float]]:
        """Centre on the road plane of each turn's (left, right) exit zone."""
        if self._exit_centres is None:
            self._exit_centres = {}
            for exit_ in self.fences.exits:
                if exit_.movement == "straight":
                    continue
                corners = [self.placer.to_road(p) for p in self.fences.zone(exit_.zone).polygon]
                self._exit_centres[exit_.movement] = (sum(c[0] for c in corners) / len(corners),
                                                      sum(c[1] for c in corners) / len(corners))
        return self._exit_centres

    def movement(self, placed: Placed) -> str | None:
        """The movement of the first exit zone the vehicle was confirmed in; else, with
        calibration, the turn its heading showed past the stop line (:meth:`note_turn`); None
        if neither yet."""
        exits = {exit_.zone: exit_.movement for exit_ in self.fences.exits}
        return next((exits[zone] for zone in placed.visited if zone in exits), placed.turned)

    def stop_pixels(self) -> list[tuple[tuple[float, float], tuple[float, float]]]:
        if self.stop is None or self.placer.size is None:
            return []
        w, h = self.placer.size
        (ax, ay), (bx, by) = self.stop.points
        return [((ax * w, ay * h), (bx * w, by * h))]

    def distance_to_stop_m(self, road: tuple[float, float] | None) -> float | None:
        """Signed road-plane distance (m) of a point before the stop line (positive) or past it
        (negative); None without calibration or a stop line."""
        stop = self._stop_on_road()
        if road is None or stop is None:
            return None
        ra, rb, scale = stop
        return _cross(ra, rb, road) * scale

    def _stop_on_road(self) -> tuple | None:
        """The stop line's ends on the road plane and the scale that makes :func:`_cross` a
        signed distance (positive before the line); None without calibration or a stop line."""
        if self.stop is None or self.placer.geometry is None or self.placer.size is None:
            return None
        if self._stop_road is None:
            a, b = self.stop.points
            dx, dy = b[0] - a[0], b[1] - a[1]
            norm = math.hypot(dx, dy)
            mid = ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)
            before = (mid[0] - dy / norm * 0.01, mid[1] + dx / norm * 0.01)  # on the side vehicles come from
            ra, rb, rq = (self.placer.to_road(p) for p in (a, b, before))
            sign = 1.0 if _cross(ra, rb, rq) > 0 else -1.0
            self._stop_road = (ra, rb, sign / math.hypot(rb[0] - ra[0], rb[1] - ra[1]))
        return self._stop_road

    def front_crossing_ns(self, placed: Placed, judge_by: str) -> int | None:
        """The moment, between the last two frames, the vehicle's front reached the stop line,
        else None. ``front`` uses the calibration and the class's length; ``placement`` (or no
        calibration) the bottom centre's own crossing. Not across a gap of more than
        ``CROSSING_GAP_S`` without a measured box: a track that coasted hidden in a queue and
        came back on another road user past the line did not cross it."""
        if len(placed.samples) < 2 or self.stop is None:
            return None
        before, now = placed.samples[-2], placed.samples[-1]
        if now.time_ns - before.time_ns > CROSSING_GAP_S * 1e9:
            return None
        if judge_by == "front" and self.placer.geometry is not None:
            length = LENGTH_M.get(placed.kind, LENGTH_M["car"])
            d0, d1 = self.distance_to_stop_m(before.road), self.distance_to_stop_m(now.road)
            if d0 is None or d1 is None or not (d0 - length > 0 >= d1 - length):
                return None
            share = (d0 - length) / (d0 - d1)
            return int(before.time_ns + share * (now.time_ns - before.time_ns))
        crossing = placed.crossed(self.stop.name)
        return crossing.time_ns if crossing is not None and crossing.frame_index == now.frame_index else None


    def front(self, placed: Placed) -> tuple[tuple[float, float], tuple[float, float]] | None:
        """The vehicle's front on the road plane (its placement moved the class's length along its
        heading over the last half second) and that heading; None without calibration or motion."""
        last = placed.last
        first = next((s for s in placed.samples if last.time_ns - s.time_ns <= 0.5e9 and s.road), None)
        if last.road is None or first is None or first is last:
            return None
        dx, dy = last.road[0] - first.road[0], last.road[1] - first.road[1]
        norm = math.hypot(dx, dy)
        if norm < 0.2:
            return None
        length = LENGTH_M.get(placed.kind, LENGTH_M["car"])
        heading = (dx / norm, dy / norm)
        return (last.road[0] + heading[0] * length, last.road[1] + heading[1] * length), heading


def _cross(a, b, q) -> float:
    return (b[0] - a[0]) * (q[1] - a[1]) - (b[1] - a[1]) * (q[0] - a[0])
