"""A detector that reports the simulator's ground truth: the tracker's ceiling, for evaluation.

The appliance never sees the world's truth. This detector is for ``python -m
roadcam.tools.eval_tracking --detector truth`` only: it hands the core tracker every road user
as a perfect learned detector would, so what the tracker still loses is the tracker's own doing
(long full occlusions, road users turning while hidden), told apart from what a real detector's
misses and jitter cost.

Each road user at least ``MIN_VISIBLE`` visible in a frame (the same share makes a road user
a training target of the learned detector, tools/vehicles/train_detector.py) is one detection
made as that detector makes its own (:func:`~roadcam.plugins.detection.learned.whole_detection`): its
*whole* box, hidden parts included, its true class, score 1, its ground point and the colour
signature of its box in the rendered frame.
"""

from __future__ import annotations

from roadcam.appliance.geometry import RoadGeometry
from roadcam.appliance.tracking import Detection
from roadcam.hal.base import Frame
from roadcam.plugins.detection.learned import whole_detection
from roadcam.sim.truth import GroundTruth

SOURCE = "truth"
#: Road users less visible than this are not reported (nor learned as targets by the learned detector).
MIN_VISIBLE = 0.25


class TruthDetector:
    """Detections of one simulated run made from its ground truth (see the module's docstring)."""

    def __init__(self, truth: GroundTruth):
        self.truth = truth

    def roadcam_detect(self, frame: Frame, geometry: RoadGeometry | None) -> list[Detection]:
        """Every road user at least ``MIN_VISIBLE`` visible in ``frame``, whole and classed."""
        detections = []
        for item in (*self.truth.vehicles.values(), *self.truth.pedestrians.values()):
            box = item.boxes.get(frame.index)
            if box is None or box[4] < MIN_VISIBLE:
                continue
            whole_box = tuple(float(v) for v in box[:4])
            detections.append(whole_detection(frame, whole_box, item.kind, 1.0, geometry, SOURCE))
        return detections
