"""Zones drawn on the road (no-parking strips, box junctions, the scooter waiting box,
restricted roads and the sidewalk) and who breaks their rule: standing in them too long, or
entering them at all."""

from __future__ import annotations

from dataclasses import dataclass, field

from .scenario import VEHICLE_KINDS, ZoneModel

#: Violation rule committed in each kind of zone.
RULE_OF_ZONE = {"no_parking": "illegal_parking", "box_junction": "box_blocking", "scooter_box": "scooter_box",
                "restricted": "restricted"}
#: Classes a zone's rule applies to when the zone does not say.
DEFAULT_CLASSES = {"scooter_box": ("car", "truck", "bus")}
#: Below this speed a vehicle counts as standing.
STANDING_MPS = 0.3


@dataclass
class Zone:
    """A polygon on the road plane and how long each vehicle has stood in it."""

    spec: ZoneModel
    standing_since: dict[int, float] = field(default_factory=dict)
    reported: set[int] = field(default_factory=set)

    @property
    def rule(self) -> str:
        return RULE_OF_ZONE[self.spec.kind]

    @property
    def classes(self) -> tuple[str, ...]:
        """Classes the zone's rule applies to."""
        if self.spec.classes is not None:
            return tuple(self.spec.classes)
        return DEFAULT_CLASSES.get(self.spec.kind, VEHICLE_KINDS)

    def contains(self, x: float, y: float) -> bool:
        """Even-odd ray casting."""
        inside = False
        points = self.spec.polygon
        for (x1, y1), (x2, y2) in zip(points, points[1:] + points[:1]):
            if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
                inside = not inside
        return inside

    def watch(self, vehicle_id: int, kind: str, x: float, y: float, speed_mps: float, t_s: float) -> float | None:
        """Note where a vehicle is; return when it broke the zone's rule, once per vehicle: the
        moment it started standing here when it has now stood longer than the zone allows, or
        (a restricted zone) the moment it entered."""
        if kind not in self.classes:
            return None
        if self.spec.kind == "restricted":
            if vehicle_id in self.reported or not self.contains(x, y):
                return None
            self.reported.add(vehicle_id)
            return t_s
        if speed_mps >= STANDING_MPS or not self.contains(x, y):
            self.standing_since.pop(vehicle_id, None)
            return None
        since = self.standing_since.setdefault(vehicle_id, t_s)
        if t_s - since > self.spec.max_stop_s and vehicle_id not in self.reported:
            self.reported.add(vehicle_id)
            return since
        return None
