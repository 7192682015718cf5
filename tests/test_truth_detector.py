"""The truth detector (tools/truth_detector.py): the ground truth's road users as detections,
and the core tracker holding each of them when detection is perfect."""

from __future__ import annotations

import tempfile

import pytest

from appliance.geometry import RoadGeometry
from appliance.tracking import Tracker
from hal.sim import SimRoad, load_scenario, score_run
from tools.truth_detector import MIN_VISIBLE, TruthDetector


@pytest.fixture(scope="module")
def detected():
    """A 30 s junction run: the road, its calibration, its camera's name and per frame
    (index, time, detections)."""
    road = SimRoad.from_scenario(load_scenario("junction").model_copy(update={"duration_s": 30.0}))
    with tempfile.TemporaryDirectory() as scratch:
        camera_config = road.site_config(scratch)["cameras"][0]
    calibration = camera_config["calibration"]
    geometry = RoadGeometry(calibration["image_points"], calibration["road_points"])
    camera = road.camera(camera_config["name"])
    detector = TruthDetector(road.truth)
    frames = []
    while (frame := camera.read()) is not None:
        frames.append((frame.index, frame.time_ns, detector.roadcam_detect(frame=frame, geometry=geometry)))
    return road, geometry, camera.name, frames


def test_every_road_user_visible_enough_is_one_whole_detection_of_its_class(detected):
    road, _, _, frames = detected
    objects = {**road.truth.vehicles, **road.truth.pedestrians}
    reported = 0
    for index, _, detections in frames:
        expected = sorted((item.kind, tuple(item.boxes[index][:4])) for item in objects.values()
                          if index in item.boxes and item.boxes[index][4] >= MIN_VISIBLE)
        assert sorted((d.kind, d.box) for d in detections) == expected
        assert all(d.whole and d.road_xy is not None and d.signature is not None for d in detections)
        reported += len(detections)
    assert reported > 0


def test_the_tracker_holds_every_road_user_of_a_short_run_when_detection_is_perfect(detected):
    road, geometry, camera, frames = detected
    size = (road.scenario.camera.width_px, road.scenario.camera.height_px)
    tracker = Tracker(camera, frame_size_px=size, geometry=geometry)
    finished = []
    for index, time_ns, detections in frames:
        finished += tracker.update(index, time_ns, detections)[1]
    score = score_run(road.truth, finished + tracker.finish_all(), [])
    held, vehicles = score.counts("vehicles tracked under one identity")
    assert vehicles >= 6
    assert held == vehicles
    assert score.as_dict()["vehicle class accuracy"] == 1.0
