"""Crossing a solid line: a vehicle's bottom centre crossed one of the rule's lines, in either
direction (a solid lane line, the centre line). One violation per vehicle and line."""

from __future__ import annotations

from roadcam.appliance.annotate import annotated_jpeg

from ..context import CameraContext
from ..evidence import Violation
from ..placement import Placed

RULE = "solid_line"


class SolidLine:
    """The rule; ``config`` is the whole ``fences`` section."""

    name = RULE

    def __init__(self, config):
        self.config = config
        self.reported: set[tuple[str, int, str]] = set()

    def step(self, ctx: CameraContext, placed: Placed, frame) -> list[Violation]:
        rule = self.config.solid_line
        if not rule.enabled:
            return []
        out = []
        for crossing in placed.crossings:
            key = (ctx.name, placed.track_id, crossing.line)
            if crossing.line not in rule.lines or crossing.frame_index != frame.index or key in self.reported:
                continue
            self.reported.add(key)
            if not self.config.enforced(rule, ctx.name, crossing.time_ns):
                continue
            line = ctx.fences.line(crossing.line)
            w, h = ctx.placer.size
            pixels = [((line.points[0][0] * w, line.points[0][1] * h), (line.points[1][0] * w, line.points[1][1] * h))]
            before = ctx.frames.at_or_before(frame.index - 1)
            box_before = next((s.box for s in reversed(placed.samples) if s.frame_index <= before.index), None)
            quality = self.config.evidence_jpeg_quality
            frames = [("frame_before", annotated_jpeg(before, quality, lines=pixels, box=box_before,
                                                      caption=f"{line.name}: before")),
                      ("frame_after", annotated_jpeg(frame, quality, lines=pixels, box=placed.last.box,
                                                     caption=f"{line.name}: crossed"))]
            lane = ctx.lane_of(placed)
            data = {"article": rule.article, "line": line.name, "direction": "forward" if crossing.forward else "back",
                    "lane": lane.id if lane else None, "vehicle_kind": placed.kind}
            out.append(Violation.of(RULE, ctx.name, placed.track_id, crossing.time_ns, data, frames))
        return out

    def finish(self, ctx: CameraContext, placed: Placed) -> list[Violation]:
        self.reported = {key for key in self.reported if key[:2] != (ctx.name, placed.track_id)}
        return []
