"""Arithmetic on image boxes (x1, y1, x2, y2) in pixels, vectorised with numpy."""

from __future__ import annotations

import numpy as np


def as_boxes(boxes) -> np.ndarray:
    """Any sequence of boxes as an (N, 4) float array."""
    return np.asarray(boxes, dtype=float).reshape(-1, 4)


def areas(boxes: np.ndarray) -> np.ndarray:
    return np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)


def intersections(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Overlap areas, (len(a), len(b))."""
    width = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    height = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    return np.clip(width, 0, None) * np.clip(height, 0, None)


def ious(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union, (len(a), len(b))."""
    overlap = intersections(a, b)
    union = areas(a)[:, None] + areas(b)[None, :] - overlap
    return np.divide(overlap, union, out=np.zeros_like(overlap), where=union > 0)


def covered(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Fraction of each box of ``a`` that lies inside each box of ``b``, (len(a), len(b))."""
    area = areas(a)[:, None]
    overlap = intersections(a, b)
    return np.divide(overlap, area, out=np.zeros_like(overlap), where=area > 0)


def union_box(boxes: np.ndarray) -> np.ndarray:
    """The smallest box holding all of ``boxes``."""
    return np.concatenate([boxes[:, :2].min(axis=0), boxes[:, 2:].max(axis=0)])


def shift_inside(box: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """``box`` moved (not resized) the least distance that puts it inside ``bounds``, centred on
    an axis where it is larger than ``bounds``."""
    moved = box.astype(float).copy()
    for low, high in ((0, 2), (1, 3)):
        size, room = box[high] - box[low], bounds[high] - bounds[low]
        if size >= room:
            start = bounds[low] - (size - room) / 2
        else:
            start = min(max(box[low], bounds[low]), bounds[high] - size)
        moved[low], moved[high] = start, start + size
    return moved


def to_centre_size(box) -> np.ndarray:
    """(x1, y1, x2, y2) to (cx, cy, w, h)."""
    x1, y1, x2, y2 = box
    return np.array([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], dtype=float)


def from_centre_size(centre_size) -> np.ndarray:
    """(cx, cy, w, h) to (x1, y1, x2, y2); sizes below one pixel are raised to one pixel."""
    cx, cy, w, h = centre_size
    w, h = max(w, 1.0), max(h, 1.0)
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])
