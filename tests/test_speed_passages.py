"""speed.passage and the device clock (issue 25 items 2 and 4), through the bench appliance of
test_speed_spot (gpiozero mock pins on simulated time), on the simulator's drifting and stepping
device clock: each passage is stamped by its loop's edge in the device's (drifting) time, carries
the clock's sync state and error bound in its envelope, and a clock out of its bound raises
clock.unsynced and marks the passages."""

from __future__ import annotations

import pytest
from appliances import site_data
from test_speed_spot import LOOPS, START_WALL_NS, Bench, faults, vehicle

from roadcam.appliance.site import site_from_data
from roadcam.common.errors import ConfigError
from roadcam.protocol.events import utc_ns
from roadcam.sim.clocks import DriftingClock

PASSAGE = {"point": "km0", "loops": [{"loop": "l1-up"}, {"loop": "l2-up"}], "max_clock_error_ms": 10.0}


@pytest.fixture
def bench(tmp_path):
    made = []

    def make(clock):
        made.append(Bench(tmp_path, section={"passage": PASSAGE}, clock=clock))
        return made[-1]

    yield make
    for one in made:
        one.close()


def passage_edges(times_s, lane=1):
    """The passage loop's two edges of a 4.5 m car at 50 km/h reaching it at each time."""
    return [edge for t in times_s for edge in vehicle(t, 50, 4.5, lane) if edge[1] == ("l1-up", "l2-up")[lane - 1]]


def test_a_drifting_clock_stamps_passages_off_true_time_and_faults_past_its_bound(bench):
    clock = DriftingClock(START_WALL_NS, drift_ppm=200.0, error_ms=1.0)  # past 10 ms (1 + offset) 45 s in
    meter = bench(clock)
    times = [5.0 + 10.0 * i for i in range(8)]  # true seconds
    meter.edges(passage_edges(times))
    passages = sorted(meter.events("speed.passage"), key=lambda e: e.time)
    assert len(passages) == 8
    for event, true_s in zip(passages, times):
        # stamped at the loop's leading edge in device time; the envelope's clock state is the
        # one at storing, when the loop cleared (0.47 s later)
        assert (utc_ns(event.time) - START_WALL_NS) / 1e9 == pytest.approx(true_s * (1 + 200e-6), abs=1e-6)
        error_ms = 1.0 + 200e-6 * (true_s + 6.5 / (50 / 3.6)) * 1000
        assert event.clock == {"synced": True, "error_ms": pytest.approx(error_ms, abs=0.01)}
        assert event.data["clock_within_bound"] == (error_ms <= 10.0)
        assert event.data["point"] == "km0" and event.data["lane"] == 1 and event.data["plate"] is None
    assert [e.data["clock_within_bound"] for e in passages] == [True] * 4 + [False] * 4
    assert faults(meter, "raised") == []  # loop and speed faults only; the clock's is its own
    raised = [e.data for e in meter.events("fault.raised") if e.data["code"] == "clock.unsynced"]
    assert len(raised) == 1 and "over the 10 ms section passages need" in raised[0]["message"]


def test_a_clock_step_moves_the_stamps_and_a_step_back_into_bound_clears_the_fault(bench):
    clock = DriftingClock(START_WALL_NS, steps=[(20.0, 40.0), (40.0, -40.0)], error_ms=1.0)
    meter = bench(clock)
    times = [10.0, 30.0, 50.0]
    meter.edges(passage_edges(times))
    passages = sorted(meter.events("speed.passage"), key=lambda e: e.time)
    stamped = [(utc_ns(e.time) - START_WALL_NS) / 1e9 for e in passages]
    assert stamped == pytest.approx([10.0, 30.04, 50.0], abs=1e-6)  # the step is in the stamp
    assert [e.data["clock_within_bound"] for e in passages] == [True, False, True]
    codes = [(e.type, e.data["code"]) for e in meter.events("fault.raised", "fault.cleared")
             if e.data["code"] == "clock.unsynced"]
    assert codes == [("fault.raised", "clock.unsynced"), ("fault.cleared", "clock.unsynced")]


def test_a_passage_point_names_the_sites_loops_and_a_zone_with_a_camera(tmp_path):
    data = site_data(tmp_path, loops=LOOPS, speed={"passage": {**PASSAGE, "loops": [{"loop": "l9"}]}})
    with pytest.raises(ConfigError) as error:
        site_from_data(data)
    assert "speed.passage.loops[0].loop: no loop named 'l9'" in error.value.problems[0]
    data["speed"]["passage"] = {**PASSAGE, "camera": "north"}
    with pytest.raises(ConfigError) as error:
        site_from_data(data)
    assert "speed.passage.loops[0].zone: needed with passage.camera" in error.value.problems[0]
