"""A sampled day of normal simulated traffic raises no fault (issue 26): the tool
``roadcam.tools.diagnostics_day`` runs each sampled hour through the real appliance and lists
every fault raised. Here: a night hour quickly; hours around dusk and dawn, day and night, slow.
The whole day is ``python -m roadcam.tools.diagnostics_day``."""

from __future__ import annotations

import pytest

from roadcam.plugins.diagnostics.config import DiagnosticsConfig
from roadcam.tools.diagnostics_day import main, run_hour, scenario_for_hour


def test_a_night_hour_of_normal_traffic_raises_no_fault(tmp_path):
    scenario = scenario_for_hour(22, 10.0, 480, DiagnosticsConfig())
    assert (scenario.name, scenario.lighting) == ("night", "night")
    frames, faults = run_hour(scenario, tmp_path)
    assert frames == 250 and faults == []


def test_the_hours_take_the_scenario_their_light_needs():
    config = DiagnosticsConfig()
    names = [scenario_for_hour(hour, 1.0, 320, config).name for hour in range(24)]
    assert names[:5] == ["night"] * 5 and names[19:] == ["night"] * 5
    assert names[7] == names[16] == "rain" and names[12] == "junction"


@pytest.mark.slow
def test_hours_around_dawn_and_dusk_raise_no_fault(capsys):
    assert main(["--hours", "4-7", "--seconds-per-hour", "30"]) == 0
    assert main(["--hours", "18-20", "--seconds-per-hour", "30"]) == 0
    assert "false faults: 0" in capsys.readouterr().out
