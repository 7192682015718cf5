"""The learned detector (detection.type: tflite): the shipped model on simulator frames it was
not trained on, its decoding, and its failures (missing or broken model) as clear errors and
faults that leave the appliance running."""

from __future__ import annotations

import numpy as np
import pytest

from roadcam.appliance.geometry import RoadGeometry
from roadcam.appliance.site import site_from_data
from roadcam.common.errors import ConfigError
from roadcam.hal.base import Frame
from roadcam.plugins.detection import DetectionConfig, LearnedDetector
from roadcam.plugins.detection.learned import MODEL_CLASSES, SHIPPED_MODEL, STRIDE, decode
from roadcam.sim import SimRoad
from tests.appliances import build_appliance, run_for, site_data, stored


def _iou(a, b) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return w * h / union


@pytest.fixture(scope="module")
def smoke_frames():
    """Frames 100-160 of the shipped smoke scenario (its seed is not among the training seeds)."""
    road = SimRoad.from_scenario("smoke")
    road.skip_frames(100)
    frames = []
    for _ in range(10):
        frames.append(road.advance_frame())
        road.skip_frames(5)
    calibration = road.calibration()
    return road, frames, RoadGeometry(calibration["image_points"], calibration["road_points"])


def test_shipped_model_finds_the_vehicles_of_unseen_frames_with_their_class(smoke_frames):
    road, frames, geometry = smoke_frames
    detector = LearnedDetector(DetectionConfig(type="tflite"))
    found = right_class = total = 0
    for frame in frames:
        detections = detector.roadcam_detect(frame=frame, geometry=geometry)
        assert all(d.whole and d.source == "tflite" and d.road_xy is not None for d in detections)
        for vehicle in road.truth.vehicles.values():
            box = vehicle.boxes.get(frame.index)
            if box is None or box[4] < 0.6 or (box[2] - box[0]) * (box[3] - box[1]) < 60 * 60:
                continue
            total += 1
            best = max(detections, key=lambda d: _iou(d.box, box), default=None)
            if best is not None and _iou(best.box, box) >= 0.5:
                found += 1
                right_class += best.kind == vehicle.kind
    assert total >= 20
    assert found / total >= 0.9
    assert right_class / found >= 0.9


def test_decode_turns_a_peak_into_a_box_in_frame_pixels():
    output = np.zeros((72, 128, len(MODEL_CLASSES) + 4), np.float32)
    output[40, 60, MODEL_CLASSES.index("bus")] = 0.9
    output[40, 60, len(MODEL_CLASSES):] = (np.log(20.0), np.log(10.0), 0.5, 0.25)
    output[39, 60, MODEL_CLASSES.index("bus")] = 0.5          # a shoulder of the same peak
    output[10, 10, MODEL_CLASSES.index("car")] = 0.1          # below the score floor
    scale = (1920 / 512 * STRIDE, 1080 / 288 * STRIDE)
    [(kind, score, box)] = decode(output, 0.3, scale, (1920, 1080))
    assert kind == "bus" and score == pytest.approx(0.9)
    centre = ((60.5) * scale[0], (40.25) * scale[1])
    assert box == pytest.approx((centre[0] - 10 * scale[0], centre[1] - 5 * scale[1],
                                 centre[0] + 10 * scale[0], centre[1] + 5 * scale[1]))


def test_a_missing_model_is_a_config_error_naming_the_field(tmp_path):
    with pytest.raises(ConfigError) as error:
        site_from_data(site_data(tmp_path, detection={"type": "tflite", "model": str(tmp_path / "gone.tflite")}))
    assert any("detection.model" in problem and "no model file" in problem for problem in error.value.problems)


def test_a_broken_model_raises_a_fault_and_the_appliance_keeps_running(tmp_path):
    broken = tmp_path / "broken.tflite"
    broken.write_bytes(SHIPPED_MODEL.read_bytes()[:1000])
    appliance = build_appliance(tmp_path, detection={"type": "tflite", "model": str(broken)},
                                health={"interval_s": 0.2})
    run_for(appliance, 1.0)
    faults = [e.data for e in stored(tmp_path, "fault.raised")]
    assert any(f["code"] == "model.unavailable" and "broken.tflite" in f["message"] for f in faults)
    assert stored(tmp_path, "health")


def test_the_learned_detector_answers_on_a_blank_frame_with_nothing():
    detector = LearnedDetector(DetectionConfig(type="tflite"))
    blank = Frame(camera="cam", index=0, time_ns=0, mono_ns=0, image=np.full((1080, 1920, 3), 90, np.uint8))
    assert detector.roadcam_detect(frame=blank, geometry=None) == []
