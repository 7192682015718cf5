"""``roadcam calibrate``: a snapshot, four road-plane reference points, the homography.

The technician marks four points on the road (paint corners, loop corners) that are visible in
the snapshot, measures them with a tape in metres (x across the road, y along it) and reads
their pixel positions off the snapshot. From these pairs the core's
:class:`~roadcam.appliance.geometry.RoadGeometry` computes the homography; it is stored as the
camera's ``calibration`` (the points, from which every start computes it again) and, for the
record, as the matrix in ``calibration.json``.

Points that cannot give a homography are refused before anything is stored, naming them:
three on one line (in the picture or on the road), two at the same place, an image point
outside the snapshot.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from roadcam.appliance.config import CoreConfig
from roadcam.appliance.geometry import RoadGeometry
from roadcam.common.errors import ConfigError

#: A triangle of three points whose area is below this share of the square of the longest
#: distance between them counts as a line: too flat to fix a homography.
COLLINEAR_RATIO = 0.01
#: Frames read and thrown away before the snapshot, so a live camera's exposure has settled.
SETTLE_FRAMES = 10

Points = list[tuple[float, float]]


@dataclass(frozen=True)
class Calibration:
    """The pairs and the homography from them."""

    camera: str
    image_points: Points
    road_points: Points
    geometry: RoadGeometry

    def record(self) -> dict[str, Any]:
        """What ``calibration.json`` holds."""
        return {"camera": self.camera, "image_points": self.image_points, "road_points": self.road_points,
                "image_to_road": self.geometry.image_to_road.tolist(),
                "road_to_image": self.geometry.road_to_image.tolist()}


def parse_points(text: str, option: str) -> Points:
    """``"x,y x,y ..."`` (spaces or semicolons between points) as a list of pairs."""
    points = []
    for item in text.replace(";", " ").split():
        parts = item.split(",")
        try:
            if len(parts) != 2:
                raise ValueError
            points.append((float(parts[0]), float(parts[1])))
        except ValueError:
            raise ConfigError(f"{option}: {item!r} is not a point x,y (e.g. 412,1010)") from None
    return points


def camera_index(config: CoreConfig, name: str | None) -> int:
    """The index in ``cameras`` of the camera named ``name`` (the first one when None)."""
    names = [camera.name for camera in config.cameras]
    if not names:
        raise ConfigError("cameras: the site has no camera to calibrate; add one (roadcam provision --camera)")
    if name is None:
        return 0
    if name not in names:
        raise ConfigError(f"--camera {name}: no such camera (cameras: {', '.join(names)})")
    return names.index(name)


def take_snapshot(config: CoreConfig, index: int, settle_frames: int = SETTLE_FRAMES) -> np.ndarray:
    """One frame of camera ``index`` through the HAL, after ``settle_frames`` thrown away (a
    finite source that ends sooner gives its last frame). CameraUnavailable names the source."""
    from roadcam.appliance.clock import Clock
    from roadcam.hal.hardware import Hardware

    hardware = Hardware(config, Clock())
    try:
        camera = hardware.make_camera(config.cameras[index])
        camera.open()
        image = None
        for _ in range(settle_frames + 1):
            frame = camera.read()
            if frame is None:
                break
            image = frame.image
    finally:
        hardware.close()
    if image is None:
        raise ConfigError(f"cameras[{index}]: camera {config.cameras[index].name!r} gave no frame")
    return image


def calibrate(camera: str, image_points: Points, road_points: Points, image_size: tuple[int, int]) -> Calibration:
    """Check the pairs (module docstring) and compute the homography. ``image_size`` is the
    snapshot's (width, height)."""
    if len(image_points) != len(road_points) or len(image_points) < 4:
        raise ConfigError(f"calibration: give at least four image points and as many road points "
                          f"(got {len(image_points)} and {len(road_points)})")
    width, height = image_size
    for number, (x, y) in enumerate(image_points, start=1):
        if not (0 <= x < width and 0 <= y < height):
            raise ConfigError(f"--image-points: point {number} ({x:g},{y:g}) is outside the {width}x{height} "
                              f"snapshot; read the pixel position off the snapshot")
    for option, points, unit in (("--image-points", image_points, "px"), ("--road-points", road_points, "m")):
        _check_spread(option, np.asarray(points, dtype=float), unit)
    try:
        geometry = RoadGeometry(image_points, road_points)
    except ValueError as exc:
        raise ConfigError(f"calibration: {exc}") from None
    return Calibration(camera, list(image_points), list(road_points), geometry)


def _check_spread(option: str, points: np.ndarray, unit: str) -> None:
    for a, b in itertools.combinations(range(len(points)), 2):
        if np.linalg.norm(points[a] - points[b]) < 1e-6:
            raise ConfigError(f"{option}: points {a + 1} and {b + 1} are the same place; use four different marks")
    for a, b, c in itertools.combinations(range(len(points)), 3):
        p, q, r = points[a], points[b], points[c]
        (ux, uy), (vx, vy) = q - p, r - p
        area = abs(ux * vy - uy * vx) / 2
        longest = max(np.linalg.norm(q - p), np.linalg.norm(r - p), np.linalg.norm(r - q))
        if area < COLLINEAR_RATIO * longest ** 2:
            raise ConfigError(f"{option}: points {a + 1}, {b + 1} and {c + 1} are on one line ({unit}), so they "
                              f"cannot fix the road plane; pick four marks with no three on a line, e.g. the "
                              f"corners of a lane section")


def with_calibration(data: dict[str, Any], index: int, calibration: Calibration) -> dict[str, Any]:
    """The config data with camera ``index``'s calibration set."""
    cameras = [dict(camera) for camera in data["cameras"]]
    cameras[index]["calibration"] = {"image_points": [list(p) for p in calibration.image_points],
                                     "road_points": [list(p) for p in calibration.road_points]}
    return {**data, "cameras": cameras}


def write_record(path: Path, calibration: Calibration) -> None:
    path.write_text(json.dumps(calibration.record(), indent=2))
