"""Evaluate detection + tracking on simulator scenarios against their ground truth.

Runs each scenario's frames through the default detector and the core tracker (exactly as the
appliance chains them, nothing else) and compares the finished tracks with the truth's
per-frame boxes:

- per frame, truth boxes (of objects at least ``--min-visible`` visible and at least the
  detector's smallest box in area) and track boxes are paired by the Hungarian method on IoU
  (pairs under 0.3 dropped);
- an object is *tracked under one identity* when one track holds at least 90 % of its matched
  frames, that track covers its first and last eligible seconds (within ``--edge-s``) and at
  least 80 % of its eligible frames, and that track is not also the main track of another
  object;
- its *class is right* when that track's kind equals the truth's.

Prints per-scenario and total figures: objects, tracked, class right (of the tracked), id
switches, spurious tracks (confirmed tracks that matched no object).

    python tools/eval_tracking.py [scenario ...]          (default: every shipped scenario)
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from appliance.assignment import min_cost_assignment
from appliance.boxes import as_boxes, ious
from appliance.geometry import RoadGeometry
from appliance.tracking import Track, Tracker
from hal.sim import GroundTruth, SimRoad, available_scenarios
from plugins.detection import BackgroundDetector, DetectionConfig

MIN_IOU = 0.3


@dataclass
class ObjectResult:
    """How one true object was tracked."""

    id: int
    kind: str
    eligible_frames: int
    matched: Counter = field(default_factory=Counter)  # track id -> frames
    main_track: int | None = None
    tracked: bool = False
    kind_right: bool = False
    tracked_kind: str | None = None


@dataclass
class ScenarioResult:
    name: str
    objects: list[ObjectResult]
    spurious_tracks: int
    frames: int


def run(scenario: str, config: DetectionConfig | None = None) -> tuple[list[Track], GroundTruth, int]:
    """Finished tracks of one scenario run, its truth, and the number of frames."""
    road = SimRoad.from_scenario(scenario)
    calibration = road.calibration()
    geometry = RoadGeometry(calibration["image_points"], calibration["road_points"])
    camera = road.camera(road.scenario.camera.name)
    detector = BackgroundDetector(config or DetectionConfig())
    tracker: Tracker | None = None
    finished: list[Track] = []
    frames = 0
    while (frame := camera.read()) is not None:
        tracker = tracker or Tracker(frame.camera, frame_size_px=frame.size)
        detections = detector.roadcam_detect(frame=frame, geometry=geometry)
        finished += tracker.update(frame.index, frame.time_ns, detections)[1]
        frames += 1
    return finished + (tracker.finish_all() if tracker else []), road.truth, frames


def evaluate(name: str, tracks: list[Track], truth: GroundTruth, frames: int, *, min_visible: float = 0.5,
             min_area_px: float = 600.0, edge_s: float = 1.0) -> ScenarioResult:
    """Match tracks to the truth (see the module docstring)."""
    objects = {**{i: o for i, o in truth.vehicles.items()}, **{i: o for i, o in truth.pedestrians.items()}}
    results = {i: ObjectResult(i, o.kind, 0) for i, o in objects.items()}
    points: dict[int, list[tuple[int, tuple]]] = {}
    for track in tracks:
        for point in track.points:
            points.setdefault(point.frame_index, []).append((track.id, point.box))
    eligible_span: dict[int, list[int]] = {}
    for index in range(frames):
        truth_here = [(i, box[:4]) for i, o in objects.items() if (box := o.boxes.get(index))
                      and box[4] >= min_visible and (box[2] - box[0]) * (box[3] - box[1]) >= min_area_px]
        for i, _ in truth_here:
            results[i].eligible_frames += 1
            eligible_span.setdefault(i, []).append(index)
        tracks_here = points.get(index, [])
        if not truth_here or not tracks_here:
            continue
        overlap = ious(as_boxes([b for _, b in truth_here]), as_boxes([b for _, b in tracks_here]))
        for row, column in min_cost_assignment(1.0 - overlap):
            if overlap[row, column] >= MIN_IOU:
                results[truth_here[row][0]].matched[tracks_here[column][0]] += 1
    by_id = {t.id: t for t in tracks}
    main_of: Counter = Counter()
    for result in results.values():
        if result.matched:
            result.main_track = result.matched.most_common(1)[0][0]
            main_of[result.main_track] += 1
    fps = truth.fps
    for i, result in results.items():
        if not result.eligible_frames or result.main_track is None:
            continue
        track = by_id[result.main_track]
        main_frames = result.matched[result.main_track]
        span = eligible_span[i]
        covers_ends = (track.points[0].frame_index <= span[0] + edge_s * fps
                       and track.points[-1].frame_index >= span[-1] - edge_s * fps)
        result.tracked = (main_frames >= 0.9 * sum(result.matched.values()) and covers_ends
                          and main_frames >= 0.8 * result.eligible_frames and main_of[result.main_track] == 1)
        result.tracked_kind = track.kind
        result.kind_right = track.kind == result.kind
    matched_tracks = {t for r in results.values() for t in r.matched}
    spurious = sum(1 for t in tracks if t.id not in matched_tracks)
    seen = [r for r in results.values() if r.eligible_frames]
    return ScenarioResult(name, seen, spurious, frames)


def summarise(results: list[ScenarioResult]) -> dict[str, float]:
    """Totals over scenarios: objects, vehicles, tracked and class-right fractions."""
    objects = [o for r in results for o in r.objects]
    vehicles = [o for o in objects if o.kind != "pedestrian"]
    tracked = [o for o in vehicles if o.tracked]
    return {
        "objects": len(objects),
        "vehicles": len(vehicles),
        "vehicles_tracked": len(tracked) / max(len(vehicles), 1),
        "vehicle_class_right": sum(o.kind_right for o in tracked) / max(len(tracked), 1),
        "pedestrians": len(objects) - len(vehicles),
        "pedestrians_tracked": sum(o.tracked for o in objects if o.kind == "pedestrian")
        / max(len(objects) - len(vehicles), 1),
        "id_switches": sum(max(len([t for t, n in o.matched.items() if n >= 3]) - 1, 0) for o in objects),
        "spurious_tracks": sum(r.spurious_tracks for r in results),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", help="scenario names or YAML paths (default: all shipped)")
    parser.add_argument("--verbose", "-v", action="store_true", help="list every object")
    args = parser.parse_args(argv)
    results = []
    for name in args.scenarios or available_scenarios():
        tracks, truth, frames = run(name)
        result = evaluate(name, tracks, truth, frames)
        results.append(result)
        part = summarise([result])
        print(f"{name}: {frames} frames, {part['vehicles']} vehicles: tracked {part['vehicles_tracked']:.1%}, "
              f"class right {part['vehicle_class_right']:.1%}; {part['pedestrians']} pedestrians: tracked "
              f"{part['pedestrians_tracked']:.1%}; id switches {part['id_switches']}, spurious tracks "
              f"{part['spurious_tracks']}")
        if args.verbose:
            for o in sorted(result.objects, key=lambda o: o.id):
                print(f"  {o.id:4d} {o.kind:10s} eligible {o.eligible_frames:4d} matched {dict(o.matched)} "
                      f"tracked={o.tracked} as {o.tracked_kind}")
    total = summarise(results)
    print(f"TOTAL: {total['vehicles']} vehicles tracked under one identity {total['vehicles_tracked']:.1%}, "
          f"class right {total['vehicle_class_right']:.1%}; {total['pedestrians']} pedestrians tracked "
          f"{total['pedestrians_tracked']:.1%}; id switches {total['id_switches']}; "
          f"spurious tracks {total['spurious_tracks']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
