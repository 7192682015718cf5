"""The simulated road: a world in metres, a signal controller, loops, a renderer, and the
HAL backends (camera, gpiozero pins, clock) that feed the real appliance from it.

The appliance never reads the world's truth; :mod:`roadcam.sim.scoring` compares it with what the
appliance reported.
"""

from .camera_pose import SimCameraPose, calibration_pairs
from .pins import SimPin, SimPinFactory
from .plates import PlateGenerator, is_valid_plate
from .road import SimCamera, SimRoad
from .scenario import Scenario, available_scenarios, load_scenario
from .scoring import Score, Scorer, TrackRecorder, score_run
from .truth import GroundTruth

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
