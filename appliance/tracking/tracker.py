"""The tracker: one camera's detections, frame by frame, into tracks with one identity per
road user. It keeps the tracks' state (:mod:`.followed`) and runs the association stages
(:mod:`.matching`) and re-identification (:mod:`.reidentify`) with its settings
(:class:`.TrackingSettings`, the ``tracking:`` section of the site config)."""

from __future__ import annotations

import numpy as np

from ..boxes import as_boxes, covered, ious, union_box
from ..geometry import RoadGeometry
from . import matching
from .followed import BOX_SIGMA_FRACTION, Followed
from .reidentify import reidentify
from .settings import TrackingSettings
from .types import Detection, Track

#: Frame intervals measured before the frame counts are scaled to the camera's frame rate.
RATE_FRAMES = 9


class Tracker:
    """Follows the detections of one camera from frame to frame, one identity per object.

    Each track moves with a constant-velocity model: its image box always, and its ground point
    on the road plane when detections carry ``road_xy`` (there a coasting prediction stays true
    to perspective, so an object hidden for a second is found again). Given the camera's
    ``geometry``, a ground point is trusted only as far as its pixels allow (:meth:`road_sigmas`):
    far from the camera one pixel spans metres of road. Each frame, tracks are
    matched to detections by a cost mixing box overlap (IoU) with the distance from the
    predicted position (Mahalanobis, so it widens while a track is unseen), plus
    ``kind_change_cost`` when the detection's class is not the track's (two road users of
    different classes side by side, a scooter parked by a car, do not swap identities), plus
    ``appearance_weight`` times how unlike the track's colours the detection's are (the running
    mean of its detections' colour signatures, :mod:`roadcam.appliance.appearance`: far from the camera,
    where a bus and the car ahead of it share pixels and road position, colour still differs;
    ``walking_appearance_weight`` for a pedestrian's track: people waiting together at the kerb
    start off from nearly one spot, and each one's box holds part of the others), gated,
    and solved by the Hungarian method; confirmed tracks choose first, tentative ones take what
    is left. Leaving a track and a detection both unmatched costs ``unmatched_pair_cost``, more
    than any one allowed vehicle pair (at most 2.5), so the assignment makes every pair it can unless
    two poor pairs would replace one good one.

    Blobs that merge or split are common with background subtraction:

    - a detection that holds the predicted boxes of two or more confirmed tracks (vehicles
      passing each other, one hiding another) is a *group*: the member whose box fills it
      (IoU >= ``dominant_iou``) is updated normally, the others only keep their predicted box
      inside it, at its size, take no points, and are not counted as missed, so identities do
      not swap;
    - an unmatched detection lying mostly inside a matched track's predicted box, and touching
      the detection that track took, is a fragment of that object (a truck's cab and trailer)
      and widens its measurement instead of starting a track; one with road between them is
      another road user coming out of a blob the track was born on.

    Whole detections (a learned detector's) are trusted differently: one that overlaps no track
    is a real object far more often than a blob is, but a far object's box jitters, so they are
    gated wider (``whole_gate_sigmas``, ``whole_iou_gate``) and the tracks they start must be
    seen longer before they count (``whole_min_hits``), so a passing second detection of a far
    vehicle does not become a second identity. A track unseen last frame does not take a whole
    detection more than ``whole_size_ratio`` times wider or taller than its predicted box: a
    truck driving in front of a waiting scooter is found, box centred on the scooter, before
    its own track exists, and the scooter's hidden track would otherwise follow it away.
    A whole detection overlapping a confirmed track's predicted box by ``whole_birth_iou``
    starts no track, unless it is a pedestrian's and that track is a pedestrian's that took
    another detection this frame (:func:`.matching.occupied`): people walking together overlap
    that much, and the one beside a tracked person must get a track of their own, or the
    tracked person's track takes them when that person goes behind someone.

    Two confirmed vehicle tracks can end up on one vehicle (a detector that fired twice on it).
    When one takes a detection that the other's predicted box overlaps by ``duplicate_iou``,
    within its gate on the road, the younger track ends and the older keeps the vehicle (see
    :func:`.matching.duplicates`; not for pedestrians, who walk side by side).

    Road users hidden for long (a car queued behind a bus through a red phase) are kept:

    - a track unseen behind or inside a detection is *hidden*, and one lost in the open while
      large and clear of the frame's edges (``inland_px``) is *parked* after
      ``max_missed_frames``: road users leave across the edges or shrink away in the distance,
      not in the middle of the picture. Both keep their place (``hidden_sigma_m``) until
      ``max_hidden_frames``, take a detection again only when its colours match
      (:func:`.matching.knows_again`: the next car in the queue passes where a hidden one waits), and do
      not stop a track from starting where they wait; but a hidden vehicle's track takes, whatever
      its colours, a detection no track took that would start a track where it waits (IoU at
      least ``rejoin_iou``, :func:`.matching.rejoin`): coming out from behind a bus, a queued car's
      box still shows mostly the bus;
    - but not one last seen under ``inland_px`` and shrinking (driving off into the distance): far down the
      road small boxes cover each other all the time, and such a track, kept, would take the
      next vehicle driving there;
    - one that comes out somewhere else (it turned while hidden) starts a new track beside
      another road user; when that track is confirmed, :func:`.reidentify.reidentify` gives it the lost
      track's identity if class, colours and the distance driven allow.

    With a learned detector a vehicle's track never takes a pedestrian's detection, nor the
    reverse (its classes are right 99% of the time, see the detector's card).

    A new track is confirmed after ``min_hits`` (``whole_min_hits``) matched frames and dies
    unreported if it misses one before that. A confirmed track finishes after
    ``max_missed_frames`` frames unseen (unless parked), after ``max_hidden_frames`` hidden or
    parked, after ``max_grouped_frames`` frames seen only inside a group, or, when
    ``frame_size_px`` is given, as soon as it is unseen with less than half of its predicted box
    still in the frame.

    These frame counts are given for ``reference_fps`` frames a second; on a camera at another
    rate (measured from the stamps of its first frames) they are scaled to last as long.

    Every other name in double backquotes above is a field of :class:`.TrackingSettings`
    (``tracker.settings``); ``frame_size_px`` and ``geometry`` belong to the camera.
    """

    def __init__(self, camera: str, settings: TrackingSettings | None = None, *,
                 frame_size_px: tuple[int, int] | None = None, geometry: RoadGeometry | None = None,
                 **overrides):
        """``settings``: the site's ``tracking:`` section (the defaults without one); keyword
        ``overrides`` of single settings (``min_hits=1``) are validated like the section."""
        settings = settings or TrackingSettings()
        if overrides:
            settings = TrackingSettings.model_validate({**settings.model_dump(), **overrides})
        self.settings = settings
        self.camera = camera
        self.geometry = geometry
        self.frame_size_px = frame_size_px
        self._followed: list[Followed] = []
        self._next_id = 1
        self._last_ns: int | None = None
        self._first_stamps: list[int] = []

    def update(self, frame_index: int, time_ns: int, detections: list[Detection]) -> tuple[list[Track], list[Track]]:
        """Match one frame's detections; returns (live confirmed tracks after this frame, tracks
        finished in this frame). Live tracks include those unseen for a few frames
        (``track.missed > 0``)."""
        step_s = 0.0 if self._last_ns is None else max(time_ns - self._last_ns, 0) / 1e9
        self._last_ns = time_ns
        self._follow_frame_rate(time_ns)
        for followed in self._followed:
            followed.predict(step_s, self.settings)
        predicted = as_boxes([f.predicted_box() for f in self._followed])
        found = as_boxes([d.box for d in detections])
        road_sigmas = self.road_sigmas(detections)

        mergeable = np.array([not d.whole for d in detections], bool)
        groups = matching.groups(self.settings, self._followed, predicted, found, mergeable)
        grouped_detections = set(groups)
        starts_none = matching.occupied(self.settings, self._followed, predicted, found, mergeable)
        matches: dict[int, int] = {}
        for confirmed in (True, False):
            rows = [i for i, f in enumerate(self._followed) if f.track.confirmed == confirmed
                    and not any(i in members for members in groups.values())]
            columns = [j for j in range(len(detections)) if j not in grouped_detections and j not in matches.values()]
            matches.update(matching.associate(self.settings, self._followed, rows, columns, predicted, found,
                                             detections, road_sigmas))
            if confirmed:
                matches.update(matching.rejoin(
                    self.settings, self._followed, [i for i in rows if i not in matches],
                    [j for j in columns if j not in matches.values() and not starts_none[j]], predicted, found,
                    detections))
        for j, members in groups.items():
            dominant = matching.dominant(self.settings, members, predicted, found[j])
            if dominant is not None:
                matches[dominant] = j
        fragments = matching.fragments(self.settings, matches, predicted, found, grouped_detections, mergeable)

        for i, j in matches.items():
            parts = found[[j] + fragments.get(i, [])]
            self._followed[i].observe(frame_index, time_ns, detections[j], road_sigmas[j], union_box(parts),
                                         self.settings)
        for j, members in groups.items():
            for i in members:
                if i not in matches:
                    self._followed[i].observe_in_group(frame_index, time_ns, found[j], self.settings)
        seen = set(matches) | {i for members in groups.values() for i in members}
        hidden = matching.hidden(self.settings, self._followed, predicted, found)
        inland = matching.inland(self.settings, self.frame_size_px, predicted)
        duplicates = matching.duplicates(self.settings, self._followed, matches, seen, predicted, found, detections,
                                         road_sigmas)
        for i, followed in enumerate(self._followed):
            if i not in seen:
                followed.coast(frame_index, time_ns, bool(hidden[i]), bool(inland[i]), step_s, self.settings)
        for younger, older in duplicates.items():
            if younger in matches:
                j = matches[younger]
                self._followed[older].take_over(frame_index, time_ns, detections[j], road_sigmas[j], found[j],
                                                self.settings)
            self._followed[younger].track.duplicate_of = self._followed[older].track.id
        used = set(matches.values()) | grouped_detections | {j for parts in fragments.values() for j in parts}
        occupied = matching.occupied(self.settings, self._followed, predicted, found, mergeable, detections,
                                    matches)
        reidentify(self.settings, self._followed)
        touching = ious(found, found) > 0.0
        np.fill_diagonal(touching, False)
        for j, detection in enumerate(detections):
            if j not in used and not occupied[j]:
                at_border = matching.at_border(self.settings, self.frame_size_px, found[j])
                emerged = bool(touching[j].any()) and not at_border
                self._start(frame_index, time_ns, detection, road_sigmas[j], emerged)
        return self._sweep()

    def _follow_frame_rate(self, time_ns: int) -> None:
        """Once the first RATE_FRAMES intervals are seen, scale the frame counts of the settings
        to the camera's frame rate (:meth:`TrackingSettings.at_frame_rate`; the median interval,
        so a slow first frame or a dropped one does not set it): tuned at 25 fps, three frames to
        confirm a track are 50 ms at 60 fps, where a flicker lasts that long. Tracks started
        before keep the count they started with."""
        if len(self._first_stamps) > RATE_FRAMES:
            return
        self._first_stamps.append(time_ns)
        if len(self._first_stamps) > RATE_FRAMES:
            interval_ns = float(np.median(np.diff(self._first_stamps)))
            if interval_ns > 0:
                self.settings = self.settings.at_frame_rate(1e9 / interval_ns)

    def finish_all(self) -> list[Track]:
        """End every track (shutdown, end of stream); returns the confirmed ones."""
        finished = [f.finish() for f in self._followed if f.track.confirmed]
        self._followed = []
        return finished

    def road_sigmas(self, detections: list[Detection]) -> np.ndarray:
        """Uncertainty (metres, per road axis, N x 2) of each detection's ground point: at least
        ``road_sigma_m``, and more where the box's own pixel uncertainty spans more road (far
        from the camera one pixel may cover metres). A pedestrian's box bottom is trusted to its
        width, not its height: people waiting or walking together at one x are told apart by
        depth, 1 m of which is about 9 px of picture 40 m from the camera. Needs ``geometry``;
        ``update`` computes them once a frame and hands each on with its detection."""
        sigmas = np.full((len(detections), 2), self.settings.road_sigma_m)
        if self.geometry is None or not detections:
            return sigmas
        boxes = as_boxes([d.box for d in detections])
        width, height = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
        sigma_x = BOX_SIGMA_FRACTION * width + 1.0
        # a standing person's box is three times as tall as wide, yet its bottom edge jitters
        # like its sides (learned detector, tuning runs: 2.7 px for 96 px tall, 24 px wide boxes)
        walking = np.array([detection.kind == "pedestrian" for detection in detections], bool)
        sigma_y = BOX_SIGMA_FRACTION * np.where(walking, width, height) + 1.0
        u, v = (boxes[:, 0] + boxes[:, 2]) / 2, boxes[:, 3]
        ends = np.stack([np.column_stack([u - sigma_x, v]), np.column_stack([u + sigma_x, v]),
                         np.column_stack([u, v - sigma_y]), np.column_stack([u, v + sigma_y])], axis=1)
        road = self.geometry.to_road(ends.reshape(-1, 2)).reshape(-1, 4, 2)
        spread = np.sqrt(np.square((road[:, 1] - road[:, 0]) / 2) + np.square((road[:, 3] - road[:, 2]) / 2))
        return np.maximum(spread, sigmas)

    # -- association ---------------------------------------------------------------------------

    # -- life cycle ----------------------------------------------------------------------------

    def _start(self, frame_index: int, time_ns: int, detection: Detection, road_sigma: np.ndarray,
               emerged: bool) -> None:
        track = Track(id=self._next_id, camera=self.camera)
        self._next_id += 1
        self._followed.append(Followed(track, frame_index, time_ns, detection, road_sigma, self.settings, emerged))

    def _sweep(self) -> tuple[list[Track], list[Track]]:
        settings = self.settings
        live, finished, keep = [], [], []
        for followed in self._followed:
            track = followed.track
            if followed.absorbed:
                continue
            if track.duplicate_of is not None:
                finished.append(followed.finish())
            elif not track.confirmed:
                if track.missed == 0:
                    keep.append(followed)
            elif (followed.missed_in_view > settings.max_missed_frames or track.missed > settings.max_hidden_frames
                  or followed.grouped > settings.max_grouped_frames or (track.missed and self._left_view(followed))):
                finished.append(followed.finish())
            else:
                keep.append(followed)
                live.append(track)
        self._followed = keep
        return live, finished

    def _left_view(self, followed: Followed) -> bool:
        if self.frame_size_px is None:
            return False
        width, height = self.frame_size_px
        box = followed.predicted_box()[None, :]
        return covered(box, np.array([[0.0, 0.0, width, height]]))[0, 0] < 0.5
