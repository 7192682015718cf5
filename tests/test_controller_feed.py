"""Signal heads read from the signal controller's serial status feed (issue 24 item 3): the line
format, and the appliance reading a real pty the test plays the controller on."""

from __future__ import annotations

import os
import threading
import time

import pytest
from appliances import build_appliance, site_data, stored

from roadcam.appliance.hookspecs import hookimpl
from roadcam.appliance.site import site_from_data
from roadcam.common.errors import ConfigError
from roadcam.hal.controller import parse_status_line


@pytest.mark.parametrize(("line", "parsed"), [
    (b"main R", ("main", ("red",), 0)),
    (b"left GA 35", ("left", ("amber", "green"), 35)),
    (b"main GR", ("main", ("red", "green"), 0)),
    (b"main -", ("main", (), 0)),
])
def test_status_lines_give_the_lamps_most_restrictive_first(line, parsed):
    assert parse_status_line(line) == parsed


@pytest.mark.parametrize(("line", "says"), [
    (b"main", "with lamps a set of R, A, G"),
    (b"main X", "expected"),
    (b"main RR", "repeated"),
    (b"main R -5", "expected"),
    (b"m\xffin R", "not ASCII"),
])
def test_a_bad_status_line_says_what_is_wrong(line, says):
    with pytest.raises(ValueError, match=says):
        parse_status_line(line)


def test_a_head_takes_pins_or_a_controller_link_and_the_link_must_exist(tmp_path):
    with pytest.raises(ConfigError) as caught:
        site_from_data(site_data(tmp_path, signals=[{"head": "main", "controller": "ctl"}]))
    assert "signals[0].controller: no serial link named 'ctl' (serial: none configured)" in caught.value.problems[0]
    with pytest.raises(ConfigError) as caught:
        site_from_data(site_data(tmp_path, serial=[{"name": "ctl", "port": "loop://"}],
                                 signals=[{"head": "main", "controller": "ctl", "red": "GPIO17"}]))
    assert "either the lamp-sense pins or controller, not both" in caught.value.problems[0]
    with pytest.raises(ConfigError) as caught:
        site_from_data(site_data(tmp_path, signals=[{"head": "main", "red": "GPIO17"}]))
    assert "give the three lamp-sense pins" in caught.value.problems[0]


class SignalRecorder:
    def __init__(self):
        self.states: list[tuple[str, str, int]] = []
        self.lamps: list[tuple[str, tuple[str, ...], int]] = []
        self.changed = threading.Event()

    @hookimpl
    def roadcam_signal_changed(self, head, state, time_ns):
        self.states.append((head, state, time_ns))
        self.changed.set()
        return []

    @hookimpl
    def roadcam_lamps_changed(self, head, lit, time_ns):
        self.lamps.append((head, lit, time_ns))
        return []


def wait_until(condition, timeout_s=5.0):
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert condition()


def test_the_appliance_follows_the_controller_feed_dates_it_and_faults_bad_or_silent_feeds(tmp_path, pty_pair):
    master, port = pty_pair  # the test is the signal controller on the master side
    recorder = SignalRecorder()
    appliance = build_appliance(
        tmp_path, plugins=[recorder], serial=[{"name": "ctl", "port": port, "baudrate": 115200}],
        signals=[{"head": "main", "controller": "ctl"}, {"head": "left", "controller": "ctl"}])
    appliance.start()
    try:
        os.write(master, b"main G\nleft R\n")
        wait_until(lambda: ("left", "red") in [(h, s) for h, s, _ in recorder.states])
        sent_ns = time.time_ns()
        os.write(master, b"main A 40\n")
        wait_until(lambda: recorder.states[-1][:2] == ("main", "amber"))
        amber_ns = recorder.states[-1][2]
        os.write(master, b"main RG\n")  # a controller fault: red and green together
        wait_until(lambda: recorder.states[-1][:2] == ("main", "red"))
        os.write(master, b"main purple\n")
        wait_until(lambda: any(e.data["code"] == "signal.feed" for e in stored(tmp_path, "fault.raised")))
        os.write(master, b"main R\n")
        wait_until(lambda: any(e.data["code"] == "signal.feed" for e in stored(tmp_path, "fault.cleared")))
        # then the controller falls silent: after 3 s both heads read dark and a fault is raised
        wait_until(lambda: {(h, s) for h, s, _ in recorder.states[-2:]} == {("main", "dark"), ("left", "dark")},
                   timeout_s=6.0)
        os.write(master, b"main G\n")
        wait_until(lambda: any(e.data["code"] == "signal.feed_silent" for e in stored(tmp_path, "fault.cleared")))
    finally:
        appliance.shutdown()
    # dated from the line: the controller's 40 ms before sending (the wire time is 0.9 ms here)
    assert -60e6 < amber_ns - sent_ns < -30e6
    assert ("main", ("red", "green")) in [(h, lit) for h, lit, _ in recorder.lamps]
    (bad,) = [e for e in stored(tmp_path, "fault.raised") if e.data["code"] == "signal.feed"]
    assert bad.data["component"] == "ctl" and "b'main purple'" in bad.data["message"]
    (silent,) = [e for e in stored(tmp_path, "fault.raised") if e.data["code"] == "signal.feed_silent"]
    assert "heads read dark" in silent.data["message"]
    assert recorder.states[-1][:2] == ("main", "green")
