"""The renderer: full-size frames, drawn where the camera's homography says."""

import numpy as np
import pytest

from roadcam.appliance.config import CoreConfig
from roadcam.appliance.geometry import RoadGeometry
from roadcam.sim import SimCameraPose, SimRoad, load_scenario


@pytest.fixture(scope="module")
def road_and_frames():
    road = SimRoad.from_scenario(load_scenario("smoke").model_copy(update={"duration_s": 6.0}))
    frames = [frame for frame in iter(road.camera("approach").read, None)]
    return road, frames


def test_frames_are_1080p_bgr_and_fresh_arrays(road_and_frames):
    road, frames = road_and_frames
    assert len(frames) == 150
    assert all(frame.image.shape == (1080, 1920, 3) and frame.image.dtype == np.uint8 for frame in frames)
    assert not np.shares_memory(frames[0].image, frames[1].image)


def test_homography_matches_the_pose_projection():
    pose = SimCameraPose(x_m=-0.5, y_m=42, height_m=6.5, yaw_deg=6, pitch_deg=12, hfov_deg=42)
    road_points = np.array([[2.0, 0.0], [12.5, 0.0], [5.0, 20.0], [-3.0, -15.0]])
    h = pose.homography_road_to_image()
    mapped = np.c_[road_points, np.ones(4)] @ h.T
    mapped = mapped[:, :2] / mapped[:, 2:]
    projected, depth = pose.project(np.c_[road_points, np.zeros(4)])
    assert np.allclose(mapped, projected, atol=1e-6) and (depth > 0).all()


def test_markings_are_drawn_where_the_homography_puts_them(road_and_frames):
    road, frames = road_and_frames
    h = road.pose.homography_road_to_image()
    stop_y = road.world.layout.stop_line_y_m

    def pixel(image, x_m, y_m):
        u, v, w = h @ [x_m, y_m, 1.0]
        return image[int(v / w), int(u / w)].astype(int)

    background = road.renderer.backgrounds[0]
    for x_m in (3.75, 7.25, 10.75):  # lane centres, away from lane lines and arrows
        assert pixel(background, x_m, stop_y - 0.2).min() > 180  # on the white stop line
        assert pixel(background, x_m, stop_y + 1.0).max() < 150  # asphalt just behind it


def test_vehicles_are_drawn_inside_their_truth_boxes(road_and_frames):
    road, frames = road_and_frames
    background = road.renderer.backgrounds
    checked = 0
    for vehicle in road.truth.vehicles.values():
        for index, (x1, y1, x2, y2, visible) in vehicle.boxes.items():
            if visible < 0.99 or min(x2 - x1, y2 - y1) < 30:
                continue
            image = frames[index].image
            region = np.s_[int(y1):int(y2), int(x1):int(x2)]
            changed = np.abs(image[region].astype(int) - background[index % len(background)][region]).max(axis=2) > 25
            assert changed.mean() > 0.3
            checked += 1
    assert checked > 50


def test_calibration_in_the_site_config_reproduces_the_camera(road_and_frames, tmp_path):
    road, _ = road_and_frames
    config = CoreConfig.model_validate(road.site_config(tmp_path))
    calibration = config.cameras[0].calibration
    geometry = RoadGeometry(calibration.image_points, calibration.road_points)
    probe = np.array([[3.75, 10.0], [7.25, 25.0], [10.75, 2.0]])
    truth = np.c_[probe, np.ones(3)] @ road.pose.homography_road_to_image().T
    assert np.allclose(geometry.to_image(probe), truth[:, :2] / truth[:, 2:], atol=0.5)
