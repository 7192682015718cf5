"""Ground truth of a simulated run: what really happened, for the scorer only.

The appliance never sees any of this. Times are simulated seconds from the scenario's start
(``time_s``); ``start_ns`` turns them into the UTC wall time the appliance stamps events with.
Image boxes are ``(x1, y1, x2, y2, visible)`` per frame index: the box clipped to the image,
and the fraction of the object left visible after clipping and after nearer objects'
boxes cover it. A vehicle's ``plate_boxes`` are the same for its rear plate, in the frames
where the plate was drawn as a legible patch (at least 8 px wide). ``ground`` is the object's
road-plane point ``(x, y)`` in metres (a vehicle's footprint centre, a pedestrian's feet) in the
same frames as its boxes, and ``areas`` names the road rectangles where the rules look
(:meth:`roadcam.sim.layout.RoadLayout.rule_areas`, as ``(x_min, x_max, y_min, y_max)``): with
both, the scorer judges identity where the rules need it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

#: Per-frame fields, keyed by frame index (strings in JSON).
_BOX_FIELDS = ("boxes", "plate_boxes", "ground")


@dataclass
class Violation:
    """A violation the world saw a vehicle commit."""

    rule: str
    time_s: float
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class LoopPassage:
    """A vehicle crossing one loop: when its body first and last covered it, and its speed."""

    loop: str
    enter_s: float
    exit_s: float | None = None
    speed_kmh: float = 0.0


@dataclass
class SpeedSummary:
    """How fast a vehicle went while in the world (km/h)."""

    entry_kmh: float = 0.0
    min_kmh: float = float("inf")
    max_kmh: float = 0.0
    mean_kmh: float = 0.0
    at_stop_line_kmh: float | None = None
    distance_m: float = 0.0
    time_s: float = 0.0

    def add(self, speed_mps: float, dt_s: float) -> None:
        kmh = speed_mps * 3.6
        self.min_kmh = min(self.min_kmh, kmh)
        self.max_kmh = max(self.max_kmh, kmh)
        self.distance_m += speed_mps * dt_s
        self.time_s += dt_s
        self.mean_kmh = self.distance_m / self.time_s * 3.6 if self.time_s else kmh


@dataclass
class ObjectTruth:
    """What every simulated object has: identity, when it was in the world, where it was seen."""

    id: int
    kind: str
    entry_s: float
    exit_s: float | None = None
    boxes: dict[int, tuple[float, float, float, float, float]] = field(default_factory=dict)
    ground: dict[int, tuple[float, float]] = field(default_factory=dict)


@dataclass
class VehicleTruth(ObjectTruth):
    plate: str = ""
    behaviour: str = "compliant"
    lane: int = 1
    movement: str = "straight"
    stop_line_s: float | None = None
    speed: SpeedSummary = field(default_factory=SpeedSummary)
    violations: list[Violation] = field(default_factory=list)
    loop_passages: list[LoopPassage] = field(default_factory=list)
    plate_boxes: dict[int, tuple[float, float, float, float, float]] = field(default_factory=dict)


@dataclass
class PedestrianTruth(ObjectTruth):
    side: str = "near"


@dataclass
class GroundTruth:
    """Everything the scorer compares the appliance's output with."""

    scenario: str
    seed: int
    fps: float
    start_ns: int
    camera: str
    frames_rendered: int = 0
    vehicles: dict[int, VehicleTruth] = field(default_factory=dict)
    pedestrians: dict[int, PedestrianTruth] = field(default_factory=dict)
    loop_intervals: dict[str, list[list[float | None]]] = field(default_factory=dict)
    signal_changes: dict[str, list[tuple[float, str]]] = field(default_factory=dict)
    hotlist: list[str] = field(default_factory=list)
    areas: dict[str, tuple[float, float, float, float]] = field(default_factory=dict)

    def wall_ns(self, time_s: float) -> int:
        """UTC nanoseconds of simulated second ``time_s``."""
        return self.start_ns + int(round(time_s * 1e9))

    def sim_s(self, wall_ns: int) -> float:
        """Simulated seconds of a UTC nanosecond stamp."""
        return (wall_ns - self.start_ns) / 1e9

    def violations(self) -> list[tuple[VehicleTruth, Violation]]:
        """Every violation with the vehicle that committed it, in time order."""
        found = [(vehicle, v) for vehicle in self.vehicles.values() for v in vehicle.violations]
        return sorted(found, key=lambda pair: (pair[1].time_s, pair[0].id))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for group in ("vehicles", "pedestrians"):
            data[group] = {str(key): _boxes_to_lists(value) for key, value in data[group].items()}
        return _finite(data)

    def to_json(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1, sort_keys=True), encoding="utf-8")

    def digest_bytes(self) -> bytes:
        """Canonical bytes of the whole truth (for determinism checks)."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, path: str | Path) -> GroundTruth:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        vehicles = {int(key): _vehicle_from_dict(value) for key, value in data.pop("vehicles").items()}
        pedestrians = {int(key): PedestrianTruth(**_object_fields(value))
                       for key, value in data.pop("pedestrians").items()}
        changes = {head: [tuple(change) for change in items] for head, items in data.pop("signal_changes").items()}
        areas = {name: tuple(rect) for name, rect in data.pop("areas", {}).items()}
        return cls(vehicles=vehicles, pedestrians=pedestrians, signal_changes=changes, areas=areas, **data)


def _boxes_to_lists(item: dict[str, Any]) -> dict[str, Any]:
    for key in _BOX_FIELDS:
        if key in item:
            item[key] = {str(frame): list(box) for frame, box in item[key].items()}
    return item


def _object_fields(value: dict[str, Any]) -> dict[str, Any]:
    for key in _BOX_FIELDS:
        if key in value:
            value[key] = {int(frame): tuple(box) for frame, box in value[key].items()}
    return value


def _vehicle_from_dict(value: dict[str, Any]) -> VehicleTruth:
    value = _object_fields(value)
    value["speed"] = SpeedSummary(**value["speed"])
    value["violations"] = [Violation(**v) for v in value["violations"]]
    value["loop_passages"] = [LoopPassage(**p) for p in value["loop_passages"]]
    return VehicleTruth(**value)


def _finite(value: Any) -> Any:
    """Replace infinities (an unset minimum) with None so the JSON is standard."""
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value
