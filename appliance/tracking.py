"""Detections and tracks: the shared vocabulary of every vision plugin.

The tracker itself (``Tracker``) turns each frame's detections into tracks with a stable id
per vehicle, image boxes and road-plane positions with timestamps.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .appearance import signature_distance, signature_distances
from .assignment import min_cost_assignment
from .boxes import areas, as_boxes, covered, from_centre_size, ious, shift_inside, to_centre_size, union_box
from .geometry import RoadGeometry
from .motion import ConstantVelocity

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
    ``points`` holds one point per frame from the first detection to the last (estimated ones
    between, see :attr:`TrackPoint.measured`); ``missed`` counts consecutive frames without a
    match.
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
    where a bus and the car ahead of it share pixels and road position, colour still differs), gated,
    and solved by the Hungarian method; confirmed tracks choose first, tentative ones take what
    is left. Leaving a track and a detection both unmatched costs ``unmatched_pair_cost``, more
    than any one allowed pair (at most 2.5), so the assignment makes every pair it can unless
    two poor pairs would replace one good one.

    Blobs that merge or split are common with background subtraction:

    - a detection that holds the predicted boxes of two or more confirmed tracks (vehicles
      passing each other, one hiding another) is a *group*: the member whose box fills it
      (IoU >= ``dominant_iou``) is updated normally, the others only keep their predicted box
      inside it, take no points, and are not counted as missed, so identities do not swap;
    - an unmatched detection lying mostly inside a matched track's predicted box is a fragment
      of that object (a truck's cab and trailer) and widens its measurement instead of starting
      a track.

    Whole detections (a learned detector's) are trusted differently: one that overlaps no track
    is a real object far more often than a blob is, but a far object's box jitters, so they are
    gated wider (``whole_gate_sigmas``, ``whole_iou_gate``) and the tracks they start must be
    seen longer before they count (``whole_min_hits``), so a passing second detection of a far
    vehicle does not become a second identity. A track unseen last frame does not take a whole
    detection more than ``whole_size_ratio`` times wider or taller than its predicted box: a
    truck driving in front of a waiting scooter is found, box centred on the scooter, before
    its own track exists, and the scooter's hidden track would otherwise follow it away.

    Two confirmed vehicle tracks can end up on one vehicle (a detector that fired twice on it).
    When one takes a detection that the other's predicted box overlaps by ``duplicate_iou``,
    within its gate on the road, the younger track ends and the older keeps the vehicle (see
    :meth:`_duplicates`; not for pedestrians, who walk side by side).

    Road users hidden for long (a car queued behind a bus through a red phase) are kept:

    - a track unseen behind or inside a detection is *hidden*, and one lost in the open while
      large and clear of the frame's edges (``inland_px``) is *parked* after
      ``max_missed_frames``: road users leave across the edges or shrink away in the distance,
      not in the middle of the picture. Both keep their place (``hidden_sigma_m``) until
      ``max_hidden_frames``, take a detection again only when its colours match
      (:meth:`_knows_again`: the next car in the queue passes where a hidden one waits), and do
      not stop a track from starting where they wait;
    - but not one last seen under ``inland_px`` and shrinking (driving off into the distance): far down the
      road small boxes cover each other all the time, and such a track, kept, would take the
      next vehicle driving there;
    - one that comes out somewhere else (it turned while hidden) starts a new track beside
      another road user; when that track is confirmed, :meth:`_reidentify` gives it the lost
      track's identity if class, colours and the distance driven allow.

    With a learned detector a vehicle's track never takes a pedestrian's detection, nor the
    reverse (its classes are right 99% of the time, see the detector's card).

    A new track is confirmed after ``min_hits`` (``whole_min_hits``) matched frames and dies
    unreported if it misses one before that. A confirmed track finishes after
    ``max_missed_frames`` frames unseen (unless parked), after ``max_hidden_frames`` hidden or
    parked, after ``max_grouped_frames`` frames seen only inside a group, or, when
    ``frame_size_px`` is given, as soon as it is unseen with less than half of its predicted box
    still in the frame.
    """

    def __init__(self, camera: str, *, max_missed_frames: int = 30, max_hidden_frames: int = 750,
                 hidden_cover: float = 0.5, hidden_slowdown_s: float = 2.0, hidden_sigma_m: float = 1.0,
                 min_hits: int = 3, iou_gate: float = 0.3, max_speed_mps: float = 45.0,
                 accel_sigma_mps2: float = 3.0, road_sigma_m: float = 0.5, gate_sigmas: float = 3.5,
                 group_cover: float = 0.6, dominant_iou: float = 0.6, max_grouped_frames: int = 250,
                 birth_iou: float = 0.3, whole_birth_iou: float = 0.3, whole_gate_sigmas: float = 5.0,
                 whole_iou_gate: float = 0.25, whole_min_hits: int = 5, whole_size_ratio: float = 3.0,
                 kind_change_cost: float = 0.5,
                 appearance_weight: float = 1.0, unmatched_pair_cost: float = 3.5, duplicate_iou: float = 0.5,
                 reidentify_colour: float = 0.6, reidentify_speed_mps: float = 15.0, border_px: float = 8.0,
                 inland_px: float = 48.0,
                 frame_size_px: tuple[int, int] | None = None, geometry: RoadGeometry | None = None):
        self.camera = camera
        self.geometry = geometry
        self.max_missed_frames = max_missed_frames
        self.max_hidden_frames = max_hidden_frames
        self.hidden_cover = hidden_cover
        self.hidden_slowdown_s = hidden_slowdown_s
        self.hidden_sigma_m = hidden_sigma_m
        self.min_hits = min_hits
        self.iou_gate = iou_gate
        self.max_speed_mps = max_speed_mps
        self.accel_sigma_mps2 = accel_sigma_mps2
        self.road_sigma_m = road_sigma_m
        self.gate_sigmas = gate_sigmas
        self.group_cover = group_cover
        self.dominant_iou = dominant_iou
        self.max_grouped_frames = max_grouped_frames
        self.birth_iou = birth_iou
        self.whole_birth_iou = whole_birth_iou
        self.whole_gate_sigmas = whole_gate_sigmas
        self.whole_iou_gate = whole_iou_gate
        self.whole_min_hits = whole_min_hits
        self.whole_size_ratio = whole_size_ratio
        self.kind_change_cost = kind_change_cost
        self.appearance_weight = appearance_weight
        self.unmatched_pair_cost = unmatched_pair_cost
        self.duplicate_iou = duplicate_iou
        self.reidentify_colour = reidentify_colour
        self.reidentify_speed_mps = reidentify_speed_mps
        self.border_px = border_px
        self.inland_px = inland_px
        self.frame_size_px = frame_size_px
        self._followed: list[_Followed] = []
        self._next_id = 1
        self._last_ns: int | None = None

    def update(self, frame_index: int, time_ns: int, detections: list[Detection]) -> tuple[list[Track], list[Track]]:
        """Match one frame's detections; returns (live confirmed tracks after this frame, tracks
        finished in this frame). Live tracks include those unseen for a few frames
        (``track.missed > 0``)."""
        step_s = 0.0 if self._last_ns is None else max(time_ns - self._last_ns, 0) / 1e9
        self._last_ns = time_ns
        for followed in self._followed:
            followed.predict(step_s, self)
        predicted = as_boxes([f.predicted_box() for f in self._followed])
        found = as_boxes([d.box for d in detections])
        road_sigmas = self.road_sigmas(detections)

        mergeable = np.array([not d.whole for d in detections], bool)
        groups = self._groups(predicted, found, mergeable)
        grouped_detections = set(groups)
        matches: dict[int, int] = {}
        for confirmed in (True, False):
            rows = [i for i, f in enumerate(self._followed) if f.track.confirmed == confirmed
                    and not any(i in members for members in groups.values())]
            columns = [j for j in range(len(detections)) if j not in grouped_detections and j not in matches.values()]
            matches.update(self._associate(rows, columns, predicted, found, detections, road_sigmas))
        for j, members in groups.items():
            dominant = self._dominant(members, predicted, found[j])
            if dominant is not None:
                matches[dominant] = j
        fragments = self._fragments(matches, predicted, found, grouped_detections, mergeable)

        for i, j in matches.items():
            parts = found[[j] + fragments.get(i, [])]
            self._followed[i].observe(frame_index, time_ns, detections[j], road_sigmas[j], union_box(parts), self)
        for j, members in groups.items():
            for i in members:
                if i not in matches:
                    self._followed[i].observe_in_group(frame_index, time_ns, found[j], self)
        seen = set(matches) | {i for members in groups.values() for i in members}
        hidden, inland = self._hidden(predicted, found), self._inland(predicted)
        duplicates = self._duplicates(matches, seen, predicted, found, detections, road_sigmas)
        for i, followed in enumerate(self._followed):
            if i not in seen:
                followed.coast(frame_index, time_ns, bool(hidden[i]), bool(inland[i]), step_s, self)
        for younger, older in duplicates.items():
            if younger in matches:
                j = matches[younger]
                self._followed[older].take_over(frame_index, time_ns, detections[j], road_sigmas[j], found[j], self)
            self._followed[younger].merged = True
        used = set(matches.values()) | grouped_detections | {j for parts in fragments.values() for j in parts}
        occupied = self._occupied(predicted, found, mergeable)
        self._reidentify()
        touching = ious(found, found) > 0.0
        np.fill_diagonal(touching, False)
        for j, detection in enumerate(detections):
            if j not in used and not occupied[j]:
                emerged = bool(touching[j].any()) and not self._at_border(found[j])
                self._start(frame_index, time_ns, detection, road_sigmas[j], emerged)
        return self._sweep()

    def finish_all(self) -> list[Track]:
        """End every track (shutdown, end of stream); returns the confirmed ones."""
        finished = [f.finish() for f in self._followed if f.track.confirmed]
        self._followed = []
        return finished

    def road_sigmas(self, detections: list[Detection]) -> np.ndarray:
        """Uncertainty (metres, per road axis, N x 2) of each detection's ground point: at least
        ``road_sigma_m``, and more where the box's own pixel uncertainty spans more road (far
        from the camera one pixel may cover metres). Needs ``geometry``; ``update`` computes them
        once a frame and hands each on with its detection."""
        sigmas = np.full((len(detections), 2), self.road_sigma_m)
        if self.geometry is None or not detections:
            return sigmas
        boxes = as_boxes([d.box for d in detections])
        width, height = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
        sigma_x = BOX_SIGMA_FRACTION * width + 1.0
        sigma_y = BOX_SIGMA_FRACTION * height + 1.0
        u, v = (boxes[:, 0] + boxes[:, 2]) / 2, boxes[:, 3]
        ends = np.stack([np.column_stack([u - sigma_x, v]), np.column_stack([u + sigma_x, v]),
                         np.column_stack([u, v - sigma_y]), np.column_stack([u, v + sigma_y])], axis=1)
        road = self.geometry.to_road(ends.reshape(-1, 2)).reshape(-1, 4, 2)
        spread = np.sqrt(np.square((road[:, 1] - road[:, 0]) / 2) + np.square((road[:, 3] - road[:, 2]) / 2))
        return np.maximum(spread, sigmas)

    # -- association ---------------------------------------------------------------------------

    def _associate(self, rows: list[int], columns: list[int], predicted: np.ndarray, found: np.ndarray,
                   detections: list[Detection], road_sigmas: np.ndarray) -> dict[int, int]:
        """Track -> detection pairs of least total cost, where leaving a track and a detection
        both unmatched costs ``unmatched_pair_cost``.

        Pairs pay ``cost - unmatched_pair_cost`` (negative for every pair the gates allow) and
        forbidden pairs 0, the same as staying unmatched, so the assignment does not make the
        most pairs at any price: a long-unseen track, whose gate has grown metres wide, does not
        take a vehicle's detection and push that vehicle's own track onto a poor one nearby."""
        if not rows or not columns:
            return {}
        overlap = ious(predicted[rows], found[columns])
        candidates = [detections[j] for j in columns]
        signatures = Signatures(candidates)
        whole = np.array([detection.whole for detection in candidates], bool)
        gate_sigmas = np.where(whole, self.whole_gate_sigmas, self.gate_sigmas)
        iou_gates = np.where(whole, self.whole_iou_gate, self.iou_gate)
        kinds = np.array([detection.kind for detection in candidates])
        walking = kinds == "pedestrian"
        resized = whole & (_size_ratios(predicted[rows], found[columns]) > self.whole_size_ratio)
        net_cost = np.zeros((len(rows), len(columns)))
        for r, i in enumerate(rows):
            followed = self._followed[i]
            distance = followed.normalised_distances(candidates, road_sigmas[columns], gate_sigmas)
            colour = followed.colour_distances(signatures)
            # a learned detector does not mistake a pedestrian for a vehicle
            swaps_walker = whole & (walking != _walks(followed.track.kind))
            # a box seen last frame may jump in size (a detector's split or merged box); an unseen one may not
            resized_unseen = resized[r] & (followed.track.missed > 0)
            allowed = (self._knows_again(followed, colour) & ~swaps_walker & ~resized_unseen
                       & ((distance <= 1.0) | (overlap[r] >= iou_gates)))
            cost = ((1.0 - overlap[r]) + np.minimum(distance, 1.0) + self.kind_change_cost * (kinds != followed.track.kind)
                    + self.appearance_weight * colour)
            net_cost[r] = np.where(allowed, np.minimum(cost - self.unmatched_pair_cost, 0.0), 0.0)
        return {rows[r]: columns[c] for r, c in min_cost_assignment(net_cost) if net_cost[r, c] < 0.0}

    def _knows_again(self, followed: _Followed, colour_distance: np.ndarray) -> np.ndarray:
        """May ``followed`` take detections whose colours are ``colour_distance`` unlike its own?
        After more than ``max_missed_frames`` unseen (hidden or parked), a road user is known
        again by its colours too (signature distance at most ``reidentify_colour``): the next car
        in a queue passing where a hidden one waits is not it."""
        return (followed.track.missed <= self.max_missed_frames) | (colour_distance <= self.reidentify_colour)

    def _groups(self, predicted: np.ndarray, found: np.ndarray, mergeable: np.ndarray) -> dict[int, list[int]]:
        """Mergeable detections holding two or more confirmed tracks' predicted boxes:
        {detection: tracks}."""
        confirmed = [i for i, f in enumerate(self._followed) if f.track.confirmed]
        if not confirmed or not mergeable.any():
            return {}
        inside = covered(predicted[confirmed], found) * mergeable[None, :]
        members: dict[int, list[int]] = {}
        for row, i in enumerate(confirmed):
            best = int(np.argmax(inside[row]))
            if inside[row, best] >= self.group_cover:
                members.setdefault(best, []).append(i)
        return {j: tracks for j, tracks in members.items() if len(tracks) >= 2}

    def _dominant(self, members: list[int], predicted: np.ndarray, group_box: np.ndarray) -> int | None:
        overlap = ious(predicted[members], group_box[None, :])[:, 0]
        best = int(np.argmax(overlap))
        return members[best] if overlap[best] >= self.dominant_iou else None

    def _fragments(self, matches: dict[int, int], predicted: np.ndarray, found: np.ndarray,
                   grouped_detections: set[int], mergeable: np.ndarray) -> dict[int, list[int]]:
        """Unmatched mergeable detections lying mostly inside a matched track's predicted box:
        {track: detections}."""
        loose = [j for j in range(len(found))
                 if mergeable[j] and j not in grouped_detections and j not in matches.values()]
        tracks = list(matches)
        if not loose or not tracks:
            return {}
        inside = covered(found[loose], predicted[tracks])
        parts: dict[int, list[int]] = {}
        for row, j in enumerate(loose):
            best = int(np.argmax(inside[row]))
            if inside[row, best] >= self.group_cover:
                parts.setdefault(tracks[best], []).append(j)
        return parts

    def _duplicates(self, matches: dict[int, int], seen: set[int], predicted: np.ndarray, found: np.ndarray,
                    detections: list[Detection], road_sigmas: np.ndarray) -> dict[int, int]:
        """Pairs of confirmed tracks following one object, {younger: older}: one took a
        detection, the other took none, yet its predicted box overlaps that detection by at least
        ``duplicate_iou`` and the detection's ground point is within its gate. Left alone, the two
        would take the object's detections in turns; the older track (the identity since the
        object came into view) keeps following it. A vehicle hidden behind another stays apart:
        its ground point is metres from the visible one's. Pedestrians are left alone: two people
        walking side by side do stand on nearly one spot and are often detected as one."""
        def vehicle(followed: _Followed) -> bool:
            return followed.track.confirmed and followed.track.kind != "pedestrian"

        unmatched = [i for i, f in enumerate(self._followed) if i not in seen and vehicle(f)]
        taken = [(k, j) for k, j in matches.items() if vehicle(self._followed[k])]
        if not unmatched or not taken:
            return {}
        overlap = ious(predicted[unmatched], found[[j for _, j in taken]])
        pairs: dict[int, int] = {}
        for row, column in zip(*np.nonzero(overlap >= self.duplicate_iou)):
            i, (k, j) = unmatched[row], taken[column]
            if i in pairs or k in pairs or i in pairs.values() or k in pairs.values():
                continue
            followed, other = self._followed[i], self._followed[k]
            if not self._knows_again(followed, followed.colour_distances(Signatures([detections[j]])))[0]:
                continue
            if followed.normalised_distances([detections[j]], road_sigmas[[j]], self.gate_sigmas)[0] <= 1.0:
                younger, older = (i, k) if followed.track.id > other.track.id else (k, i)
                pairs[younger] = older
        return pairs

    def _hidden(self, predicted: np.ndarray, found: np.ndarray) -> np.ndarray:
        """Per track: is its predicted box mostly covered by some detection (``hidden_cover``),
        so that the object is probably behind or inside it rather than gone? Not one that was
        last seen going away (:attr:`_Followed.going_away`): far down the road small boxes cover
        each other all the time, and a road user that shrank into the distance has left; kept
        as hidden, its track would take the next vehicle driving there."""
        if not len(predicted) or not len(found):
            return np.zeros(len(predicted), bool)
        going_away = np.array([followed.going_away for followed in self._followed], bool)
        return (covered(predicted, found).max(axis=1) >= self.hidden_cover) & ~going_away

    def _inland(self, predicted: np.ndarray) -> np.ndarray:
        """Per track: is its predicted box at least ``inland_px`` across (square root of its
        area) and clear of the frame's edges? Road users leave the view across its edges or
        shrink away in the distance; one that vanishes in the middle of the picture, large, is
        behind something (perhaps a road user the detector missed), so its track is kept as if
        hidden."""
        if not len(predicted) or self.frame_size_px is None or not self.inland_px:
            return np.zeros(len(predicted), bool)
        return (np.sqrt(areas(predicted)) >= self.inland_px) & ~np.array([self._at_border(box) for box in predicted], bool)

    def _occupied(self, predicted: np.ndarray, found: np.ndarray, mergeable: np.ndarray) -> np.ndarray:
        """Per detection: is it more likely a piece or a second detection of a confirmed track's
        object than a new one? Such detections start no track. A mergeable one is when it
        overlaps a confirmed track's predicted box by an IoU of at least ``birth_iou`` or lies
        half inside it; a whole one only when the IoU is at least ``whole_birth_iou`` (a queued car
        may lie wholly inside the box of the truck in front, but never covers as much of it)."""
        confirmed = [i for i, f in enumerate(self._followed)
                     if f.track.confirmed and f.track.missed <= self.max_missed_frames]
        if not confirmed or not len(found):
            return np.zeros(len(found), bool)
        overlap = ious(found, predicted[confirmed]).max(axis=1)
        inside = covered(found, predicted[confirmed]).max(axis=1)
        return np.where(mergeable, (overlap >= self.birth_iou) | (inside >= 0.5), overlap >= self.whole_birth_iou)

    # -- life cycle ----------------------------------------------------------------------------

    def _start(self, frame_index: int, time_ns: int, detection: Detection, road_sigma: np.ndarray,
               emerged: bool) -> None:
        track = Track(id=self._next_id, camera=self.camera)
        self._next_id += 1
        self._followed.append(_Followed(track, frame_index, time_ns, detection, road_sigma, self, emerged))

    def _at_border(self, box: np.ndarray) -> bool:
        """Does ``box`` touch the frame's left, right or bottom edge (where road users drive
        into view)? False without ``frame_size_px``."""
        if self.frame_size_px is None:
            return False
        width, height = self.frame_size_px
        return box[0] <= self.border_px or box[2] >= width - self.border_px or box[3] >= height - self.border_px

    def _reidentify(self) -> None:
        """Give a track confirmed this frame the identity of the lost track it continues.

        A road user that waited behind a bus for a red phase and comes out elsewhere (it turned
        while hidden) is too far from where it went in for any gate, and starts a new track.
        Such a newcomer shows where it came from: it appeared beside another road user, away
        from the frame's edges (``emerged``). It continues a confirmed track still kept but
        unseen (hidden or parked, :meth:`_Followed.coast`) when the two are of one class,
        their colours match (signature distance at most ``reidentify_colour``) and the newcomer
        could have driven from where that track was last seen (at most
        ``reidentify_speed_mps``); of several, the closest in colour. The lost track then takes
        the newcomer's points and motion, and the newcomer's id, never reported, is dropped."""
        for newcomer in self._followed:
            if not newcomer.just_confirmed:
                continue
            newcomer.just_confirmed = False
            if not newcomer.emerged or newcomer.signature is None:
                continue
            candidates = [(newcomer.colour_distance_to(lost), index) for index, lost in enumerate(self._followed)
                          if self._may_continue(lost, newcomer)]
            candidates = [(colour, index) for colour, index in candidates if colour <= self.reidentify_colour]
            if candidates:
                self._followed[min(candidates)[1]].absorb(newcomer)

    def _may_continue(self, lost: _Followed, newcomer: _Followed) -> bool:
        """Could ``newcomer`` be ``lost``'s road user, come out from hiding?"""
        if (lost is newcomer or not lost.track.confirmed or not lost.track.missed or lost.absorbed
                or lost.merged or lost.signature is None or lost.track.kind != newcomer.track.kind):
            return False
        elapsed_s = (newcomer.track.first_ns - lost.seen_ns) / 1e9
        if elapsed_s <= 0:
            return False
        seen, first = lost.seen_road, newcomer.track.points[0].road_xy
        if seen is None or first is None:
            return True
        return float(np.hypot(first[0] - seen[0], first[1] - seen[1])) <= self.reidentify_speed_mps * elapsed_s

    def _sweep(self) -> tuple[list[Track], list[Track]]:
        live, finished, keep = [], [], []
        for followed in self._followed:
            track = followed.track
            if followed.absorbed:
                continue
            if followed.merged:
                finished.append(followed.finish())
            elif not track.confirmed:
                if track.missed == 0:
                    keep.append(followed)
            elif (followed.missed_in_view > self.max_missed_frames or track.missed > self.max_hidden_frames
                  or followed.grouped > self.max_grouped_frames or (track.missed and self._left_view(followed))):
                finished.append(followed.finish())
            else:
                keep.append(followed)
                live.append(track)
        self._followed = keep
        return live, finished

    def _left_view(self, followed: _Followed) -> bool:
        if self.frame_size_px is None:
            return False
        width, height = self.frame_size_px
        box = followed.predicted_box()[None, :]
        return covered(box, np.array([[0.0, 0.0, width, height]]))[0, 0] < 0.5


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
RECEDING_WINDOW_S = 1.0
RECEDING_SHRINK = 0.95


class _Followed:
    """A track with its motion models (image box, and road point when detections have one)."""

    def __init__(self, track: Track, frame_index: int, time_ns: int, detection: Detection, road_sigma: np.ndarray,
                 tracker: Tracker, emerged: bool = False):
        self.track = track
        #: Born beside another road user, away from the frame's edges (see Tracker._reidentify).
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
        self.min_hits = tracker.whole_min_hits if detection.whole else tracker.min_hits
        self.grouped = 0
        self.missed_in_view = 0
        self.merged = False
        self.signature: np.ndarray | None = None
        #: Last seen small (under ``inland_px``) and shrinking: driving off into the distance.
        self.going_away = False
        self._record(frame_index, time_ns, detection, road_sigma, tracker)

    def predict(self, step_s: float, tracker: Tracker) -> None:
        self.box.predict(step_s, BOX_ACCEL_SIZES * _box_scale(self.box.position))
        if self.road is not None:
            self.road.predict(step_s, tracker.accel_sigma_mps2)

    def predicted_box(self) -> np.ndarray:
        return from_centre_size(self.box.position)

    def colour_distance_to(self, other: _Followed) -> float:
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
        :meth:`Tracker.road_sigmas`) from the prediction in gate units (1.0 = ``gate_sigmas``, one
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
                tracker: Tracker) -> None:
        """A detection (widened to ``box`` by fragments) matched this track."""
        centre_size = to_centre_size(box)
        self.box.correct(centre_size, _box_sigma(centre_size))
        if detection.road_xy is not None and self.road is not None:
            self.road.correct(detection.road_xy, road_sigma)
            self.road.limit_speed(tracker.max_speed_mps)
        self._record(frame_index, time_ns, detection, road_sigma, tracker)

    def take_over(self, frame_index: int, time_ns: int, detection: Detection, road_sigma: np.ndarray,
                  box: np.ndarray, tracker: Tracker) -> None:
        """A younger duplicate of this track took its object's detection this frame: this track
        takes it instead, in place of the estimated point ``coast`` just recorded."""
        if self.track.points and self.track.points[-1].frame_index == frame_index:
            self.track.points.pop()
        self.observe(frame_index, time_ns, detection, road_sigma, box, tracker)

    def observe_in_group(self, frame_index: int, time_ns: int, group_box: np.ndarray, tracker: Tracker) -> None:
        """The object is inside a merged blob: keep its predicted box within the blob."""
        kept = to_centre_size(shift_inside(self.predicted_box(), group_box))
        self.box.correct(kept, GROUP_SIGMA_FACTOR * _box_sigma(kept))
        self.track.missed = 0
        self.grouped += 1
        self._estimate(frame_index, time_ns)

    def coast(self, frame_index: int, time_ns: int, hidden: bool, inland: bool, step_s: float,
              tracker: Tracker) -> None:
        """No detection this frame: once confirmed, the track keeps an estimated point. Hidden
        behind or inside a detection, the object slows down (it is most often queueing) and its
        road position grows no more uncertain than ``hidden_sigma_m``: it comes out from behind
        the other near where it went in, and a track hidden for seconds does not take a
        vehicle appearing 20 m away. Unseen in the open, the miss counts towards
        ``max_missed_frames``; but an object still ``inland`` (large, clear of the frame's
        edges, see :meth:`Tracker._inland`) when that count runs out has not left the view: it
        is parked like a hidden one, kept until ``max_hidden_frames``."""
        self.track.missed += 1
        parked = inland and self.missed_in_view >= tracker.max_missed_frames
        if hidden or parked:
            if hidden:
                self.missed_in_view = 0
            slowdown = float(np.exp(-step_s / tracker.hidden_slowdown_s))
            self.box.velocity[:2] *= slowdown
            self.box.velocity[2:] = 0.0  # an unseen object's box does not keep shrinking or growing
            if self.road is not None:
                self.road.velocity[:] *= slowdown
                self.road.cap_position_sigma(tracker.hidden_sigma_m)
        else:
            self.missed_in_view += 1
        if self.track.confirmed:
            self._estimate(frame_index, time_ns)

    def absorb(self, newcomer: _Followed) -> None:
        """``newcomer`` is this track's road user come out from hiding: take its points (in
        place of this track's estimates for those frames), class votes, colours and motion."""
        points = self.track.points
        first = newcomer.track.points[0].frame_index
        while points and points[-1].frame_index >= first:
            points.pop()
        points.extend(newcomer.track.points)
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

    def _estimate(self, frame_index: int, time_ns: int) -> None:
        road_xy = tuple(float(v) for v in self.road.position) if self.road is not None else None
        box = tuple(float(v) for v in self.predicted_box())
        self.track.points.append(TrackPoint(frame_index, time_ns, box, road_xy, measured=False))

    def _record(self, frame_index: int, time_ns: int, detection: Detection, road_sigma: np.ndarray,
                tracker: Tracker) -> None:
        track = self.track
        track.points.append(TrackPoint(frame_index, time_ns, detection.box, detection.road_xy))
        self.seen_ns, self.seen_road = time_ns, detection.road_xy
        track.kind_votes[detection.kind] = track.kind_votes.get(detection.kind, 0.0) + detection.score
        if detection.signature is not None:
            self.signature = (detection.signature if self.signature is None else
                              (1 - SIGNATURE_UPDATE) * self.signature + SIGNATURE_UPDATE * detection.signature)
        track.missed = 0
        self.missed_in_view = 0
        self.grouped = 0
        self.going_away = self._shrinking_below(tracker.inland_px)
        self.hits += 1
        if self.hits >= self.min_hits and not track.confirmed:
            track.confirmed = self.just_confirmed = True
        if self.road is None and detection.road_xy is not None:
            self.road = ConstantVelocity(detection.road_xy, position_sigma=road_sigma,
                                         velocity_sigma=tracker.max_speed_mps / 2)

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


def _walks(kind: str) -> bool:
    return kind == "pedestrian"


def _size_ratios(predicted: np.ndarray, found: np.ndarray) -> np.ndarray:
    """For each predicted box (rows) and found box (columns), how many times wider or taller
    one is than the other (at least 1, the larger of the two axes)."""
    def sides(boxes):
        return np.maximum(boxes[:, 2] - boxes[:, 0], 1e-6), np.maximum(boxes[:, 3] - boxes[:, 1], 1e-6)
    (pw, ph), (fw, fh) = sides(predicted), sides(found)
    width = pw[:, None] / fw[None, :]
    height = ph[:, None] / fh[None, :]
    return np.maximum(np.maximum(width, 1 / width), np.maximum(height, 1 / height))


def _box_scale(centre_size: np.ndarray) -> np.ndarray:
    """Per-axis scale of a (cx, cy, w, h) box (or N x 4 of them): its width for x and w, its
    height for y and h."""
    return np.asarray(centre_size)[..., [2, 3, 2, 3]]


def _box_sigma(centre_size: np.ndarray) -> np.ndarray:
    return BOX_SIGMA_FRACTION * _box_scale(centre_size) + 1.0
