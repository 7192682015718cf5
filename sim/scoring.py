"""Score a simulated run: compare the ground truth with the tracks and events that came out.

Tracks are matched to truth objects frame by frame (box IoU >= 0.3, or the track box's centre
inside the truth box; one to one, best overlap first). An object counts as *tracked under one
identity* when, over the frames it is well visible (>= 60 % visible and at least
``min_box_px`` across, as the square root of its box area), from the first such frame to the
last, a single track holds it in >= 90 % of them and no other track holds it for more than
``takeover_frames`` frames in a row.

The same test is made where the rules look (the truth's ``areas``, from the scenario's layout:
:meth:`roadcam.sim.layout.RoadLayout.rule_areas`), on each object's road point per frame:

- a vehicle *counts* when its road point (footprint centre) lies in the ``approach`` area (the
  lanes from the stop line 40 m upstream) in a frame it is in view, and it is well visible in
  at least one frame of its *window*: from that first frame in the approach until the last
  frame before its point first lies outside both ``approach`` and ``junction`` (it has left the
  junction across the far kerb line or into a side street), or its last frame in view;
- a pedestrian *counts* when their feet are on the ``crosswalk`` in a frame they are in view;
  the window runs from stepping on until stepping off. People who never step on it (walking
  along the pavement) are not judged;
- it is *held* when, over the well visible frames of its window, one track holds it in at least
  ``identity_share`` of them and no other track holds it for more than ``takeover_frames`` in a
  row, and in no more than ``takeover_frames`` frames in a row of the window that track is
  matched to another truth object, well visible then, instead (it did not switch to another
  road user and back).

Road users only seen beyond these areas (far down the exit road) are not judged there; a switch
of track there does not count against them. The whole-view figure stays for information.

Events are attributed to a vehicle through ``data.track_id`` (the track's matched vehicle),
else ``data.plate``. Every event type is counted; types with truth are scored:
``plate.read`` (exact plate against the attributed vehicle; vehicles read among those whose
plate is ever legible, at least ``readable_plate_px`` wide, and among all) and ``violation.<rule>``
(precision and recall against the truth's violations of that rule, by vehicle and time), so
a new rule plugin is scored without changes here. ``hotlist.hit`` is scored against the
scenario's hotlist: listed vehicles hit, false hits, and the worst delay from a listed
vehicle's first readable frame to its first hit.
"""

from __future__ import annotations

import copy
import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from roadcam.appliance.hookspecs import hookimpl
from roadcam.appliance.tracking import Track
from roadcam.protocol.events import Event

from .layout import Rect
from .plates import normalise_plate
from .truth import GroundTruth, ObjectTruth, VehicleTruth


class AreaBar(NamedTuple):
    """Identity judged where the rules look: the area a road user's window starts in, the areas
    it stays in until the window ends, the score row, and the share that must be held (issue 24)."""

    start: str
    within: tuple[str, ...]
    row: str
    bar: float


#: Per group of truth objects (see the module docstring).
AREA_IDENTITY = {
    "vehicles": AreaBar("approach", ("approach", "junction"), "vehicles under one identity, approach to junction exit",
                        0.98),
    "pedestrians": AreaBar("crosswalk", ("crosswalk",), "pedestrians under one identity on the crosswalk", 0.95),
}


@dataclass(frozen=True)
class ScoreRow:
    """One line of the score: a name, its value (count, fraction or text) and how it was got;
    a fraction's ``counts`` (part, whole) let several runs be added up."""

    name: str
    value: int | float | str | None
    detail: str = ""
    fraction: bool = False
    counts: tuple[int, int] | None = None


@dataclass
class Score:
    """Rows of figures; :meth:`table` for people, :meth:`as_dict` for programs."""

    rows: list[ScoreRow] = field(default_factory=list)

    def add(self, name: str, value, detail: str = "", fraction: bool = False,
            counts: tuple[int, int] | None = None) -> None:
        self.rows.append(ScoreRow(name, value, detail, fraction, counts))

    def counts(self, name: str) -> tuple[int, int] | None:
        """The (part, whole) behind fraction row ``name``, None when it has none."""
        return next((row.counts for row in self.rows if row.name == name), None)

    def as_dict(self) -> dict[str, Any]:
        return {row.name: row.value for row in self.rows}

    def __getitem__(self, name: str):
        return self.as_dict()[name]

    def table(self) -> str:
        """An aligned text table: metric, value, detail."""
        cells = [(row.name, _format(row), row.detail) for row in self.rows]
        name_w = max([len("metric")] + [len(c[0]) for c in cells])
        value_w = max([len("value")] + [len(c[1]) for c in cells])
        lines = [f"{'metric':<{name_w}}  {'value':>{value_w}}  detail", "-" * (name_w + value_w + 30)]
        lines += [f"{name:<{name_w}}  {value:>{value_w}}  {detail}".rstrip() for name, value, detail in cells]
        return "\n".join(lines)


def _format(row: ScoreRow) -> str:
    if row.value is None:
        return "n/a"
    if row.fraction:
        return f"{100.0 * row.value:.1f}%"
    if isinstance(row.value, float):
        return f"{row.value:.2f}"
    return str(row.value)


class TrackRecorder:
    """Plugin that keeps a copy of every finished track for the scorer (``roadcam simulate``
    registers it next to the real plugins)."""

    def __init__(self):
        self.tracks: list[Track] = []

    @hookimpl
    def roadcam_track_finished(self, track: Track) -> list:
        self.tracks.append(copy.deepcopy(track))
        return []


@dataclass
class _Identity:
    """How one truth object was tracked."""

    eligible_frames: int
    dominant_track: int | None
    share: float
    longest_takeover: int
    #: Longest run of frames in which the dominant track held another truth object (judged only
    #: over an area window; 0 for the whole view).
    longest_astray: int = 0

    def held(self, share_min: float, takeover_max: int) -> bool:
        return (self.eligible_frames > 0 and self.share >= share_min and self.longest_takeover <= takeover_max
                and self.longest_astray <= takeover_max)


class Scorer:
    """Compares one run's truth with its tracks and events. Thresholds are attributes."""

    iou_min = 0.3
    visible_min = 0.6
    min_box_px = 24.0
    identity_share = 0.9
    takeover_frames = 5
    violation_window_s = 15.0
    #: A plate this wide has characters about 10 px high on one row, the least an OCR reads
    #: reliably; narrower ones (far scooters' plates are 15-25 px) are not counted as legible.
    readable_plate_px = 30.0
    unattributed_window_s = 2.0

    def __init__(self, truth: GroundTruth, tracks: list[Track], events: list[Event]):
        self.truth = truth
        self.tracks = tracks
        self.events = events
        self.objects: dict[int, ObjectTruth] = {**truth.vehicles, **truth.pedestrians}
        self.matches = self._match_frames()
        self.track_owner = self._track_owners()
        self._identities: dict[int, _Identity] = {}

    # ---- matching tracks to truth ------------------------------------------------------------

    def _match_frames(self) -> dict[int, dict[int, int]]:
        """frame index -> {object id: track id} for every frame with both truth and tracks."""
        track_boxes: dict[int, list[tuple[int, tuple]]] = defaultdict(list)
        for track in self.tracks:
            for point in track.points:
                track_boxes[point.frame_index].append((track.id, point.box))
        truth_boxes: dict[int, list[tuple[int, tuple]]] = defaultdict(list)
        for object_id, item in self.objects.items():
            for frame, box in item.boxes.items():
                truth_boxes[frame].append((object_id, box[:4]))
        matches: dict[int, dict[int, int]] = {}
        for frame, truths in truth_boxes.items():
            candidates = []
            for object_id, tbox in truths:
                for track_id, box in track_boxes.get(frame, ()):
                    iou = _iou(tbox, box)
                    if iou >= self.iou_min or _centre_inside(box, tbox):
                        candidates.append((iou, object_id, track_id))
            taken_objects, taken_tracks, frame_matches = set(), set(), {}
            for _, object_id, track_id in sorted(candidates, key=lambda c: (-c[0], c[1], c[2])):
                if object_id not in taken_objects and track_id not in taken_tracks:
                    taken_objects.add(object_id)
                    taken_tracks.add(track_id)
                    frame_matches[object_id] = track_id
            matches[frame] = frame_matches
        return matches

    def _track_owners(self) -> dict[int, int]:
        """Each track's truth object: the one it was matched to most often."""
        votes: dict[int, Counter] = defaultdict(Counter)
        for frame_matches in self.matches.values():
            for object_id, track_id in frame_matches.items():
                votes[track_id][object_id] += 1
        return {track_id: counter.most_common(1)[0][0] for track_id, counter in votes.items()}

    def identity(self, object_id: int) -> _Identity:
        """How one truth object was tracked (computed once)."""
        if object_id not in self._identities:
            self._identities[object_id] = self._identity(object_id)
        return self._identities[object_id]

    def eligible_frames(self, object_id: int) -> list[int]:
        """The frames in which one truth object is well visible (``visible_min``, ``min_box_px``),
        in order: those its identity is judged on."""
        return sorted(frame for frame in self.objects[object_id].boxes if self.well_visible(object_id, frame))

    def well_visible(self, object_id: int, frame: int) -> bool:
        """Is the object at least ``visible_min`` visible and ``min_box_px`` across in ``frame``?"""
        box = self.objects[object_id].boxes.get(frame)
        return box is not None and box[4] >= self.visible_min and box_px(box) >= self.min_box_px

    def _identity(self, object_id: int, frames: list[int] | None = None, span: Sequence[int] = ()) -> _Identity:
        """How one object was tracked over ``frames`` (default: its eligible frames); with
        ``span``, also how long its dominant track held another, well visible, object within
        those frames (two road users hidden in one queue are told apart by nobody: a hidden
        track's estimate matched to the other is no switch)."""
        frames = self.eligible_frames(object_id) if frames is None else frames
        held = [self.matches.get(frame, {}).get(object_id) for frame in frames]
        counts = Counter(track for track in held if track is not None)
        if not counts:
            return _Identity(len(frames), None, 0.0, 0)
        dominant, count = counts.most_common(1)[0]
        longest = run = 0
        for track in held:
            run = run + 1 if track is not None and track != dominant else 0
            longest = max(longest, run)
        astray = run = 0
        for frame in span:
            others = [other for other, track in self.matches.get(frame, {}).items() if track == dominant]
            run = run + 1 if others and others[0] != object_id and self.well_visible(others[0], frame) else 0
            astray = max(astray, run)
        return _Identity(len(frames), dominant, count / len(frames), longest, astray)

    def area_window(self, object_id: int, start: str, within: tuple[str, ...]) -> list[int]:
        """The frames in view from the first in which the object's road point is in area
        ``start`` until the last before it first lies outside every area of ``within``; empty
        when it is never in ``start`` in view (or the truth names no such area)."""
        if start not in self.truth.areas or not all(name in self.truth.areas for name in within):
            return []
        first = Rect(*self.truth.areas[start])
        stay = [Rect(*self.truth.areas[name]) for name in within]
        ground = self.objects[object_id].ground
        window: list[int] = []
        for frame in sorted(ground):
            x, y = ground[frame]
            if window and not any(area.contains(x, y) for area in stay):
                break
            if window or first.contains(x, y):
                window.append(frame)
        return window

    def area_identity(self, object_id: int, start: str, within: tuple[str, ...]) -> _Identity | None:
        """How one object was tracked over its window where the rules look (:meth:`area_window`,
        the module docstring): judged on its well visible frames there; None when it never
        entered ``start`` in view."""
        window = self.area_window(object_id, start, within)
        if not window:
            return None
        eligible = set(self.eligible_frames(object_id))
        frames = [frame for frame in window if frame in eligible]
        span = [frame for frame in range(window[0], window[-1] + 1) if frame in self.matches]
        return self._identity(object_id, frames, span)

    # ---- the score ---------------------------------------------------------------------------

    def score(self) -> Score:
        result = Score()
        result.add("frames rendered", self.truth.frames_rendered)
        kinds = {track.id: track.kind for track in self.tracks}
        for label, group, kind_of in (("vehicles", self.truth.vehicles, lambda item: item.kind),
                                      ("pedestrians", self.truth.pedestrians, lambda item: "pedestrian")):
            identities = {object_id: self.identity(object_id) for object_id in group}
            scorable = [object_id for object_id, ident in identities.items() if ident.eligible_frames]
            held = [object_id for object_id in scorable
                    if identities[object_id].held(self.identity_share, self.takeover_frames)]
            matched = [object_id for object_id in scorable if identities[object_id].dominant_track is not None]
            right_kind = [object_id for object_id in matched
                          if kinds.get(identities[object_id].dominant_track) == kind_of(group[object_id])]
            result.add(label, len(group), f"{len(scorable)} well visible in some frame")
            result.add(f"{label} tracked under one identity", _ratio(len(held), len(scorable)),
                       f"{len(held)}/{len(scorable)}", fraction=True, counts=(len(held), len(scorable)))
            self._score_area_identity(result, label, group)
            if label == "vehicles":
                result.add("vehicle class accuracy", _ratio(len(right_kind), len(matched)),
                           f"{len(right_kind)}/{len(matched)} matched vehicles", fraction=True)
        unmatched = sum(1 for track in self.tracks if track.id not in self.track_owner)
        result.add("tracks", len(self.tracks), f"{unmatched} matched to nothing")
        counts = Counter(event.type for event in self.events)
        for event_type in sorted(counts):
            result.add(f"events {event_type}", counts[event_type])
        self._score_plates(result)
        self._score_hotlist(result)
        self._score_violations(result)
        return result

    def _score_area_identity(self, result: Score, label: str, group: dict[int, ObjectTruth]) -> None:
        """The identity row where the rules look for ``label`` (vehicles or pedestrians); none
        when the truth has no such area (no crosswalk, a truth file from before areas)."""
        area = AREA_IDENTITY[label]
        if area.start not in self.truth.areas:
            return
        identities = [self.area_identity(object_id, area.start, area.within) for object_id in group]
        judged = [ident for ident in identities if ident is not None and ident.eligible_frames]
        held = sum(1 for ident in judged if ident.held(self.identity_share, self.takeover_frames))
        result.add(area.row, _ratio(held, len(judged)),
                   f"{held}/{len(judged)} in view in the {area.start}; bar {area.bar:.0%}",
                   fraction=True, counts=(held, len(judged)))

    def _event_s(self, event: Event) -> float:
        stamp = datetime.fromisoformat(event.time.replace("Z", "+00:00"))
        return self.truth.sim_s(int(stamp.timestamp()) * 1_000_000_000 + stamp.microsecond * 1000)

    def _vehicle_of(self, event: Event) -> VehicleTruth | None:
        """The vehicle an event is about: through its track, else through its plate."""
        track_id = event.data.get("track_id", event.data.get("track"))
        if isinstance(track_id, int) and track_id in self.track_owner:
            return self.truth.vehicles.get(self.track_owner[track_id])
        plate = event.data.get("plate")
        if isinstance(plate, str):
            wanted = normalise_plate(plate)
            return next((v for v in self.truth.vehicles.values() if normalise_plate(v.plate) == wanted), None)
        return None

    def _score_plates(self, result: Score) -> None:
        reads = [event for event in self.events if event.type == "plate.read"]
        if not reads:
            return
        correct, read_vehicles = 0, set()
        for event in reads:
            plate = normalise_plate(str(event.data.get("plate", "")))
            track_id = event.data.get("track_id", event.data.get("track"))
            if isinstance(track_id, int) and track_id in self.track_owner:
                vehicle = self.truth.vehicles.get(self.track_owner[track_id])
                right = vehicle is not None and normalise_plate(vehicle.plate) == plate
            else:
                vehicle = self._present_with_plate(plate, self._event_s(event))
                right = vehicle is not None
            if right:
                correct += 1
                read_vehicles.add(vehicle.id)
        scorable = [v for v in self.truth.vehicles if self.identity(v).eligible_frames]
        legible = {v for v in scorable if self._readable_frames(self.truth.vehicles[v])}
        read_legible = len(read_vehicles & legible)
        result.add("plate.read exact plate", _ratio(correct, len(reads)), f"{correct}/{len(reads)} reads",
                   fraction=True)
        result.add("plate.read vehicles read", _ratio(read_legible, len(legible)),
                   f"{read_legible}/{len(legible)} well visible vehicles with a legible plate", fraction=True)
        result.add("plate.read vehicles read, any plate", _ratio(len(read_vehicles), len(scorable)),
                   f"{len(read_vehicles)}/{len(scorable)} well visible vehicles", fraction=True)

    def _readable_frames(self, vehicle: VehicleTruth) -> list[int]:
        """Frames in which the vehicle's plate is legible: at least ``readable_plate_px`` wide and
        ``visible_min`` visible."""
        return [frame for frame, box in vehicle.plate_boxes.items()
                if box[4] >= self.visible_min and box[2] - box[0] >= self.readable_plate_px]

    def _score_hotlist(self, result: Score) -> None:
        """Hotlisted vehicles hit, false hits, and the worst delay from a listed vehicle's first
        readable frame (plate at least ``readable_plate_px`` wide and ``visible_min`` visible) to
        the frame of its first ``hotlist.hit``."""
        listed = {normalise_plate(plate) for plate in self.truth.hotlist}
        hits = [event for event in self.events if event.type == "hotlist.hit"]
        if not listed and not hits:
            return
        first_hit_s: dict[int, float] = {}
        false_hits = 0
        for event in hits:
            vehicle = self._vehicle_of(event)
            if vehicle is None or normalise_plate(vehicle.plate) not in listed:
                false_hits += 1
                continue
            first_hit_s[vehicle.id] = min(first_hit_s.get(vehicle.id, math.inf), self._event_s(event))
        readable_s = {}
        for vehicle in self.truth.vehicles.values():
            if normalise_plate(vehicle.plate) in listed:
                frames = self._readable_frames(vehicle)
                if frames:
                    readable_s[vehicle.id] = (min(frames) + 1) / self.truth.fps
        hit = [v for v in readable_s if v in first_hit_s]
        result.add("hotlist vehicles hit", _ratio(len(hit), len(readable_s)),
                   f"{len(hit)}/{len(readable_s)} listed vehicles with a readable plate", fraction=True)
        result.add("hotlist false hits", false_hits)
        if hit:
            delay = max(first_hit_s[v] - readable_s[v] for v in hit)
            result.add("hotlist.hit delay after first readable frame (s)", round(delay, 2), "worst vehicle")

    def _present_with_plate(self, plate: str, at_s: float) -> VehicleTruth | None:
        for vehicle in self.truth.vehicles.values():
            if normalise_plate(vehicle.plate) == plate and vehicle.entry_s - 1 <= at_s <= (vehicle.exit_s or 1e12) + 1:
                return vehicle
        return None

    def _score_violations(self, result: Score) -> None:
        rules = {violation.rule for _, violation in self.truth.violations()}
        rules |= {event.type.removeprefix("violation.") for event in self.events if event.type.startswith("violation.")}
        for rule in sorted(rules):
            truths = [(vehicle, violation) for vehicle, violation in self.truth.violations() if violation.rule == rule]
            events = [event for event in self.events if event.type == f"violation.{rule}"]
            found: set[int] = set()
            right = 0
            for event in events:
                at = self._event_s(event)
                vehicle = self._vehicle_of(event)
                for index, (owner, violation) in enumerate(truths):
                    if index in found:
                        continue
                    same = owner is vehicle and abs(violation.time_s - at) <= self.violation_window_s
                    by_time = vehicle is None and abs(violation.time_s - at) <= self.unattributed_window_s
                    if same or by_time:
                        found.add(index)
                        right += 1
                        break
            result.add(f"violation.{rule} precision", _ratio(right, len(events)), f"{right}/{len(events)} events",
                       fraction=True)
            result.add(f"violation.{rule} recall", _ratio(len(found), len(truths)),
                       f"{len(found)}/{len(truths)} in truth", fraction=True)


def score_run(truth: GroundTruth, tracks: list[Track], events: list[Event], wall_s: float | None = None) -> Score:
    """Score one run (see the module docstring for what is measured). ``wall_s``, the real time
    the run took, adds how much faster than real time it went."""
    score = Scorer(truth, tracks, events).score()
    if wall_s:
        simulated_s = truth.frames_rendered / truth.fps
        score.add("wall time (s)", round(wall_s, 2), f"{simulated_s:.1f} s simulated")
        score.add("speed vs real time", round(simulated_s / wall_s, 2), "simulated seconds per wall second")
    return score


def box_px(box) -> float:
    """A box's size in pixels: the square root of its area."""
    return ((box[2] - box[0]) * (box[3] - box[1])) ** 0.5


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _iou(a, b) -> float:
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _centre_inside(box, outer) -> bool:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return outer[0] <= cx <= outer[2] and outer[1] <= cy <= outer[3]
