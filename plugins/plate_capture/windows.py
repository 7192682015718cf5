"""Which squares of an image the plate detector looks at, and how they map onto its input.

The detector's model takes one fixed square (e.g. 256x256 grey). A vehicle region is framed
whole in one square (with a margin, aspect kept, padded); a full scene is scaled down to a
working size and cut into overlapping squares. Training uses the same windows, so the model
sees plates at the scales the runtime shows it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

#: Fraction of a vehicle region's larger side added around it: the tracker's box may cut the plate.
REGION_MARGIN = 0.1
#: Overlap between neighbouring scene tiles, in model-input pixels (a plate fits in it whole).
TILE_OVERLAP_PX = 64
#: Grey level of the input outside the image.
PAD_LEVEL = 0


@dataclass(frozen=True)
class Window:
    """A square of the source image of side ``side_px / scale`` at (``x0``, ``y0``), shown on the
    model input at ``scale`` input pixels per source pixel."""

    x0: float
    y0: float
    scale: float

    def cut(self, grey: np.ndarray, side_px: int) -> np.ndarray:
        """The ``side_px`` square the model sees: the window resampled, padded where it leaves
        the image."""
        x1, y1, x2, y2 = self.source_box(side_px, grey.shape[1], grey.shape[0])
        canvas = np.full((side_px, side_px), PAD_LEVEL, np.uint8)
        if x2 <= x1 or y2 <= y1:
            return canvas
        left, top = int(round((x1 - self.x0) * self.scale)), int(round((y1 - self.y0) * self.scale))
        out_w = min(max(int(round((x2 - x1) * self.scale)), 1), side_px - left)
        out_h = min(max(int(round((y2 - y1) * self.scale)), 1), side_px - top)
        interpolation = cv2.INTER_AREA if self.scale < 1 else cv2.INTER_LINEAR
        canvas[top:top + out_h, left:left + out_w] = cv2.resize(grey[y1:y2, x1:x2], (out_w, out_h),
                                                                interpolation=interpolation)
        return canvas

    def source_box(self, side_px: int, width_px: int, height_px: int) -> tuple[int, int, int, int]:
        """Whole source pixels (x1, y1, x2, y2) the window covers inside a ``width_px`` x
        ``height_px`` image (empty when it lies outside)."""
        span = side_px / self.scale
        x1, y1 = max(int(math.ceil(self.x0)), 0), max(int(math.ceil(self.y0)), 0)
        x2, y2 = min(int(math.floor(self.x0 + span)), width_px), min(int(math.floor(self.y0 + span)), height_px)
        return x1, y1, x2, y2

    def shifted(self, dx_px: float, dy_px: float) -> Window:
        """The same window in an image whose origin is at (-``dx_px``, -``dy_px``) of this one's
        (e.g. a crop starting at (``-dx_px``, ``-dy_px``))."""
        return Window(self.x0 + dx_px, self.y0 + dy_px, self.scale)

    def to_source(self, boxes_px: np.ndarray) -> np.ndarray:
        """Boxes (N, 4) in input pixels as source-image pixels."""
        return boxes_px / self.scale + np.array([self.x0, self.y0, self.x0, self.y0])

    def to_input(self, boxes_px: np.ndarray) -> np.ndarray:
        """Boxes (N, 4) in source-image pixels as input pixels."""
        return (boxes_px - np.array([self.x0, self.y0, self.x0, self.y0])) * self.scale


def region_window(region: tuple[float, float, float, float], side_px: int,
                  margin: float = REGION_MARGIN) -> Window:
    """The square centred on ``region`` (x1, y1, x2, y2) holding it whole plus ``margin`` of its
    larger side on every side."""
    x1, y1, x2, y2 = (float(value) for value in region)
    span = max(x2 - x1, y2 - y1) * (1 + 2 * margin)
    return Window((x1 + x2 - span) / 2, (y1 + y2 - span) / 2, side_px / span)


def scene_windows(width_px: int, height_px: int, side_px: int, long_side_px: int) -> list[Window]:
    """Tiles covering a whole ``width_px`` x ``height_px`` scene scaled so its longer side is at
    most ``long_side_px``, overlapping by :data:`TILE_OVERLAP_PX` input pixels. A scene that fits
    in one square after scaling is one (padded) window."""
    scale = min(1.0, long_side_px / max(width_px, height_px))
    xs = _tile_starts(width_px * scale, side_px)
    ys = _tile_starts(height_px * scale, side_px)
    return [Window(x / scale, y / scale, scale) for y in ys for x in xs]


def _tile_starts(length_px: float, side_px: int) -> list[float]:
    """Evenly spread starts of tiles of ``side_px`` covering ``length_px`` with at least the
    overlap between neighbours."""
    if length_px <= side_px:
        return [0.0]
    count = math.ceil((length_px - TILE_OVERLAP_PX) / (side_px - TILE_OVERLAP_PX))
    return list(np.linspace(0.0, length_px - side_px, count))
