"""Crossing a solid line: a vehicle's bottom centre crossed one of the rule's lines, in either
direction (a solid lane line, the centre line). One violation per vehicle and line.

A crossing is judged only between steady frames of its track, and only once the vehicle stayed
over the line. The tracker's box sometimes jumps from one road user to a neighbour in the next
lane (a truck's track taking the car beside it, a scooter's taking a bus), or coasts unmeasured
and comes back on someone else; its bottom centre then "crosses" a lane line in the jump. Such
a jump shows in the measured boxes around it: a gap in them, a box of another size, or a step
off the motion of the frames before. So a crossing counts when its own frames and the
``STEADY_BEFORE`` measured frames before it and the ``STAY_FRAMES`` after it (the crossing's
own included), all on the new side, follow one another with no gap over ``MAX_GAP_S``, no
change of box width or height over ``MAX_RESIZE`` from one to the next, and no step further
than ``MAX_JUMP`` box widths off where the two frames before it lead. A crossing judged
unsteady leaves the line open, so the vehicle's own later crossing still counts. Tuned on
fence_solid_line 2414 and 9311-9313 (see docs/rules/solid_line.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from roadcam.plugins.annotate import annotated_jpeg

from .. import shapes
from ..context import CameraContext
from ..evidence import Violation
from ..placement import Placed, Sample

RULE = "solid_line"
#: Measured frames on the new side, the crossing's own included, before a crossing is judged.
STAY_FRAMES = 5
#: Steps after the crossing's own that must be steady too.
STEADY_AFTER = 1
#: Longest time (s) between the two measured frames of a steady step.
MAX_GAP_S = 0.3
#: Largest change of box width or height in a steady step (share of the larger).
MAX_RESIZE = 0.25
#: Largest distance of a steady step's end from where the two frames before it lead, in box widths.
MAX_JUMP = 0.5


@dataclass
class _Candidate:
    """A crossing seen and not judged yet: waiting for the frames after it."""

    line: str
    forward: bool
    time_ns: int
    frame_index: int        # the first frame on the new side
    before: object          # the frame before it, for the evidence
    box_before: tuple
    lane: int | None        # the lane it was in as it crossed


class SolidLine:
    """The rule; ``config`` is the whole ``fences`` section."""

    name = RULE

    def __init__(self, config):
        self.config = config
        self.reported: set[tuple[str, int, str]] = set()
        self.waiting: dict[tuple[str, int], list[_Candidate]] = {}

    def step(self, ctx: CameraContext, placed: Placed, frame) -> list[Violation]:
        rule = self.config.solid_line
        if not rule.enabled or len(placed.samples) < 2:
            return []
        key = (ctx.name, placed.track_id)
        waiting = self.waiting.setdefault(key, [])
        out = []
        for candidate in list(waiting):
            verdict = self._verdict(ctx, placed, candidate)
            if verdict is None:
                continue
            waiting.remove(candidate)
            if verdict and (*key, candidate.line) not in self.reported:
                self.reported.add((*key, candidate.line))
                out += self._violation(ctx, placed, candidate, frame)
        before, now = placed.samples[-2], placed.samples[-1]
        if before.cut or now.cut:
            return out
        for name in rule.lines:
            if (*key, name) in self.reported or any(c.line == name for c in waiting):
                continue
            line = ctx.fences.line(name)
            for forward, (a, b) in ((True, line.points), (False, line.points[::-1])):
                t = shapes.crossing(a, b, before.point, now.point)
                if t is not None:
                    lane = ctx.lane_of(placed)
                    waiting.append(_Candidate(name, forward, int(before.time_ns + t * (now.time_ns - before.time_ns)),
                                              now.frame_index, ctx.frames.at_or_before(before.frame_index),
                                              before.box, lane.id if lane else None))
        return out

    def _verdict(self, ctx: CameraContext, placed: Placed, candidate: _Candidate) -> bool | None:
        """True: a steady crossing; False: a jump, or back over the line; None: not yet known."""
        samples = list(placed.samples)
        first = next((i for i, s in enumerate(samples) if s.frame_index >= candidate.frame_index), None)
        if first is None or first < 2:
            return False   # no motion to follow before it
        line = ctx.fences.line(candidate.line)
        a, b = line.points if candidate.forward else line.points[::-1]
        after = samples[first:]
        if any(s.cut or shapes.side(a, b, s.point) > 0 for s in after):
            return False
        if len(after) < STAY_FRAMES:
            return None
        return _steady(samples[first - 2:first + 1 + STEADY_AFTER], ctx.placer.size)

    def _violation(self, ctx: CameraContext, placed: Placed, candidate: _Candidate, frame) -> list[Violation]:
        rule = self.config.solid_line
        if not self.config.enforced(rule, ctx.name, candidate.time_ns):
            return []
        line = ctx.fences.line(candidate.line)
        w, h = ctx.placer.size
        pixels = [((line.points[0][0] * w, line.points[0][1] * h), (line.points[1][0] * w, line.points[1][1] * h))]
        quality = self.config.evidence_jpeg_quality
        frames = [("frame_before", annotated_jpeg(candidate.before, quality, lines=pixels, box=candidate.box_before,
                                                  caption=f"{line.name}: before")),
                  ("frame_after", annotated_jpeg(frame, quality, lines=pixels, box=placed.last.box,
                                                 caption=f"{line.name}: crossed"))]
        data = {"article": rule.article, "line": line.name, "direction": "forward" if candidate.forward else "back",
                "lane": candidate.lane, "vehicle_kind": placed.kind}
        return [Violation.of(RULE, ctx.name, placed.track_id, candidate.time_ns, data, frames)]

    def finish(self, ctx: CameraContext, placed: Placed) -> list[Violation]:
        self.reported = {key for key in self.reported if key[:2] != (ctx.name, placed.track_id)}
        self.waiting.pop((ctx.name, placed.track_id), None)
        return []


def _steady(samples: list[Sample], size: tuple[int, int]) -> bool:
    """Whether every step into ``samples[2:]`` is steady: no gap, no change of box size, no
    step off the motion of the two measured frames before it (see the module's docstring)."""
    width, height = size
    pixels = [(s.point[0] * width, s.point[1] * height) for s in samples]
    for i in range(2, len(samples)):
        o, p, q = samples[i - 2:i + 1]
        if q.time_ns - p.time_ns > MAX_GAP_S * 1e9:
            return False
        for start, end in ((0, 2), (1, 3)):
            before, now = p.box[end] - p.box[start], q.box[end] - q.box[start]
            if abs(now - before) > MAX_RESIZE * max(before, now, 1e-9):
                return False
        scale = (q.time_ns - p.time_ns) / max(p.time_ns - o.time_ns, 1)
        expected = (pixels[i - 1][0] + (pixels[i - 1][0] - pixels[i - 2][0]) * scale,
                    pixels[i - 1][1] + (pixels[i - 1][1] - pixels[i - 2][1]) * scale)
        if math.dist(expected, pixels[i]) > MAX_JUMP * (q.box[2] - q.box[0]):
            return False
    return True
