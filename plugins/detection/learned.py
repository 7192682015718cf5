"""The learned detector: a TFLite CenterNet-style model finds road users in each frame.

Chosen by ``detection.type: tflite``. The model (trained by tools/vehicles/train_detector.py,
shipped as models/vehicle_detector.tflite with its model card) takes the frame scaled to its
input size and gives, per output cell (``stride`` input pixels), a score per class, the box's
size and the centre's offset within the cell. Peaks (a cell that is the maximum of its 3x3
neighbourhood and above ``min_score``) become detections; boxes that overlap by more than
``NMS_IOU`` keep only the strongest.

Unlike background subtraction it sees stopped and queued vehicles as well as moving ones and
gives the whole box of a vehicle partly hidden behind another. Its classes come from
appearance; ``road_xy`` is the box's bottom-centre on the road plane when calibrated; each
detection carries its colour signature for the tracker (:mod:`.signatures`).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from roadcam.appliance.boxes import ious
from roadcam.appliance.geometry import RoadGeometry
from roadcam.appliance.hookspecs import hookimpl
from roadcam.appliance.inference import load_model
from roadcam.appliance.tracking import Detection
from roadcam.hal.base import Frame

from .classify import ground_point
from .config import DetectionConfig
from .signatures import colour_signature

#: ``Detection.source`` of everything this detector reports.
SOURCE = "tflite"
#: The model shipped with roadcam, used when the config names none.
SHIPPED_MODEL = Path(__file__).resolve().parent / "models" / "vehicle_detector.tflite"
#: Classes in the model's output order (the training script's CLASSES).
MODEL_CLASSES = ("car", "scooter", "truck", "bus", "pedestrian")
#: Output cells are this many input pixels.
STRIDE = 4
#: Boxes overlapping more than this are one object (a queued car behind a truck overlaps less).
NMS_IOU = 0.6


class LearnedDetector:
    """Runs the detector model on each frame and decodes its peaks into detections."""

    def __init__(self, config: DetectionConfig):
        self.config = config
        self._model = load_model(config.model or SHIPPED_MODEL, threads=config.threads)
        _, self._input_h, self._input_w, _ = self._model.input_shape

    @hookimpl
    def roadcam_detect(self, frame: Frame, geometry: RoadGeometry | None) -> list[Detection]:
        width, height = frame.size
        small = shrink(frame.image, (self._input_w, self._input_h))
        rgb = cv2.cvtColor(small, cv2.COLOR_BGR2RGB)
        output = self._model.run(rgb[None].astype(np.float32))[0][0]
        scale = (width / self._input_w * STRIDE, height / self._input_h * STRIDE)
        return [whole_detection(frame, box, kind, score, geometry, SOURCE)
                for kind, score, box in decode(output, self.config.min_score, scale, (width, height))]


def whole_detection(frame: Frame, box: tuple[float, float, float, float], kind: str, score: float,
                    geometry: RoadGeometry | None, source: str) -> Detection:
    """A road user found whole in ``frame`` (hidden parts included, as a learned detector
    reports it), with its ground point when ``geometry`` is given and its colour signature."""
    road_xy = ground_point(box, geometry) if geometry is not None else None
    return Detection(box=box, kind=kind, score=score, source=source, road_xy=road_xy, whole=True,
                     signature=colour_signature(frame.image, box))


def shrink(image: np.ndarray, size_px: tuple[int, int]) -> np.ndarray:
    """``image`` averaged down to ``size_px`` (width, height), as the training frames were.

    Halves it first while it stays at least twice the size (OpenCV's area resampling has a fast
    path for whole factors; 1920x1080 to 512x288 in one step costs twice as much), then takes
    the rest in one area step; the result differs from one direct step by half a grey level on
    average."""
    width, height = size_px
    while image.shape[1] >= 2 * width and image.shape[0] >= 2 * height:
        image = cv2.resize(image, (image.shape[1] // 2, image.shape[0] // 2), interpolation=cv2.INTER_AREA)
    return cv2.resize(image, size_px, interpolation=cv2.INTER_AREA)


def decode(output: np.ndarray, min_score: float, scale: tuple[float, float],
           frame_size: tuple[int, int]) -> list[tuple[str, float, tuple[float, float, float, float]]]:
    """(class, score, full-resolution box) of each peak in one model output (H, W, classes + 4:
    log width, log height, x offset, y offset in cells); ``scale`` turns cells into pixels."""
    classes = len(MODEL_CLASSES)
    heat = output[..., :classes]
    peaks = (heat >= min_score) & (heat == cv2.dilate(heat, np.ones((3, 3), np.uint8)))
    rows, columns, kinds = np.nonzero(peaks)
    if not len(rows):
        return []
    scores = heat[rows, columns, kinds]
    geometry = output[rows, columns, classes:classes + 4]
    centre_x = (columns + geometry[:, 2]) * scale[0]
    centre_y = (rows + geometry[:, 3]) * scale[1]
    half_w = np.exp(geometry[:, 0]) * scale[0] / 2
    half_h = np.exp(geometry[:, 1]) * scale[1] / 2
    width, height = frame_size
    boxes = np.stack([np.clip(centre_x - half_w, 0, width), np.clip(centre_y - half_h, 0, height),
                      np.clip(centre_x + half_w, 0, width), np.clip(centre_y + half_h, 0, height)], axis=1)
    found = []
    for index in _suppress(boxes, scores):
        box = tuple(float(v) for v in boxes[index])
        found.append((MODEL_CLASSES[kinds[index]], float(scores[index]), box))
    return found


def _suppress(boxes: np.ndarray, scores: np.ndarray) -> list[int]:
    """Indices kept by non-maximum suppression across classes (one object, one class),
    strongest first."""
    overlap = ious(boxes, boxes)
    kept: list[int] = []
    for index in np.argsort(-scores):
        if all(overlap[k, index] <= NMS_IOU for k in kept):
            kept.append(int(index))
    return kept
