"""Red-light running: the vehicle's front reached the stop line while its lane's head (the head
of its movement, where a movement has its own) was red past the all-red grace, and the whole
vehicle then crossed the line.

A vehicle whose front went over the line on red but which then waited there and crossed whole
on green overran the stop line (:mod:`.stop_line`); it did not run the red.

Only a trusted head is judged (see :mod:`..signals`): dark or implausible lamps never make a
violation. Vehicles already past the line at amber, queues at red and turns on a green arrow
are not violations: the head of the movement is read at the moment the front crossed.

Nor is a vehicle whose crossing of the stop line (its placement's, the whole vehicle's) was not
seen: found between two measured placements more than ``CROSSING_GAP_S`` apart, the bound on the
front's crossing. A queued vehicle's track that coasted unmeasured and came back on another road
user past the line (a pedestrian on the crosswalk, a vehicle driving on) "crossed" it in the jump
(tuning runs fence_rush 2405, fence_yield 2418: 0.84 s and 0.64 s unmeasured).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from roadcam.plugins.annotate import annotated_jpeg

from ..context import CROSSING_GAP_S, CameraContext
from ..evidence import Violation
from ..placement import Placed
from ..signals import SignalBook

RULE = "red_light"
#: With calibration, a runner's placement (its rear) must then go this far past the line (m)
#: while the head is still red: a queued vehicle whose box flickers or creeps over the line,
#: or a track that slips between two vehicles at the line, does not drive on into the junction
#: until green. However long its front stood over the line first: one that drives on with its
#: head still red ran the red (the stop_line rule leaves it to this rule).
WENT_ON_M = 3.0
log = logging.getLogger("roadcam.fences")


@dataclass
class _Candidate:
    time_ns: int
    frame_index: int
    lane: int
    before: bytes
    after: bytes | None = None
    speed_kmh: float | None = None
    went_on_ns: int | None = None   # when its rear was first WENT_ON_M past the line


class RedLight:
    """The rule; ``config`` is the section's ``red_light``."""

    name = RULE

    def __init__(self, config, signals: SignalBook):
        self.config = config
        self.signals = signals
        self.candidates: dict[tuple[str, int], _Candidate] = {}
        self.judged: set[tuple[str, int]] = set()

    @property
    def rule(self):
        return self.config.red_light

    def step(self, ctx: CameraContext, placed: Placed, frame) -> list[Violation]:
        key = (ctx.name, placed.track_id)
        rule = self.rule
        if key not in self.judged:
            at = ctx.front_crossing_ns(placed, rule.judge_by)
            if at is not None:
                log.debug("red_light: track %s front at the stop line at %d, lane %s", placed.track_id, at,
                          ctx.lane_of(placed) and ctx.lane_of(placed).id)
                self.judged.add(key)
                self._judge(ctx, placed, frame, at)
        candidate = self.candidates.get(key)
        if candidate is not None and candidate.went_on_ns is None:
            distance = ctx.distance_to_stop_m(placed.last.road)
            if distance is not None and distance <= -WENT_ON_M:
                candidate.went_on_ns = placed.last.time_ns
        crossing = placed.crossed(ctx.stop.name) if ctx.stop else None
        if candidate is not None and candidate.after is None and crossing is not None \
                and frame.index >= crossing.frame_index + rule.frames_after:
            candidate.after = self._frame_jpeg(ctx, frame, placed, "after the stop line")
        return []

    def _state(self, head: str | None, at: int) -> tuple[str, int] | None:
        if head is None:
            return None
        seen = self.signals.state_at(head, at)
        if seen is None or not self.signals.trusted_since(head, seen[1], at):
            return None
        return seen

    def _maybe_red(self, head: str, at: int) -> bool:
        """Red, or about to be accepted as red (its edge is younger than the debounce time)."""
        seen = self._state(head, at)
        return (seen is not None and seen[0] == "red") or self.signals.pending(head) == "red"

    def _judge(self, ctx: CameraContext, placed: Placed, frame, at: int) -> None:
        lane = ctx.lane_of(placed)
        if lane is None or not placed.approached or not self.config.enforced(self.rule, ctx.name, at):
            return  # no lane, or not seen coming up to the line (see CameraContext.note_approach)
        heads = {lane.head_for(movement) for movement in lane.movements} | {lane.head}
        if not any(self._maybe_red(head, at) for head in heads if head):
            return  # no head of the lane was (or was turning) red: nothing to follow
        before = ctx.frames.at_or_before(frame.index - self.rule.frames_before)
        state = self._state(lane.head, at)
        caption = _caption(lane.head, state, at)
        speed = placed.speed_mps()
        self.candidates[(ctx.name, placed.track_id)] = _Candidate(
            at, frame.index, lane.id, annotated_jpeg(before, self.config.evidence_jpeg_quality, lines=ctx.stop_pixels(),
                                                     box=_box_at(placed, before.index), caption=caption,
                                                     colour=state[0] if state else "dark"),
            speed_kmh=round(speed * 3.6, 1) if speed is not None else None)

    def _frame_jpeg(self, ctx: CameraContext, frame, placed: Placed, caption: str) -> bytes:
        return annotated_jpeg(frame, self.config.evidence_jpeg_quality, lines=ctx.stop_pixels(),
                              box=placed.last.box, caption=caption, colour="box")

    def finish(self, ctx: CameraContext, placed: Placed) -> list[Violation]:
        key = (ctx.name, placed.track_id)
        self.judged.discard(key)
        candidate = self.candidates.pop(key, None)
        crossing = placed.crossed(ctx.stop.name) if ctx.stop else None
        log.debug("red_light: track %s finished, candidate %s, crossed %s", placed.track_id,
                  candidate and candidate.time_ns, crossing)
        if candidate is None or crossing is None:
            return []  # it never crossed on red, or stopped past the line (the stop_line rule's case)
        if crossing.gap_ns > CROSSING_GAP_S * 1e9:
            return []  # its crossing was not seen: the track may have jumped to someone past the line
        lane = ctx.lanes[candidate.lane]
        movement = ctx.movement(placed)
        head = lane.head_for(movement if movement else (lane.movements[0] if len(lane.movements) == 1 else None))
        state = self._state(head, candidate.time_ns)
        rear = self._state(head, crossing.time_ns)
        if state is None or state[0] != "red" or rear is None or rear[0] != "red":
            return []  # not red when the front reached the line, or it waited over the line for green
        if placed.last.road is not None:
            went_on = self._state(head, candidate.went_on_ns) if candidate.went_on_ns is not None else None
            if went_on is None or went_on[0] != "red":
                return []  # it never drove on into the junction on red
        into_ms = (candidate.time_ns - state[1]) // 1_000_000
        if into_ms < self.rule.grace_ms:
            return []
        after = candidate.after
        if after is None and ctx.frames.latest is not None:
            after = self._frame_jpeg(ctx, ctx.frames.latest, placed, "after the stop line")
        data = {"article": self.rule.article, "lane": lane.id, "movement": movement, "head": head,
                "phase": "red", "into_red_ms": int(into_ms), "vehicle_kind": placed.kind,
                "speed_kmh": candidate.speed_kmh, "judged_by": self.rule.judge_by}
        evidence = [("frame_before", candidate.before)] + ([("frame_after", after)] if after else [])
        return [Violation.of(RULE, ctx.name, placed.track_id, candidate.time_ns, data, evidence)]


def _box_at(placed: Placed, frame_index: int):
    return next((s.box for s in reversed(placed.samples) if s.frame_index <= frame_index), placed.last.box)


def _caption(head: str | None, state: tuple[str, int] | None, at: int) -> str:
    if state is None:
        return f"{head}: unknown"
    return f"{head}: {state[0].upper()} +{(at - state[1]) // 1_000_000} ms"
