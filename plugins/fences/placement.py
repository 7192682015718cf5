"""Where each tracked vehicle is on a camera's fences, frame after frame.

A vehicle is placed by the bottom centre of its box (where it touches the road), in normalised
image coordinates. Its lane and the zones it is in change only after the new answer held for
``inertia_frames`` frames in a row, so a box that jitters over a lane line does not flip lanes.
Each forward crossing of a directed line is noted with its moment, interpolated between the two
frames. With the camera's calibration the placement is also put on the road plane (metres),
which gives speeds and distances to lines.

Only measured points count: while a vehicle is hidden the tracker carries its box forward at its
last speed, and a queued vehicle so estimated would drive over the stop line on paper. Pedestrian
tracks are not placed. A box cut by the left or right edge of the picture is placed but crosses
no line: its bottom centre slides sideways as more of the vehicle comes into view (a bus entering
at the side "crossed" a solid lane line in the smoke demo), so a line is crossed only between two
whole boxes. A box whose bottom edge a nearer vehicle's box covers (in a queue, the vehicle
behind) is noted as hidden: its bottom is the top of what is left in view, further up the road
than the vehicle's rear, and the stop-line rule does not judge an overrun from it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from roadcam.appliance.geometry import RoadGeometry

from . import shapes
from .config import CameraFences

#: Seconds of placement history kept per vehicle.
HISTORY_S = 6.0
#: Track classes that are not vehicles.
NOT_VEHICLES = ("pedestrian",)
#: A box within this many pixels of the picture's left or right edge is cut by it.
EDGE_PX = 2
#: A box's bottom is hidden when a nearer vehicle's box covers at least this share of its width
#: there (a scooter behind a car covers about 0.4 of it, a car behind a car most of it).
HIDDEN_SHARE = 0.3
#: ... and its top is above the bottom of the box, or below it by at most this share of the box's
#: height (the box of what is left in view ends at, or a little above, the nearer vehicle's top).
HIDDEN_REACH = 0.1


@dataclass
class Sample:
    """One frame of a vehicle: when, where on the picture and on the road, which frame."""

    time_ns: int
    frame_index: int
    point: tuple[float, float]
    road: tuple[float, float] | None
    box: tuple[float, float, float, float]
    cut: bool = False  # cut by the picture's left or right edge: its bottom centre is not the vehicle's
    hidden: bool = False  # its bottom edge covered by a nearer vehicle's box (see HIDDEN_SHARE)


@dataclass
class _Sticky:
    """A value that changes only after ``inertia`` equal answers in a row."""

    value: object = None
    candidate: object = None
    count: int = 0

    def update(self, answer, inertia: int) -> bool:
        """Feed this frame's answer; True when the held value changed."""
        if answer == self.value:
            self.candidate, self.count = None, 0
            return False
        if answer != self.candidate:
            self.candidate, self.count = answer, 0
        self.count += 1
        if self.count >= inertia:
            self.value, self.candidate, self.count = answer, None, 0
            return True
        return False


@dataclass
class Crossing:
    line: str
    time_ns: int
    frame_index: int
    forward: bool = True
    #: Time between the two measured placements it was found between: long when the track
    #: coasted hidden and came back past the line, perhaps on another road user.
    gap_ns: int = 0


@dataclass
class Placed:
    """One vehicle's placement state on one camera."""

    track_id: int
    kind: str = "car"
    samples: deque[Sample] = field(default_factory=deque)
    lane: _Sticky = field(default_factory=_Sticky)
    zones: dict[str, _Sticky] = field(default_factory=dict)
    crossings: list[Crossing] = field(default_factory=list)
    visited: list[str] = field(default_factory=list)  # zones it was confirmed in, in order
    lane_at_line: int | None = None   # its lane when it crossed the stop line
    approached: bool = False          # seen in a lane coming up to the stop line (see the context)
    turned: str | None = None         # a turn seen past the stop line before any exit (see the context)
    turning: tuple[str | None, int] = (None, 0)   # this frame's turn answer and frames in a row

    @property
    def last(self) -> Sample:
        return self.samples[-1]

    def in_zone(self, name: str) -> bool:
        sticky = self.zones.get(name)
        return bool(sticky and sticky.value)

    def crossed(self, line: str | None, forward: bool = True) -> Crossing | None:
        """Its crossing of ``line`` in that direction (forward by default), if it crossed."""
        return next((c for c in self.crossings if c.line == line and c.forward == forward), None)

    def speed_mps(self, window_s: float = 0.5, ago_s: float = 0.0) -> float | None:
        """Road-plane speed over the last ``window_s`` (None without calibration); with ``ago_s``,
        over the ``window_s`` that ended that long ago (None when no sample is that old)."""
        last = self.samples[-1]
        if ago_s:
            last = next((s for s in reversed(self.samples) if last.time_ns - s.time_ns >= ago_s * 1e9), None)
            if last is None:
                return None
        if last.road is None:
            return None
        first = next((s for s in self.samples if last.time_ns - s.time_ns <= window_s * 1e9 and s.road), last)
        if first is last:
            return None
        metres = float(np.hypot(last.road[0] - first.road[0], last.road[1] - first.road[1]))
        return metres / ((last.time_ns - first.time_ns) / 1e9)


class CameraPlacer:
    """Places every live track of one camera on its fences."""

    def __init__(self, fences: CameraFences, geometry: RoadGeometry | None):
        self.fences = fences
        self.geometry = geometry
        self.placed: dict[int, Placed] = {}
        self.size: tuple[int, int] | None = None

    def update(self, frame, tracks) -> list[Placed]:
        """Place this frame's tracks; returns their states (new crossings appended)."""
        height, width = frame.image.shape[:2]
        self.size = (width, height)
        out = []
        boxes = [track.last.box for track in tracks
                 if track.last.frame_index == frame.index and track.kind not in NOT_VEHICLES]
        for track in tracks:
            point = track.last
            if point.frame_index != frame.index or not point.measured or track.kind in NOT_VEHICLES:
                continue
            x1, y1, x2, y2 = point.box
            here = ((x1 + x2) / 2 / width, y2 / height)
            road = self.to_road(here)
            placed = self.placed.setdefault(track.id, Placed(track.id))
            cut = x1 <= EDGE_PX or x2 >= width - EDGE_PX
            sample = Sample(frame.time_ns, frame.index, here, road, tuple(point.box), cut,
                            _bottom_hidden(point.box, boxes))
            placed.kind = track.kind
            if placed.samples and not (placed.last.cut or sample.cut):
                self._crossings(placed, placed.last, sample)
            placed.samples.append(sample)
            while placed.samples[0].time_ns < frame.time_ns - HISTORY_S * 1e9:
                placed.samples.popleft()
            inertia = self.fences.inertia_frames
            lane = next((lane.id for lane in self.fences.lanes if shapes.contains(lane.polygon, here)), None)
            placed.lane.update(lane, inertia)
            for zone in self.fences.zones:
                sticky = placed.zones.setdefault(zone.name, _Sticky(False))
                if sticky.update(shapes.contains(zone.polygon, here), inertia) and sticky.value:
                    placed.visited.append(zone.name)
            out.append(placed)
        return out

    def _crossings(self, placed: Placed, before: Sample, now: Sample) -> None:
        for line in self.fences.lines:
            for forward, (a, b) in ((True, line.points), (False, line.points[::-1])):
                if placed.crossed(line.name, forward):
                    continue  # one crossing of each line in each direction per vehicle
                t = shapes.crossing(a, b, before.point, now.point)
                if t is None:
                    continue
                placed.crossings.append(Crossing(line.name, int(before.time_ns + t * (now.time_ns - before.time_ns)),
                                                 now.frame_index, forward, now.time_ns - before.time_ns))
                if forward and line.name == self.fences.stop_line:
                    placed.lane_at_line = placed.lane.value if placed.lane.value is not None else (
                        placed.lane.candidate)

    def people(self, frame, tracks) -> list[tuple[tuple[float, float], tuple[float, float] | None]]:
        """Where this frame's measured pedestrians stand: (picture point, road point). A
        "pedestrian" whose feet are inside a vehicle's box is that vehicle's rider or a part of
        it the detector mistook, not someone in its way."""
        out = []
        height, width = frame.image.shape[:2]
        now = [(track, track.last) for track in tracks if track.last.frame_index == frame.index]
        vehicles = [point.box for track, point in now if track.kind not in NOT_VEHICLES]
        for track, point in now:
            if track.kind not in NOT_VEHICLES or not point.measured:
                continue
            x1, _, x2, y2 = point.box
            feet = ((x1 + x2) / 2, y2)
            if any(b[0] <= feet[0] <= b[2] and b[1] <= feet[1] <= b[3] for b in vehicles):
                continue
            here = (feet[0] / width, feet[1] / height)
            out.append((here, self.to_road(here)))
        return out

    def forget(self, track_id: int) -> Placed | None:
        return self.placed.pop(track_id, None)

    def to_picture(self, road: tuple[float, float]) -> tuple[float, float] | None:
        """A road point (metres) on the picture, normalised; None without calibration."""
        if self.geometry is None or self.size is None:
            return None
        x, y = self.geometry.to_image([road])[0]
        return float(x) / self.size[0], float(y) / self.size[1]

    def to_road(self, point: tuple[float, float]) -> tuple[float, float] | None:
        """A normalised picture point on the road plane (metres), None without calibration."""
        if self.geometry is None or self.size is None:
            return None
        x, y = self.geometry.to_road([(point[0] * self.size[0], point[1] * self.size[1])])[0]
        return float(x), float(y)



def _bottom_hidden(box, boxes) -> bool:
    """Whether a nearer vehicle's box (its bottom lower in the picture, its top above this box's
    bottom or just below it: what is left in view ends where the nearer vehicle begins) covers
    at least ``HIDDEN_SHARE`` of this box's bottom edge."""
    x1, y1, x2, y2 = box
    reach = HIDDEN_REACH * (y2 - y1)
    for other in boxes:
        if other is box or not (other[1] - reach < y2 < other[3]):
            continue
        if min(x2, other[2]) - max(x1, other[0]) >= HIDDEN_SHARE * (x2 - x1):
            return True
    return False
