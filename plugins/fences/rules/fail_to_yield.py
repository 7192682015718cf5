"""Failing to yield to a pedestrian on the crosswalk: the vehicle's front entered the crosswalk
while someone was on it within ``margin_m`` (Taiwan: 3 m) of the vehicle's path, measured
across its heading from its side. Needs the camera's calibration (the front and the distances
are on the road plane). Pedestrians beside the path further than that, or still on the kerb
(outside the crosswalk zone), are not in the way.

The vehicle must enter at ``ENTER_MPS`` or faster (its placement over the last half second). A
vehicle that waits at the crosswalk has its box's bottom hidden by the people walking in front
of it, and the box creeps up the picture as if the vehicle inched in (seen on tuning seed 2406
of fence_yield, a waiting scooter's box creeping 2 m); it yielded, and is not judged.

Nor is it judged from a frame in which a nearer vehicle's box hides the bottom of its box: the
box ends higher up the picture and the front is placed metres too far on. Such a frame put the
front of scooters still queued at the line into the crosswalk (tuning seeds 2417 and 2418 of
fence_yield, a truck and a bus beside them), and since each vehicle is judged once, its real
entry was never judged (a miss, or a false report when people were near at that moment).
Nor from a frame whose speed over the last half second differs from the half second before by
more than ``STEADY_DV_MPS`` (no vehicle changes speed that fast): the track jumped onto another
road user (tuning seed 2418 of fence_yield, a track coasting on a queued scooter took a box
4 m on, 18 m/s on paper). Nor is a track judged whose last half second went mostly sideways
(less than ``min_forward_share``, config 0.7, of it towards the junction; unchecked without a
stop line): on tuning seed 9314 a scooter's track hopped onto people on the crosswalk and walked
across with them at 1.6 m/s. Judged at the first steady, forward frame with the front in the
crosswalk.

Nor does a vehicle fail to yield whose front reaches the crosswalk with a speed-up of more than
``max_speed_up_mps`` over the half second before (config, 3 m/s): it stood at the line, and its
box changed, not its place. On tuning seed 9314 a scooter standing at the stop line, four people
walking behind it, got a box whose bottom ended 1.7 m further up the road within half a second,
its front 'entering' at 3.7 m/s from 0.4 m/s. It is judged in that frame (not later: the half
second windows then smear the jump into a steady 2-3 m/s). A vehicle braking into the crosswalk
(the violator of tuning seed 2406, stopping for the arrow's end half a metre in) slows down, and
is judged as before.
"""

from __future__ import annotations

from roadcam.plugins.annotate import annotated_jpeg

from .. import shapes
from ..context import CameraContext
from ..evidence import Violation
from ..placement import Placed

RULE = "fail_to_yield"
#: Vehicle width by class (m), for the distance from its side.
WIDTH_M = {"car": 1.8, "scooter": 0.7, "truck": 2.4, "bus": 2.5}
ENTER_MPS = 1.5
STEADY_DV_MPS = 4.0


class FailToYield:
    """The rule; ``config`` is the whole ``fences`` section."""

    name = RULE

    def __init__(self, config):
        self.config = config
        self.judged: set[tuple[str, int]] = set()

    def step(self, ctx: CameraContext, placed: Placed, frame) -> list[Violation]:
        rule = self.config.fail_to_yield
        key = (ctx.name, placed.track_id)
        crosswalk = ctx.fences.zone(rule.crosswalk) if rule.crosswalk else None
        if not rule.enabled or crosswalk is None or key in self.judged or not placed.approached:
            return []
        front = ctx.front(placed)
        if front is None:
            return []
        (fx, fy), (hx, hy) = front
        on_picture = ctx.placer.to_picture((fx, fy))
        if on_picture is None or not shapes.contains(crosswalk.polygon, on_picture) or placed.last.hidden:
            return []
        speed, before = placed.speed_mps(), placed.speed_mps(ago_s=0.5)
        if speed is not None and before is not None and abs(speed - before) > STEADY_DV_MPS:
            return []   # a jump onto another road user, not a vehicle driving in
        behind, ahead = ctx.distance_to_stop_m((fx - hx, fy - hy)), ctx.distance_to_stop_m((fx, fy))
        if behind is not None and ahead is not None and behind - ahead < rule.min_forward_share:
            return []   # moving sideways over the crosswalk: a person's box, not a vehicle entering
        self.judged.add(key)   # judged once, as its front enters the crosswalk
        if speed is None or speed < ENTER_MPS:
            return []   # inched in, or its box crept in while it waited
        if before is not None and speed - before > rule.max_speed_up_mps:
            return []   # it stood, and its box was cut short: no vehicle starts that fast
        reach = WIDTH_M.get(placed.kind, WIDTH_M["car"]) / 2 + rule.margin_m
        near = []
        for point, road in ctx.people:
            if road is None or not shapes.contains(crosswalk.polygon, point):
                continue
            across = abs((road[0] - fx) * -hy + (road[1] - fy) * hx)
            if across <= reach:
                near.append(round(across, 2))
        if not near or not self.config.enforced(rule, ctx.name, frame.time_ns):
            return []
        w, h = ctx.placer.size
        pixels = [((a[0] * w, a[1] * h), (b[0] * w, b[1] * h))
                  for a, b in zip(crosswalk.polygon, [*crosswalk.polygon[1:], crosswalk.polygon[0]])]
        before = ctx.frames.at_or_before(frame.index - 5)
        quality = self.config.evidence_jpeg_quality
        frames = [("frame_before", annotated_jpeg(before, quality, lines=pixels, caption="approaching the crosswalk")),
                  ("frame_entering", annotated_jpeg(frame, quality, lines=pixels, box=placed.last.box,
                                                    caption=f"pedestrian {min(near):.1f} m from its path"))]
        lane = ctx.lane_of(placed)
        data = {"article": rule.article, "crosswalk": crosswalk.name, "pedestrians": len(near),
                "nearest_m": min(near), "lane": lane.id if lane else None, "vehicle_kind": placed.kind,
                "speed_kmh": round(placed.speed_mps() * 3.6, 1) if placed.speed_mps() is not None else None}
        return [Violation.of(RULE, ctx.name, placed.track_id, frame.time_ns, data, frames)]

    def finish(self, ctx: CameraContext, placed: Placed) -> list[Violation]:
        self.judged.discard((ctx.name, placed.track_id))
        return []



