"""SimRoad as the appliance meets it: camera contract, clock, site config, truth file."""

import json

import pytest

from roadcam.appliance.config import CoreConfig
from roadcam.common.errors import CameraUnavailable
from roadcam.hal.base import Camera
from roadcam.sim import GroundTruth, SimRoad, load_scenario


@pytest.fixture(scope="module")
def road():
    return SimRoad.from_scenario(load_scenario("smoke").model_copy(update={"duration_s": 0.2}))


def test_camera_is_a_finite_unpaced_source_that_advances_the_clock(road):
    camera = road.camera("approach")
    assert isinstance(camera, Camera) and camera is road.camera("approach")
    assert camera.live is False and camera.nominal_fps == 25.0
    frames = [camera.read() for _ in range(5)]
    assert camera.read() is None
    assert [frame.index for frame in frames] == [0, 1, 2, 3, 4]
    assert [frame.mono_ns for frame in frames] == [40_000_000 * (i + 1) for i in range(5)]
    start_ns = road.scenario.start_ns
    assert all(frame.time_ns == start_ns + frame.mono_ns for frame in frames)
    assert road.clock.mono_ns() == frames[-1].mono_ns and road.pin_factory.ticks() == pytest.approx(0.2)
    assert frames[0].camera == "approach" and frames[0].size == (1920, 1080)


def test_unknown_camera_names_the_scenario_camera(road):
    with pytest.raises(CameraUnavailable, match="'approach'"):
        road.camera("north")


def test_site_config_is_valid_and_wires_every_pin(road, tmp_path):
    data = road.site_config(tmp_path)
    config = CoreConfig.model_validate(data)
    assert config.device.id == "sim-0001" and config.device.site == "sim-smoke"
    assert config.gpio.pin_factory == "mock" and config.cameras[0].source.type == "sim"
    assert config.storage.database.parent == tmp_path
    assert len(config.cameras[0].calibration.image_points) >= 4
    assert {loop.name: loop.pin for loop in config.loops} == {loop.name: loop.pin for loop in road.scenario.loops}
    assert all(not loop.active_high for loop in config.loops)
    assert {(s.head, s.red, s.amber, s.green) for s in config.signals} == {
        ("main", "GPIO17", "GPIO27", "GPIO22"), ("left", "GPIO23", "GPIO24", "GPIO25")}


def test_truth_round_trips_through_json(road, tmp_path):
    path = tmp_path / "truth.json"
    road.truth.to_json(path)
    data = json.loads(path.read_text())
    assert data["frames_rendered"] == 5 and data["scenario"] == "smoke"
    again = GroundTruth.from_json(path)
    assert again.digest_bytes() == road.truth.digest_bytes()


def test_layout_summary_describes_the_road_for_plugin_configs(road):
    summary = road.layout_summary()
    assert summary["stop_line_y_m"] == 0.0 and summary["speed_limit_kmh"] == 50
    assert summary["lanes"][1]["movements"] == ["straight", "right"] and summary["lanes"][3]["head"] == "left"
    assert {zone["kind"] for zone in summary["zones"]} == {"no_parking", "box_junction"}
    assert len(summary["crosswalk"]) == 4
