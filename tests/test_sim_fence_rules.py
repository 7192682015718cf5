"""The fence scenarios of the rules added to the simulator (stop-line overrun, class in a lane,
restricted road and sidewalk, solid line, scooter waiting box): each one's ground truth holds
violators of its rule and road users who did the same kind of thing within the rule.

Each test runs the world (no rendering) over the first part of its scenario only, through the
public scenario and truth API.
"""

import pytest

from roadcam.sim.scenario import ScenarioError, load_scenario
from roadcam.sim.world import World


def _truth(name: str, seconds: float = 70.0):
    scenario = load_scenario(name)
    world = World(scenario)
    for _ in range(int(seconds * scenario.fps)):
        world.step(1 / scenario.fps)
    return world.truth


def _broke(truth, rule: str) -> set[int]:
    return {vehicle.id for vehicle, violation in truth.violations() if violation.rule == rule}


def _through(vehicle, run_s: float = 70.0) -> bool:
    """Over the stop line more than 10 s before the end of the part run: past every zone."""
    return vehicle.stop_line_s is not None and vehicle.stop_line_s < run_s - 10.0


def _waited(vehicle) -> bool:
    return vehicle.speed.min_kmh is not None and vehicle.speed.min_kmh < 1.0


def test_stop_line_has_overruns_and_queues_waiting_behind_the_line():
    truth = _truth("fence_stop_line")
    overran = _broke(truth, "stop_line")
    assert len(overran) >= 2
    assert all(truth.vehicles[i].behaviour == "line_overrunner" for i in overran)
    assert not _broke(truth, "red_light")  # an overrun is not a red-light run
    queued = [v for v in truth.vehicles.values() if _waited(v) and v.id not in overran]
    assert len(queued) >= 3


def test_lane_class_has_scooters_in_car_lanes_and_scooters_and_cars_where_allowed():
    truth = _truth("fence_lane_class")
    scenario = load_scenario("fence_lane_class")
    broke = _broke(truth, "lane_class")
    assert len(broke) >= 3
    for vehicle in truth.vehicles.values():
        allowed = vehicle.kind in scenario.lanes[vehicle.lane - 1].classes
        assert (vehicle.id in broke) == (not allowed)
    kept = {(v.kind, v.lane) for v in truth.vehicles.values() if v.id not in broke}
    assert ("scooter", 1) in kept and ("car", 2) in kept


def test_restricted_has_sidewalk_riders_and_side_street_entries_and_traffic_that_stays_out():
    truth = _truth("fence_restricted", 100.0)
    zones = {violation.data["zone"] for _, violation in truth.violations() if violation.rule == "restricted"}
    assert zones == {"sidewalk", "side-street"}
    broke = _broke(truth, "restricted")
    riders = {v.id for v in truth.vehicles.values() if v.behaviour == "sidewalk_rider" and v.entry_s < 50}
    assert riders and riders <= broke
    stayed_out = [v for v in truth.vehicles.values() if v.id not in broke and _through(v, 100.0)]
    assert {"straight", "left"} <= {v.movement for v in stayed_out}
    assert any(v.kind == "scooter" for v in stayed_out)


def test_solid_line_has_crossings_where_solid_and_lane_changes_where_dashed():
    truth = _truth("fence_solid_line")
    broke = _broke(truth, "solid_line")
    assert len(broke) >= 2
    assert all(truth.vehicles[i].behaviour == "solid_line_crosser" for i in broke)
    changed_on_dashed = [v for v in truth.vehicles.values() if v.behaviour == "lane_changer" and _through(v)]
    assert changed_on_dashed and not {v.id for v in changed_on_dashed} & broke


def test_scooter_box_has_cars_stopping_in_it_and_scooters_waiting_in_it():
    truth = _truth("fence_scooter_box")
    broke = _broke(truth, "scooter_box")
    assert len(broke) >= 2
    assert {truth.vehicles[i].kind for i in broke} <= {"car", "truck", "bus"}
    waiting_scooters = [v for v in truth.vehicles.values() if v.kind == "scooter" and _waited(v)]
    waiting_cars = [v for v in truth.vehicles.values() if v.kind == "car" and _waited(v) and v.id not in broke]
    assert waiting_scooters and waiting_cars
    assert not {v.id for v in waiting_scooters} & broke


def test_rule_behaviours_that_cannot_happen_are_refused():
    scenario = load_scenario("fence_stop_line")
    boxless = scenario.model_copy(update={"traffic": scenario.traffic.model_copy(
        update={"behaviours": {"compliant": 1.0, "scooter_box_stopper": 1.0}})})
    with pytest.raises(ScenarioError, match="scooter_box_stopper needs a zone of kind scooter_box"):
        World(boxless)


def test_yield_has_turners_failing_to_yield_on_the_arrow_and_drivers_who_wait():
    truth = _truth("fence_yield", 100.0)  # two left arrows, each 6 s after the walk signal
    broke = _broke(truth, "fail_to_yield")
    assert len(broke) >= 3
    assert all(truth.vehicles[i].behaviour == "fail_to_yield" and truth.vehicles[i].lane == 3 for i in broke)
    waited = [v for v in truth.vehicles.values() if v.lane == 3 and v.behaviour == "compliant" and _waited(v)]
    assert waited
