"""Counting lines: every vehicle that crosses a line drawn with ``count: true`` is one
``line.crossed`` event, stored at the moment it crossed (interpolated between two frames).

The event says which line, which way (``forward``: from the right-hand side of the line walked
from its first point to its second to its left-hand side, as on the picture; ``back``: the
other way), the vehicle's track id and class, and the time. A count per direction is then a
query (``roadcam events --type line.crossed``), and the ``fences`` health section carries the
running totals per line and direction.

One event per vehicle and line: a box whose bottom centre jitters back over the line after it
crossed does not count again, and a vehicle first seen past the line never crossed it here.
The crossings themselves come from :mod:`.placement` (measured points only), the same ones the
rules judge.
"""

from __future__ import annotations

from roadcam.appliance.events import EventDraft

from .context import CameraContext
from .placement import Placed

EVENT_TYPE = "line.crossed"


class LineCounter:
    """Turns the crossings of counting lines into ``line.crossed`` events."""

    def __init__(self) -> None:
        self.counted: set[tuple[str, int, str]] = set()   # (camera, track, line) already counted
        self.totals: dict[str, dict[str, int]] = {}       # "camera/line" -> direction -> crossings

    def step(self, ctx: CameraContext, placed: Placed, frame) -> list[EventDraft]:
        """Events for this vehicle's crossings of counting lines seen on ``frame``."""
        counting = {line.name for line in ctx.fences.lines if line.count}
        out = []
        for crossing in placed.crossings:
            key = (ctx.name, placed.track_id, crossing.line)
            if crossing.line not in counting or crossing.frame_index != frame.index or key in self.counted:
                continue
            self.counted.add(key)
            direction = "forward" if crossing.forward else "back"
            per_line = self.totals.setdefault(f"{ctx.name}/{crossing.line}", {"forward": 0, "back": 0})
            per_line[direction] += 1
            out.append(EventDraft(EVENT_TYPE, {"camera": ctx.name, "line": crossing.line, "direction": direction,
                                               "track_id": placed.track_id, "class": placed.kind,
                                               "frame_index": crossing.frame_index}, crossing.time_ns))
        return out

    def finish(self, ctx: CameraContext, placed: Placed) -> None:
        """Forget a vehicle that has left the view."""
        self.counted = {key for key in self.counted if key[:2] != (ctx.name, placed.track_id)}
