"""The camera cross-check of loop speeds (issue 25 item 1): the real appliance on the simulated
junction (rendered frames, background-subtraction detection, the core tracker, simulated pins),
two loop pairs in view of the camera. Lane 2's pair is configured right; lane 1's spacing is
configured 30% long, as a technician's slip would, so its loop speeds are 30% high: the camera
must agree with the first and catch the second with a fault."""

from __future__ import annotations

import cv2
import pytest

from roadcam.appliance.site import site_from_data
from roadcam.common.errors import ConfigError
from roadcam.common.evidence_files import EvidenceFolder
from roadcam.sim import SimRoad
from roadcam.sim.scenario import Scenario, load_scenario

SPACING_M = 4.0
LOOP_M = 2.0
DOWN_M = 14.0  # the downstream loop's nearer edge, from the stop line


def crossing_scenario(vehicles: list[tuple[int, str, float]], duration_s: float) -> Scenario:
    """The junction at 960x540 with loop pairs 14-20 m upstream of the stop line in lanes 1 and
    2, a long green, no pedestrians, and the given (lane, kind, km/h) vehicles 3 s apart."""
    data = load_scenario("junction").model_dump()
    data["camera"].update(width_px=960, height_px=540)
    data["loops"] = [{"name": f"l{lane}-{end}", "lane": lane, "position_m": DOWN_M + (SPACING_M if end == "up" else 0),
                      "length_m": LOOP_M, "pin": pin}
                     for lane, end, pin in ((1, "up", "GPIO5"), (1, "down", "GPIO6"),
                                            (2, "up", "GPIO13"), (2, "down", "GPIO19"))]
    data["traffic"] = {"flows": [], "vehicles": [
        {"at_s": 1.0 + 3.0 * index, "lane": lane, "kind": kind, "speed_kmh": kmh, "movement": "straight"}
        for index, (lane, kind, kmh) in enumerate(vehicles)]}
    data["pedestrians"] = {"per_minute": 0.01, "people": []}
    data["signals"]["heads"][0].update(green_s=54)
    data.update(zones=[], duration_s=duration_s, hotlist=[])
    return Scenario.model_validate(data)


def speed_section(road: SimRoad, lane1_spacing_m: float) -> dict:
    """The site's two pairs as a technician would configure them (a camera check whose zone is
    the two loops' rectangles plus 1 m, the road's 50 km/h limit), lane 1's spacing as given."""
    section = road.speed_section()
    assert [pair["name"] for pair in section["pairs"]] == ["lane1", "lane2"]
    assert [pair["spacing_m"] for pair in section["pairs"]] == [SPACING_M, SPACING_M]
    section["pairs"][0]["spacing_m"] = lane1_spacing_m
    return section


def run(tmp_path, scenario: Scenario, lane1_spacing_m: float):
    from roadcam.appliance.runtime import Appliance
    from roadcam.appliance.store import read_events
    from roadcam.hal.hardware import Hardware

    road = SimRoad.from_scenario(scenario)
    site = road.site_config(tmp_path)
    site["plugins"] = {"disabled": ["plate_capture", "diagnostics"]}
    site["speed"] = speed_section(road, lane1_spacing_m)
    config, manager = site_from_data(site, source="speed camera test")
    hardware = Hardware(config, road.clock, pin_factory=road.pin_factory, sim_cameras=road.camera)
    Appliance(config, manager, hardware, road.clock).run(install_signal_handlers=False)
    return read_events(config.storage.database, limit=10**6), road


@pytest.mark.slow
def test_the_camera_agrees_with_a_right_pair_and_catches_a_wrong_spacing(tmp_path):
    vehicles = [(2, "car", 45.0), (1, "car", 40.0), (2, "truck", 35.0), (1, "car", 50.0),
                (2, "scooter", 40.0), (1, "car", 30.0), (2, "car", 55.0), (1, "truck", 40.0)]
    events, road = run(tmp_path, crossing_scenario(vehicles, duration_s=30.0), lane1_spacing_m=SPACING_M * 1.3)
    spots = [e for e in events if e.type == "speed.spot"]
    by_pair = {name: [s.data for s in spots if s.data["pair"] == name] for name in ("lane1", "lane2")}
    for name, found in by_pair.items():
        print(f"\n{name}: " + "; ".join(
            f"loops {s['speed_kmh']:.1f} camera {s['camera_check'].get('speed_kmh')} {s['camera_check']['result']}"
            for s in found))
    assert len(by_pair["lane2"]) == 4 and len(by_pair["lane1"]) == 4
    assert [s["camera_check"]["result"] for s in by_pair["lane2"]] == ["agrees"] * 4
    assert [s["camera_check"]["result"] for s in by_pair["lane1"]] == ["disagrees"] * 4
    assert all(abs(s["camera_check"]["difference_kmh"]) < 5 for s in by_pair["lane2"])
    raised = [(e.data["code"], e.data["component"]) for e in events if e.type == "fault.raised"]
    assert ("speed.camera_mismatch", "lane1") in raised
    assert ("speed.camera_mismatch", "lane2") not in raised
    # over the 50 km/h limit: lane 2's 55 km/h car, with the camera's track; lane 1's loop speeds
    # over it come of its wrong spacing, which the camera disputes, so they are no violation
    violations = [e for e in events if e.type == "violation.speeding"]
    speeding = [e.data for e in violations]
    fast = [s for s in by_pair["lane2"] if s["speed_low_kmh"] > 50]
    assert len(fast) == 1 and any(s["speed_low_kmh"] > 50 for s in by_pair["lane1"])
    assert [(v["pair"], v["speed_kmh"], v["track_id"]) for v in speeding] == \
        [("lane2", fast[0]["speed_kmh"], fast[0]["camera_check"]["track"])]
    assert speeding[0]["limit_kmh"] == 50 and speeding[0]["camera_check"] == "agrees"
    # its evidence: the frame that completed the camera's check, the car boxed, the speed written on
    [evidence] = violations[0].evidence
    assert evidence.kind == "frame_after_pair" and evidence.media_type == "image/jpeg"
    picture = cv2.imread(str(EvidenceFolder(tmp_path / "evidence").path(evidence.sha256)))
    assert picture is not None and picture.shape[:2] == (540, 960)


def test_a_camera_check_names_a_calibrated_camera_and_an_ordered_zone(tmp_path):
    road = SimRoad.from_scenario(crossing_scenario([], duration_s=1.0))
    site = road.site_config(tmp_path)
    site["speed"] = speed_section(road, SPACING_M)
    site["speed"]["pairs"][1]["camera_check"]["camera"] = "north"
    with pytest.raises(ConfigError) as error:
        site_from_data(site)
    assert "speed.pairs[1].camera_check.camera: no camera named 'north' (cameras: approach)" in error.value.problems[0]
    site["speed"] = speed_section(road, SPACING_M)
    del site["cameras"][0]["calibration"]
    with pytest.raises(ConfigError) as error:
        site_from_data(site)
    assert "camera 'approach' has no calibration" in error.value.problems[0]
    site["speed"]["pairs"][0]["camera_check"]["zone"] = [5, 1, 0, 10]
    with pytest.raises(ConfigError) as error:
        site_from_data(site)
    assert "x_min < x_max" in error.value.problems[0]
