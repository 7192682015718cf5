"""The simulated road: a world in metres, a signal controller, loops, a renderer, and the
HAL backends (camera, gpiozero pins, clock) that feed the real appliance from it.

The appliance never reads the world's truth; :mod:`roadcam.sim.scoring` compares it with what the
appliance reported.
"""

import importlib

#: Each public name and the module that defines it. They are imported on first use (PEP 562), so
#: that ``roadcam.sim.commands`` (the ``simulate`` command, loaded whenever the ``roadcam``
#: command line is built, also for ``roadcam run``) costs nothing until a simulation runs.
_EXPORTS = {
    "SimCameraPose": "camera_pose", "calibration_pairs": "camera_pose",
    "SimPin": "pins", "SimPinFactory": "pins",
    "PlateGenerator": "plates", "is_valid_plate": "plates",
    "SimCamera": "road", "SimRoad": "road",
    "Scenario": "scenario", "available_scenarios": "scenario", "load_scenario": "scenario",
    "Score": "scoring", "Scorer": "scoring", "TrackRecorder": "scoring", "score_run": "scoring",
    "GroundTruth": "truth",
}


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


__all__ = [
    "GroundTruth",
    "PlateGenerator",
    "Scenario",
    "Score",
    "Scorer",
    "SimCamera",
    "SimCameraPose",
    "SimPin",
    "SimPinFactory",
    "SimRoad",
    "TrackRecorder",
    "available_scenarios",
    "calibration_pairs",
    "is_valid_plate",
    "load_scenario",
    "score_run",
]
