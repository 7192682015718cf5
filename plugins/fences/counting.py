"""Counting lines: every vehicle that crosses a line drawn with ``count: true`` is one
``line.crossed`` event, stamped with the moment it crossed (interpolated between two frames).

The event says which line, which way (``forward``: from the right-hand side of the line walked
from its first point to its second to its left-hand side, as on the picture; ``back``: the
other way), the vehicle's track id and class, and the frame. A count per direction is then a
query (``roadcam events --type line.crossed``), and the ``fences`` health section carries the
running totals per line and direction.

One event per vehicle and line: a box whose bottom centre jitters back over the line after it
crossed does not count again, and a vehicle first seen past the line never crossed it here.
The crossings themselves come from :mod:`.placement` (measured points only), the same ones the
rules judge.

The events are stored when the vehicle's track ends, like its ``track.finished``: its class is
then the track's vote over all its frames, and a track the tracker ended as a duplicate of an
older one on the same road user counts nothing (the older track counts that vehicle), so the
crossings always agree with the ``track.finished`` list.
"""

from __future__ import annotations

from roadcam.appliance.events import EventDraft

from .context import CameraContext
from .placement import Placed

EVENT_TYPE = "line.crossed"


class LineCounter:
    """Turns the crossings of counting lines into ``line.crossed`` events at each track's end."""

    def __init__(self) -> None:
        #: (camera, track) -> its crossings so far: line -> (direction, time_ns, frame_index)
        self.crossed: dict[tuple[str, int], dict[str, tuple[str, int, int]]] = {}
        self.totals: dict[str, dict[str, int]] = {}       # "camera/line" -> direction -> crossings

    def step(self, ctx: CameraContext, placed: Placed, frame) -> None:
        """Note this vehicle's first crossing of each counting line, seen on ``frame``."""
        counting = {line.name for line in ctx.fences.lines if line.count}
        for crossing in placed.crossings:
            if crossing.line not in counting or crossing.frame_index != frame.index:
                continue
            lines = self.crossed.setdefault((ctx.name, placed.track_id), {})
            if crossing.line not in lines:
                lines[crossing.line] = ("forward" if crossing.forward else "back", crossing.time_ns,
                                        crossing.frame_index)

    def finish(self, track) -> list[EventDraft]:
        """The events of a track that has ended (none for a duplicate track)."""
        lines = self.crossed.pop((track.camera, track.id), {})
        if track.duplicate_of is not None:
            return []
        out = []
        for line, (direction, time_ns, frame_index) in sorted(lines.items(), key=lambda item: item[1][1]):
            per_line = self.totals.setdefault(f"{track.camera}/{line}", {"forward": 0, "back": 0})
            per_line[direction] += 1
            out.append(EventDraft(EVENT_TYPE, {"camera": track.camera, "line": line, "direction": direction,
                                               "track_id": track.id, "class": track.kind,
                                               "frame_index": frame_index}, time_ns))
        return out
