"""The plate detector: the shipped model finds plates in simulated vehicles and synthetic
scenes, its windows map boxes both ways, and bad input or a bad model file give clear errors."""

import cv2
import numpy as np
import pytest

from roadcam.common.errors import ImageInvalid, ModelInvalid, ModelNotFound
from roadcam.plugins.plate_capture.detector import PlateDetector
from roadcam.plugins.plate_capture.windows import region_window, scene_windows
from roadcam.sim import GroundTruth
from roadcam.sim.plate_patch import plate_patches


@pytest.fixture(scope="module")
def detector():
    return PlateDetector()


def _inside(point, box) -> bool:
    return box[0] <= point[0] <= box[2] and box[1] <= point[1] <= box[3]


def _centre(found) -> tuple[float, float]:
    return (found.x1 + found.x2) / 2, (found.y1 + found.y2) / 2


def test_finds_the_plate_in_a_simulated_vehicle_region(detector, sim_vehicle):
    image, vehicle_box, plate_box, _ = sim_vehicle
    found = detector.detect(image, region=vehicle_box)
    assert found, "no plate found in the vehicle region"
    assert _inside(_centre(found[0]), plate_box)
    assert found[0].score >= detector.score_floor
    assert len(found) <= 2


def test_finds_a_plate_pasted_on_a_vehicle_in_a_synthetic_scene(detector):
    rng = np.random.default_rng(3)
    scene = np.clip(rng.normal(120, 12, (720, 1280, 3)), 0, 255).astype(np.uint8)
    cv2.rectangle(scene, (500, 250), (900, 560), (60, 40, 30), -1)
    cv2.rectangle(scene, (540, 270), (860, 380), (25, 25, 25), -1)
    plate = cv2.resize(plate_patches("ABC-1234", "car", (0.38, 0.16))[0], (100, 42), interpolation=cv2.INTER_AREA)
    scene[460:502, 650:750] = plate
    found = detector.detect(scene)
    assert found and _inside(_centre(found[0]), (650, 460, 750, 502))
    assert all(not _inside(_centre(box), (0, 0, 400, 720)) for box in found)


def test_a_plain_road_has_no_plate(detector):
    road = np.full((1080, 1920, 3), 95, np.uint8)
    assert detector.detect(road) == []


def test_truth_plate_boxes_lie_on_their_vehicles_and_survive_json(sim_vehicle, tmp_path):
    _, vehicle_box, plate_box, road = sim_vehicle
    assert vehicle_box[0] <= plate_box[0] < plate_box[2] <= vehicle_box[2]
    assert vehicle_box[1] <= plate_box[1] < plate_box[3] <= vehicle_box[3]
    road.truth.to_json(tmp_path / "truth.json")
    again = GroundTruth.from_json(tmp_path / "truth.json")
    assert {v.id: v.plate_boxes for v in again.vehicles.values()} == \
           {v.id: v.plate_boxes for v in road.truth.vehicles.values()}


def test_region_window_frames_the_region_whole_and_maps_boxes_back():
    window = region_window((100, 200, 300, 300), 256, margin=0.1)
    corners = window.to_input(np.array([[100.0, 200.0, 300.0, 300.0]]))[0]
    assert corners.min() >= 0 and corners.max() <= 256
    assert corners[2] - corners[0] == pytest.approx(256 / 1.2)
    assert np.allclose(window.to_source(window.to_input(np.array([[1.0, 2.0, 3.0, 4.0]]))), [[1, 2, 3, 4]])


def test_scene_windows_cover_the_whole_scene():
    windows = scene_windows(1920, 1080, 256, 768)
    covered = np.zeros((1080, 1920), bool)
    for window in windows:
        x1, y1, x2, y2 = window.to_source(np.array([[0.0, 0.0, 256.0, 256.0]]))[0]
        covered[max(int(y1), 0):int(np.ceil(y2)), max(int(x1), 0):int(np.ceil(x2))] = True
    assert covered.all()
    assert len(scene_windows(640, 480, 256, 256)) == 1


@pytest.mark.parametrize("image", [None, b"\xff\xd8 not a jpeg", np.zeros((0, 0, 3), np.uint8),
                                   np.zeros((20, 20, 3), np.float32), np.zeros((20, 20, 4), np.uint8)])
def test_bad_images_raise_image_invalid(detector, image):
    with pytest.raises(ImageInvalid):
        detector.detect(image)


def test_a_corrupt_image_file_decodes_to_a_clear_error(detector):
    corrupt = cv2.imdecode(np.frombuffer(b"\xff\xd8\xff\xe0 truncated", np.uint8), cv2.IMREAD_COLOR)
    with pytest.raises(ImageInvalid, match="corrupt"):
        detector.detect(corrupt)


def test_a_region_outside_the_image_is_refused(detector):
    with pytest.raises(ValueError, match="outside"):
        detector.detect(np.zeros((100, 100, 3), np.uint8), region=(200, 200, 300, 300))


def test_a_missing_model_file_says_which(tmp_path):
    with pytest.raises(ModelNotFound, match="nothing.tflite"):
        PlateDetector(tmp_path / "nothing.tflite")


def test_a_file_that_is_not_a_model_is_refused(tmp_path):
    bogus = tmp_path / "plate_detector.tflite"
    bogus.write_bytes(b"this is not a flatbuffer" * 10)
    with pytest.raises(ModelInvalid):
        PlateDetector(bogus)


def test_a_lower_score_floor_for_one_call_adds_the_weaker_boxes_after_the_others(detector, sim_vehicle):
    image, vehicle_box, _, _ = sim_vehicle
    usual = detector.detect(image, region=vehicle_box)
    more = detector.detect(image, region=vehicle_box, score_floor=0.01)
    assert more[:len(usual)] == usual
    assert len(more) > len(usual) and all(box.score < detector.score_floor for box in more[len(usual):])
