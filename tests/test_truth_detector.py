"""The truth detector (tools/truth_detector.py): the ground truth's road users as detections,
and the core tracker holding each of them when detection is perfect."""

from __future__ import annotations

import pytest

from roadcam.sim import load_scenario, score_run
from roadcam.tools.eval_tracking import DetectedRun, detect, track
from roadcam.tools.truth_detector import MIN_VISIBLE


@pytest.fixture(scope="module")
def run() -> DetectedRun:
    """A 30 s junction run detected by the truth detector."""
    return detect(load_scenario("junction").model_copy(update={"duration_s": 30.0}), None)


def test_every_road_user_visible_enough_is_one_whole_detection_of_its_class(run):
    objects = {**run.truth.vehicles, **run.truth.pedestrians}
    reported = 0
    for index, _, detections in run.frames:
        expected = sorted((item.kind, tuple(item.boxes[index][:4])) for item in objects.values()
                          if index in item.boxes and item.boxes[index][4] >= MIN_VISIBLE)
        assert sorted((d.kind, d.box) for d in detections) == expected
        assert all(d.whole and d.road_xy is not None and d.signature is not None for d in detections)
        reported += len(detections)
    assert reported > 0


def test_the_tracker_holds_every_road_user_of_a_short_run_when_detection_is_perfect(run):
    score = score_run(run.truth, track(run), [])
    held, vehicles = score.counts("vehicles tracked under one identity")
    assert vehicles >= 6
    assert held == vehicles
    assert score.as_dict()["vehicle class accuracy"] == 1.0
