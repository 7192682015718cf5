"""The built-in detection plugin: config section, background subtraction, classes from size."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pluggy
import pytest
from pydantic import ValidationError
from synthetic import FPS, FRAME_SIZE, LANES_M, POSE, Mover, frame, render, road_geometry, textured_road

from roadcam.appliance import hookspecs
from roadcam.appliance.boxes import as_boxes, ious
from roadcam.appliance.geometry import RoadGeometry
from roadcam.appliance.tracking import Detection
from roadcam.plugins.detection import BackgroundDetector, DetectionConfig, plugin
from roadcam.plugins.detection.describe import BlobDescriber
from roadcam.plugins.detection.pinhole import PinholeView
from roadcam.sim.camera_pose import SimCameraPose

CLASS_SHAPES = {
    "car": dict(width_m=1.8, length_m=4.5, height_m=1.5),
    "scooter": dict(width_m=0.7, length_m=1.9, height_m=1.75),
    "truck": dict(width_m=2.4, length_m=7.5, height_m=3.2),
    "bus": dict(width_m=2.5, length_m=11.0, height_m=3.2),
    "pedestrian": dict(width_m=0.5, length_m=0.4, height_m=1.7),
}
WARMUP_FRAMES = 76


def _detect_sequence(images, detector=None, camera="cam", geometry="calibrated"):
    detector = detector or BackgroundDetector(DetectionConfig())
    geometry = road_geometry() if geometry == "calibrated" else geometry
    return [detector.roadcam_detect(frame=frame(i, image, camera), geometry=geometry) for i, image in enumerate(images)]


# -- plugin contract ----------------------------------------------------------------------------

def test_plugin_declares_its_config_section():
    name, model = plugin.roadcam_config_section()
    assert (name, model) == ("detection", DetectionConfig)
    for field_name, field in DetectionConfig.model_fields.items():
        assert field.title and field.description, field_name
        assert not field.is_required(), field_name
    assert DetectionConfig().type == "background"


def test_config_rejects_unknown_keys_and_classes():
    with pytest.raises(ValidationError, match="extra"):
        DetectionConfig(threshold=3)
    with pytest.raises(ValidationError, match="unknown class"):
        DetectionConfig(class_sizes={"tram": {"width_m": 2.6, "length_m": 30, "height_m": 3.5}})
    with pytest.raises(ValidationError):
        DetectionConfig(type="yolo")


def test_configure_registers_a_stateful_detector_that_answers_the_hook():
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    manager.register(plugin, name="detection")
    config = SimpleNamespace(section=lambda name: {"detection": DetectionConfig(warmup_s=0.0)}[name])
    appliance = SimpleNamespace(config=config, plugin_manager=manager)
    manager.hook.roadcam_configure(appliance=appliance)
    manager.check_pending()
    background, car = textured_road(), Mover(LANES_M[0], 40.0, **CLASS_SHAPES["car"])
    manager.hook.roadcam_detect(frame=frame(0, background), geometry=None)
    answers = manager.hook.roadcam_detect(frame=frame(1, render(background, [car], 0.0)), geometry=None)
    assert len(answers) == 1 and len(answers[0]) == 1 and isinstance(answers[0][0], Detection)
    manager.hook.roadcam_unconfigure(appliance=appliance)
    assert manager.hook.roadcam_detect(frame=frame(2, background), geometry=None) == []


# -- background subtraction -----------------------------------------------------------------------

def test_nothing_is_reported_while_warming_up_or_on_an_empty_road():
    background = textured_road()
    rng = np.random.default_rng(3)
    images = [np.clip(background + rng.normal(0, 3, background.shape), 0, 255).astype(np.uint8) for _ in range(80)]
    assert all(found == [] for found in _detect_sequence(images))


def test_a_vehicle_is_found_where_it_is_with_its_ground_point_and_size():
    background = textured_road()
    car = Mover(LANES_M[0], 40.0, vy_mps=-10.0, **CLASS_SHAPES["car"])
    images = [background] * WARMUP_FRAMES + [render(background, [car], i / FPS) for i in range(20)]
    found = _detect_sequence(images)
    assert all(found[i] == [] for i in range(WARMUP_FRAMES))
    for i in range(WARMUP_FRAMES, len(images)):
        time_s = (i - WARMUP_FRAMES) / FPS
        assert len(found[i]) == 1
        detection = found[i][0]
        assert ious(as_boxes([detection.box]), as_boxes([car.image_box(time_s)]))[0, 0] > 0.8
        x, y = car.at(time_s)
        rear_y = y + car.length_m / 2
        assert detection.road_xy[0] == pytest.approx(x, abs=0.5)
        assert detection.road_xy[1] == pytest.approx(rear_y, abs=1.0)
        assert detection.size_m == pytest.approx((1.8, 4.5), rel=0.2)
        assert detection.kind == "car" and detection.source == "background"


def test_a_global_light_change_over_three_seconds_leaves_no_ghosts():
    background = textured_road()
    ramp = np.concatenate([np.ones(WARMUP_FRAMES), np.linspace(1.0, 0.55, 75), np.full(50, 0.55),
                           np.linspace(0.55, 1.25, 75), np.full(25, 1.25)])
    images = [np.clip(background * gain, 0, 255).astype(np.uint8) for gain in ramp]
    found = _detect_sequence(images)
    assert sum(len(f) for f in found) == 0


def test_a_vehicle_is_still_found_during_a_light_change():
    background = textured_road()
    car = Mover(LANES_M[1], 45.0, vy_mps=-8.0, **CLASS_SHAPES["car"])
    gains = np.linspace(1.0, 0.6, 60)
    images = [background] * WARMUP_FRAMES + [render(background, [car], i / FPS, gain=g) for i, g in enumerate(gains)]
    found = _detect_sequence(images)[WARMUP_FRAMES:]
    assert all(len(f) == 1 and f[0].kind == "car" for f in found)


@pytest.mark.slow
def test_a_vehicle_waiting_at_a_red_light_stays_found_and_leaves_no_ghost():
    """Stopped for 40 s, then gone: found all along, nothing where it stood afterwards."""
    background = textured_road()
    car = Mover(LANES_M[0], 30.0, **CLASS_SHAPES["car"])
    waiting = render(background, [car], 0.0)
    images = [background] * WARMUP_FRAMES + [waiting] * int(40 * FPS) + [background] * 25
    found = _detect_sequence(images)
    stopped = found[WARMUP_FRAMES:WARMUP_FRAMES + int(40 * FPS)]
    assert all(len(f) == 1 for f in stopped)
    assert all(f == [] for f in found[-20:])


def test_the_road_left_by_a_vehicle_learnt_at_start_up_is_not_reported():
    """A car stands in view while the detector starts, then drives off across the view: once
    it is clear of its old place only the car is found, never the empty place (the ghost)."""
    background = textured_road()
    car = Mover(-3.0, 30.0, vx_mps=8.0, start_s=5.0, **CLASS_SHAPES["car"])
    images = [render(background, [car], i / FPS) for i in range(int(7.5 * FPS))]
    found = _detect_sequence(images)
    standing = Mover(-3.0, 30.0, **CLASS_SHAPES["car"]).image_box(0.0)
    for i in range(int(6 * FPS), len(images)):
        assert len(found[i]) == 1
        assert ious(as_boxes([found[i][0].box]), as_boxes([car.image_box(i / FPS)]))[0, 0] > 0.7
        assert ious(as_boxes([found[i][0].box]), as_boxes([standing]))[0, 0] == 0


def test_a_moved_camera_relearns_the_scene():
    first, second = textured_road(seed=1), textured_road(seed=2)
    images = [first] * WARMUP_FRAMES + [second] * (WARMUP_FRAMES + 20)
    found = _detect_sequence(images)
    assert all(f == [] for f in found[-20:])


def test_each_camera_has_its_own_background():
    detector = BackgroundDetector(DetectionConfig())
    road_a, road_b = textured_road(seed=1), textured_road(seed=2)
    car = Mover(LANES_M[0], 40.0, **CLASS_SHAPES["car"])
    for i in range(WARMUP_FRAMES):
        detector.roadcam_detect(frame=frame(i, road_a, "a"), geometry=None)
        detector.roadcam_detect(frame=frame(i, road_b, "b"), geometry=None)
    assert detector.roadcam_detect(frame=frame(WARMUP_FRAMES, road_a, "a"), geometry=None) == []
    assert len(detector.roadcam_detect(frame=frame(WARMUP_FRAMES, render(road_b, [car], 0.0), "b"), geometry=None)) == 1


# -- classes from size -----------------------------------------------------------------------------

def _class_boxes(pose: SimCameraPose):
    """(kind, image box) of every class standing fully in view in both lanes, 12-60 m ahead."""
    for kind, shape in CLASS_SHAPES.items():
        for x in LANES_M:
            for y in np.arange(10.0, 58.0, 6.0):
                box = Mover(x, y, **shape).image_box(0.0)
                if box and box[0] > 5 and box[1] > 5 and box[2] < FRAME_SIZE[0] - 5 and box[3] < FRAME_SIZE[1] - 5:
                    yield kind, box


def test_classes_from_road_plane_size_through_the_homography():
    describer = BlobDescriber(DetectionConfig().class_sizes, road_geometry(), FRAME_SIZE, 25.0)
    results = [(kind, describer.describe(box)) for kind, box in _class_boxes(POSE)]
    assert len({kind for kind, _ in results}) == 5 and len(results) > 60
    wrong = [(kind, d.kind, d.box) for kind, d in results if d.kind != kind]
    assert not wrong
    assert all(d.road_xy is not None and d.size_m is not None for _, d in results)


def test_a_blob_cut_by_the_frame_edge_votes_weakly():
    describer = BlobDescriber(DetectionConfig().class_sizes, road_geometry(), FRAME_SIZE, 25.0)
    whole = describer.describe((400.0, 300.0, 600.0, 450.0))
    cut = describer.describe((0.0, 300.0, 200.0, 450.0))
    assert cut.score < 0.25 * max(whole.score, 0.01) or cut.score < 0.05


def test_a_camera_looking_straight_down_measures_flat_footprints():
    top_down = SimCameraPose(x_m=5.0, y_m=20.0, height_m=30.0, yaw_deg=0.0, pitch_deg=90.0 - 1e-9,
                             hfov_deg=40.0, width_px=1280, height_px=720)
    road = np.array([(x, y) for x in (0.0, 10.0) for y in (14.0, 20.0, 26.0)])
    pixels, _ = top_down.project(np.column_stack([road, np.zeros(len(road))]))
    geometry = RoadGeometry(pixels, road)
    assert PinholeView.from_geometry(geometry, (1280, 720)) is None
    describer = BlobDescriber(DetectionConfig().class_sizes, geometry, (1280, 720), 25.0)
    for kind in ("car", "bus", "scooter"):
        shape = CLASS_SHAPES[kind]
        footprint = np.array([(5 + sx * shape["width_m"] / 2, 20 + sy * shape["length_m"] / 2, 0.0)
                              for sx in (-1, 1) for sy in (-1, 1)])
        corners, _ = top_down.project(footprint)
        detection = describer.describe((*corners.min(axis=0), *corners.max(axis=0)))
        assert detection.kind == kind
        assert sorted(detection.size_m) == pytest.approx(sorted((shape["width_m"], shape["length_m"])), rel=0.05)


def test_without_calibration_classes_are_guessed_from_pixels_and_no_road_data_is_given():
    describer = BlobDescriber(DetectionConfig().class_sizes, None, FRAME_SIZE, uncalibrated_px_per_m=20.0)
    pedestrian = describer.describe((500.0, 300.0, 510.0, 334.0))
    bus_or_truck = describer.describe((300.0, 200.0, 350.0, 264.0))
    assert pedestrian.kind == "pedestrian" and bus_or_truck.kind in ("bus", "truck")
    assert pedestrian.road_xy is None and pedestrian.size_m is None


def test_pinhole_model_recovered_from_the_homography_projects_like_the_camera():
    view = PinholeView.from_geometry(road_geometry(), FRAME_SIZE)
    points = np.array([(3.0, 30.0, 1.5), (7.0, 50.0, 3.2), (0.0, 20.0, 0.0)])
    expected, _ = POSE.project(points)
    assert np.abs(view.project(points) - expected).max() < 0.5


def test_rendered_classes_are_detected_as_such():
    background = textured_road()
    kinds = list(CLASS_SHAPES)
    images, expected = [background] * WARMUP_FRAMES, []
    for kind in kinds:
        mover = Mover(LANES_M[1] if kind != "pedestrian" else 0.8, 35.0, **CLASS_SHAPES[kind])
        images.append(render(background, [mover], 0.0))
        expected.append(kind)
    found = _detect_sequence(images)[WARMUP_FRAMES:]
    assert [[d.kind for d in f] for f in found] == [[kind] for kind in expected]
