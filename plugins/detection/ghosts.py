"""Ghosts: blobs left where something that stood still long enough to be learnt has gone.

When a vehicle that was part of the background (it stood there while the model started, or was
parked for a long time) drives off, the road it uncovers differs from the model: a blob with no
object in it. Its outline tells it apart from a real object: along a real object's outline the
*frame* has strong edges (the object's silhouette) and the background has only road texture;
along a ghost's outline the *background* has the edges (the departed object's silhouette) and
the frame shows plain road. Edges are measured only at the outline's pixels.

Only still blobs are judged: a ghost does not move, while a moving object's outline changes
from one moment to the next, so a moving vehicle on busy road texture is never taken for one.
"""

from __future__ import annotations

import numpy as np

#: Share of a blob's outline pixels that may change between the frame and the still reference
#: for the blob to count as still.
STILL_CHANGE_SHARE = 0.05


def is_ghost(outline: np.ndarray, frame: np.ndarray, background: np.ndarray, still_reference: np.ndarray,
             edge_ratio: float, min_difference: float) -> bool:
    """True when the blob with ``outline`` (N x 2 x, y working pixels) is still (its outline
    pixels differ from ``still_reference``, an earlier frame, by more than ``min_difference``
    in at most STILL_CHANGE_SHARE of them) and the background's edges along the outline are
    ``edge_ratio`` times stronger than the frame's. Images are BGR float. Outline pixels on the
    frame's border (where an object is cut off, not outlined) are left out."""
    height, width = frame.shape[:2]
    x, y = outline[:, 0], outline[:, 1]
    inner = outline[(x > 0) & (y > 0) & (x < width - 1) & (y < height - 1)]
    if not len(inner):
        return False
    change = np.abs(frame[inner[:, 1], inner[:, 0]] - still_reference[inner[:, 1], inner[:, 0]]).sum(axis=1)
    if np.count_nonzero(change > min_difference) > STILL_CHANGE_SHARE * len(inner):
        return False
    return _edge_sum(inner, background) > edge_ratio * _edge_sum(inner, frame)


def _edge_sum(outline: np.ndarray, image: np.ndarray) -> float:
    """Sum over the outline and the colour channels of |d/dx| + |d/dy| (central differences),
    so that a change of colour counts as much as a change of brightness."""
    x, y = outline[:, 0], outline[:, 1]
    across = image[y, x + 1] - image[y, x - 1]
    along = image[y + 1, x] - image[y - 1, x]
    return float(np.abs(across).sum() + np.abs(along).sum())
