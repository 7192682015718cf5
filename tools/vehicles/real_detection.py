"""The learned road-user detector on real labelled frames: the validation split of
``tools/data/real_sets.py`` (sources of kind ``road_users``), for measuring only.

    .venv/bin/python -m roadcam.tools.vehicles.eval_detector --real /work/data   # with the model card

Each labelled road user at least ``MIN_BOX_PX`` across (square root of the box area, as on the
simulator) is an object; it is *found* when a detection overlaps it by IoU >= ``IOU_MIN``
(and, looser, by IoU >= ``IOU_LOOSE``: hand-drawn boxes are often tighter or wider than the
model's), and its class is right when the best-overlapping detection has its class. A
detection overlapping no labelled box at all (IoU < 0.1, small boxes included) is false; where
a source leaves some road users unlabelled (OTLabels: parked cars) this counts too many.
Bicycles are labelled in the sets but are no class of the detector: they are neither objects
nor false detections. Single frames, so background subtraction, which needs a clip, does not
apply here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from roadcam.appliance.boxes import as_boxes, ious
from roadcam.hal.base import Frame
from roadcam.plugins.detection.learned import MODEL_CLASSES
from roadcam.tools.data.real_sets import SOURCES, Record, validation_records

MIN_BOX_PX = 24.0
IOU_MIN = 0.5
IOU_LOOSE = 0.3
FALSE_IOU = 0.1


@dataclass
class RealFigures:
    """Detection figures of one real source's validation frames."""

    source: str
    frames: int = 0
    objects: int = 0
    found: int = 0
    found_loose: int = 0
    right_class: int = 0
    false_detections: int = 0

    def add(self, other: RealFigures) -> None:
        for name in ("frames", "objects", "found", "found_loose", "right_class", "false_detections"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def row(self) -> str:
        return (f"| {self.source} | {self.frames} | {self.objects} "
                f"| {100 * self.found / max(self.objects, 1):.1f}% "
                f"| {100 * self.found_loose / max(self.objects, 1):.1f}% "
                f"| {100 * self.right_class / max(self.found, 1):.1f}% "
                f"| {self.false_detections / max(self.frames, 1):.2f} |")


HEADER = ("| source | frames | objects | found (IoU 0.5) | found (IoU 0.3) | class right | false per frame |\n"
          "|---|---|---|---|---|---|---|")


def score_frame(record: Record, detections) -> RealFigures:
    """Figures of one labelled frame against the detector's ``detections`` (box, kind)."""
    figures = RealFigures(record.source, frames=1)
    labelled = [(b.cls, (b.x, b.y, b.x + b.w, b.y + b.h)) for b in record.boxes if b.cls != "plate"]
    if not detections:
        figures.objects = sum(1 for cls, box in labelled if _counts(cls, box))
        return figures
    found = as_boxes([d.box for d in detections])
    if not labelled:
        figures.false_detections = len(detections)
        return figures
    overlap = ious(as_boxes([box for _, box in labelled]), found)
    figures.false_detections = int(np.sum(overlap.max(axis=0) < FALSE_IOU))
    for row, (cls, box) in enumerate(labelled):
        if not _counts(cls, box):
            continue
        figures.objects += 1
        best = int(np.argmax(overlap[row]))
        figures.found_loose += bool(overlap[row, best] >= IOU_LOOSE)
        if overlap[row, best] >= IOU_MIN:
            figures.found += 1
            figures.right_class += detections[best].kind == cls
    return figures


def _counts(cls: str, box) -> bool:
    return cls in MODEL_CLASSES and ((box[2] - box[0]) * (box[3] - box[1])) ** 0.5 >= MIN_BOX_PX


def road_user_records(records: list[Record]) -> list[Record]:
    """The records of sources that label road users (not plates)."""
    kinds = {source.name: source.kind for source in SOURCES}
    return [r for r in records if kinds.get(r.source) == "road_users"]


def measure_real(root: Path, detector) -> list[RealFigures]:
    """Figures per road-user source on the validation split under ``root``, and their sum."""
    per_source: dict[str, RealFigures] = {}
    for index, record in enumerate(road_user_records(validation_records(root))):
        image = cv2.imread(str(Path(root) / record.image))
        if image is None:
            raise FileNotFoundError(f"{root / record.image}: run real_sets.py --root {root} first")
        frame = Frame(camera=record.source, index=index, time_ns=0, mono_ns=0, image=image)
        scored = score_frame(record, detector.roadcam_detect(frame=frame, geometry=None))
        per_source.setdefault(record.source, RealFigures(record.source)).add(scored)
    rows = list(per_source.values())
    if len(rows) > 1:
        total = RealFigures("all")
        for row in rows:
            total.add(row)
        rows.append(total)
    return rows
