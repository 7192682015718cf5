"""Stop-line overrun on red: the vehicle's front went over the stop line while its lane's head
was red (past the grace), and the vehicle then stood there, on red, for ``stand_s`` without
crossing the line whole. A vehicle that goes on through is a red-light runner instead (see
:mod:`.red_light`), never both. Needs the camera's calibration (the front is placed from the
rear by the class's length); without it no overrun is judged.

Only a crossing between two frames in which the box's bottom was in view counts: in a queue the
vehicle behind hides the bottom of the one in front, whose box then ends higher up the picture,
its rear (and front) placed up to a metre too far on: queued cars standing 0.5 m before the line
were judged over it (tuning seed 2403 of fence_parking, three of three overruns reported).
And the front must have been at least ``margin_m`` over the line in some frame with the bottom
in view: a scooter standing 0.5 m before the line was placed from 0.4 m before to 0.1 m over it
as its box jittered (tuning seed 2418 of fence_yield); the overrunners of tuning seed 2411 of
fence_stop_line stood 1.0 to 2.5 m over it.

An overrun found is held until the vehicle drives on (its rear ``WENT_ON_M`` past the line, the
red-light rule's measure) or its track ends: one that drives on with its head still red ran the
red after standing past the line (for people on the crosswalk ahead), and is not an overrun
(tuning seeds 2401 and 2405 of fence_rush: a car and a scooter stood 5 s and 6.5 s just past
the line, then drove on on red). The rear merely crossing the line is not enough: a standing
scooter 1.5 m over has its rear 0.4 m before it, and its box's bottom creeps over.
"""

from __future__ import annotations

from dataclasses import dataclass

from roadcam.plugins.annotate import annotated_jpeg

from ..context import LENGTH_M, CameraContext
from ..evidence import Violation
from ..placement import Placed
from ..signals import SignalBook
from .red_light import WENT_ON_M

RULE = "stop_line"
#: Slower than this (m/s, road plane) the vehicle stands.
STANDING_MPS = 0.5


@dataclass
class _Over:
    time_ns: int
    head: str
    into_red_ms: int
    lane: int
    before: bytes
    deepest_m: float = 0.0   # furthest the front was over the line, on frames with the bottom in view
    standing_since_ns: int | None = None
    reported: bool = False
    held: Violation | None = None   # found, waiting for how the vehicle leaves


class StopLine:
    """The rule; ``config`` is the whole ``fences`` section."""

    name = RULE

    def __init__(self, config, signals: SignalBook):
        self.config = config
        self.signals = signals
        self.over: dict[tuple[str, int], _Over] = {}

    def step(self, ctx: CameraContext, placed: Placed, frame) -> list[Violation]:
        rule = self.config.stop_line
        key = (ctx.name, placed.track_id)
        if not rule.enabled or ctx.stop is None or ctx.placer.geometry is None:
            return []
        at = ctx.front_crossing_ns(placed, "front")
        if at is not None and any(sample.hidden for sample in list(placed.samples)[-2:]):
            at = None   # the bottom of its box is hidden: the front is placed too far on
        lane = ctx.lane_of(placed)
        if at is not None and key not in self.over and lane is not None and lane.head and placed.approached:
            seen = self.signals.state_at(lane.head, at)
            into_ms = (at - seen[1]) // 1_000_000 if seen else -1
            if seen and seen[0] == "red" and into_ms >= rule.grace_ms and self.config.enforced(rule, ctx.name, at):
                before = ctx.frames.at_or_before(frame.index - 1)
                self.over[key] = _Over(at, lane.head, int(into_ms), lane.id, annotated_jpeg(
                    before, self.config.evidence_jpeg_quality, lines=ctx.stop_pixels(), box=placed.last.box,
                    caption=f"{lane.head}: RED +{into_ms} ms", colour="red"))
        over = self.over.get(key)
        distance = ctx.distance_to_stop_m(placed.last.road)
        if over is not None and over.held is not None and distance is not None and distance <= -WENT_ON_M:
            state = self.signals.state_at(over.head, frame.time_ns)
            held, over.held = over.held, None
            return [] if state is not None and state[0] == "red" else [held]
        if over is None or over.reported or placed.crossed(ctx.stop.name):
            return []
        if distance is not None and not placed.last.hidden:
            over.deepest_m = max(over.deepest_m, _length(placed) - distance)
        speed = placed.speed_mps()
        state = self.signals.state_at(over.head, frame.time_ns)
        if speed is None or speed >= STANDING_MPS or state is None or state[0] != "red":
            over.standing_since_ns = None
            return []
        if over.standing_since_ns is None:
            over.standing_since_ns = frame.time_ns
        if frame.time_ns - over.standing_since_ns < rule.stand_s * 1e9 or over.deepest_m < rule.margin_m:
            return []
        over.reported = True
        frames = [("frame_before", over.before),
                  ("frame_standing", annotated_jpeg(frame, self.config.evidence_jpeg_quality, lines=ctx.stop_pixels(),
                                                    box=placed.last.box, caption=f"{over.head}: RED, over the line",
                                                    colour="red"))]
        data = {"article": rule.article, "lane": over.lane, "head": over.head, "phase": "red",
                "into_red_ms": over.into_red_ms, "vehicle_kind": placed.kind,
                "over_m": round(over.deepest_m, 2)}
        over.held = Violation.of(RULE, ctx.name, placed.track_id, over.time_ns, data, frames)
        return []

    def finish(self, ctx: CameraContext, placed: Placed) -> list[Violation]:
        over = self.over.pop((ctx.name, placed.track_id), None)
        return [over.held] if over is not None and over.held is not None else []


def _length(placed: Placed) -> float:
    return LENGTH_M.get(placed.kind, LENGTH_M["car"])
