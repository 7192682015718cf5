"""The technician's check picture: the road-plane grid, the calibration marks, the loops and
the fences drawn over the snapshot.

- the grid: lines every metre of the road plane (every 5 m bolder, labelled), mapped into the
  picture through the homography; a wrong mark shows as a grid that does not lie on the road;
- the calibration marks: each image point, numbered, with its road position;
- the loops (``loops``): ``lane`` and ``position_m``/``length_m`` on the road plane, the lane
  ``lane_width_m`` wide counted from x = 0 (the loops' config has no lateral position);
- the fences: drawn by the fences plugin's own preview when the site has a ``fences`` section
  (:func:`roadcam.plugins.fences.preview.draw_fences`, not a copy of it).

OpenCV is imported here, by the command that draws, never by the core.
"""

from __future__ import annotations

import cv2
import numpy as np

from roadcam.appliance.config import CoreConfig

from .calibration import Calibration

GRID = (80, 220, 80)
MARK = (0, 0, 255)
LOOP = (255, 120, 0)
#: Road-plane area the grid covers beyond the marks, metres (across, along).
GRID_MARGIN_M = (6.0, 40.0)


def draw_overlay(image: np.ndarray, config: CoreConfig, camera_index: int, calibration: Calibration,
                 lane_width_m: float = 3.5) -> np.ndarray:
    """A copy of ``image`` with grid, marks, loops and fences (module docstring)."""
    out = _fences(image, config, camera_index)
    road = np.asarray(calibration.road_points, dtype=float)
    road_to_image = calibration.geometry.road_to_image
    # a homography is defined up to its sign: make the marks' w positive, so w > 0 means "in
    # front of the camera" (below the horizon) everywhere
    if (np.hstack([road, np.ones((len(road), 1))]) @ road_to_image[2]).mean() < 0:
        road_to_image = -road_to_image
    (x0, y0), (x1, y1) = road.min(axis=0), road.max(axis=0)
    x_range = (np.floor(x0 - GRID_MARGIN_M[0]), np.ceil(x1 + GRID_MARGIN_M[0]))
    y_range = (np.floor(y0 - GRID_MARGIN_M[0]), np.ceil(y1 + GRID_MARGIN_M[1]))
    for x in np.arange(x_range[0], x_range[1] + 1):
        _road_line(out, road_to_image, (x, y_range[0]), (x, y_range[1]), GRID, 2 if x % 5 == 0 else 1)
    for y in np.arange(y_range[0], y_range[1] + 1):
        bold = y % 5 == 0
        _road_line(out, road_to_image, (x_range[0], y), (x_range[1], y), GRID, 2 if bold else 1)
        if bold:
            _label_at_road(out, road_to_image, (x0, y), f"{y:g} m", GRID)
    for loop in config.loops:
        left = (loop.lane - 1) * lane_width_m
        corners = [(left, loop.position_m), (left + lane_width_m, loop.position_m),
                   (left + lane_width_m, loop.position_m + loop.length_m), (left, loop.position_m + loop.length_m)]
        for a, b in zip(corners, corners[1:] + corners[:1]):
            _road_line(out, road_to_image, a, b, LOOP, 2)
        _label_at_road(out, road_to_image, corners[0], f"loop {loop.name}", LOOP)
    for number, ((u, v), (x, y)) in enumerate(zip(calibration.image_points, calibration.road_points), start=1):
        cv2.circle(out, (int(round(u)), int(round(v))), 8, MARK, 2)
        _label(out, f"{number}: ({x:g}, {y:g}) m", (int(u) + 10, int(v) - 10), MARK)
    return out


def _fences(image: np.ndarray, config: CoreConfig, camera_index: int) -> np.ndarray:
    fences = getattr(config, "fences", None)
    camera = config.cameras[camera_index].name
    drawn = next((c for c in getattr(fences, "cameras", []) if c.camera == camera), None)
    if drawn is None:
        return image.copy()
    from roadcam.plugins.fences.preview import draw_fences

    return draw_fences(image, drawn)


def _road_line(image: np.ndarray, road_to_image: np.ndarray, a, b, colour, thickness: int) -> None:
    """The road-plane segment a–b, sampled so the part in front of the camera and inside the
    picture is drawn (a straight line stays straight under a homography, but may cross the
    horizon)."""
    height, width = image.shape[:2]
    road = np.linspace(a, b, 200)
    mapped = np.hstack([road, np.ones((len(road), 1))]) @ road_to_image.T
    visible = mapped[:, 2] > 1e-9
    pixels = mapped[:, :2] / np.where(visible, mapped[:, 2], 1.0)[:, None]
    inside = visible & (pixels[:, 0] >= -width) & (pixels[:, 0] <= 2 * width) & (pixels[:, 1] >= -height) & (
        pixels[:, 1] <= 2 * height)
    for start, end in zip(range(len(road) - 1), range(1, len(road))):
        if inside[start] and inside[end]:
            cv2.line(image, tuple(int(v) for v in pixels[start]), tuple(int(v) for v in pixels[end]), colour,
                     thickness, cv2.LINE_AA)


def _label_at_road(image: np.ndarray, road_to_image: np.ndarray, point, text: str, colour) -> None:
    mapped = road_to_image @ np.array([point[0], point[1], 1.0])
    if mapped[2] <= 1e-9:
        return
    u, v = mapped[:2] / mapped[2]
    height, width = image.shape[:2]
    if 0 <= u < width and 0 <= v < height:
        _label(image, text, (int(u) + 4, int(v) - 4), colour)


def _label(image: np.ndarray, text: str, at: tuple[int, int], colour) -> None:
    cv2.putText(image, text, at, cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(image, text, at, cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1, cv2.LINE_AA)
