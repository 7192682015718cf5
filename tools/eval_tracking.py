"""Detection + tracking on the simulator's scenarios, scored against their ground truth.

Chains the default detector and the core tracker exactly as the appliance does (nothing else
runs, so it is quicker than ``roadcam simulate``) and prints the scorer's tracking rows
(:mod:`hal.sim.scoring`: the same definitions ``roadcam simulate`` prints) per scenario:
vehicles and pedestrians tracked under one identity, and class accuracy.

    python tools/eval_tracking.py [--detector tflite [--model FILE]] [scenario ...]
                                                (default: background subtraction, every scenario)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time

import cv2

from appliance.geometry import RoadGeometry
from appliance.tracking import Tracker
from hal.sim import SimRoad, available_scenarios, score_run
from plugins.detection import BackgroundDetector, DetectionConfig, LearnedDetector

ROWS = ("vehicles tracked under one identity", "vehicle class accuracy",
        "pedestrians tracked under one identity", "tracks")


def evaluate(scenario: str, config: DetectionConfig) -> list[str]:
    """The scorer's tracking rows for one scenario with the detector ``config`` names."""
    road = SimRoad.from_scenario(scenario)
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
    table = score_run(road.truth, finished, [], wall_s=time.monotonic() - started_s).table()
    return [line for line in table.splitlines() if line.startswith(ROWS)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", help="scenario names or files (default: all shipped)")
    parser.add_argument("--detector", choices=("background", "tflite"), default="background")
    parser.add_argument("--model", help="the learned detector's .tflite (default: the shipped one)")
    args = parser.parse_args()
    config = DetectionConfig(type=args.detector, model=args.model)
    cv2.setNumThreads(1)
    for scenario in args.scenarios or available_scenarios():
        print(f"== {scenario}")
        for line in evaluate(scenario, config):
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
