"""Classes by fitting each class's typical box (width x length x height) to a blob.

For a calibrated camera whose pinhole model is known (:mod:`roadcam.plugins.detection.pinhole`), each
class's cuboid is stood on the road, heading along the road (y) or across it (x), and moved
until the bottom-centre of its image box sits on the blob's bottom-centre (a few fixed-point
steps through the road homography). The hypothesis whose image box has the blob's width and
height (smallest sum of absolute log ratios) wins. Unlike a flat footprint this accounts for
height, so a tall pedestrian or bus is not mistaken for a long one. Numpy only.
"""

from __future__ import annotations

import math

import numpy as np

from roadcam.appliance.geometry import RoadGeometry

from .classify import best_class
from .config import ClassSize
from .pinhole import PinholeView

#: Fixed-point steps that align a hypothesis's box bottom with the blob's.
PLACEMENT_STEPS = 3
#: Unit cuboid corners (x, y, z) in half-extents, z from 0 (road) to 1 (top).
_CORNERS = np.array([(sx, sy, sz) for sx in (-1, 1) for sy in (-1, 1) for sz in (0, 1)], dtype=float)


class CuboidClassifier:
    """Classifies image boxes of one calibrated camera by fitting class cuboids."""

    def __init__(self, view: PinholeView, geometry: RoadGeometry, class_sizes: dict[str, ClassSize],
                 frame_size: tuple[int, int]):
        self._view = view
        self._geometry = geometry
        self._frame = np.array([0.0, 0.0, *frame_size])
        kinds, extents = [], []
        for kind, size in class_sizes.items():
            headings = [(size.width_m, size.length_m)]
            if size.width_m != size.length_m:
                headings.append((size.length_m, size.width_m))
            for across_m, along_m in headings:
                kinds.append(kind)
                extents.append((across_m / 2, along_m / 2, size.height_m))
        self._kinds = kinds
        self._extents = np.array(extents)
        self._sizes = [(class_sizes[k].width_m, class_sizes[k].length_m) for k in kinds]
        matrix, column = view.projection[:, :3], view.projection[:, 3]
        self._camera_xy = (-np.linalg.solve(matrix, column))[:2]

    def classify(self, box: tuple[float, float, float, float]) -> tuple[str, float, tuple[float, float]]:
        """(kind, score in [0, 1], footprint (width, length) in metres) for one image box.

        The misfit of a hypothesis is the sum of absolute log ratios of the blob's box width and
        height to its image box's; the score is :func:`best_class`'s. The footprint is the
        winning class's, scaled by how much larger or smaller the blob looks than its box.
        """
        target = np.asarray(box, dtype=float)
        fitted = _clip(self._fit(target), self._frame)
        width_ratio = np.log(max(target[2] - target[0], 1.0) / np.maximum(fitted[:, 2] - fitted[:, 0], 1.0))
        height_ratio = np.log(max(target[3] - target[1], 1.0) / np.maximum(fitted[:, 3] - fitted[:, 1], 1.0))
        misfit = np.abs(width_ratio) + np.abs(height_ratio)
        best = int(np.argmin(misfit))
        per_class: dict[str, float] = {}
        for kind, value in zip(self._kinds, misfit.tolist()):
            per_class[kind] = min(value, per_class.get(kind, math.inf))
        kind, score = best_class(per_class)
        scale = math.exp((width_ratio[best] + height_ratio[best]) / 2)
        width_m, length_m = self._sizes[best]
        return kind, score, (width_m * scale, length_m * scale)

    def _fit(self, target: np.ndarray) -> np.ndarray:
        """Image boxes (hypotheses x 4) of every hypothesis placed under the target's bottom."""
        bottom = np.array([(target[0] + target[2]) / 2, target[3]])
        ground = self._geometry.to_road(bottom)[0]
        away = ground - self._camera_xy
        away /= max(np.linalg.norm(away), 1e-6)
        reach = np.abs(self._extents[:, 0] * away[0]) + np.abs(self._extents[:, 1] * away[1])
        centres = ground + reach[:, None] * away
        for _ in range(PLACEMENT_STEPS):
            boxes = self._project(centres)
            bottoms = np.column_stack([(boxes[:, 0] + boxes[:, 2]) / 2, boxes[:, 3]])
            centres = centres + ground - self._geometry.to_road(bottoms)
        return self._project(centres)

    def _project(self, centres: np.ndarray) -> np.ndarray:
        corners = _CORNERS[None, :, :] * self._extents[:, None, :]
        corners[:, :, :2] += centres[:, None, :]
        pixels = self._view.project(corners)
        return np.concatenate([pixels.min(axis=1), pixels.max(axis=1)], axis=1)


def _clip(boxes: np.ndarray, frame: np.ndarray) -> np.ndarray:
    return np.column_stack([np.clip(boxes[:, 0], frame[0], frame[2]), np.clip(boxes[:, 1], frame[1], frame[3]),
                            np.clip(boxes[:, 2], frame[0], frame[2]), np.clip(boxes[:, 3], frame[1], frame[3])])
