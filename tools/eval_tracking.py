"""Detection + tracking on the simulator's scenarios, scored against their ground truth.

Chains the default detector and the core tracker exactly as the appliance does (nothing else
runs, so it is quicker than ``roadcam simulate``) and prints the scorer's tracking rows
(:mod:`hal.sim.scoring`: the same definitions ``roadcam simulate`` prints) per scenario:
vehicles and pedestrians tracked under one identity, and class accuracy.

    python tools/eval_tracking.py [--detector tflite [--model FILE]] [--seed N ...] [scenario ...]
                                                (default: background subtraction, every scenario)

``--seed`` runs the scenarios with another seed (other traffic, plates and colours than the
shipped files), once per seed given, and ends with the vehicles held under one identity over
all runs. Tracker settings are chosen on such unseen traffic (junction 9107-9109, the others
9108-9109) and the shipped seeds are reported beside it: sessions 6-8 tuned on the shipped
seeds, and that figure did not hold elsewhere. The detector's training runs used seeds
9101-9402.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time

import cv2

from appliance.geometry import RoadGeometry
from appliance.tracking import Tracker
from hal.sim import Score, SimRoad, available_scenarios, load_scenario, score_run
from plugins.detection import BackgroundDetector, DetectionConfig, LearnedDetector

ROWS = ("vehicles tracked under one identity", "vehicle class accuracy",
        "pedestrians tracked under one identity", "tracks")


def evaluate(scenario: str, config: DetectionConfig, seed: int | None = None) -> list[str]:
    """The scorer's tracking rows for one scenario (with ``seed`` instead of its own, when
    given) with the detector ``config`` names."""
    return tracking_rows(score(scenario, config, seed))


def tracking_rows(figures: Score) -> list[str]:
    """The tracking lines of a score's table."""
    return [line for line in figures.table().splitlines() if line.startswith(ROWS)]


def score(scenario: str, config: DetectionConfig, seed: int | None = None) -> Score:
    """The scorer's figures for one scenario run through detector and tracker (see
    :func:`evaluate`)."""
    loaded = load_scenario(scenario)
    road = SimRoad.from_scenario(loaded if seed is None else loaded.model_copy(update={"seed": seed}))
    with tempfile.TemporaryDirectory() as scratch:
        camera_config = road.site_config(scratch)["cameras"][0]
    calibration = camera_config["calibration"]
    geometry = RoadGeometry(calibration["image_points"], calibration["road_points"])
    detector = LearnedDetector(config) if config.type == "tflite" else BackgroundDetector(config)
    camera = road.camera(camera_config["name"])
    tracker = Tracker(camera.name, frame_size_px=(road.scenario.camera.width_px, road.scenario.camera.height_px),
                      geometry=geometry)
    finished = []
    started_s = time.monotonic()
    while (frame := camera.read()) is not None:
        detections = detector.roadcam_detect(frame=frame, geometry=geometry)
        finished += tracker.update(frame.index, frame.time_ns, detections)[1]
    finished += tracker.finish_all()
    return score_run(road.truth, finished, [], wall_s=time.monotonic() - started_s)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", help="scenario names or files (default: all shipped)")
    parser.add_argument("--detector", choices=("background", "tflite"), default="background")
    parser.add_argument("--model", help="the learned detector's .tflite (default: the shipped one)")
    parser.add_argument("--seed", type=int, action="append",
                        help="run the scenarios with this seed instead of their own (may be repeated)")
    args = parser.parse_args()
    config = DetectionConfig(type=args.detector, model=args.model)
    cv2.setNumThreads(1)
    held = scorable = 0
    for seed in args.seed or [None]:
        for scenario in args.scenarios or available_scenarios():
            print(f"== {scenario}" + ("" if seed is None else f" seed {seed}"), flush=True)
            figures = score(scenario, config, seed)
            print("\n".join(tracking_rows(figures)), flush=True)
            part, whole = figures.counts("vehicles tracked under one identity") or (0, 0)
            held, scorable = held + part, scorable + whole
    print(f"== all runs: vehicles tracked under one identity {held}/{scorable}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
