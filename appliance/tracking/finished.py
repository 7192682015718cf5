"""The ``track.finished`` event: one per road user that has left the view (or was lost for good).

The core stores it for every confirmed track the tracker ends (``tracking.finished_events``),
so counting road users, by class or by the way they came and went, needs nothing but the event
list (``roadcam events --type track.finished``). A track the tracker ended as a duplicate of
an older one on the same road user (:attr:`Track.duplicate_of`) gets none: the older track
stands for that road user.

Each end of the track (``entry``, ``exit``) is its first and last *measured* point: the time,
the image box, the ground contact point in the image (bottom centre of the box), the point on
the road plane in metres when the camera is calibrated, and the sides of the frame the box
touched (``left``, ``right``, ``top``, ``bottom``, nearest first; none when it came or went
inside the picture, as far vehicles do).
"""

from __future__ import annotations

from typing import Any

from roadcam.protocol.events import iso_utc

from ..events import EventDraft
from .types import Track, TrackPoint

EVENT_TYPE = "track.finished"
#: A box within this share of the frame's width (height) from a side touches that side.
EDGE_MARGIN = 0.01


def finished_event(track: Track, frame_size_px: tuple[int, int] | None) -> EventDraft | None:
    """The ``track.finished`` draft of a finished track, stamped at its exit; None for a track
    with no measured point or one that ended as another track's duplicate."""
    measured = [point for point in track.points if point.measured]
    if not measured or track.duplicate_of is not None:
        return None
    first, last = measured[0], measured[-1]
    votes = sum(track.kind_votes.values())
    data = {
        "camera": track.camera,
        "track_id": track.id,
        "class": track.kind,
        "class_share": round(track.kind_votes[track.kind] / votes, 3) if votes > 0 else None,
        "entry": _end(first, frame_size_px),
        "exit": _end(last, frame_size_px),
        "duration_s": round((last.time_ns - first.time_ns) / 1e9, 3),
    }
    return EventDraft(EVENT_TYPE, data, last.time_ns)


def _end(point: TrackPoint, frame_size_px: tuple[int, int] | None) -> dict[str, Any]:
    x1, y1, x2, y2 = point.box
    return {
        "time": iso_utc(point.time_ns),
        "frame_index": point.frame_index,
        "box": [round(v, 1) for v in point.box],
        "image_xy": [round((x1 + x2) / 2, 1), round(y2, 1)],
        "road_xy": [round(v, 2) for v in point.road_xy] if point.road_xy is not None else None,
        "edges": frame_edges(point.box, frame_size_px),
    }


def frame_edges(box: tuple[float, float, float, float], frame_size_px: tuple[int, int] | None) -> list[str] | None:
    """The sides of the frame ``box`` touches, nearest first (empty when it touches none); None
    when the frame size is unknown."""
    if frame_size_px is None:
        return None
    width, height = frame_size_px
    x1, y1, x2, y2 = box
    gaps = {"left": x1 / width, "right": (width - x2) / width, "top": y1 / height, "bottom": (height - y2) / height}
    return sorted((side for side, gap in gaps.items() if gap <= EDGE_MARGIN), key=gaps.get)
