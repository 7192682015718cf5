"""Entering a restricted road, or a road at a restricted time: a vehicle of one of the rule's
``classes`` confirmed inside one of its ``zones`` (drawn over the restricted road's entry) while
the rule is enforced (its ``windows``; none: always). One violation per vehicle."""

from __future__ import annotations

from ..context import CameraContext
from ..evidence import Violation, annotated_jpeg
from ..placement import Placed

RULE = "restricted"


class Restricted:
    """The rule; ``config`` is the whole ``fences`` section."""

    name = RULE

    def __init__(self, config):
        self.config = config
        self.reported: set[tuple[str, int]] = set()

    def step(self, ctx: CameraContext, placed: Placed, frame) -> list[Violation]:
        rule = self.config.restricted
        key = (ctx.name, placed.track_id)
        if not rule.enabled or key in self.reported or placed.kind not in rule.classes:
            return []
        zone = next((name for name in rule.zones if placed.in_zone(name)), None)
        if zone is None or not self.config.enforced(rule, ctx.name, frame.time_ns):
            return []
        self.reported.add(key)
        local = self.config.local_time(frame.time_ns).strftime("%a %H:%M")
        frames = [("frame_entering", annotated_jpeg(frame, self.config.evidence_jpeg_quality, box=placed.last.box,
                                                    caption=f"{zone}: no {placed.kind} ({local})"))]
        data = {"article": rule.article, "zone": zone, "vehicle_kind": placed.kind, "local_time": local}
        return [Violation.of(RULE, ctx.name, placed.track_id, frame.time_ns, data, frames)]

    def finish(self, ctx: CameraContext, placed: Placed) -> list[Violation]:
        self.reported.discard((ctx.name, placed.track_id))
        return []
