"""A track with the state the tracker keeps for it: its motion models (image box, and road
point when detections have one), colours, and counters of frames seen, unseen and grouped."""

from __future__ import annotations

import numpy as np

from ..appearance import signature_distance, signature_distances
from ..boxes import areas, as_boxes, from_centre_size, shift_inside, to_centre_size
from ..motion import ConstantVelocity
from .settings import RECEDING_WINDOW_S, TrackingSettings
from .types import Detection, Track, TrackPoint, thin_points

#: Box motion noise relative to the box's size: measurement (fraction, plus one pixel),
#: unobserved acceleration (sizes per s²) and initial velocity (sizes per s).
BOX_SIGMA_FRACTION = 0.05
BOX_ACCEL_SIZES = 2.0
BOX_VELOCITY_SIZES = 4.0
#: How much less a box kept inside a group blob is trusted than a measured one.
GROUP_SIGMA_FACTOR = 4.0
#: Weight of each matched detection's colour signature in the track's running mean.
SIGNATURE_UPDATE = 0.2
#: A box smaller than ``RECEDING_SHRINK`` times its size ``RECEDING_WINDOW_S`` before is receding.
RECEDING_SHRINK = 0.95


class Followed:
    """A track with its motion models (image box, and road point when detections have one)."""

    def __init__(self, track: Track, frame_index: int, time_ns: int, detection: Detection, road_sigma: np.ndarray,
                 settings: TrackingSettings, emerged: bool = False):
        self.track = track
        #: Born beside another road user, away from the frame's edges (see :func:`.reidentify.reidentify`).
        self.emerged = emerged
        self.just_confirmed = False
        #: Taken over by the lost track it continues: dropped unreported.
        self.absorbed = False
        self.seen_ns = time_ns
        self.seen_road = detection.road_xy
        centre_size = to_centre_size(detection.box)
        size = _box_scale(centre_size)
        self.box = ConstantVelocity(centre_size, position_sigma=_box_sigma(centre_size),
                                    velocity_sigma=BOX_VELOCITY_SIZES * size)
        self.road = None
        self.hits = 0
        self.min_hits = settings.whole_min_hits if detection.whole else settings.min_hits
        self.grouped = 0
        self.missed_in_view = 0
        self.signature: np.ndarray | None = None
        #: Last seen small (under ``inland_px``) and shrinking: driving off into the distance.
        self.going_away = False
        #: Spacing of the track's points older than ``history_recent_s`` (see :func:`thin_points`).
        self.history_spacing_ns = 0
        self._record(frame_index, time_ns, detection, road_sigma, settings)

    def predict(self, step_s: float, settings: TrackingSettings) -> None:
        self.box.predict(step_s, BOX_ACCEL_SIZES * _box_scale(self.box.position))
        if self.road is not None:
            self.road.predict(step_s, settings.accel_sigma_mps2)

    def predicted_box(self) -> np.ndarray:
        return from_centre_size(self.box.position)

    def colour_distance_to(self, other: Followed) -> float:
        """How unlike another track's colours this track's are (0 to 1)."""
        return signature_distance(self.signature, other.signature)

    def colour_distances(self, signatures: Signatures) -> np.ndarray:
        """How unlike the track's colours each detection's are (0 to 1; 0 when either has no
        signature)."""
        if self.signature is None or not signatures.present.any():
            return np.zeros(len(signatures.present))
        return np.where(signatures.present, signature_distances(self.signature, signatures.matrix), 0.0)

    def normalised_distances(self, detections: list[Detection], road_sigmas: np.ndarray, gate_sigmas) -> np.ndarray:
        """Distance of each detection (its ground point ``road_sigmas`` uncertain, see
        :meth:`.Tracker.road_sigmas`) from the prediction in gate units (1.0 = ``gate_sigmas``, one
        for all or one per detection): on the road plane where both have a ground point, else
        of the box centre in the image."""
        distance2 = np.empty(len(detections))
        on_road = np.array([self.road is not None and detection.road_xy is not None for detection in detections], bool)
        if on_road.any():
            ground = np.array([detection.road_xy for detection, road in zip(detections, on_road) if road], float)
            distance2[on_road] = self.road.distances2(ground, road_sigmas[on_road])
        if not on_road.all():
            centre_sizes = np.array([to_centre_size(detection.box) for detection, road in zip(detections, on_road)
                                     if not road])
            distance2[~on_road] = self.box.distances2(centre_sizes[:, :2], _box_sigma(centre_sizes)[:, :2],
                                                      axes=slice(0, 2))
        return np.sqrt(distance2) / gate_sigmas

    def observe(self, frame_index: int, time_ns: int, detection: Detection, road_sigma: np.ndarray, box: np.ndarray,
                settings: TrackingSettings) -> None:
        """A detection (widened to ``box`` by fragments) matched this track."""
        centre_size = to_centre_size(box)
        self.box.correct(centre_size, _box_sigma(centre_size))
        if detection.road_xy is not None and self.road is not None:
            self.road.correct(detection.road_xy, road_sigma)
            self.road.limit_speed(settings.max_speed_mps)
        self._record(frame_index, time_ns, detection, road_sigma, settings)

    def take_over(self, frame_index: int, time_ns: int, detection: Detection, road_sigma: np.ndarray,
                  box: np.ndarray, settings: TrackingSettings) -> None:
        """A younger duplicate of this track took its object's detection this frame: this track
        takes it instead, in place of the estimated point ``coast`` just recorded."""
        if self.track.points and self.track.points[-1].frame_index == frame_index:
            self.track.points.pop()
        self.observe(frame_index, time_ns, detection, road_sigma, box, settings)

    def observe_in_group(self, frame_index: int, time_ns: int, group_box: np.ndarray,
                         settings: TrackingSettings) -> None:
        """The object is inside a merged blob: keep its predicted box within the blob, at its
        size. Unmeasured, a box must not keep growing or shrinking: a car that drove up the
        picture and stopped while people crossing behind it merged with its blob would have its
        box slide on up off it, and a walker's box, grown by a blob they walked in, would swell
        inside the car's blob until it filled it and took the car (rain, 2026-12-06)."""
        kept = to_centre_size(shift_inside(self.predicted_box(), group_box))
        self.box.correct(kept, GROUP_SIGMA_FACTOR * _box_sigma(kept))
        self.box.velocity[2:] = 0.0
        self.track.missed = 0
        self.grouped += 1
        self._estimate(frame_index, time_ns, settings)

    def coast(self, frame_index: int, time_ns: int, hidden: bool, inland: bool, step_s: float,
              settings: TrackingSettings) -> None:
        """No detection this frame: once confirmed, the track keeps an estimated point. Hidden
        behind or inside a detection, a vehicle slows down (it is most often queueing) and its
        road position grows no more uncertain than ``hidden_sigma_m``: it comes out from behind
        the other near where it went in, and a track hidden for seconds does not take a
        vehicle appearing 20 m away. A hidden pedestrian keeps their pace (people on a crosswalk
        hidden by one walking past them walk on; one waiting at the kerb stands still anyway).
        Unseen in the open, the miss counts towards
        ``max_missed_frames``; but an object still ``inland`` (large, clear of the frame's
        edges, see :func:`.matching.inland`) when that count runs out has not left the view: it
        is parked like a hidden one, kept until ``max_hidden_frames``."""
        self.track.missed += 1
        parked = inland and self.missed_in_view >= settings.max_missed_frames
        if hidden or parked:
            if hidden:
                self.missed_in_view = 0
            slowdown = 1.0 if self.track.kind == "pedestrian" else float(np.exp(-step_s / settings.hidden_slowdown_s))
            self.box.velocity[:2] *= slowdown
            self.box.velocity[2:] = 0.0  # an unseen object's box does not keep shrinking or growing
            if self.road is not None:
                self.road.velocity[:] *= slowdown
                self.road.cap_position_sigma(settings.hidden_sigma_m)
        else:
            self.missed_in_view += 1
        if self.track.confirmed:
            self._estimate(frame_index, time_ns, settings)

    def absorb(self, newcomer: Followed, settings: TrackingSettings) -> None:
        """``newcomer`` is this track's road user come out from hiding: take its points (in
        place of this track's estimates for those frames), class votes, colours and motion."""
        points = self.track.points
        first = newcomer.track.points[0].frame_index
        while points and points[-1].frame_index >= first:
            points.pop()
        points.extend(newcomer.track.points)
        self._bound_history(settings)
        for kind, votes in newcomer.track.kind_votes.items():
            self.track.kind_votes[kind] = self.track.kind_votes.get(kind, 0.0) + votes
        self.signature = newcomer.signature
        self.box, self.road = newcomer.box, newcomer.road
        self.seen_ns, self.seen_road = newcomer.seen_ns, newcomer.seen_road
        self.track.missed = self.missed_in_view = self.grouped = 0
        newcomer.absorbed = True

    def finish(self) -> Track:
        """The track as it ends: estimates after its last detection are dropped."""
        points = self.track.points
        while points and not points[-1].measured:
            points.pop()
        return self.track

    def _estimate(self, frame_index: int, time_ns: int, settings: TrackingSettings) -> None:
        road_xy = tuple(float(v) for v in self.road.position) if self.road is not None else None
        box = tuple(float(v) for v in self.predicted_box())
        self.track.points.append(TrackPoint(frame_index, time_ns, box, road_xy, measured=False))
        self._bound_history(settings)

    def _record(self, frame_index: int, time_ns: int, detection: Detection, road_sigma: np.ndarray,
                settings: TrackingSettings) -> None:
        track = self.track
        track.points.append(TrackPoint(frame_index, time_ns, detection.box, detection.road_xy))
        self.seen_ns, self.seen_road = time_ns, detection.road_xy
        self._bound_history(settings)
        track.kind_votes[detection.kind] = track.kind_votes.get(detection.kind, 0.0) + detection.score
        if detection.signature is not None:
            self.signature = (detection.signature if self.signature is None else
                              (1 - SIGNATURE_UPDATE) * self.signature + SIGNATURE_UPDATE * detection.signature)
        track.missed = 0
        self.missed_in_view = 0
        self.grouped = 0
        self.going_away = self._shrinking_below(settings.inland_px)
        self.hits += 1
        if self.hits >= self.min_hits and not track.confirmed:
            track.confirmed = self.just_confirmed = True
        if self.road is None and detection.road_xy is not None:
            self.road = ConstantVelocity(detection.road_xy, position_sigma=road_sigma,
                                         velocity_sigma=settings.max_speed_mps / 2)

    def _bound_history(self, settings: TrackingSettings) -> None:
        """Keep the track's points bounded (:func:`thin_points`). The tracker reads the points
        only as far back as ``RECEDING_WINDOW_S`` (:meth:`_shrinking_below`) and from the newest
        measured one on (:meth:`finish`), which the thinning keeps, so its decisions are the
        same whatever the bound."""
        self.history_spacing_ns = thin_points(self.track.points, int(settings.history_recent_s * 1e9),
                                              settings.history_older_points, self.history_spacing_ns, self.seen_ns)

    def _shrinking_below(self, size_px: float) -> bool:
        """Is the last point's box under ``size_px`` across (square root of its area) and
        smaller by ``RECEDING_SHRINK`` than ``RECEDING_WINDOW_S`` before (the track's points are
        one a frame)?"""
        points = self.track.points
        size = float(np.sqrt(areas(as_boxes([points[-1].box])))[0])
        if size >= size_px:
            return False
        since_ns = points[-1].time_ns - RECEDING_WINDOW_S * 1e9
        earlier = next((point for point in reversed(points) if point.time_ns <= since_ns), None)
        return earlier is not None and size < RECEDING_SHRINK * float(np.sqrt(areas(as_boxes([earlier.box])))[0])


class Signatures:
    """The colour signatures of some detections as one matrix (a row of zeros where a detection
    has none, ``present`` False), to compare a track with all of them at once."""

    def __init__(self, detections: list[Detection]):
        self.present = np.array([detection.signature is not None for detection in detections], bool)
        bins = next((len(detection.signature) for detection in detections if detection.signature is not None), 1)
        self.matrix = np.zeros((len(detections), bins), np.float32)
        for row, detection in enumerate(detections):
            if detection.signature is not None:
                self.matrix[row] = detection.signature


def _box_scale(centre_size: np.ndarray) -> np.ndarray:
    """Per-axis scale of a (cx, cy, w, h) box (or N x 4 of them): its width for x and w, its
    height for y and h."""
    return np.asarray(centre_size)[..., [2, 3, 2, 3]]


def _box_sigma(centre_size: np.ndarray) -> np.ndarray:
    return BOX_SIGMA_FRACTION * _box_scale(centre_size) + 1.0
