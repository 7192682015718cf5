"""Signal-head lamp checks (issue 26): red and green together, a head left dark and a lamp that
never lights in a cycle, injected at the simulator's lamp-sense pins (gpiozero mock pins read by
the real GpioSignalHead), are raised within their detection times and cleared after they end;
normal signal cycles raise none. Then the same through a running appliance on bare MockFactory
pins."""

from __future__ import annotations

import time

import pytest
from appliances import build_appliance, stored
from gpiozero.pins.mock import MockFactory

from roadcam.appliance.faults import FaultBoard
from roadcam.appliance.site import site_from_data
from roadcam.hal.hardware import Hardware
from roadcam.plugins.diagnostics.config import DiagnosticsConfig
from roadcam.plugins.diagnostics.lamps import LampChecks
from roadcam.protocol.events import utc_ns
from roadcam.sim.faults import FaultyPinFactory, lamp_conflict, lamp_out, lamps_dark
from roadcam.sim.road import SimRoad
from roadcam.sim.scenario import load_scenario

TICK_S = 1.0


def run_lamp_checks(tmp_path, scenario: str, duration_s: float, make_faults=lambda scenario: [], **diagnostics):
    """Step the scenario's world (no rendering) with pin faults injected; the site's signal heads
    are opened by the real Hardware on the simulator's pins and feed the lamp checks, ticked every
    simulated second. Returns the changes as (action, fault id, scenario seconds)."""
    loaded = load_scenario(scenario).model_copy(update={"duration_s": duration_s})
    road = SimRoad.from_scenario(loaded)
    pins = FaultyPinFactory.install(road, make_faults(loaded))
    config, _ = site_from_data(road.site_config(tmp_path), source="lamp diagnostics test")
    board, changes = FaultBoard(), []

    def raise_fault(code, component, message, severity):
        for draft in board.raise_fault(code, component, message, road.clock.wall_ns(), severity):
            changes.append(("raised", draft.data["id"], road.clock.mono_ns() / 1e9))

    def clear_fault(code, component):
        for draft in board.clear_fault(code, component, road.clock.wall_ns()):
            changes.append(("cleared", draft.data["id"], road.clock.mono_ns() / 1e9))

    settings = DiagnosticsConfig(**diagnostics)
    checks = LampChecks(settings, raise_fault, clear_fault, settings.expected_lamps(config.signals))
    with Hardware(config, road.clock, pin_factory=pins) as hardware:
        for head in hardware.open_signal_heads():
            head.when_lamps_changed = checks.on_lamps
            checks.on_lamps(head.head, head.lit, road.clock.wall_ns())
        next_tick_s = 0.0
        while road.skip_frames(1):
            pins.update()
            if road.clock.mono_ns() / 1e9 >= next_tick_s:
                checks.on_tick(road.clock.wall_ns())
                next_tick_s += TICK_S
    return changes


# smoke: 40 s cycle; head "main" green 0-9 s, amber 9-12 s, red 12-40 s of each cycle
CASES = [
    # (faults, expected changes as (action, id, earliest s, latest s))
    pytest.param(lambda s: lamp_conflict(s, "main", 50, 70),
                 [("raised", "lamp.conflict:main", 52.5, 54.0), ("cleared", "lamp.conflict:main", 73.0, 74.5)],
                 id="red_and_green_together"),
    pytest.param(lambda s: lamps_dark(s, "main", 60, 75),
                 [("raised", "lamp.dark:main", 65.0, 66.5), ("cleared", "lamp.dark:main", 78.0, 79.5)],
                 id="all_dark"),
    pytest.param(lambda s: lamp_out(s, "main", "amber", 50, 130),  # amber due at 89 s: missed; red and
                 [("raised", "lamp.never_lit:main/amber", 120.0, 120.1),   # green came on twice by 120 s
                  ("cleared", "lamp.never_lit:main/amber", 130.0, 130.1)],
                 id="amber_never_lights"),
]


@pytest.mark.parametrize(("make_faults", "expected"), CASES)
def test_an_injected_lamp_fault_is_raised_in_time_and_cleared_after_it_ends(tmp_path, make_faults, expected):
    changes = run_lamp_checks(tmp_path, "smoke", 140.0, make_faults)
    assert [(action, fault_id) for action, fault_id, _ in changes] == [(a, f) for a, f, _, _ in expected], changes
    for (_, _, at_s), (_, _, earliest_s, latest_s) in zip(changes, expected):
        assert earliest_s <= at_s <= latest_s, changes


def test_a_lamp_dead_since_start_is_caught_from_the_sites_signal_heads(tmp_path):
    def amber_dead(scenario):
        return lamp_out(scenario, "main", "amber", 0, 200)

    # no diagnostics.lamps: the head has an amber sense pin, so an amber is expected
    changes = run_lamp_checks(tmp_path, "smoke", 100.0, amber_dead)
    # green lit at start and came on at 40 s, red came on at 12 s and 52 s: amber (due at 9 s and
    # 49 s) missed a whole cycle by 52 s
    assert changes == [("raised", "lamp.never_lit:main/amber", 52.0)]
    # listed, the same; listed with no lamps, the head learns them (never seen lit: not expected)
    assert run_lamp_checks(tmp_path, "smoke", 100.0, amber_dead, lamps={"main": ["red", "amber", "green"]}) == changes
    assert run_lamp_checks(tmp_path, "smoke", 100.0, amber_dead, lamps={"main": []}) == []


def test_the_lamps_setting_must_name_heads_of_the_site(tmp_path):
    from roadcam.common.errors import ConfigError

    site = SimRoad.from_scenario(load_scenario("smoke").model_copy(update={"duration_s": 1.0})).site_config(tmp_path)
    site["diagnostics"] = {"lamps": {"north": ["red", "green"]}}
    with pytest.raises(ConfigError) as error:
        site_from_data(site, source="site.yaml")
    assert "diagnostics.lamps.north: no signal head named 'north' (signals: left, main)" in error.value.problems[0]


@pytest.mark.parametrize(("scenario", "duration_s"), [("smoke", 200.0),
                                                    pytest.param("junction", 300.0, marks=pytest.mark.slow)])
def test_normal_signal_cycles_raise_no_lamp_fault(tmp_path, scenario, duration_s):
    assert run_lamp_checks(tmp_path, scenario, duration_s) == []


def test_flashing_amber_is_neither_dark_nor_a_lamp_that_never_lights():
    changes = []
    checks = LampChecks(DiagnosticsConfig(), lambda code, component, *_: changes.append(("raised", code, component)),
                        lambda code, component: changes.append(("cleared", code, component)))
    second = 1_000_000_000
    for step in range(3):  # a few normal cycles: every lamp learnt
        base = step * 30 * second
        checks.on_lamps("main", ("green",), base)
        checks.on_lamps("main", ("amber",), base + 10 * second)
        checks.on_lamps("main", ("red",), base + 13 * second)
    for half in range(120):  # a minute of flashing amber (controller in night flash mode)
        checks.on_lamps("main", () if half % 2 else ("amber",), 90 * second + half * second // 2)
        checks.on_tick(90 * second + half * second // 2)
    assert changes == []


def test_the_appliance_raises_and_clears_a_lamp_conflict_on_mock_pins(tmp_path):
    factory = MockFactory()
    appliance = build_appliance(tmp_path, pin_factory=factory,
                                signals=[{"head": "main", "red": "GPIO17", "amber": "GPIO27", "green": "GPIO22"}],
                                diagnostics={"lamp_conflict_after_s": 0.2, "clear_after_s": 0.2})
    appliance.start()
    try:
        factory.pin("GPIO17").drive_high()
        factory.pin("GPIO22").drive_high()  # red and green together
        wait_for(lambda: stored(tmp_path, "fault.raised"))
        factory.pin("GPIO22").drive_low()
        wait_for(lambda: stored(tmp_path, "fault.cleared"))
    finally:
        appliance.shutdown()
    raised, cleared = stored(tmp_path, "fault.raised", "fault.cleared")
    assert (raised.type, raised.data["id"], raised.data["severity"]) == ("fault.raised", "lamp.conflict:main",
                                                                          "critical")
    assert "red and green together" in raised.data["message"]
    assert (cleared.type, cleared.data["id"]) == ("fault.cleared", "lamp.conflict:main")


def test_the_appliance_catches_a_lamp_dead_since_start_without_a_lamps_setting(tmp_path):
    """A head on bare MockFactory pins whose amber never lights (no ``diagnostics.lamps``): red and
    green each come on twice, and the amber its pin promises is reported."""
    factory = MockFactory()
    appliance = build_appliance(tmp_path, pin_factory=factory,
                                signals=[{"head": "main", "red": "GPIO17", "amber": "GPIO27", "green": "GPIO22"}])
    appliance.start()
    try:
        factory.pin("GPIO17").drive_high()
        for _ in range(2):  # green, then red: the amber between them stays dark
            time.sleep(0.1)
            factory.pin("GPIO17").drive_low()
            factory.pin("GPIO22").drive_high()
            time.sleep(0.1)
            factory.pin("GPIO22").drive_low()
            factory.pin("GPIO17").drive_high()
        wait_for(lambda: stored(tmp_path, "fault.raised"))
    finally:
        appliance.shutdown()
    (raised,) = stored(tmp_path, "fault.raised")
    assert (raised.data["id"], raised.data["severity"]) == ("lamp.never_lit:main/amber", "major")
    assert "amber lamp did not light for a whole cycle" in raised.data["message"]


def wait_for(condition, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)


def test_an_injected_stuck_loop_holds_the_loop_input(tmp_path):
    """Loop faults are checked by the speed plugin (loop.stuck_on / stuck_off / chatter); the
    simulator's injection holds the detector output, seen through the real GpioLoop."""
    from roadcam.sim.faults import loop_stuck

    loaded = load_scenario("smoke").model_copy(update={"duration_s": 12.0})
    road = SimRoad.from_scenario(loaded)
    pins = FaultyPinFactory.install(road, loop_stuck(loaded, "lane1-stop", True, 4.0, 8.0)
                                    + loop_stuck(loaded, "lane2-stop", False, 0.0, 12.0))
    config, _ = site_from_data(road.site_config(tmp_path), source="loop injection test")
    occupied = {"lane1-stop": [], "lane2-stop": []}
    with Hardware(config, road.clock, pin_factory=pins) as hardware:
        loops = {loop.name: loop for loop in hardware.open_loops()}
        while road.skip_frames(1):
            pins.update()
            for name, seen in occupied.items():
                seen.append((road.clock.mono_ns() / 1e9, loops[name].occupied))
    stuck = [t for t, on in occupied["lane1-stop"] if 4.0 <= t < 8.0]
    assert stuck and all(on for t, on in occupied["lane1-stop"] if 4.0 <= t < 8.0)
    assert not any(on for _, on in occupied["lane2-stop"])
    assert any(not on for t, on in occupied["lane1-stop"] if t >= 8.0)


@pytest.mark.slow
def test_a_stuck_loop_injected_in_the_simulator_is_raised_by_the_speed_plugin_and_cleared(tmp_path):
    """The whole path on the simulated road: the held detector output reaches the speed
    plugin's loop checks through the appliance (its loop.stuck_on, not a copy here)."""
    from roadcam.appliance.runtime import Appliance
    from roadcam.appliance.store import read_events
    from roadcam.sim.faults import FaultyCamera, loop_stuck

    loaded = load_scenario("smoke").model_copy(update={"duration_s": 16.0})
    loaded = loaded.model_copy(update={"camera": loaded.camera.model_copy(update={"width_px": 480, "height_px": 270})})
    road = SimRoad.from_scenario(loaded)
    pins = FaultyPinFactory.install(road, loop_stuck(loaded, "lane2-stop", True, 4.0, 12.0))
    site = road.site_config(tmp_path)
    site["plugins"] = {"disabled": ["detection", "plate_capture"]}
    site["speed"] = {"stuck_on_s": 3.0, "pairs": [{"name": "lane2", "upstream": "lane2-upstream",
                                                   "downstream": "lane2-stop", "spacing_m": 19.0}]}
    config, manager = site_from_data(site, source="stuck loop injection test")
    hardware = Hardware(config, road.clock, pin_factory=pins,
                        sim_cameras=lambda name: FaultyCamera(road.camera(name), [], loaded.start_ns, loaded.fps, pins))
    Appliance(config, manager, hardware, road.clock).run(install_signal_handlers=False)
    events = read_events(config.storage.database, limit=10**5, types=["fault.raised", "fault.cleared"])
    stuck = [(e.type, (utc_ns(e.time) - loaded.start_ns) / 1e9) for e in events
             if e.data["id"] == "loop.stuck_on:lane2-stop"]
    assert [kind for kind, _ in stuck] == ["fault.raised", "fault.cleared"], events
    (_, raised_s), (_, cleared_s) = stuck
    assert 4.0 + 3.0 < raised_s <= 4.0 + 3.0 + 1.0 and 12.0 <= cleared_s <= 12.0 + 1.0
