"""The pinhole camera behind a road homography, so that objects with height can be projected.

A calibration gives only the road plane's homography H (road metres -> pixels). Assuming what
holds for nearly every camera (square pixels, no skew, principal point at the image centre),
H = s K [r1 r2 t] with K = diag(f, f, 1) about the centre, and the two conditions r1 . r2 = 0,
|r1| = |r2| fix the focal length f; the rotation and position follow (Zhang's method with one
view and known principal point). Numpy only.
"""

from __future__ import annotations

import numpy as np

from roadcam.appliance.geometry import RoadGeometry


class PinholeView:
    """Projects road points with height, (x, y, z) in metres with z up from the road, to pixels."""

    def __init__(self, projection: np.ndarray):
        self.projection = projection

    @classmethod
    def from_geometry(cls, geometry: RoadGeometry, frame_size: tuple[int, int]) -> PinholeView | None:
        """The camera of ``geometry`` for frames of ``frame_size`` (width, height) px, or None
        when the homography does not determine one (e.g. a camera looking straight down)."""
        width, height = frame_size
        centre_shift = np.array([[1.0, 0.0, -width / 2], [0.0, 1.0, -height / 2], [0.0, 0.0, 1.0]])
        g = centre_shift @ geometry.road_to_image
        g1, g2 = g[:, 0], g[:, 1]
        # Unknown w = 1 / f²; each condition is linear in it: a * w + b = 0.
        a = np.array([g1[0] * g2[0] + g1[1] * g2[1], g1[0] ** 2 + g1[1] ** 2 - g2[0] ** 2 - g2[1] ** 2])
        b = np.array([g1[2] * g2[2], g1[2] ** 2 - g2[2] ** 2])
        if float(a @ a) < 1e-18:
            return None
        inverse_f2 = -float(a @ b) / float(a @ a)
        if inverse_f2 <= 0:
            return None
        focal = 1.0 / np.sqrt(inverse_f2)
        intrinsics = np.array([[focal, 0.0, width / 2], [0.0, focal, height / 2], [0.0, 0.0, 1.0]])
        columns = np.diag([1 / focal, 1 / focal, 1.0]) @ g
        scale = (np.linalg.norm(columns[:, 0]) + np.linalg.norm(columns[:, 1])) / 2
        r1, r2, t = (columns / scale).T
        visible_ground = geometry.to_road([(width / 2, height - 1)])[0]
        if (r1 * visible_ground[0] + r2 * visible_ground[1] + t)[2] < 0:
            r1, r2, t = -r1, -r2, -t
        rotation = _nearest_rotation(np.column_stack([r1, r2, np.cross(r1, r2)]))
        camera_height = -(rotation.T @ t)[2]
        if camera_height < 0:
            rotation[:, 2] = -rotation[:, 2]
        return cls(intrinsics @ np.column_stack([rotation, t]))

    def project(self, points_xyz) -> np.ndarray:
        """Road points (..., 3) to pixels (..., 2). Points must be in front of the camera."""
        points = np.asarray(points_xyz, dtype=float)
        homogeneous = points @ self.projection[:, :3].T + self.projection[:, 3]
        return homogeneous[..., :2] / homogeneous[..., 2:3]


def _nearest_rotation(matrix: np.ndarray) -> np.ndarray:
    u, _, vt = np.linalg.svd(matrix)
    rotation = u @ vt
    if np.linalg.det(rotation) < 0:
        rotation = u @ np.diag([1.0, 1.0, -1.0]) @ vt
    return rotation
