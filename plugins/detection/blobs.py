"""From a foreground mask to blobs: morphology, outer outlines, boxes."""

from __future__ import annotations

import cv2
import numpy as np


class BlobFinder:
    """Cleans foreground masks, finds their blobs' outlines and scales boxes to full resolution.

    Blobs are found as outer contours (``cv2.findContours``), several times cheaper than
    labelling connected components, and the outline is what the ghost test looks at.
    """

    def __init__(self, *, close_px: int, min_box_area_px: int):
        self._open_kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3))
        self._close_kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (close_px, close_px))
        self._min_box_area_px = min_box_area_px

    def clean(self, mask: np.ndarray) -> np.ndarray:
        """Drop speckle (opening), then join a vehicle's parts and fill its holes (closing)."""
        opened = cv2.morphologyEx(mask, cv2.MORPH_OPEN, self._open_kernel)
        return cv2.morphologyEx(opened, cv2.MORPH_CLOSE, self._close_kernel)

    def outlines(self, mask: np.ndarray, scale: tuple[float, float]) -> list[np.ndarray]:
        """Outer outlines (N x 2 int arrays of x, y working pixels, every boundary pixel) of the
        blobs whose box is at least the configured area at full resolution (``scale`` = (sx,
        sy) from working to full pixels)."""
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        sx, sy = scale
        kept = []
        for contour in contours:
            _, _, w, h = cv2.boundingRect(contour)
            if w * sx * h * sy >= self._min_box_area_px:
                kept.append(contour.reshape(-1, 2))
        return kept

    @staticmethod
    def box(outline: np.ndarray, scale: tuple[float, float]) -> tuple[float, float, float, float]:
        """The outline's box (x1, y1, x2, y2) in full-resolution pixels."""
        sx, sy = scale
        x1, y1 = outline.min(axis=0)
        x2, y2 = outline.max(axis=0) + 1
        return float(x1 * sx), float(y1 * sy), float(x2 * sx), float(y2 * sy)

    @staticmethod
    def fill(shape: tuple[int, int], outlines: list[np.ndarray]) -> np.ndarray:
        """A uint8 mask with the given outlines filled."""
        mask = np.zeros(shape, np.uint8)
        cv2.drawContours(mask, [o.reshape(-1, 1, 2) for o in outlines], -1, 255, thickness=cv2.FILLED)
        return mask
