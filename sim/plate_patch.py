"""Plate images: the plate's text drawn with cv2.putText on a plate-sized patch.

Each vehicle's patch is drawn once, with a few halvings, so the renderer warps the level
closest to the size the plate has in the frame (a cheap mip-map: no aliasing when far).
Scooter plates are drawn in two rows, as issued.
"""

from __future__ import annotations

import cv2
import numpy as np

#: Patch resolution: pixels per metre of plate.
PIXELS_PER_M = 600
_BACKGROUND = (236, 238, 238)
_TEXT_BY_KIND = {"car": (20, 20, 20), "scooter": (20, 20, 20), "truck": (40, 110, 20), "bus": (30, 30, 190)}
_MIN_LEVEL_PX = 12


def plate_patches(text: str, kind: str, size_m: tuple[float, float]) -> list[np.ndarray]:
    """The plate image at full resolution and successive halvings down to ~12 px wide."""
    width = int(round(size_m[0] * PIXELS_PER_M))
    height = int(round(size_m[1] * PIXELS_PER_M))
    patch = np.empty((height, width, 3), np.uint8)
    patch[:] = _BACKGROUND
    colour = _TEXT_BY_KIND[kind]
    cv2.rectangle(patch, (2, 2), (width - 3, height - 3), colour, max(2, height // 40), cv2.LINE_AA)
    rows = text.split("-") if kind == "scooter" else [text]
    row_height = (height - 0.16 * height) / len(rows)
    for index, row in enumerate(rows):
        top = 0.08 * height + index * row_height
        _draw_fitted(patch, row, (0.07 * width, top + 0.1 * row_height, 0.86 * width, 0.8 * row_height), colour)
    levels = [patch]
    while levels[-1].shape[1] // 2 >= _MIN_LEVEL_PX:
        levels.append(cv2.resize(levels[-1], (levels[-1].shape[1] // 2, levels[-1].shape[0] // 2),
                                 interpolation=cv2.INTER_AREA))
    return levels


def _draw_fitted(patch: np.ndarray, text: str, box: tuple[float, float, float, float], colour) -> None:
    """Draw ``text`` stretched to fill ``box`` (x, y, w, h): condensed like a plate's typeface."""
    font, thickness = cv2.FONT_HERSHEY_DUPLEX, 3
    (text_w, text_h), baseline = cv2.getTextSize(text, font, 2.0, thickness)
    canvas = np.zeros((text_h + baseline + 8, text_w + 8), np.uint8)
    cv2.putText(canvas, text, (4, text_h + 4), font, 2.0, 255, thickness, cv2.LINE_AA)
    canvas = canvas[: text_h + 8]
    x, y, w, h = (int(round(v)) for v in box)
    mask = cv2.resize(canvas, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32)[..., None] / 255.0
    region = patch[y:y + h, x:x + w].astype(np.float32)
    patch[y:y + h, x:x + w] = (region * (1 - mask) + np.asarray(colour, np.float32) * mask).astype(np.uint8)
