"""The plate detector on the real labelled scenes of ``tools/data/real_sets.py``: its boxes, which
of them are whole plates, and the figures the calibration is fitted to and judged by.

A box is a *whole plate* when it overlaps a labelled plate with IoU >= :data:`WHOLE_IOU`. A box
*touches* a plate when its centre lies inside the plate's box or they overlap with IoU >=
:data:`TOUCH_IOU`; a box that touches no plate is a false box. Only sources that label plates
are used (ro-plates): a scene from a source without plate labels would count every plate in it
as false. Some plates in ro-plates are not labelled either (see tools/data/SOURCES.md), so the
false boxes and the calibration are pessimistic by those.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from roadcam.appliance.boxes import ious
from roadcam.plugins.plate_capture.detector import PlateDetector
from roadcam.tools.data.real_sets import Record

WHOLE_IOU = 0.5
TOUCH_IOU = 0.1
#: Equal-width bins of the expected calibration error.
ECE_BINS = 10


@dataclass(frozen=True)
class SceneBoxes:
    """One scene: the detector's boxes (N x 4), their scores and the labelled plates (M x 4)."""

    image: str
    boxes: np.ndarray
    scores: np.ndarray
    plates: np.ndarray

    def whole(self) -> np.ndarray:
        """Per box: is it a whole plate?"""
        if not len(self.boxes) or not len(self.plates):
            return np.zeros(len(self.boxes), bool)
        return ious(self.boxes, self.plates).max(axis=1) >= WHOLE_IOU

    def touching(self) -> np.ndarray:
        """(boxes, plates): the box touches the plate (see the module)."""
        if not len(self.boxes) or not len(self.plates):
            return np.zeros((len(self.boxes), len(self.plates)), bool)
        centres = (self.boxes[:, :2] + self.boxes[:, 2:]) / 2
        p = self.plates
        inside = ((centres[:, None, 0] >= p[None, :, 0]) & (centres[:, None, 0] <= p[None, :, 2])
                  & (centres[:, None, 1] >= p[None, :, 1]) & (centres[:, None, 1] <= p[None, :, 3]))
        return inside | (ious(self.boxes, p) >= TOUCH_IOU)

    def kept(self, keep: np.ndarray) -> SceneBoxes:
        return SceneBoxes(self.image, self.boxes[keep], self.scores[keep], self.plates)


def plate_records(records: list[Record]) -> list[Record]:
    """The records of sources that label plates."""
    sources = {record.source for record in records if any(box.cls == "plate" for box in record.boxes)}
    return [record for record in records if record.source in sources]


def detect_scenes(records: list[Record], root: Path, detector: PlateDetector) -> list[SceneBoxes]:
    """The detector (scene mode, as ``roadcam plate read``) on each record's image."""
    scenes = []
    for record in records:
        image = cv2.imread(str(Path(root) / record.image), cv2.IMREAD_COLOR)
        if image is None:
            raise FileNotFoundError(f"{root / record.image}: missing or unreadable: run "
                                    f"`python -m roadcam.tools.data.real_sets --root {root}` first")
        found = detector.detect(image)
        plates = [(b.x, b.y, b.x + b.w, b.y + b.h) for b in record.boxes if b.cls == "plate"]
        scenes.append(SceneBoxes(record.image, np.array([p.box for p in found], float).reshape(-1, 4),
                                 np.array([p.score for p in found], float), np.array(plates, float).reshape(-1, 4)))
    return scenes


def expected_calibration_error(probabilities: np.ndarray, outcomes: np.ndarray) -> float:
    """Mean |share of whole plates - mean probability| over :data:`ECE_BINS` equal-width bins,
    weighted by the boxes in each."""
    if not len(probabilities):
        return float("nan")
    bins = np.minimum((np.asarray(probabilities) * ECE_BINS).astype(int), ECE_BINS - 1)
    error = 0.0
    for b in range(ECE_BINS):
        chosen = bins == b
        if chosen.any():
            error += chosen.sum() * abs(outcomes[chosen].mean() - probabilities[chosen].mean())
    return float(error / len(probabilities))


@dataclass(frozen=True)
class BoxFigures:
    """How the boxes of some scenes relate to their labelled plates."""

    scenes: int
    plates: int
    boxes: int
    whole_plates: int          # plates with a whole-plate box
    boxes_on_touched: int      # boxes touching a plate, over the plates touched
    touched_plates: int
    false_boxes: int

    @property
    def whole_recall(self) -> float:
        return self.whole_plates / max(self.plates, 1)

    @property
    def boxes_per_plate(self) -> float:
        return self.boxes_on_touched / max(self.touched_plates, 1)

    @property
    def false_per_scene(self) -> float:
        return self.false_boxes / max(self.scenes, 1)


def box_figures(scenes: list[SceneBoxes]) -> BoxFigures:
    plates = boxes = whole = on_touched = touched = false = 0
    for scene in scenes:
        touching = scene.touching()
        plates += len(scene.plates)
        boxes += len(scene.boxes)
        if len(scene.boxes) and len(scene.plates):
            whole += int((ious(scene.boxes, scene.plates).max(axis=0) >= WHOLE_IOU).sum())
        hit = touching.any(axis=0)
        touched += int(hit.sum())
        on_touched += int(touching.any(axis=1).sum())
        false += int((~touching.any(axis=1)).sum())
    return BoxFigures(len(scenes), plates, boxes, whole, on_touched, touched, false)
