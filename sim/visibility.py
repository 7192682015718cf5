"""How much of each object the camera really sees: clipped by the image edge and hidden by
nearer objects. Boxes stand in for silhouettes, so this slightly overstates hiding."""

from __future__ import annotations

import numpy as np

_GRID = 8


def visible_fractions(boxes: dict[int, tuple], far_to_near: list[int]) -> dict[int, tuple]:
    """Boxes ``(x1, y1, x2, y2, clip_fraction)`` with the last value replaced by the fraction
    of the object visible after nearer objects' boxes cover it."""
    out = {}
    order = [object_id for object_id in far_to_near if object_id in boxes]
    for rank, object_id in enumerate(order):
        x1, y1, x2, y2, clip_fraction = boxes[object_id]
        nearer = np.array([boxes[other][:4] for other in order[rank + 1:]])
        if len(nearer):
            xs = np.linspace(x1, x2, _GRID)
            ys = np.linspace(y1, y2, _GRID)
            px, py = (grid.ravel() for grid in np.meshgrid(xs, ys))
            covered = ((px[:, None] >= nearer[None, :, 0]) & (px[:, None] <= nearer[None, :, 2])
                       & (py[:, None] >= nearer[None, :, 1]) & (py[:, None] <= nearer[None, :, 3])).any(axis=1)
            clip_fraction *= 1.0 - covered.mean()
        out[object_id] = (x1, y1, x2, y2, round(float(clip_fraction), 4))
    return out
