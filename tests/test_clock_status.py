"""The device clock's status (issue 25 item 4): adjtimex(2) read for real on this machine, chronyc
and timedatectl run for real as small executables put first on PATH (their output is what the
real tools print, or garbage), the appliance's ``clock.source`` fault and the speed plugin's
passages on a clock whose source cannot be read."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest
from test_speed_passages import PASSAGE, passage_edges
from test_speed_spot import START_WALL_NS, Bench

from roadcam.appliance.clock import Clock, ManualClock
from roadcam.appliance.site import site_from_data
from roadcam.common.errors import ConfigError
from roadcam.hal import clock_status
from roadcam.hal.clock_status import ClockStatusSource, read_adjtimex, read_auto, read_chrony, read_timedatectl

#: ``chronyc -c tracking`` of a box 12.345 µs slow of its GPS reference, root delay 1 ms,
#: root dispersion 0.5 ms.
CHRONY_SYNCED = ("47505300,GPS,1,1790000000.123456789,0.000012345,-0.000001000,0.000020000,-3.210,"
                 "0.001,0.020,0.001000000,0.000500000,16.0,Normal")
CHRONY_UNSYNCED = "00000000,,0,0.000000000,0.000000000,0.000000000,0.000000000,0.000,0.000,0.000," \
                  "1.000000000,1.000000000,0.0,Not synchronised"


@pytest.fixture
def path_tools(tmp_path, monkeypatch):
    """Put executables in a folder first on PATH: ``tool(name, script)``; the real PATH follows."""
    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")

    def tool(name: str, body: str) -> Path:
        path = folder / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)
        return path

    return tool


def test_the_kernel_state_is_read_for_real_without_privileges():
    status = read_adjtimex()
    assert status.source == "adjtimex" and status.fault is None
    assert status.offset_ms is not None and math.isfinite(status.offset_ms)
    if status.synced:  # the kernel marks a clock unsynced past 16 s of maximum error
        assert status.error_ms is not None and 0 <= status.error_ms < 16_000
    else:
        assert status.error_ms is None and status.state.error_ms is None
    assert Clock(ClockStatusSource("adjtimex")).state() == status.state


def test_chrony_tracking_gives_sync_error_bound_and_offset(path_tools):
    path_tools("chronyc", f'[ "$1 $2" = "-c tracking" ] || exit 3\necho "{CHRONY_SYNCED}"')
    status = read_chrony()
    assert status.fault is None and status.synced and status.source == "chrony"
    # |offset| + root dispersion + root delay / 2
    assert status.error_ms == pytest.approx(0.012345 + 0.5 + 0.5)
    assert status.offset_ms == pytest.approx(-0.012345)  # slow: behind true time
    assert status.state.as_dict() == {"synced": True, "error_ms": pytest.approx(1.012345)}


@pytest.mark.parametrize("line", [CHRONY_UNSYNCED, CHRONY_SYNCED.replace("47505300", "7F7F0101")])
def test_chrony_without_a_reference_is_unsynced(path_tools, line):
    path_tools("chronyc", f'echo "{line}"')
    status = read_chrony()
    assert status.fault is None and not status.synced and status.state.error_ms is None


@pytest.mark.parametrize("script", [
    "echo 'Reference ID    : 47505300 (GPS)'\necho 'System time     : 0.000012345 seconds slow of NTP time'",
    "echo '506 Cannot talk to daemon' >&2\nexit 1",
    f'echo "{CHRONY_SYNCED.replace("0.000500000", "nan")}"',
    f'echo "{CHRONY_SYNCED.replace("0.001000000", "-0.001")}"',
    f'echo "{CHRONY_SYNCED.replace("0.000012345", "12ms")}"',
    f'echo "{CHRONY_SYNCED}"\necho "{CHRONY_SYNCED}"',
    "printf '\\377\\376 binary'",
    "",
])
def test_chronyc_failing_or_printing_garbage_is_a_fault_never_synced(path_tools, script):
    path_tools("chronyc", script)
    status = read_chrony()
    assert status.fault and not status.synced and status.state.as_dict() == {"synced": False, "error_ms": None}


def test_a_chronyc_that_hangs_is_a_fault(path_tools, monkeypatch):
    monkeypatch.setattr(clock_status, "COMMAND_TIMEOUT_S", 0.3)
    path_tools("chronyc", "sleep 5")
    status = read_chrony()
    assert not status.synced and "did not answer" in status.fault


def test_timedatectl_says_synced_without_a_bound_or_is_a_fault(path_tools):
    tool = path_tools("timedatectl", '[ "$*" = "show -p NTPSynchronized" ] || exit 3\necho NTPSynchronized=yes')
    status = read_timedatectl()
    assert status.fault is None and status.synced and status.error_ms is None
    assert status.state.as_dict() == {"synced": True, "error_ms": None}  # never trusted for pairing
    tool.write_text("#!/bin/sh\necho NTPSynchronized=no\n")
    assert read_timedatectl().synced is False and read_timedatectl().fault is None
    tool.write_text("#!/bin/sh\necho 'System has not been booted with systemd'\n")
    assert read_timedatectl().fault and not read_timedatectl().synced
    tool.write_text("#!/bin/sh\necho 'Failed to connect to bus' >&2\nexit 1\n")
    assert "exited with 1: Failed to connect to bus" in read_timedatectl().fault


def test_auto_takes_chrony_when_installed_else_the_kernel(path_tools, monkeypatch, tmp_path):
    path_tools("chronyc", f'echo "{CHRONY_SYNCED}"')
    assert read_auto().source == "chrony"
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    (tmp_path / "bin" / "chronyc").unlink()
    assert read_auto().source == "adjtimex" and read_auto().fault is None


def test_a_reading_is_kept_for_max_age_a_failed_one_longer(path_tools, tmp_path):
    calls = tmp_path / "calls"
    tool = path_tools("chronyc", f'echo x >> "{calls}"\necho "{CHRONY_SYNCED}"')
    now = [100.0]
    source = ClockStatusSource("chrony", max_age_s=2.0, monotonic=lambda: now[0], retry_failed_s=30.0)
    source.read()
    now[0] += 1.9
    source.read()
    assert calls.read_text().count("x") == 1
    now[0] += 0.2
    source.read()
    assert calls.read_text().count("x") == 2
    tool.write_text(f'#!/bin/sh\necho x >> "{calls}"\nexit 1\n')
    now[0] += 2.0
    assert source.read().fault
    now[0] += 29.9
    assert source.read().fault and calls.read_text().count("x") == 3
    now[0] += 0.2
    source.read()
    assert calls.read_text().count("x") == 4


def test_the_site_config_chooses_the_source_and_refuses_unknown_ones(tmp_path):
    from appliances import site_data

    config, _ = site_from_data(site_data(tmp_path, clock={"source": "timedatectl", "refresh_s": 5}))
    assert (config.clock.source, config.clock.refresh_s) == ("timedatectl", 5)
    with pytest.raises(ConfigError) as refused:
        site_from_data(site_data(tmp_path, clock={"source": "ntpd"}))
    assert [line for line in refused.value.problems if "clock.source: Input should be" in line]


def test_a_clock_source_printing_garbage_marks_passages_and_raises_clock_source(tmp_path, path_tools):
    tool = path_tools("chronyc", "echo 'garbage, not tracking'")
    bench = Bench(tmp_path, section={"passage": PASSAGE},
                  clock=ManualClock(START_WALL_NS, status_source=ClockStatusSource("chrony", max_age_s=0.0,
                                                                                   retry_failed_s=0.0)))
    try:
        bench.edges(passage_edges([5.0]))
        bench.idle(8.0)  # a tick: the appliance checks the clock's source
        tool.write_text(f'#!/bin/sh\necho "{CHRONY_SYNCED}"\n')
        bench.edges(passage_edges([10.0]))
        bench.idle(13.0)
        passages = sorted(bench.events("speed.passage"), key=lambda e: e.time)
        assert [p.clock for p in passages] == [{"synced": False, "error_ms": None},
                                               {"synced": True, "error_ms": pytest.approx(1.012345)}]
        assert [(p.data["clock_within_bound"], p.data["clock_source"]) for p in passages] == \
            [(False, "chrony"), (True, "chrony")]
        changes = [(e.type, e.data["code"]) for e in bench.events("fault.raised", "fault.cleared")
                   if e.data["code"].startswith("clock.")]
        assert sorted(changes[:2]) == [("fault.raised", "clock.source"), ("fault.raised", "clock.unsynced")]
        assert sorted(changes[2:]) == [("fault.cleared", "clock.source"), ("fault.cleared", "clock.unsynced")]
        raised = {e.data["code"]: e.data["message"] for e in bench.events("fault.raised")}
        assert "cannot be read from chrony" in raised["clock.source"]
        assert "cannot be read from chrony" in raised["clock.unsynced"]
    finally:
        bench.close()
