"""Detection + tracking on the simulator's scenarios, scored against their ground truth.

Chains the default detector and the core tracker exactly as the appliance does (nothing else
runs, so it is quicker than ``roadcam simulate``) and prints the scorer's tracking rows
(:mod:`hal.sim.scoring`: the same definitions ``roadcam simulate`` prints) per scenario:
vehicles and pedestrians tracked under one identity, and class accuracy.

    python tools/eval_tracking.py [--detector tflite [--model FILE]] [--seed N ...]
                                  [--detections DIR] [scenario ...]
                                                (default: background subtraction, every scenario)

``--detections DIR`` keeps each run's detections in DIR and replays them on the next call, so
a change to the tracker is measured in a fraction of the time (see :func:`detected_run`).

``--seed`` runs the scenarios with another seed (other traffic, plates and colours than the
shipped files), once per seed given, and ends with the vehicles held under one identity over
all runs. Tracker settings are chosen on such unseen traffic (junction 9107-9109, the others
9108-9109) and the shipped seeds are reported beside it: sessions 6-8 tuned on the shipped
seeds, and that figure did not hold elsewhere. The detector's training runs used seeds
9101-9402.
"""

from __future__ import annotations

import argparse
import hashlib
import pickle
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import cv2

from appliance.geometry import RoadGeometry
from appliance.tracking import Detection, Tracker
from hal.sim import Score, SimRoad, available_scenarios, load_scenario, score_run
from hal.sim.truth import GroundTruth
from plugins.detection import BackgroundDetector, DetectionConfig, LearnedDetector
from plugins.detection.learned import SHIPPED_MODEL

ROWS = ("vehicles tracked under one identity", "vehicle class accuracy",
        "pedestrians tracked under one identity", "tracks")


def evaluate(scenario: str, config: DetectionConfig, seed: int | None = None) -> list[str]:
    """The scorer's tracking rows for one scenario (with ``seed`` instead of its own, when
    given) with the detector ``config`` names."""
    return tracking_rows(score(scenario, config, seed))


def tracking_rows(figures: Score) -> list[str]:
    """The tracking lines of a score's table."""
    return [line for line in figures.table().splitlines() if line.startswith(ROWS)]


@dataclass
class DetectedRun:
    """One scenario run's detections, frame by frame, with what tracking and scoring need:
    the camera, its frame size and calibration, and the run's ground truth."""

    camera: str
    frame_size_px: tuple[int, int]
    calibration: dict
    truth: GroundTruth
    frames: list[tuple[int, int, list[Detection]]]

    def geometry(self) -> RoadGeometry:
        return RoadGeometry(self.calibration["image_points"], self.calibration["road_points"])


def score(scenario: str, config: DetectionConfig, seed: int | None = None,
          detections_dir: Path | None = None) -> Score:
    """The scorer's figures for one scenario run through detector and tracker (see
    :func:`evaluate`); with ``detections_dir``, the run's detections are kept there and reused
    (:func:`detected_run`)."""
    if detections_dir is None:
        return track_and_score(detect(scenario, config, seed))
    return track_and_score(detected_run(scenario, config, seed, detections_dir))


def detect(scenario: str, config: DetectionConfig, seed: int | None = None) -> DetectedRun:
    """Render one scenario (with ``seed`` instead of its own, when given) and detect road users
    in every frame with the detector ``config`` names."""
    loaded = load_scenario(scenario)
    road = SimRoad.from_scenario(loaded if seed is None else loaded.model_copy(update={"seed": seed}))
    with tempfile.TemporaryDirectory() as scratch:
        camera_config = road.site_config(scratch)["cameras"][0]
    calibration = camera_config["calibration"]
    geometry = RoadGeometry(calibration["image_points"], calibration["road_points"])
    detector = LearnedDetector(config) if config.type == "tflite" else BackgroundDetector(config)
    camera = road.camera(camera_config["name"])
    frames = []
    while (frame := camera.read()) is not None:
        frames.append((frame.index, frame.time_ns, detector.roadcam_detect(frame=frame, geometry=geometry)))
    size = (road.scenario.camera.width_px, road.scenario.camera.height_px)
    return DetectedRun(camera.name, size, calibration, road.truth, frames)


def detected_run(scenario: str, config: DetectionConfig, seed: int | None, detections_dir: Path) -> DetectedRun:
    """:func:`detect`'s result, from ``detections_dir`` when an earlier run left it there, else
    detected now and left there. The file is named by scenario, seed, detector type and a digest
    of the model and config, so another model gets its own; a change to the simulator or the
    detector's code is not seen: empty the folder after one. Tracker work replays a cached run
    in a fraction of the time rendering and detecting it takes."""
    settings = config.model_dump_json().encode()
    if config.type == "tflite":
        settings += Path(config.model or SHIPPED_MODEL).read_bytes()
    name = f"{Path(scenario).stem}-{'shipped' if seed is None else seed}-{config.type}-{hashlib.sha256(settings).hexdigest()[:12]}"
    path = detections_dir / f"{name}.pickle"
    if path.exists():
        with path.open("rb") as cached:
            return DetectedRun(**pickle.load(cached))
    run = detect(scenario, config, seed)
    detections_dir.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    with partial.open("wb") as out:
        pickle.dump(vars(run), out)  # fields only: the file loads whether this runs as a script or a module
    partial.replace(path)
    return run


def track_and_score(run: DetectedRun) -> Score:
    """Track a run's detections with the core tracker, as the appliance does, and score them."""
    tracker = Tracker(run.camera, frame_size_px=run.frame_size_px, geometry=run.geometry())
    finished = []
    for index, time_ns, detections in run.frames:
        finished += tracker.update(index, time_ns, detections)[1]
    finished += tracker.finish_all()
    return score_run(run.truth, finished, [])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", help="scenario names or files (default: all shipped)")
    parser.add_argument("--detector", choices=("background", "tflite"), default="background")
    parser.add_argument("--model", help="the learned detector's .tflite (default: the shipped one)")
    parser.add_argument("--seed", type=int, action="append",
                        help="run the scenarios with this seed instead of their own (may be repeated)")
    parser.add_argument("--detections", type=Path, metavar="DIR",
                        help="keep each run's detections in DIR and reuse them: tracker changes are then "
                             "measured without rendering and detecting again")
    args = parser.parse_args()
    config = DetectionConfig(type=args.detector, model=args.model)
    cv2.setNumThreads(1)
    held = scorable = 0
    for seed in args.seed or [None]:
        for scenario in args.scenarios or available_scenarios():
            print(f"== {scenario}" + ("" if seed is None else f" seed {seed}"), flush=True)
            figures = score(scenario, config, seed, args.detections)
            print("\n".join(tracking_rows(figures)), flush=True)
            part, whole = figures.counts("vehicles tracked under one identity") or (0, 0)
            held, scorable = held + part, scorable + whole
    print(f"== all runs: vehicles tracked under one identity {held}/{scorable}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
