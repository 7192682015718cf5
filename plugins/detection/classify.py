"""Classes from size where no camera model is available, and the road point of a blob.

Two fallbacks for :mod:`roadcam.plugins.detection.cuboids`, which needs a pinhole model:

- a calibrated camera whose homography fixes no pinhole model (one looking straight down) sees
  footprints nearly flat: the blob's width is its bottom edge projected to the road, its length
  the road distance from the projected bottom-centre to the projected top-centre, compared with
  each class's (width, length) whichever way round the object lies;
- an uncalibrated camera gives only pixels: the box's width and height are turned into metres
  with one fixed scale (``uncalibrated_px_per_m``, ignoring perspective: far objects look small)
  and compared with each class's (width, height). Those classes are rough guesses, and no road
  point or size is reported.
"""

from __future__ import annotations

import math

import numpy as np

from roadcam.appliance.geometry import RoadGeometry

#: Measured sizes are clamped to this range (metres) before comparing, so that an infinite
#: length still picks the longest class.
SIZE_RANGE_M = (1e-3, 1e3)
#: A lead in misfit over the runner-up class (log size ratio) that makes a vote count ~63 %.
CLEAR_MARGIN = 0.1


def ground_point(box: tuple[float, float, float, float], geometry: RoadGeometry) -> tuple[float, float]:
    """Where the object touches the road: the bottom-centre of its box, on the road plane."""
    x, y = geometry.to_road([((box[0] + box[2]) / 2, box[3])])[0]
    return float(x), float(y)


def flat_footprint(box: tuple[float, float, float, float], geometry: RoadGeometry) -> tuple[float, float]:
    """(width, length) in metres of a box taken as lying flat on the road. A top edge at or
    beyond the horizon gives an infinite length."""
    x1, y1, x2, y2 = box
    centre_x = (x1 + x2) / 2
    corners = np.array([[x1, y2], [x2, y2], [centre_x, y2], [centre_x, y1]])
    road = geometry.to_road(corners)
    homogeneous = np.hstack([corners, np.ones((4, 1))]) @ geometry.image_to_road.T
    same_side = np.sign(homogeneous[3, 2]) == np.sign(homogeneous[2, 2])
    length_m = float(np.linalg.norm(road[3] - road[2])) if same_side else math.inf
    return float(np.linalg.norm(road[1] - road[0])), length_m


def nearest_class(measured_m: tuple[float, float], typical_m: dict[str, tuple[float, float]],
                  either_way: bool = False) -> tuple[str, float]:
    """The class whose typical pair of sizes is nearest to the measured pair (sum of absolute
    log ratios) and its score (see :func:`best_class`). With ``either_way`` the pairs are
    compared smaller-to-smaller (an object lying across the road)."""
    def ordered(pair):
        return tuple(sorted(pair)) if either_way else tuple(pair)

    measured = ordered(measured_m)
    misfits = {kind: sum(abs(_log_ratio(m, t)) for m, t in zip(measured, ordered(typical)))
               for kind, typical in typical_m.items()}
    return best_class(misfits)


def best_class(misfits: dict[str, float]) -> tuple[str, float]:
    """The class with the smallest misfit (sum of absolute log size ratios) and a score in
    [0, 1] for the tracker's vote: exp(-misfit) (1 for an exact fit, about 0.5 at twice the
    size on one axis) times how clearly it beats the runner-up, so that a blob that fits two
    classes about equally (a bus or a truck far away) hardly votes."""
    ranked = sorted(misfits.items(), key=lambda item: item[1])
    kind, misfit = ranked[0]
    margin = ranked[1][1] - misfit if len(ranked) > 1 else math.inf
    return kind, math.exp(-misfit) * (1.0 - math.exp(-margin / CLEAR_MARGIN))


def _log_ratio(measured: float, typical: float) -> float:
    return math.log(min(max(measured, SIZE_RANGE_M[0]), SIZE_RANGE_M[1]) / typical)
