"""The tracker's association stages, each a function of the settings, the tracks followed
(:class:`~roadcam.appliance.tracking.followed.Followed`) and one frame's boxes:

- :func:`groups`, :func:`dominant`: blobs holding several tracks (merged by background subtraction);
- :func:`associate`: track-detection pairs of least total cost (Hungarian method), gated;
- :func:`rejoin`: a vehicle hidden for long taking back the detection where it waited;
- :func:`fragments`: loose pieces of a matched track's object;
- :func:`duplicates`: two tracks on one vehicle;
- :func:`hidden`, :func:`inland`: unseen tracks kept (hidden behind a detection, or parked);
- :func:`occupied`: detections that start no track.

:class:`~roadcam.appliance.tracking.Tracker` runs them in that order each frame.
"""

from __future__ import annotations

import numpy as np

from ..assignment import min_cost_assignment
from ..boxes import areas, covered, ious
from .followed import Followed, Signatures
from .settings import TrackingSettings
from .types import Detection


def associate(settings: TrackingSettings, tracks: list[Followed], rows: list[int], columns: list[int],
              predicted: np.ndarray, found: np.ndarray,
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
    gate_sigmas = np.where(whole, settings.whole_gate_sigmas, settings.gate_sigmas)
    iou_gates = np.where(whole, settings.whole_iou_gate, settings.iou_gate)
    kinds = np.array([detection.kind for detection in candidates])
    walking = kinds == "pedestrian"
    resized = whole & (_size_ratios(predicted[rows], found[columns]) > settings.whole_size_ratio)
    net_cost = np.zeros((len(rows), len(columns)))
    for r, i in enumerate(rows):
        followed = tracks[i]
        distance = followed.normalised_distances(candidates, road_sigmas[columns], gate_sigmas)
        colour = followed.colour_distances(signatures)
        # a learned detector does not mistake a pedestrian for a vehicle
        swaps_walker = whole & (walking != _walks(followed.track.kind))
        # a box seen last frame may jump in size (a detector's split or merged box); an unseen one may not
        resized_unseen = resized[r] & (followed.track.missed > 0)
        allowed = (knows_again(settings, followed, colour) & ~swaps_walker & ~resized_unseen
                   & ((distance <= 1.0) | (overlap[r] >= iou_gates)))
        cost = ((1.0 - overlap[r]) + np.minimum(distance, 1.0)
                + settings.kind_change_cost * (kinds != followed.track.kind)
                + (settings.walking_appearance_weight if _walks(followed.track.kind) else settings.appearance_weight)
                * colour)
        net_cost[r] = np.where(allowed, np.minimum(cost - settings.unmatched_pair_cost, 0.0), 0.0)
    return {rows[r]: columns[c] for r, c in min_cost_assignment(net_cost) if net_cost[r, c] < 0.0}


def knows_again(settings: TrackingSettings, followed: Followed, colour_distance: np.ndarray) -> np.ndarray:
    """May ``followed`` take detections whose colours are ``colour_distance`` unlike its own?
    After more than ``max_missed_frames`` unseen (hidden or parked), a road user is known
    again by its colours too (signature distance at most ``reidentify_colour``): the next car
    in a queue passing where a hidden one waits is not it."""
    return (followed.track.missed <= settings.max_missed_frames) | (colour_distance <= settings.reidentify_colour)


def rejoin(settings: TrackingSettings, tracks: list[Followed], rows: list[int], columns: list[int],
           predicted: np.ndarray, found: np.ndarray, detections: list[Detection]) -> dict[int, int]:
    """Track -> detection pairs for vehicle tracks unseen longer than ``max_missed_frames``
    (``rows`` left unmatched) and detections no track took that would start a track
    (``columns``): of one class, overlapping by at least ``rejoin_iou``, most overlapping first.

    A vehicle waiting in a queue while a bus creeps past in front of it shows again where it
    waited, its box still half covered: its colours are mostly the bus's, and so are its
    hidden track's (taken in while the bus slid over it), so :func:`knows_again` refuses the
    pair and a new identity would start on the spot. A detection that no track took and that
    lies where a hidden vehicle waits is that vehicle: the next car of the queue driving up has
    a track of its own, which takes its detection first. Pedestrians are left out: hidden ones
    walk on, and a waiting group's boxes lie nearly on one another."""
    if settings.rejoin_iou is None:
        return {}
    rows = [i for i in rows if tracks[i].track.confirmed and tracks[i].track.missed > settings.max_missed_frames
            and not _walks(tracks[i].track.kind)]
    if not rows or not columns:
        return {}
    overlap = ious(predicted[rows], found[columns])
    kinds = np.array([detections[j].kind for j in columns])
    for r, i in enumerate(rows):
        overlap[r, kinds != tracks[i].track.kind] = 0.0
    pairs: dict[int, int] = {}
    for r, c in sorted(zip(*np.nonzero(overlap >= settings.rejoin_iou)), key=lambda rc: -overlap[rc]):
        if rows[r] not in pairs and columns[c] not in pairs.values():
            pairs[rows[r]] = columns[c]
    return pairs


def groups(settings: TrackingSettings, tracks: list[Followed], predicted: np.ndarray, found: np.ndarray,
           mergeable: np.ndarray) -> dict[int, list[int]]:
    """Mergeable detections holding two or more confirmed tracks' predicted boxes:
    {detection: tracks}."""
    confirmed = [i for i, f in enumerate(tracks) if f.track.confirmed]
    if not confirmed or not mergeable.any():
        return {}
    inside = covered(predicted[confirmed], found) * mergeable[None, :]
    members: dict[int, list[int]] = {}
    for row, i in enumerate(confirmed):
        best = int(np.argmax(inside[row]))
        if inside[row, best] >= settings.group_cover:
            members.setdefault(best, []).append(i)
    return {j: held for j, held in members.items() if len(held) >= 2}


def dominant(settings: TrackingSettings, members: list[int], predicted: np.ndarray,
             group_box: np.ndarray) -> int | None:
    overlap = ious(predicted[members], group_box[None, :])[:, 0]
    best = int(np.argmax(overlap))
    return members[best] if overlap[best] >= settings.dominant_iou else None


def fragments(settings: TrackingSettings, matches: dict[int, int], predicted: np.ndarray, found: np.ndarray,
               grouped_detections: set[int], mergeable: np.ndarray) -> dict[int, list[int]]:
    """Unmatched mergeable detections lying mostly inside a matched track's predicted box and
    touching the detection that track took (a truck's cab and trailer): {track: detections}.
    One with road between it and the track's own detection is another road user: a track born
    on two vehicles seen as one blob (side by side in the distance) would otherwise keep
    taking the second as its piece, and that vehicle would never get a track of its own."""
    loose = [j for j in range(len(found))
             if mergeable[j] and j not in grouped_detections and j not in matches.values()]
    tracks = list(matches)
    if not loose or not tracks:
        return {}
    inside = covered(found[loose], predicted[tracks])
    parts: dict[int, list[int]] = {}
    for row, j in enumerate(loose):
        best = int(np.argmax(inside[row]))
        if inside[row, best] >= settings.group_cover and _touching(found[j], found[matches[tracks[best]]]):
            parts.setdefault(tracks[best], []).append(j)
    return parts


def _touching(a: np.ndarray, b: np.ndarray) -> bool:
    """Do boxes ``a`` and ``b`` overlap or share an edge?"""
    return max(a[0] - b[2], b[0] - a[2], a[1] - b[3], b[1] - a[3]) <= 0


def duplicates(settings: TrackingSettings, tracks: list[Followed], matches: dict[int, int], seen: set[int],
               predicted: np.ndarray, found: np.ndarray,
                detections: list[Detection], road_sigmas: np.ndarray) -> dict[int, int]:
    """Pairs of confirmed tracks following one object, {younger: older}: one took a
    detection, the other took none, yet its predicted box overlaps that detection by at least
    ``duplicate_iou`` and the detection's ground point is within its gate. Left alone, the two
    would take the object's detections in turns; the older track (the identity since the
    object came into view) keeps following it. A vehicle hidden behind another stays apart:
    its ground point is metres from the visible one's. Pedestrians are left alone: two people
    walking side by side do stand on nearly one spot and are often detected as one."""
    def vehicle(followed: Followed) -> bool:
        return followed.track.confirmed and followed.track.kind != "pedestrian"

    unmatched = [i for i, f in enumerate(tracks) if i not in seen and vehicle(f)]
    taken = [(k, j) for k, j in matches.items() if vehicle(tracks[k])]
    if not unmatched or not taken:
        return {}
    overlap = ious(predicted[unmatched], found[[j for _, j in taken]])
    pairs: dict[int, int] = {}
    for row, column in zip(*np.nonzero(overlap >= settings.duplicate_iou)):
        i, (k, j) = unmatched[row], taken[column]
        if i in pairs or k in pairs or i in pairs.values() or k in pairs.values():
            continue
        followed, other = tracks[i], tracks[k]
        if not knows_again(settings, followed, followed.colour_distances(Signatures([detections[j]])))[0]:
            continue
        if followed.normalised_distances([detections[j]], road_sigmas[[j]], settings.gate_sigmas)[0] <= 1.0:
            younger, older = (i, k) if followed.track.id > other.track.id else (k, i)
            pairs[younger] = older
    return pairs


def hidden(settings: TrackingSettings, tracks: list[Followed], predicted: np.ndarray, found: np.ndarray) -> np.ndarray:
    """Per track: is its predicted box mostly covered by some detection (``hidden_cover``),
    so that the object is probably behind or inside it rather than gone? Not one that was
    last seen going away (:attr:`Followed.going_away`): far down the road small boxes cover
    each other all the time, and a road user that shrank into the distance has left; kept
    as hidden, its track would take the next vehicle driving there."""
    if not len(predicted) or not len(found):
        return np.zeros(len(predicted), bool)
    going_away = np.array([followed.going_away for followed in tracks], bool)
    return (covered(predicted, found).max(axis=1) >= settings.hidden_cover) & ~going_away


def inland(settings: TrackingSettings, frame_size_px: tuple[int, int] | None, predicted: np.ndarray) -> np.ndarray:
    """Per track: is its predicted box at least ``inland_px`` across (square root of its
    area) and clear of the frame's edges? Road users leave the view across its edges or
    shrink away in the distance; one that vanishes in the middle of the picture, large, is
    behind something (perhaps a road user the detector missed), so its track is kept as if
    hidden."""
    if not len(predicted) or frame_size_px is None or not settings.inland_px:
        return np.zeros(len(predicted), bool)
    bordering = np.array([at_border(settings, frame_size_px, box) for box in predicted], bool)
    return (np.sqrt(areas(predicted)) >= settings.inland_px) & ~bordering


def occupied(settings: TrackingSettings, tracks: list[Followed], predicted: np.ndarray, found: np.ndarray,
             mergeable: np.ndarray, detections: list[Detection] | None = None,
             matches: dict[int, int] | None = None) -> np.ndarray:
    """Per detection: is it more likely a piece or a second detection of a confirmed track's
    object than a new one? Such detections start no track. A mergeable one is when it
    overlaps a confirmed track's predicted box by an IoU of at least ``birth_iou`` or lies
    half inside it; a whole one only when the IoU is at least ``whole_birth_iou`` (a queued car
    may lie wholly inside the box of the truck in front, but never covers as much of it).

    Given this frame's ``detections`` and ``matches`` (track -> detection), a whole
    pedestrian detection is not occupied by a pedestrian track that took another detection:
    that track's person was found elsewhere, so this is someone else. People walking
    together overlap by an IoU of 0.3-0.7 at the crosswalk's distance; without this the one
    beside a tracked person never got a track, and when the tracked person went behind
    someone their track took the untracked one (junction 2501, tuning)."""
    confirmed = [i for i, f in enumerate(tracks)
                 if f.track.confirmed and f.track.missed <= settings.max_missed_frames]
    if not confirmed or not len(found):
        return np.zeros(len(found), bool)
    overlap = ious(found, predicted[confirmed])
    if detections is not None and matches:
        walking = np.array([_walks(detection.kind) for detection in detections], bool) & ~mergeable
        elsewhere = np.array([_walks(tracks[i].track.kind) and i in matches for i in confirmed], bool)
        columns = np.array([matches.get(i, -1) for i in confirmed])
        other = columns[None, :] != np.arange(len(found))[:, None]
        overlap = np.where(walking[:, None] & elsewhere[None, :] & other, 0.0, overlap)
    inside = covered(found, predicted[confirmed]).max(axis=1)
    overlap = overlap.max(axis=1)
    return np.where(mergeable, (overlap >= settings.birth_iou) | (inside >= 0.5), overlap >= settings.whole_birth_iou)


def at_border(settings: TrackingSettings, frame_size_px: tuple[int, int] | None, box: np.ndarray) -> bool:
    """Does ``box`` touch the frame's left, right or bottom edge (where road users drive
    into view)? False without ``frame_size_px``."""
    if frame_size_px is None:
        return False
    width, height = frame_size_px
    return box[0] <= settings.border_px or box[2] >= width - settings.border_px or box[3] >= height - settings.border_px


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
