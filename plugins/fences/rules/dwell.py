"""Standing in a zone too long: illegal parking (a no-parking zone), blocking the junction box,
a car stopping in the scooter waiting box. The same rule with its own section each
(``illegal_parking``, ``box_blocking``, ``scooter_box``), each for its ``classes``.

A vehicle stands while its road-plane speed (its picture speed without calibration) is below
``standing_mps``; the clock starts when it stands inside one of the rule's zones and runs while
it stays standing there. With ``ignore_red_queue`` a vehicle that has not crossed the stop line
and whose lane's head is red is queueing, not parking: its clock does not run.
"""

from __future__ import annotations

from dataclasses import dataclass

from roadcam.plugins.annotate import annotated_jpeg

from ..context import CameraContext
from ..evidence import Violation
from ..placement import Placed
from ..signals import SignalBook

#: Without calibration: picture widths per second below which a vehicle stands.
STANDING_PICTURE_PER_S = 0.004


@dataclass
class _Standing:
    zone: str
    since_ns: int
    frame: object
    reported: bool = False


class Dwell:
    """One dwell rule: ``rule`` is ``illegal_parking`` or ``box_blocking``."""

    def __init__(self, rule: str, config, signals: SignalBook):
        self.name = rule
        self.config = config
        self.signals = signals
        self.standing: dict[tuple[str, int], _Standing] = {}
        self.reported: set[tuple[str, int, str]] = set()   # once per vehicle and zone

    @property
    def rule(self):
        return getattr(self.config, self.name)

    def step(self, ctx: CameraContext, placed: Placed, frame) -> list[Violation]:
        rule = self.rule
        key = (ctx.name, placed.track_id)
        if not rule.enabled or placed.kind not in rule.classes:
            return []
        zone = next((name for name in rule.zones if placed.in_zone(name)), None)
        if zone is None or not self._stands(placed, rule.standing_mps) or self._queueing(ctx, placed, frame.time_ns):
            self.standing.pop(key, None)
            return []
        standing = self.standing.get(key)
        if standing is None or standing.zone != zone:
            standing = self.standing[key] = _Standing(zone, frame.time_ns, frame)
        if standing.reported or frame.time_ns - standing.since_ns <= rule.max_stop_s * 1e9:
            return []
        standing.reported = True
        if (*key, zone) in self.reported:
            return []   # it stood, crept on and stood again in the same zone: one violation
        self.reported.add((*key, zone))
        if not self.config.enforced(rule, ctx.name, standing.since_ns):
            return []
        quality = self.config.evidence_jpeg_quality
        stood_s = (frame.time_ns - standing.since_ns) / 1e9
        box_at = {s.frame_index: s.box for s in placed.samples}
        frames = [("frame_stopped", annotated_jpeg(standing.frame, quality, box=box_at.get(standing.frame.index),
                                                   caption=f"{zone}: stopped")),
                  ("frame_still_there", annotated_jpeg(frame, quality, box=placed.last.box,
                                                       caption=f"{zone}: still there after {stood_s:.1f} s"))]
        lane = ctx.lane_of(placed)
        data = {"article": rule.article, "zone": zone, "stood_s": round(stood_s, 2), "max_stop_s": rule.max_stop_s,
                "lane": lane.id if lane else None, "vehicle_kind": placed.kind}
        return [Violation.of(self.name, ctx.name, placed.track_id, standing.since_ns, data, frames)]

    @staticmethod
    def _stands(placed: Placed, standing_mps: float) -> bool:
        speed = placed.speed_mps(1.0)
        if speed is not None:
            return speed < standing_mps
        last = placed.samples[-1]
        first = next(s for s in placed.samples if last.time_ns - s.time_ns <= 1e9)
        span_s = (last.time_ns - first.time_ns) / 1e9
        if span_s < 0.5:
            return False
        moved = abs(last.point[0] - first.point[0]) + abs(last.point[1] - first.point[1])
        return moved / span_s < STANDING_PICTURE_PER_S

    def _queueing(self, ctx: CameraContext, placed: Placed, time_ns: int) -> bool:
        if not self.rule.ignore_red_queue or (ctx.stop and placed.crossed(ctx.stop.name)):
            return False
        lane = ctx.lane_of(placed)
        seen = self.signals.state_at(lane.head, time_ns) if lane and lane.head else None
        return seen is not None and seen[0] in ("red", "amber")

    def finish(self, ctx: CameraContext, placed: Placed) -> list[Violation]:
        key = (ctx.name, placed.track_id)
        self.standing.pop(key, None)
        self.reported = {item for item in self.reported if item[:2] != key}
        return []
