"""A pinhole camera on a pole: intrinsics, pose, projection and the road-plane homography.

Road frame (see :mod:`roadcam.sim.layout`): x across the road from the kerb, y along it (growing
upstream, against the traffic), z up, all in metres. The camera frame is OpenCV's: x right,
y down, z forward. ``P = K [R | -R C]``; on the road plane (z = 0) it reduces to the 3x3
homography ``K [r1 r2 -R C]`` that a technician's calibration recovers from point pairs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SimCameraPose:
    """Where the simulated camera stands and how it looks.

    ``yaw_deg`` 0 looks along the traffic (towards the stop line); positive turns the view
    towards larger x (the centre of the road). ``pitch_deg`` is the downward tilt.
    """

    x_m: float
    y_m: float
    height_m: float
    yaw_deg: float
    pitch_deg: float
    hfov_deg: float
    width_px: int = 1920
    height_px: int = 1080

    @property
    def focal_px(self) -> float:
        return (self.width_px / 2) / math.tan(math.radians(self.hfov_deg) / 2)

    @property
    def centre(self) -> np.ndarray:
        """Camera centre in road coordinates (x, y, z)."""
        return np.array([self.x_m, self.y_m, self.height_m])

    def intrinsics(self) -> np.ndarray:
        """K: square pixels, principal point at the image centre."""
        f = self.focal_px
        return np.array([[f, 0.0, self.width_px / 2], [0.0, f, self.height_px / 2], [0.0, 0.0, 1.0]])

    def rotation(self) -> np.ndarray:
        """R: rows are the camera's right, down and forward axes in road coordinates."""
        yaw, pitch = math.radians(self.yaw_deg), math.radians(self.pitch_deg)
        heading = np.array([math.sin(yaw), -math.cos(yaw), 0.0])
        forward = math.cos(pitch) * heading + math.sin(pitch) * np.array([0.0, 0.0, -1.0])
        right = np.cross(forward, [0.0, 0.0, 1.0])
        right /= np.linalg.norm(right)
        down = np.cross(forward, right)
        return np.vstack([right, down, forward])

    def projection_matrix(self) -> np.ndarray:
        """P = K [R | -R C] (3 x 4)."""
        rotation = self.rotation()
        return self.intrinsics() @ np.hstack([rotation, (-rotation @ self.centre)[:, None]])

    def homography_road_to_image(self) -> np.ndarray:
        """3x3 homography from road-plane metres (x, y) to image pixels, normalised to h33 = 1."""
        h = self.projection_matrix()[:, [0, 1, 3]]
        return h / h[2, 2]

    def to_camera(self, points_xyz) -> np.ndarray:
        """Road points (N x 3) in camera coordinates (N x 3); z is the depth along the view."""
        pts = np.asarray(points_xyz, dtype=float).reshape(-1, 3)
        return (pts - self.centre) @ self.rotation().T

    def project(self, points_xyz) -> tuple[np.ndarray, np.ndarray]:
        """Road points (N x 3) to pixels (N x 2) and their depths (N,). Points at or behind the
        camera (depth <= 0) get meaningless pixels: check the depth."""
        cam = self.to_camera(points_xyz)
        depth = cam[:, 2]
        safe = np.where(depth > 1e-6, depth, 1e-6)
        k = self.intrinsics()
        uv = cam[:, :2] / safe[:, None] * k[0, 0] + k[:2, 2]
        return uv, depth

    def in_view(self, points_xyz, margin_px: float = 0.0) -> np.ndarray:
        """Mask of the road points that land inside the image (with a margin) in front of it."""
        uv, depth = self.project(points_xyz)
        return ((depth > 0.5) & (uv[:, 0] >= margin_px) & (uv[:, 0] <= self.width_px - margin_px)
                & (uv[:, 1] >= margin_px) & (uv[:, 1] <= self.height_px - margin_px))


def calibration_pairs(pose: SimCameraPose, road_points, margin_px: float = 40.0) -> dict[str, list]:
    """Calibration the way a technician draws it: the given road marks (x, y metres) that the
    camera sees, with their pixel positions (rounded to 0.1 px).

    Returns ``{"image_points": [...], "road_points": [...]}`` ready for the site config. Raises
    ValueError when fewer than four of the marks are in view.
    """
    road = np.asarray(road_points, dtype=float).reshape(-1, 2)
    ground = np.hstack([road, np.zeros((len(road), 1))])
    keep = pose.in_view(ground, margin_px)
    if keep.sum() < 4:
        raise ValueError(f"only {int(keep.sum())} calibration marks are in the camera's view; need 4")
    uv, _ = pose.project(ground[keep])
    return {
        "image_points": [(round(float(u), 1), round(float(v), 1)) for u, v in uv],
        "road_points": [(float(x), float(y)) for x, y in road[keep]],
    }
