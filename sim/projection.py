"""Drawing road-frame geometry through the camera: ground polygons and shaded boxes.

Polygons are clipped against a near plane in front of the camera before projection (a
vehicle passing under the pole is partly behind the camera) and filled with sub-pixel
precision (``shift`` bits), so motion is smooth.
"""

from __future__ import annotations

import cv2
import numpy as np

from .camera_pose import SimCameraPose

NEAR_M = 0.3
SHIFT_BITS = 4
_SCALE = float(1 << SHIFT_BITS)
_LIMIT_PX = 60000.0

#: Corners of a box indexed iu*4 + iv*2 + iz; faces as corner loops (no bottom face).
FACES = {
    "-u": (0, 2, 3, 1),
    "+u": (4, 6, 7, 5),
    "-v": (0, 4, 5, 1),
    "+v": (2, 6, 7, 3),
    "+z": (1, 5, 7, 3),
}
#: How bright each face of a box is under the day's light, by the face's direction.
SHADE = {"-u": 0.8, "+u": 0.84, "-v": 0.62, "+v": 0.7, "+z": 1.0}


def box_corners(origin, axis_u, axis_v, extents) -> np.ndarray:
    """The 8 corners (8 x 3) of a box with extents (u0, u1, v0, v1, z0, z1) in the frame given
    by a ground origin (x, y) and two unit ground axes."""
    u0, u1, v0, v1, z0, z1 = extents
    us = np.array([u0, u0, u0, u0, u1, u1, u1, u1])
    vs = np.array([v0, v0, v1, v1, v0, v0, v1, v1])
    zs = np.array([z0, z1, z0, z1, z0, z1, z0, z1])
    xy = (np.asarray(origin)[None, :] + us[:, None] * np.asarray(axis_u)[None, :]
          + vs[:, None] * np.asarray(axis_v)[None, :])
    return np.column_stack([xy, zs])


def visible_faces(camera_local, extents) -> list[str]:
    """Faces of a box that face a camera at ``camera_local`` (u, v, z in the box's frame)."""
    cu, cv, cz = camera_local
    u0, u1, v0, v1, _, z1 = extents
    faces = []
    if cu < u0:
        faces.append("-u")
    elif cu > u1:
        faces.append("+u")
    if cv < v0:
        faces.append("-v")
    elif cv > v1:
        faces.append("+v")
    if cz > z1:
        faces.append("+z")
    return faces


class Projector:
    """Projects and fills road-frame polygons for one camera pose."""

    def __init__(self, pose: SimCameraPose):
        self.pose = pose
        self.rotation = pose.rotation()
        self.centre = pose.centre
        self.focal = pose.focal_px
        self.principal = np.array([pose.width_px / 2, pose.height_px / 2])

    def to_camera(self, points_xyz: np.ndarray) -> np.ndarray:
        return (np.asarray(points_xyz, dtype=float) - self.centre) @ self.rotation.T

    def pixels(self, camera_points: np.ndarray) -> np.ndarray:
        """Pixels of camera-frame points that lie in front of the near plane."""
        return camera_points[:, :2] / camera_points[:, 2:3] * self.focal + self.principal

    def polygon_px(self, camera_points: np.ndarray) -> np.ndarray | None:
        """Clip a camera-frame polygon to the near plane and project it (None when nothing is left)."""
        depth = camera_points[:, 2]
        if depth.min() < NEAR_M:
            if depth.max() < NEAR_M:
                return None
            camera_points = _clip_near(camera_points)
        return np.clip(self.pixels(camera_points), -_LIMIT_PX, _LIMIT_PX)

    def fill(self, image: np.ndarray, pixels: np.ndarray, colour, convex: bool = True) -> None:
        points = np.round(pixels * _SCALE).astype(np.int32)
        colour = tuple(float(c) for c in np.atleast_1d(colour))
        if convex:
            cv2.fillConvexPoly(image, points, colour, cv2.LINE_AA, SHIFT_BITS)
        else:
            cv2.fillPoly(image, [points], colour, cv2.LINE_AA, SHIFT_BITS)

    def fill_ground(self, image: np.ndarray, points_xy, colour) -> None:
        """Fill a polygon (convex or not) lying on the road."""
        ground = np.column_stack([np.asarray(points_xy, dtype=float), np.zeros(len(points_xy))])
        pixels = self.polygon_px(self.to_camera(ground))
        if pixels is not None:
            self.fill(image, pixels, colour, convex=False)

    def fill_box(self, image: np.ndarray, extents, colour) -> None:
        """A shaded axis-aligned box (x0, x1, y0, y1, z0, z1) in the road frame."""
        corners = box_corners((0.0, 0.0), (1.0, 0.0), (0.0, 1.0), extents)
        camera = self.to_camera(corners)
        base = np.asarray(colour, dtype=float)
        for face in visible_faces(self.centre, extents):
            pixels = self.polygon_px(camera[list(FACES[face])])
            if pixels is not None:
                self.fill(image, pixels, base * SHADE[face])


def _clip_near(points: np.ndarray) -> np.ndarray:
    """Sutherland-Hodgman against the plane depth = NEAR_M."""
    out = []
    count = len(points)
    for index in range(count):
        current, following = points[index], points[(index + 1) % count]
        current_in, following_in = current[2] >= NEAR_M, following[2] >= NEAR_M
        if current_in:
            out.append(current)
        if current_in != following_in:
            t = (NEAR_M - current[2]) / (following[2] - current[2])
            out.append(current + t * (following - current))
    return np.array(out)
