"""Loops and lamps reach the appliance as real gpiozero pins stamped with simulated time."""

import pytest
from gpiozero import InputDevice

from roadcam.appliance.clock import ManualClock
from roadcam.sim import SimPinFactory, SimRoad, load_scenario
from roadcam.sim.scenario import ExplicitVehicle


@pytest.fixture(scope="module")
def one_car_road():
    """Smoke's road with a single car in lane 2, run for 8 s (it crosses the upstream loop)."""
    scenario = load_scenario("smoke")
    traffic = scenario.traffic.model_copy(update={"vehicles": [ExplicitVehicle(at_s=0.0, lane=2, kind="car")]})
    return SimRoad.from_scenario(scenario.model_copy(update={"traffic": traffic, "duration_s": 8.0,
                                                             "pedestrians": scenario.pedestrians.model_copy(
                                                                 update={"people": []})}))


def test_loop_edges_arrive_through_gpiozero_at_exact_sub_frame_times(one_car_road):
    road = one_car_road
    device = InputDevice("GPIO19", pull_up=True, pin_factory=road.pin_factory)
    seen = []
    frame_mono_s = [0.0]

    def on_edge(ticks, state):
        seen.append((ticks, state, road.pin_factory.ticks(), frame_mono_s[-1]))

    device.pin.when_changed = on_edge
    assert device.value == 0  # idle detector output is high; active-low input reads inactive
    road.skip_frames(road.frame_count)
    device.close()

    truth = road.truth.loop_intervals["lane2-upstream"]
    assert len(truth) == 1 and truth[0][1] is not None
    assert [state for _, state, _, _ in seen] == [False, True]  # pulled low while occupied
    for (ticks, _, now, _), expected in zip(seen, truth[0]):
        assert ticks == pytest.approx(expected, abs=1e-9)
        assert now == ticks  # the factory's clock stood at the edge's moment when it fired
    period = 1 / road.scenario.fps
    assert any(abs(ticks / period - round(ticks / period)) > 0.05 for ticks, *_ in seen)


def test_edge_between_frames_is_stamped_between_them(one_car_road):
    edges = [(at_ns, pin) for at_ns, pin, _ in one_car_road.edges_driven if pin == "GPIO19"]
    period_ns = 1e9 / one_car_road.scenario.fps
    for at_ns, _ in edges:
        before = (at_ns // period_ns) * period_ns
        assert before <= at_ns <= before + period_ns


def test_pull_resistor_does_not_move_a_driven_line():
    clock = ManualClock(start_wall_ns=0)
    factory = SimPinFactory(clock)
    factory.drive("GPIO5", False)
    with InputDevice("GPIO5", pull_up=True, pin_factory=factory) as device:
        assert device.pin.state is False and device.is_active
        clock.advance(0.25)
        factory.drive("GPIO5", True)
        assert not device.is_active
        assert device.pin.states[-1].timestamp == pytest.approx(0.25)


def test_lamp_pins_follow_the_phase_plan():
    road = SimRoad.from_scenario(load_scenario("smoke").model_copy(update={"duration_s": 13.0}))
    lamps = {colour: InputDevice(pin, pull_up=False, pin_factory=road.pin_factory)
             for colour, pin in (("red", "GPIO17"), ("amber", "GPIO27"), ("green", "GPIO22"))}
    assert [lamps[c].is_active for c in ("red", "amber", "green")] == [False, False, True]
    road.skip_frames(int(9.5 * 25))
    assert [lamps[c].is_active for c in ("red", "amber", "green")] == [False, True, False]
    road.skip_frames(int(3 * 25))
    assert [lamps[c].is_active for c in ("red", "amber", "green")] == [True, False, False]
    stamps = sorted({at_ns for at_ns, pin, _ in road.edges_driven if pin in ("GPIO17", "GPIO27", "GPIO22")})
    assert stamps == [9_000_000_000, 12_000_000_000]
    for device in lamps.values():
        device.close()
