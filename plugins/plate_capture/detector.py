"""The plate detector: where the licence plates are in a vehicle region or a whole scene.

The model (``models/plate_detector.tflite``, trained by ``tools/plates/train_detector.py``) is
fully convolutional, CenterNet style: on a grey square it outputs, every :data:`STRIDE_PX`
input pixels, a plate-centre score and the plate's sub-cell offset and log size. A plate is a
local maximum of the score above ``score_floor``; overlapping boxes from neighbouring tiles are
merged by non-maximum suppression. Only numpy, cv2 and :mod:`roadcam.appliance.inference` are used.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from roadcam.appliance.boxes import ious
from roadcam.appliance.inference import load_model
from roadcam.common.errors import ImageInvalid, ModelInvalid

from .calibration import DEFAULT_CALIBRATION, ScoreCalibration
from .windows import Window, region_window, scene_windows

#: The model shipped with roadcam.
DEFAULT_MODEL = Path(__file__).with_name("models") / "plate_detector.tflite"
#: Input pixels per output cell.
STRIDE_PX = 4
#: Boxes overlapping a stronger one by more than this are the same plate.
NMS_IOU = 0.3


@dataclass(frozen=True)
class PlateBox:
    """A detected plate: its axis-aligned box in the image's pixels, the model's score (0-1) and,
    when the detector has a calibration table for its model, the probability that the box is a
    whole plate (:mod:`.calibration`; None without one)."""

    x1: float
    y1: float
    x2: float
    y2: float
    score: float
    probability: float | None = None

    @property
    def box(self) -> tuple[float, float, float, float]:
        return self.x1, self.y1, self.x2, self.y2


class PlateDetector:
    """Finds plates with the TFLite plate detector.

    ``detect(image, region)`` looks at one vehicle region (x1, y1, x2, y2) framed whole in the
    model's input; without a region it looks at the whole scene, scaled so its longer side is
    at most ``scene_long_side_px`` and tiled (a value equal to the model's input side gives a
    single downscaled view: faster, blind to small plates), and once more scaled to a longer
    side of ``coarse_long_side_px`` when that is smaller (None: not), where plates too large for
    the model at the first scale are found whole. On the real training scenes of
    ``tools/data/real_sets.py`` (ro-plates, 468 frames, 569 plates) the coarse pass at 384 px took
    whole-plate recall from 56.2 % to 62.7 % and false boxes from 5.3 to 6.4 a frame, for about
    30 % more time.

    ``calibration``: the score-to-probability table (:mod:`.calibration`); default: the one
    shipped beside the shipped model. A table fitted for another model is not used.
    """

    def __init__(self, model_path: str | Path | None = None, threads: int = 1, score_floor: float = 0.3,
                 scene_long_side_px: int = 768, coarse_long_side_px: int | None = 384,
                 calibration: str | Path | None = None):
        self.model = load_model(model_path or DEFAULT_MODEL, threads=threads)
        table_path = calibration or DEFAULT_CALIBRATION
        table = ScoreCalibration.load(table_path) if calibration or table_path.is_file() else None
        self.calibration = table if table is not None and table.fits(self.model.path) else None
        shape = self.model.input_shape
        if len(shape) != 4 or shape[1] != shape[2] or shape[3] != 1:
            raise ModelInvalid(f"{self.model.path} takes {shape}, not one grey square: it is not a plate "
                               "detector; point the plate detector at plate_detector.tflite")
        self.side_px = shape[1]
        self.score_floor = score_floor
        self.scene_long_side_px = scene_long_side_px
        self.coarse_long_side_px = coarse_long_side_px

    def detect(self, image_bgr: np.ndarray, region: tuple[float, float, float, float] | None = None,
               score_floor: float | None = None) -> list[PlateBox]:
        """Plates in ``image_bgr`` (BGR or grey uint8), strongest first, in its pixel coordinates.
        With ``region`` only plates inside that box (plus a margin) are looked for.
        ``score_floor``: the least score of a box kept, for this call (default: the detector's)."""
        check_image(image_bgr)
        height, width = image_bgr.shape[:2]
        if region is None:
            grey, origin = as_grey(image_bgr), (0, 0)
            windows = scene_windows(width, height, self.side_px, self.scene_long_side_px)
            if self.coarse_long_side_px is not None and self.coarse_long_side_px < self.scene_long_side_px:
                windows += scene_windows(width, height, self.side_px, self.coarse_long_side_px)
        else:
            window = region_window(_checked_region(region, width, height), self.side_px)
            x1, y1, x2, y2 = window.source_box(self.side_px, width, height)
            grey, origin = as_grey(image_bgr[y1:y2, x1:x2]), (x1, y1)
            windows = [window.shifted(-x1, -y1)]
        floor = self.score_floor if score_floor is None else score_floor
        found = [self._detect_in(grey, window, floor) for window in windows]
        boxes = np.concatenate([boxes for boxes, _ in found]) + np.array([*origin, *origin])
        scores = np.concatenate([scores for _, scores in found])
        keep = _non_max_suppression(boxes, scores)
        probabilities = (self.calibration.probability(scores) if self.calibration is not None
                         else [None] * len(scores))
        return [PlateBox(*(float(v) for v in np.clip(boxes[i], 0, [width, height, width, height])),
                         float(scores[i]), None if probabilities[i] is None else float(probabilities[i]))
                for i in keep]

    def _detect_in(self, grey: np.ndarray, window: Window, score_floor: float) -> tuple[np.ndarray, np.ndarray]:
        square = window.cut(grey, self.side_px).astype(np.float32)
        output = self.model.run(square[None, :, :, None])[0][0]
        boxes, scores = decode_output(output, score_floor)
        return window.to_source(boxes), scores


def decode_output(output: np.ndarray, score_floor: float) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (N, 4) in input pixels and their scores from one output map (cells, cells, 5):
    centre score, x and y offset in cells, log width and log height in cells."""
    heat = output[..., 0]
    peaks = (heat >= score_floor) & (heat >= cv2.dilate(heat, np.ones((3, 3), np.uint8)))
    rows, cols = np.nonzero(peaks)
    cells = output[rows, cols]
    centre_x = (cols + cells[:, 1]) * STRIDE_PX
    centre_y = (rows + cells[:, 2]) * STRIDE_PX
    half_w = np.exp(cells[:, 3]) * STRIDE_PX / 2
    half_h = np.exp(cells[:, 4]) * STRIDE_PX / 2
    boxes = np.stack([centre_x - half_w, centre_y - half_h, centre_x + half_w, centre_y + half_h], axis=1)
    return boxes.reshape(-1, 4), cells[:, 0].astype(np.float64)


def as_grey(image: np.ndarray) -> np.ndarray:
    """A BGR or grey uint8 picture as one grey channel; ImageInvalid for anything else."""
    check_image(image)
    if image.ndim == 2:
        return image
    if image.shape[2] == 1:
        return image[:, :, 0]
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def check_image(image: np.ndarray) -> None:
    """ImageInvalid unless ``image`` is a non-empty 8-bit grey or BGR picture."""
    if not isinstance(image, np.ndarray):
        raise ImageInvalid(f"expected an image array, got {type(image).__name__}: the image file is "
                           "missing, corrupt or truncated")
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or image.size == 0:
        raise ImageInvalid(f"expected an 8-bit grey or BGR image, got {image.dtype} shaped {image.shape}")
    if image.ndim == 3 and image.shape[2] not in (1, 3):
        raise ImageInvalid(f"expected 1 or 3 colour channels, got {image.shape[2]}")


def _checked_region(region, width: int, height: int) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = (float(value) for value in region)
    if not (x2 > x1 and y2 > y1 and x2 > 0 and y2 > 0 and x1 < width and y1 < height):
        raise ValueError(f"region {region} is empty or outside the {width}x{height} image")
    return x1, y1, x2, y2


def _non_max_suppression(boxes: np.ndarray, scores: np.ndarray) -> list[int]:
    """Indices of the boxes kept, strongest first: each drops the weaker boxes overlapping it."""
    order = list(np.argsort(-scores, kind="stable"))
    overlaps = ious(boxes, boxes)
    kept = []
    for index in order:
        if all(overlaps[index, other] <= NMS_IOU for other in kept):
            kept.append(index)
    return kept
