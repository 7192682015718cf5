"""Detections and tracks: the shared vocabulary of every vision plugin.

The tracker (:class:`roadcam.appliance.tracking.Tracker`) turns each frame's detections into
tracks with a stable id per vehicle, image boxes and road-plane positions with timestamps.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field

import numpy as np

#: Object classes a detector may report.
CLASSES = ("car", "scooter", "truck", "bus", "pedestrian")


@dataclass(frozen=True)
class Detection:
    """One object found in one frame.

    ``box`` is (x1, y1, x2, y2) in image pixels. ``road_xy`` is the object's ground contact point
    on the road plane in metres (None without calibration); ``size_m`` its (width, length) on the
    road plane when the detector could measure it. ``whole`` is True when the detector reports
    every object whole and on its own, even partly hidden (a learned detector); False when a
    detection may be a piece of an object or several objects merged (background subtraction),
    which the tracker then treats as fragments or groups. ``signature`` is the object's colour
    signature (:mod:`roadcam.appliance.appearance`) when the detector took one.
    """

    box: tuple[float, float, float, float]
    kind: str
    score: float
    source: str
    road_xy: tuple[float, float] | None = None
    size_m: tuple[float, float] | None = None
    whole: bool = False
    signature: np.ndarray | None = field(default=None, compare=False, repr=False)


@dataclass
class TrackPoint:
    """Where a track was in one frame.

    ``measured`` is False when the box is the tracker's estimate, not a detection: the object
    was hidden inside a merged blob (a queue at the stop line) or briefly not detected. Plugins
    that need the object's pixels (plate reading) should prefer measured points.
    """

    frame_index: int
    time_ns: int
    box: tuple[float, float, float, float]
    road_xy: tuple[float, float] | None
    measured: bool = True


@dataclass
class Track:
    """One object followed across frames of one camera.

    ``kind`` is the class most often detected over the track's life (votes weighted by score).
    ``points`` holds the track's history in time order: the first point, one point per frame
    over the last ``history_recent_s`` (estimated ones between detections, see
    :attr:`TrackPoint.measured`), and older points thinned evenly over the track's life to at
    most ``history_older_points`` (see :func:`thin_points`; the tracker's
    :class:`~roadcam.appliance.tracking.TrackingSettings`), always with the last measured
    point; a parked car does not grow a track without bound. ``missed`` counts consecutive
    frames without a match. ``duplicate_of`` is the id of the older track that took over this
    one's road user when the tracker found both on it (this one then ends).
    """

    id: int
    camera: str
    points: list[TrackPoint] = field(default_factory=list)
    kind_votes: dict[str, float] = field(default_factory=dict)
    missed: int = 0
    confirmed: bool = False
    duplicate_of: int | None = None

    @property
    def kind(self) -> str:
        return max(self.kind_votes, key=self.kind_votes.get) if self.kind_votes else "car"

    @property
    def last(self) -> TrackPoint:
        return self.points[-1]

    @property
    def first_ns(self) -> int:
        return self.points[0].time_ns

    @property
    def last_ns(self) -> int:
        return self.points[-1].time_ns


def thin_points(points: list[TrackPoint], recent_ns: int, older: int | None, spacing_ns: int = 0,
                keep_ns: int | None = None) -> int:
    """Bound a track's history in place, called after each point is added: keep the first
    point, every point of the last ``recent_ns`` before the newest one, and of the points older
    than that at most ``older`` (None: all), evenly spaced over the track's life: each
    point leaving the recent stretch is kept only ``spacing_ns`` after the one before it, and
    when more than ``older`` are kept the spacing doubles and they are thinned to it. The point
    at ``keep_ns`` (the last measured one) is never dropped, so a track ending after a long
    wait unseen still ends where it was last detected. Returns the spacing to pass next time
    (0 to start). Amortised, each point costs O(log n)."""
    if older is None or len(points) < 3:
        return spacing_ns
    end = bisect_left(points, points[-1].time_ns - recent_ns, lo=1, key=_time_ns)
    # points[1:end] are the older ones; points[end - 1] may just have left the recent stretch
    newest = end - 1
    if (newest >= 2 and points[newest].time_ns - points[newest - 1].time_ns < spacing_ns
            and points[newest].time_ns != keep_ns):
        del points[newest]
        end -= 1
    while end - 1 > older:
        if spacing_ns:
            spacing_ns *= 2
        else:
            spacing_ns = 2 * (points[end - 1].time_ns - points[1].time_ns) // max(end - 2, 1)
        kept, last_ns = [], None
        for point in points[1:end]:
            if last_ns is None or point.time_ns - last_ns >= spacing_ns or point.time_ns == keep_ns:
                kept.append(point)
                last_ns = point.time_ns
        points[1:end] = kept
        end = 1 + len(kept)
    return spacing_ns


def _time_ns(point: TrackPoint) -> int:
    return point.time_ns
