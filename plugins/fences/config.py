"""The ``fences`` section of a site config: each camera's fences (zones, directed lines, lanes
with their movements, classes and signal heads, exits) in normalised image coordinates, and
each rule's settings.

A fence outside the picture, a polygon whose edges cross, or a name that refers to nothing is a
config error naming its field path (``roadcam config check``), never a silent no-op and never a
violation.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from roadcam.appliance.config import Section

from . import shapes

SECTION = "fences"
Movement = Literal["straight", "left", "right"]
VehicleClass = Literal["car", "scooter", "truck", "bus"]
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS: tuple[str, ...] = Day.__args__
NAME = r"^[a-z0-9][a-z0-9_-]{0,62}$"


def _in_frame(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    for index, (x, y) in enumerate(points):
        if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            raise ValueError(f"point {index} ({x}, {y}) is outside the frame: coordinates are "
                             "fractions of the image width and height, 0 to 1")
    return points


def _simple_polygon(polygon: list[tuple[float, float]]) -> list[tuple[float, float]]:
    _in_frame(polygon)
    crossed = shapes.self_intersection(polygon)
    if crossed is not None:
        first, second = crossed
        raise ValueError(f"the polygon's edges {first} and {second} cross or touch (edge i joins "
                         "corner i to i+1): give the corners in order around the area")
    if shapes.area(polygon) < 1e-6:
        raise ValueError("the polygon has no area")
    return polygon


#: A simple polygon inside the frame, corners in normalised image coordinates.
Polygon = Annotated[list[tuple[float, float]], AfterValidator(_simple_polygon)]


class ZoneFence(Section):
    """A polygon on the picture (a no-parking strip, a box junction, an exit)."""

    name: str = Field(title="Zone name", description="Unique per camera, e.g. box or exit-left.", pattern=NAME)
    polygon: Polygon = Field(min_length=3, title="Polygon",
                             description="Corners (x, y) in order, 0-1 of the image size.")


class LineFence(Section):
    """A directed line: a crossing counts forwards from the right-hand side to the left-hand side of
    the line walked from its first point to its second, as seen on the picture (a line drawn
    left to right counts vehicles moving up the picture)."""

    name: str = Field(title="Line name", description="Unique per camera, e.g. stop.", pattern=NAME)
    points: tuple[tuple[float, float], tuple[float, float]] = Field(
        title="End points", description="First and second point (x, y), 0-1 of the image size.")
    count: bool = Field(False, title="Count crossings",
                        description="Every vehicle that crosses the line is a line.crossed event (direction "
                                    "forward or back, class, track id, time): a counting line.")

    @field_validator("points")
    @classmethod
    def _valid(cls, points):
        _in_frame(list(points))
        if points[0] == points[1]:
            raise ValueError("the two end points are the same: a line needs length")
        return points


class LaneFence(Section):
    """An approach lane up to the stop line, what it allows, and the head that controls it."""

    id: int = Field(ge=1, title="Lane", description="Lane number, 1 = kerbside.")
    polygon: Polygon = Field(min_length=3, title="Polygon",
                             description="The lane's area on the picture, 0-1 of the image size.")
    movements: list[Movement] = Field(min_length=1, title="Allowed movements",
                                      description="What may be done from this lane: straight, left, right.")
    classes: list[VehicleClass] = Field(["car", "scooter", "truck", "bus"], min_length=1,
                                        title="Allowed classes", description="Vehicle classes that may use the lane.")
    head: str | None = Field(None, title="Signal head", description="Head controlling the lane (a site signal).")
    heads: dict[Movement, str] = Field(default_factory=dict, title="Heads by movement",
                                       description="A movement with its own head (a left arrow); others use head.")

    def head_for(self, movement: str | None) -> str | None:
        return self.heads.get(movement, self.head) if movement else self.head


class ExitFence(Section):
    """Where a vehicle that made a movement leaves the junction."""

    movement: Movement = Field(title="Movement", description="straight, left or right.")
    zone: str = Field(title="Zone", description="Name of this camera's zone the movement ends in.")


class CameraFences(Section):
    """The fences drawn on one camera's picture."""

    camera: str = Field(title="Camera", description="Name of one of the site's cameras.")
    inertia_frames: int = Field(3, ge=1, le=25, title="Inertia (frames)",
                                description="Frames a vehicle's bottom centre must stay in a new lane or "
                                            "zone before it counts as there (box jitter).")
    zones: list[ZoneFence] = Field(default_factory=list, title="Zones", description="Polygons.")
    lines: list[LineFence] = Field(default_factory=list, title="Lines", description="Directed lines.")
    lanes: list[LaneFence] = Field(default_factory=list, title="Lanes", description="Approach lanes.")
    exits: list[ExitFence] = Field(default_factory=list, title="Exits", description="Movement exits.")
    stop_line: str | None = Field(None, title="Stop line", description="Name of the line that is the stop line.")

    @model_validator(mode="after")
    def _names(self):
        for kind, names in (("zone", [z.name for z in self.zones]), ("line", [ln.name for ln in self.lines]),
                            ("lane", [str(lane.id) for lane in self.lanes])):
            repeated = sorted({n for n in names if names.count(n) > 1})
            if repeated:
                raise ValueError(f"{kind} names must be unique per camera; repeated: {', '.join(repeated)}")
        zones = {zone.name for zone in self.zones}
        for index, exit_ in enumerate(self.exits):
            if exit_.zone not in zones:
                raise ValueError(f"exits[{index}].zone: no zone named {exit_.zone!r} on camera {self.camera}")
        if self.stop_line is not None and self.stop_line not in {line.name for line in self.lines}:
            raise ValueError(f"stop_line: no line named {self.stop_line!r} on camera {self.camera}")
        return self

    def zone(self, name: str) -> ZoneFence | None:
        return next((zone for zone in self.zones if zone.name == name), None)

    def line(self, name: str | None) -> LineFence | None:
        return next((line for line in self.lines if line.name == name), None)


class TimeWindow(Section):
    """A weekly window of local time (the site's ``utc_offset_h``)."""

    days: list[Day] = Field(list(DAYS), min_length=1, title="Days", description="mon … sun.")
    start: str = Field(title="From", description="Local time HH:MM.", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    end: str = Field(title="Until", description="Local time HH:MM; before start means past midnight.",
                     pattern=r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")

    def covers(self, local: datetime) -> bool:
        minute = local.hour * 60 + local.minute
        start, end = _minutes(self.start), _minutes(self.end)
        if start <= end:
            return DAYS[local.weekday()] in self.days and start <= minute < end
        if minute >= start:
            return DAYS[local.weekday()] in self.days
        return minute < end and DAYS[(local.weekday() - 1) % 7] in self.days


def _minutes(text: str) -> int:
    hours, minutes = re.match(r"(\d\d):(\d\d)", text).groups()  # type: ignore[union-attr]
    return int(hours) * 60 + int(minutes)


class RuleConfig(Section):
    """What every rule has: on or off, its legal article, when it is enforced."""

    enabled: bool = Field(False, title="Enabled", description="Whether the rule reports violations.")
    article: str = Field("", title="Legal article", description="Article code printed on the ticket, "
                                                               "e.g. 53-1 (Road Traffic Management and Penalty Act).")
    windows: list[TimeWindow] = Field(default_factory=list, title="Time windows",
                                      description="When the rule is enforced (local time); empty: always.")
    cameras: list[str] = Field(default_factory=list, title="Cameras",
                               description="Cameras the rule runs on; empty: every camera with fences.")


class RedLightRule(RuleConfig):
    """Red-light running: crossing the stop line forwards while the lane's head is red."""

    article: str = Field("53-1", title="Legal article", description="Article code printed on the ticket.")
    grace_ms: int = Field(0, ge=0, le=3000, title="All-red grace (ms)",
                          description="Crossing this soon after red starts is not reported.")
    judge_by: Literal["front", "placement"] = Field(
        "front", title="Judge by", description="front: when the vehicle's front reached the line (its placement "
        "point moved by the class's length, needs the camera's calibration); placement: its box's bottom centre.")
    frames_before: int = Field(2, ge=1, le=25, title="Frame before (frames)",
                               description="How many frames before the crossing the first evidence frame is.")
    frames_after: int = Field(12, ge=1, le=100, title="Frame after (frames)",
                              description="How many frames after the crossing the second evidence frame is.")


class StopLineRule(RuleConfig):
    """Stop-line overrun on red: past the stop line on red, but stopped before the junction."""

    article: str = Field("60-2-3", title="Legal article", description="Article code printed on the ticket.")
    grace_ms: int = Field(0, ge=0, le=3000, title="All-red grace (ms)", description="As for red_light.")
    stand_s: float = Field(2.0, gt=0, title="Standing (s)",
                           description="Standing this long past the line, on red, without leaving makes an overrun.")
    margin_m: float = Field(0.5, ge=0, le=5, title="Margin (m)",
                            description="The front must have been at least this far over the line, measured on "
                                        "frames with the box's bottom in view: the placement's error (about "
                                        "0.3 m, more with a jittery box) is no overrun.")


class WrongLaneRule(RuleConfig):
    """A movement the lane does not allow (turning from a straight lane, straight from a turn lane)."""

    article: str = Field("48-1-2", title="Legal article", description="Article code printed on the ticket.")


class DwellRule(RuleConfig):
    """Standing in a zone longer than allowed (illegal parking, blocking the junction box)."""

    zones: list[str] = Field(default_factory=list, title="Zones", description="Zone names the rule watches.")
    max_stop_s: float = Field(5.0, ge=0, title="Longest stop (s)", description="Standing longer is a violation.")
    standing_mps: float = Field(0.5, gt=0, title="Standing speed (m/s)",
                                description="Slower than this (on the road plane) counts as standing.")
    classes: list[VehicleClass] = Field(["car", "scooter", "truck", "bus"], min_length=1, title="Classes",
                                        description="Vehicle classes the rule applies to.")
    ignore_red_queue: bool = Field(True, title="Ignore queues at red",
                                   description="Standing while the vehicle's lane head is red and the vehicle "
                                               "has not crossed the stop line does not count (a queue).")


class ParkingRule(DwellRule):
    """Illegal parking: standing in a no-parking zone."""

    article: str = Field("56-1", title="Legal article", description="Article code printed on the ticket.")


class BoxRule(DwellRule):
    """Blocking the box junction: standing in the yellow box."""

    article: str = Field("58-1", title="Legal article", description="Article code printed on the ticket.")
    max_stop_s: float = Field(3.0, ge=0, title="Longest stop (s)", description="Standing longer is a violation.")


class ScooterBoxRule(DwellRule):
    """A car, truck or bus stopping in the scooter waiting box (queues at red included)."""

    article: str = Field("44-1-2", title="Legal article", description="Article code printed on the ticket.")
    max_stop_s: float = Field(1.0, ge=0, title="Longest stop (s)", description="Standing longer is a violation.")
    classes: list[VehicleClass] = Field(["car", "truck", "bus"], min_length=1, title="Classes",
                                        description="Vehicle classes that may not stop in the box.")
    ignore_red_queue: bool = Field(False, title="Ignore queues at red",
                                   description="False: waiting there at red is the violation itself.")


class LaneClassRule(RuleConfig):
    """A vehicle in a lane its class may not use (the lanes' ``classes``)."""

    article: str = Field("45-1-3", title="Legal article", description="Article code printed on the ticket.")
    min_s: float = Field(1.0, ge=0, title="Time in the lane (s)",
                         description="How long the vehicle must hold the lane before it counts.")


class SolidLineRule(RuleConfig):
    """Crossing a solid line (lines named here, either direction)."""

    article: str = Field("60-2-3", title="Legal article", description="Article code printed on the ticket.")
    lines: list[str] = Field(default_factory=list, title="Lines", description="Names of the solid lines.")


class FailToYieldRule(RuleConfig):
    """Entering the crosswalk while a pedestrian on it is within ``margin_m`` of the vehicle's path."""

    article: str = Field("44-2", title="Legal article", description="Article code printed on the ticket.")
    crosswalk: str | None = Field(None, title="Crosswalk zone", description="Name of the crosswalk's zone.")
    margin_m: float = Field(3.0, ge=0, le=10, title="Margin (m)",
                            description="A pedestrian this close to the vehicle's side is in its way (Taiwan: 3 m).")
    max_speed_up_mps: float = Field(
        3.0, gt=0, le=10, title="Largest speed-up (m/s)",
        description="A vehicle whose front reaches the crosswalk with its speed over the last half second "
                    "this much above the half second before (6 m/s2; a scooter's briskest start from the "
                    "line gives about 2) did not drive in: it stood, and people walking behind it cut its "
                    "box short. It is judged then, and not reported.")
    min_forward_share: float = Field(
        0.7, ge=0, le=1, title="Least forward share",
        description="Share of the last half second's motion that must go towards the junction (across the "
                    "stop line; 1 straight on, 0 sideways) for the vehicle to be judged: a track walking "
                    "sideways over the crosswalk is a person taken for a vehicle. Unchecked without a stop line.")


class RestrictedRule(RuleConfig):
    """Entering a restricted road (a zone over its entry), for some classes, at some times."""

    article: str = Field("60-2-3", title="Legal article", description="Article code printed on the ticket.")
    zones: list[str] = Field(default_factory=list, title="Zones", description="Zones over the restricted entries.")
    classes: list[VehicleClass] = Field(["car", "scooter", "truck", "bus"], min_length=1, title="Classes",
                                        description="Vehicle classes the restriction applies to.")


class FencesConfig(Section):
    """Electronic fences: rules drawn on the camera picture."""

    utc_offset_h: float = Field(8.0, ge=-12, le=14, title="Local time offset (h)",
                                description="Local time = UTC + this, for time windows (Taiwan: 8).")
    cameras: list[CameraFences] = Field(default_factory=list, title="Cameras", description="Fences per camera.")
    red_light: RedLightRule = Field(default_factory=RedLightRule, title="Red light", description="The rule.")
    stop_line: StopLineRule = Field(default_factory=StopLineRule, title="Stop line overrun",
                                    description="The rule.")
    wrong_lane: WrongLaneRule = Field(default_factory=WrongLaneRule, title="Wrong lane", description="The rule.")
    illegal_parking: ParkingRule = Field(default_factory=ParkingRule, title="Illegal parking",
                                         description="The rule.")
    box_blocking: BoxRule = Field(default_factory=BoxRule, title="Box junction blocking", description="The rule.")
    lamp_debounce_ms: float = Field(50.0, ge=0, le=1000, title="Lamp debounce (ms)",
                                    description="A head's state counts once it has held this long (lamps switch "
                                                "over within a few ms); it then dates from its own edge.")
    lane_class: LaneClassRule = Field(default_factory=LaneClassRule, title="Class not allowed in the lane",
                                      description="The rule.")
    fail_to_yield: FailToYieldRule = Field(default_factory=FailToYieldRule, title="Failing to yield",
                                           description="The rule.")
    solid_line: SolidLineRule = Field(default_factory=SolidLineRule, title="Solid line", description="The rule.")
    restricted: RestrictedRule = Field(default_factory=RestrictedRule, title="Restricted road or time",
                                       description="The rule.")
    scooter_box: ScooterBoxRule = Field(default_factory=ScooterBoxRule, title="Stopping in the scooter waiting box",
                                        description="The rule.")
    evidence_jpeg_quality: int = Field(85, ge=30, le=100, title="Evidence JPEG quality",
                                       description="Quality of the evidence frames.")
    plate_wait_s: float = Field(3.0, ge=0, le=60, title="Wait for a plate (s)",
                                description="How long after the vehicle's track ends a violation waits for its "
                                            "plate.read before it is stored without one.")

    @model_validator(mode="after")
    def _cameras(self):
        names = [camera.camera for camera in self.cameras]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"cameras: each camera once; repeated: {', '.join(repeated)}")
        for rule in ("illegal_parking", "box_blocking", "scooter_box", "restricted"):
            for index, zone in enumerate(getattr(self, rule).zones):
                if not any(camera.zone(zone) for camera in self.cameras):
                    raise ValueError(f"{rule}.zones[{index}]: no camera has a zone named {zone!r}")
        crosswalk = self.fail_to_yield.crosswalk
        if crosswalk is not None and not any(camera.zone(crosswalk) for camera in self.cameras):
            raise ValueError(f"fail_to_yield.crosswalk: no camera has a zone named {crosswalk!r}")
        for index, line in enumerate(self.solid_line.lines):
            if not any(camera.line(line) for camera in self.cameras):
                raise ValueError(f"solid_line.lines[{index}]: no camera has a line named {line!r}")
        return self

    def check_site(self, site: Any) -> None:
        """Cameras and signal heads named here exist in the site config."""
        cameras = {camera.name for camera in site.cameras}
        heads = {signal.head for signal in site.signals}
        for index, fences in enumerate(self.cameras):
            if fences.camera not in cameras:
                raise ValueError(f"{SECTION}.cameras[{index}].camera: no camera named {fences.camera!r} "
                                 f"(cameras: {', '.join(sorted(cameras)) or 'none'})")
            for lane_index, lane in enumerate(fences.lanes):
                for head in [lane.head, *lane.heads.values()]:
                    if head is not None and head not in heads:
                        raise ValueError(f"{SECTION}.cameras[{index}].lanes[{lane_index}]: no signal head named "
                                         f"{head!r} (signals: {', '.join(sorted(heads)) or 'none'})")

    def local_time(self, time_ns: int) -> datetime:
        return datetime(1970, 1, 1) + timedelta(microseconds=time_ns // 1000, hours=self.utc_offset_h)

    def enforced(self, rule: RuleConfig, camera: str, time_ns: int) -> bool:
        """Whether ``rule`` is on for ``camera`` at ``time_ns``."""
        if not rule.enabled or (rule.cameras and camera not in rule.cameras):
            return False
        if not rule.windows:
            return True
        local = self.local_time(time_ns)
        return any(window.covers(local) for window in rule.windows)
