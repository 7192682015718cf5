"""Image-to-road geometry: a planar homography from calibration point pairs.

Numpy only (the core imports no vision library). The road plane is in metres, x across the
road and y along it, as drawn by the technician at calibration.
"""

from __future__ import annotations

import numpy as np


class RoadGeometry:
    """Maps image pixels to road-plane metres and back for one camera."""

    def __init__(self, image_points, road_points):
        image = np.asarray(image_points, dtype=float)
        road = np.asarray(road_points, dtype=float)
        if image.shape != road.shape or image.ndim != 2 or image.shape[1] != 2 or len(image) < 4:
            raise ValueError("calibration needs at least 4 matching image and road points (x, y)")
        self.image_to_road = _fit_homography(image, road)
        self.road_to_image = np.linalg.inv(self.image_to_road)

    def to_road(self, points) -> np.ndarray:
        """Image pixels (N x 2) to road metres (N x 2)."""
        return _apply(self.image_to_road, points)

    def to_image(self, points) -> np.ndarray:
        """Road metres (N x 2) to image pixels (N x 2)."""
        return _apply(self.road_to_image, points)


def _fit_homography(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Direct linear transform with Hartley normalisation; least squares for more than 4 pairs."""
    src_n, src_t = _normalise(src)
    dst_n, dst_t = _normalise(dst)
    rows = []
    for (x, y), (u, v) in zip(src_n, dst_n):
        rows.append([-x, -y, -1, 0, 0, 0, u * x, u * y, u])
        rows.append([0, 0, 0, -x, -y, -1, v * x, v * y, v])
    _, singular, vt = np.linalg.svd(np.asarray(rows))
    if singular[-2] < 1e-9:
        raise ValueError("calibration points are degenerate (three or more on one line?)")
    h = vt[-1].reshape(3, 3)
    h = np.linalg.inv(dst_t) @ h @ src_t
    return h / h[2, 2]


def _normalise(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    centre = points.mean(axis=0)
    scale = np.sqrt(2) / max(np.mean(np.linalg.norm(points - centre, axis=1)), 1e-12)
    t = np.array([[scale, 0, -scale * centre[0]], [0, scale, -scale * centre[1]], [0, 0, 1]])
    return _apply(t, points), t


def _apply(h: np.ndarray, points) -> np.ndarray:
    pts = np.asarray(points, dtype=float).reshape(-1, 2)
    homog = np.hstack([pts, np.ones((len(pts), 1))]) @ h.T
    return homog[:, :2] / homog[:, 2:3]
