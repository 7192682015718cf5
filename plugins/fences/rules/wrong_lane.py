"""Wrong lane: a movement the vehicle's lane does not allow (turning from a straight-only lane,
going straight from a turn lane), judged from the lane it crossed the stop line in and the exit
zone it then reached. A vehicle whose exit was not seen is not judged.

Nor is one whose crossing of the stop line was not seen: found between two measured placements
more than ``CROSSING_GAP_S`` apart (the bound the red-light rule puts on a front's crossing). A
track that coasted hidden in a queue and came back on another vehicle already past the line
"crossed" it in the jump, and carried its queued vehicle's lane into the other one's turn
(tuning runs fence_yield 2416 and junction 20260302: both after 4.3 s unmeasured)."""

from __future__ import annotations

from roadcam.plugins.annotate import annotated_jpeg

from ..context import CROSSING_GAP_S, CameraContext
from ..evidence import Violation
from ..placement import Placed

RULE = "wrong_lane"


class WrongLane:
    """The rule; ``config`` is the whole ``fences`` section."""

    name = RULE

    def __init__(self, config):
        self.config = config
        self.at_line: dict[tuple[str, int], object] = {}   # the frame it crossed the stop line in
        self.at_exit: dict[tuple[str, int], object] = {}   # the frame it was first seen in its exit

    def step(self, ctx: CameraContext, placed: Placed, frame) -> list[Violation]:
        key = (ctx.name, placed.track_id)
        if ctx.stop is None or not self.config.wrong_lane.enabled:
            return []
        crossing = placed.crossed(ctx.stop.name)
        if crossing is not None and key not in self.at_line:
            self.at_line[key] = frame
        if key in self.at_line and key not in self.at_exit and ctx.movement(placed) is not None:
            self.at_exit[key] = frame
        return []

    def finish(self, ctx: CameraContext, placed: Placed) -> list[Violation]:
        key = (ctx.name, placed.track_id)
        line_frame, exit_frame = self.at_line.pop(key, None), self.at_exit.pop(key, None)
        crossing = placed.crossed(ctx.stop.name) if ctx.stop else None
        lane, movement = ctx.lane_of(placed), ctx.movement(placed)
        if None in (crossing, lane, movement, line_frame, exit_frame) or movement in lane.movements \
                or not placed.approached or crossing.gap_ns > CROSSING_GAP_S * 1e9:
            return []
        if not self.config.enforced(self.config.wrong_lane, ctx.name, crossing.time_ns):
            return []
        quality = self.config.evidence_jpeg_quality
        box_at = {s.frame_index: s.box for s in placed.samples}
        frames = [("frame_at_stop_line", annotated_jpeg(line_frame, quality, lines=ctx.stop_pixels(),
                                                        box=box_at.get(line_frame.index),
                                                        caption=f"lane {lane.id}: {'/'.join(lane.movements)}")),
                  ("frame_at_exit", annotated_jpeg(exit_frame, quality, box=box_at.get(exit_frame.index),
                                                   caption=f"movement: {movement}"))]
        data = {"article": self.config.wrong_lane.article, "lane": lane.id, "movement": movement,
                "allowed": list(lane.movements), "vehicle_kind": placed.kind}
        return [Violation.of(RULE, ctx.name, placed.track_id, crossing.time_ns, data, frames)]
