"""Detections and tracks: the shared vocabulary of every vision plugin.

The tracker itself (``Tracker``) turns each frame's detections into tracks with a stable id
per vehicle, image boxes and road-plane positions with timestamps.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Object classes a detector may report.
CLASSES = ("car", "scooter", "truck", "bus", "pedestrian")


@dataclass(frozen=True)
class Detection:
    """One object found in one frame.

    ``box`` is (x1, y1, x2, y2) in image pixels. ``road_xy`` is the object's ground contact point
    on the road plane in metres (None without calibration); ``size_m`` its (width, length) on the
    road plane when the detector could measure it.
    """

    box: tuple[float, float, float, float]
    kind: str
    score: float
    source: str
    road_xy: tuple[float, float] | None = None
    size_m: tuple[float, float] | None = None


@dataclass
class TrackPoint:
    """Where a track was in one frame."""

    frame_index: int
    time_ns: int
    box: tuple[float, float, float, float]
    road_xy: tuple[float, float] | None


@dataclass
class Track:
    """One object followed across frames of one camera.

    ``kind`` is the class most often detected over the track's life (votes weighted by score).
    ``points`` holds every matched frame; ``missed`` counts consecutive frames without a match.
    """

    id: int
    camera: str
    points: list[TrackPoint] = field(default_factory=list)
    kind_votes: dict[str, float] = field(default_factory=dict)
    missed: int = 0
    confirmed: bool = False

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
