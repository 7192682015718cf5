"""A vehicle in a lane its class may not use (a scooter in a car-only lane, a truck in a bus
lane): its bottom centre held in the lane for ``min_s`` while its track's class (the vote over
the track's life) is not among the lane's ``classes``. One violation per vehicle and lane."""

from __future__ import annotations

from roadcam.plugins.annotate import annotated_jpeg

from ..context import CameraContext
from ..evidence import Violation
from ..placement import Placed

RULE = "lane_class"


class LaneClass:
    """The rule; ``config`` is the whole ``fences`` section."""

    name = RULE

    def __init__(self, config):
        self.config = config
        self.since: dict[tuple[str, int], tuple[int, int, object]] = {}   # -> (lane, since_ns, first frame)
        self.reported: set[tuple[str, int, int]] = set()

    def step(self, ctx: CameraContext, placed: Placed, frame) -> list[Violation]:
        rule = self.config.lane_class
        key = (ctx.name, placed.track_id)
        lane = ctx.lanes.get(placed.lane.value) if placed.lane.value is not None else None
        if not rule.enabled or lane is None or placed.kind in lane.classes:
            self.since.pop(key, None)
            return []
        lane_id, since_ns, first = self.since.get(key) or (None, 0, None)
        if lane_id != lane.id:
            self.since[key] = (lane.id, frame.time_ns, frame)
            return []
        if frame.time_ns - since_ns < rule.min_s * 1e9 or (*key, lane.id) in self.reported:
            return []
        self.reported.add((*key, lane.id))
        if not self.config.enforced(rule, ctx.name, since_ns):
            return []
        quality = self.config.evidence_jpeg_quality
        caption = f"lane {lane.id}: {'/'.join(lane.classes)} only"
        frames = [("frame_in_lane", annotated_jpeg(first, quality, caption=caption,
                                                   box=next((s.box for s in placed.samples
                                                             if s.frame_index == first.index), None))),
                  ("frame_still_in_lane", annotated_jpeg(frame, quality, box=placed.last.box, caption=caption))]
        data = {"article": rule.article, "lane": lane.id, "allowed": list(lane.classes), "vehicle_kind": placed.kind}
        return [Violation.of(RULE, ctx.name, placed.track_id, since_ns, data, frames)]

    def finish(self, ctx: CameraContext, placed: Placed) -> list[Violation]:
        key = (ctx.name, placed.track_id)
        self.since.pop(key, None)
        self.reported = {item for item in self.reported if item[:2] != key}
        return []
