"""Scenario files: the shipped ones load, and mistakes are reported with their path and line."""

import numpy as np
import pytest

from roadcam.sim import available_scenarios, load_scenario
from roadcam.sim.layout import RoadLayout
from roadcam.sim.paths import PathNetwork
from roadcam.sim.scenario import SCENARIO_DIR, ScenarioError
from roadcam.sim.traffic import schedule_arrivals

SMOKE = SCENARIO_DIR / "smoke.yaml"


def test_shipped_scenarios_load_with_seeds():
    names = available_scenarios()
    assert {"smoke", "junction", "night", "rain"} <= set(names)
    for name in names:
        scenario = load_scenario(name)
        assert scenario.seed is not None and scenario.fps == 25


def test_smoke_is_short_and_junction_has_every_behaviour():
    smoke, junction = load_scenario("smoke"), load_scenario("junction")
    assert smoke.duration_s <= 30 and 8 <= len(smoke.traffic.vehicles) <= 15
    assert 120 <= junction.duration_s <= 180
    behaviours = {v.behaviour for v in junction.traffic.vehicles} | set(junction.traffic.behaviours)
    assert behaviours == {"compliant", "red_light_runner", "speeder", "illegal_parker", "wrong_lane",
                          "box_blocker", "fail_to_yield"}


def test_unknown_key_names_its_path_and_line(tmp_path):
    text = SMOKE.read_text().replace("  height_m: 6.5\n", "  height_m: 6.5\n  heigth_m: 7\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    line = text.splitlines().index("  heigth_m: 7") + 1
    with pytest.raises(ScenarioError) as caught:
        load_scenario(bad)
    assert f"bad.yaml:{line}: camera.heigth_m: unknown key" in str(caught.value)


def test_bad_values_and_missing_files_are_scenario_errors(tmp_path):
    bad = tmp_path / "lanes.yaml"
    bad.write_text(SMOKE.read_text().replace("- {id: 3, movements: [left]}", "- {id: 4, movements: [left]}"))
    with pytest.raises(ScenarioError, match="numbered 1, 2"):
        load_scenario(bad)
    with pytest.raises(ScenarioError, match="no such file"):
        load_scenario(tmp_path / "missing.yaml")


def test_impossible_behaviour_is_refused():
    scenario = load_scenario("smoke")
    no_zones = scenario.model_copy(update={"zones": []})
    layout = RoadLayout(no_zones)
    parker = scenario.traffic.vehicles[0].model_copy(update={"behaviour": "illegal_parker", "lane": 1})
    traffic = scenario.traffic.model_copy(update={"vehicles": [parker]})
    with pytest.raises(ScenarioError, match="no_parking"):
        schedule_arrivals(no_zones.model_copy(update={"traffic": traffic}), PathNetwork(layout),
                          np.random.default_rng(0))
