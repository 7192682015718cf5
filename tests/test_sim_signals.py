"""The signal controller follows its phase plan exactly."""

import pytest

from roadcam.sim.scenario import HeadModel, SignalPlanModel
from roadcam.sim.signals import SignalController

PLAN = SignalPlanModel(cycle_s=60, heads=[
    HeadModel(name="main", lanes=[1, 2], offset_s=0, green_s=20, amber_s=3),
    HeadModel(name="left", lanes=[3], offset_s=23, green_s=8, amber_s=3),
    HeadModel(name="walk", pedestrian=True, offset_s=34, green_s=6, amber_s=4),
])


@pytest.mark.parametrize(("head", "t_s", "state"), [
    ("main", 0.0, "green"), ("main", 19.99, "green"), ("main", 20.0, "amber"), ("main", 23.0, "red"),
    ("main", 59.9, "red"), ("main", 60.0, "green"), ("left", 22.9, "red"), ("left", 23.0, "green"),
    ("left", 31.5, "amber"), ("left", 34.0, "red"), ("walk", 35.0, "green"), ("walk", 41.0, "amber"),
    ("walk", 44.0, "red"),
])
def test_states_follow_the_plan(head, t_s, state):
    assert SignalController(PLAN).state(head, t_s) == state


def test_changes_are_listed_exactly_and_in_order():
    controller = SignalController(PLAN)
    assert controller.changes("main", 0.0, 130.0) == [
        (20.0, "amber"), (23.0, "red"), (60.0, "green"), (80.0, "amber"), (83.0, "red"), (120.0, "green")]
    assert controller.changes("left", 22.0, 23.0) == [(23.0, "green")]
    assert controller.changes("left", 23.0, 24.0) == []


def test_lane_heads_and_time_in_state():
    controller = SignalController(PLAN)
    assert controller.head_of_lane(3) == "left"
    assert controller.lane_state(1, 21.0) == "amber"
    assert controller.time_in_state("main", 30.0) == pytest.approx(7.0)
