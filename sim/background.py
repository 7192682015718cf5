"""The static part of the picture, drawn once: sky, buildings, road surface with its texture,
markings, kerbs and the signal mast.

Every ground pixel is traced back to the road plane through the inverse homography, so the
surface texture (asphalt grain, stains, paving) is in perspective; markings and 3D objects
are road-frame polygons projected through the camera. A few copies with different sensor
noise are kept so consecutive frames do not share identical noise at no per-frame cost.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from .camera_pose import SimCameraPose
from .layout import RoadLayout
from .projection import Projector

NOISE_VARIANTS = 6
#: Bottom and top of a signal head's housing; its lamps sit on the face towards the traffic.
HEAD_HOUSING_Z_M = (4.9, 6.1)
_FAR_M = 600.0
_ASPHALT = np.array([92, 93, 90], np.float32)
_PAVING = np.array([150, 158, 166], np.float32)
_VERGE = np.array([96, 112, 104], np.float32)
_WHITE = (228, 230, 230)
_YELLOW = (40, 190, 230)
_RED_KERB = (40, 40, 200)


def build_backgrounds(layout: RoadLayout, pose: SimCameraPose, lighting: str, weather: str,
                      rng: np.random.Generator) -> tuple[list[np.ndarray], np.ndarray]:
    """The static picture with :data:`NOISE_VARIANTS` noise patterns, and the ground mask."""
    projector = Projector(pose)
    image, ground = _surface(layout, pose, rng)
    _markings(image, layout, projector)
    _buildings(image, layout, projector, rng, lighting)
    image = _light(image, ground, layout, pose, lighting, weather)
    variants = []
    for _ in range(NOISE_VARIANTS):
        noise = rng.normal(0.0, 2.2, size=image.shape[:2]).astype(np.float32)[..., None]
        variants.append(np.clip(image + noise, 0, 255).astype(np.uint8))
    return variants, ground


def _surface(layout: RoadLayout, pose: SimCameraPose, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Sky and textured ground, per pixel."""
    height, width = pose.height_px, pose.width_px
    x, y, below_horizon = _road_coordinates(pose)
    distance = np.hypot(x - np.float32(pose.x_m), y - np.float32(pose.y_m))
    ground = below_horizon & (distance < _FAR_M)

    image = np.empty((height, width, 3), np.float32)
    sky_top, sky_low = np.array([200, 160, 120], np.float32), np.array([235, 222, 210], np.float32)
    blend = (np.linspace(0.0, 1.0, height, dtype=np.float32) ** 0.7)[:, None, None]
    image[:] = sky_top * (1 - blend) + sky_low * blend

    road = _carriageway(layout, x, y)
    paving = ~road & _pavement(layout, x, y)
    grain = _value_noise(rng, x, y, 0.06, 7.0) + _value_noise(rng, x, y, 1.7, 9.0) + _value_noise(rng, x, y, 9.0, 6.0)
    grain = cv2.GaussianBlur(grain, (0, 0), 1.2)
    grain -= ((np.floor(x / 0.6) + np.floor(y / 0.6)) % 2 == 0) * paving * np.float32(8.0)
    haze = np.clip(distance / _FAR_M, 0.0, 1.0) ** 0.8
    for mask, colour in ((road, _ASPHALT), (paving, _PAVING), (~road & ~paving, _VERGE)):
        pick = mask & ground
        fade = haze[pick][:, None]
        image[pick] = (colour + grain[pick][:, None]) * (1 - fade) + sky_low * fade
    return image, ground


def _road_coordinates(pose: SimCameraPose) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Road-plane x, y of every pixel centre (float32), and which pixels see the ground."""
    inverse = np.linalg.inv(pose.homography_road_to_image()).astype(np.float32)
    u = np.arange(pose.width_px, dtype=np.float32)[None, :] + np.float32(0.5)
    v = np.arange(pose.height_px, dtype=np.float32)[:, None] + np.float32(0.5)
    w = inverse[2, 0] * u + inverse[2, 1] * v + inverse[2, 2]
    x = (inverse[0, 0] * u + inverse[0, 1] * v + inverse[0, 2]) / w
    y = (inverse[1, 0] * u + inverse[1, 1] * v + inverse[1, 2]) / w
    below_horizon = np.sign(w) == np.sign(w[-1, pose.width_px // 2])
    far = np.float32(1e6)
    return (np.clip(np.where(below_horizon, x, 0), -far, far), np.clip(np.where(below_horizon, y, 0), -far, far),
            below_horizon)


def _carriageway(layout: RoadLayout, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    along = (x >= 0) & (x <= layout.far_kerb_x_m)
    across = (y <= layout.cross_near_y_m) & (y >= layout.cross_far_y_m)
    return along | across


def _pavement(layout: RoadLayout, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    walk = layout.sidewalk_m
    along = (x >= -walk) & (x <= layout.far_kerb_x_m + walk)
    across = (y <= layout.cross_near_y_m + walk) & (y >= layout.cross_far_y_m - walk)
    return along | across


def _value_noise(rng: np.random.Generator, x: np.ndarray, y: np.ndarray, cell_m: float, amplitude: float) -> np.ndarray:
    """Blocky noise fixed to the road: one random value per ``cell_m`` square."""
    size = 257
    table = rng.normal(0.0, amplitude, size=(size, size)).astype(np.float32)
    ix = np.floor(x / np.float32(cell_m)).astype(np.int32) % size
    iy = np.floor(y / np.float32(cell_m)).astype(np.int32) % size
    return table[iy, ix]


def _markings(image: np.ndarray, layout: RoadLayout, projector: Projector) -> None:
    """Lane lines, edge lines, median, stop line, zebra, arrows, zones."""
    stop = layout.stop_line_y_m
    top = layout.entry_y_m + 30
    solid_from = layout.solid_line_y()[1]
    lane_x = [layout.lane_line_x(i) for i in range(layout.lane_count + 1)]
    near = layout.cross_near_y_m
    far = layout.cross_far_y_m
    polygons: list[tuple[list, tuple]] = []
    for x in (lane_x[0], layout.far_kerb_x_m - layout.shoulder_m):
        polygons += [(_strip(x, 0.15, stop, top), _WHITE), (_strip(x, 0.15, layout.exit_y_m, far), _WHITE)]
    for x in lane_x[1:-1]:
        polygons.append((_strip(x, 0.12, stop, solid_from), _WHITE))
        polygons += [(_strip(x, 0.12, y, y + 4.0), _WHITE) for y in np.arange(solid_from + 2, top, 10.0)]
        polygons += [(_strip(x, 0.12, y - 4.0, y), _WHITE) for y in np.arange(far - 2, layout.exit_y_m, -10.0)]
    for x in (layout.median_x_m + 0.12, layout.opposing_x_m - 0.12):
        polygons += [(_strip(x, 0.12, near, top), _YELLOW), (_strip(x, 0.12, layout.exit_y_m, far), _YELLOW)]
    for i in range(1, layout.scenario.road.opposing_lanes):
        x = layout.opposing_x_m + i * layout.lane_width_m
        polygons += [(_strip(x, 0.12, y, y + 4.0), _WHITE) for y in np.arange(stop + 2, top, 10.0)]
    polygons.append(([(lane_x[0], stop - 0.4), (layout.median_x_m, stop - 0.4), (layout.median_x_m, stop),
                      (lane_x[0], stop)], _WHITE))
    if layout.crosswalk is not None:
        cw = layout.crosswalk
        polygons += [([(x0, cw.y_min), (x0 + 0.45, cw.y_min), (x0 + 0.45, cw.y_max), (x0, cw.y_max)], _WHITE)
                     for x0 in np.arange(cw.x_min + 0.3, cw.x_max - 0.3, 0.9)]
    middle = (near + far) / 2
    polygons += [([(x0, middle - 0.06), (x0 + 3, middle - 0.06), (x0 + 3, middle + 0.06), (x0, middle + 0.06)],
                  _YELLOW) for x0 in np.arange(-80.0, 120.0, 6.0)]
    for lane in layout.scenario.lanes:
        centre = layout.lane_centre_x(lane.id)
        for movement in lane.movements:
            polygons.append((_arrow(centre, stop + 9.0, movement), _WHITE))
    for zone in layout.scenario.zones:
        if zone.kind == "no_parking":
            ys = [point[1] for point in zone.polygon]
            polygons.append((_strip(0.12, 0.18, min(ys), max(ys)), _RED_KERB))
    for points, colour in polygons:
        projector.fill_ground(image, points, colour)
    for zone in layout.scenario.zones:
        if zone.kind == "box_junction":
            _hatch(image, zone.polygon, projector)
        elif zone.kind == "scooter_box":
            _outline(image, zone.polygon, projector, _WHITE)


def _strip(x: float, width: float, y0: float, y1: float) -> list[tuple[float, float]]:
    return [(x - width / 2, y0), (x + width / 2, y0), (x + width / 2, y1), (x - width / 2, y1)]


def _arrow(x: float, y: float, movement: str) -> list[tuple[float, float]]:
    """A painted arrow, 5 m long, pointing along the traffic (towards smaller y)."""
    if movement == "straight":
        shape = [(-0.15, 5), (0.15, 5), (0.15, 1.6), (0.5, 1.6), (0, 0), (-0.5, 1.6), (-0.15, 1.6)]
    else:
        side = 1.0 if movement == "left" else -1.0
        shape = [(-0.15, 5), (0.15, 5), (0.15, 1.3), (0.15 + 0.9 * side, 0.9), (0.15 + 0.9 * side, 1.4),
                 (0.15 + 1.6 * side, 0.45), (0.15 + 0.9 * side, -0.5), (0.15 + 0.9 * side, 0.0), (-0.15, 0.6)]
    return [(x + px, y + py) for px, py in shape]


def _hatch(image: np.ndarray, polygon, projector: Projector) -> None:
    """Yellow outline and criss-cross lines of a box junction, cut to its polygon."""
    layer = image.copy()
    xs, ys = [p[0] for p in polygon], [p[1] for p in polygon]
    span = max(max(xs) - min(xs), max(ys) - min(ys))
    for offset in np.arange(-span, span, 2.5):
        for sign in (1.0, -1.0):
            x0 = min(xs) + offset
            line = [(x0, min(ys)), (x0 + 0.15, min(ys)), (x0 + 0.15 + sign * span, min(ys) + span),
                    (x0 + sign * span, min(ys) + span)]
            projector.fill_ground(layer, line, _YELLOW)
    mask = np.zeros(image.shape[:2], np.uint8)
    projector.fill_ground(mask, list(polygon), 255)
    image[mask > 0] = layer[mask > 0]
    _outline(image, polygon, projector, _YELLOW)


def _outline(image: np.ndarray, polygon, projector: Projector, colour) -> None:
    """A painted border 0.2 m wide around a zone (a box junction, the scooter waiting box)."""
    for a, b in zip(polygon, list(polygon[1:]) + [polygon[0]]):
        direction = np.subtract(b, a)
        normal = np.array([-direction[1], direction[0]]) / max(np.hypot(*direction), 1e-9) * 0.1
        projector.fill_ground(image, [tuple(a - normal), tuple(b - normal), tuple(b + normal), tuple(a + normal)],
                              colour)


def _buildings(image: np.ndarray, layout: RoadLayout, projector: Projector, rng: np.random.Generator,
               lighting: str) -> None:
    """Rows of shophouses along both pavements and past the junction, plus the signal mast."""
    walk = layout.sidewalk_m
    boxes = []
    for side_x, _facing in ((-walk - 12.0, 1), (layout.far_kerb_x_m + walk, -1)):
        y = layout.cross_near_y_m + walk
        while y < layout.entry_y_m + 120:
            frontage = float(rng.uniform(5.0, 9.0))
            boxes.append((side_x, side_x + 12.0, y, y + frontage, float(rng.uniform(7.0, 22.0))))
            y += frontage
        y = layout.cross_far_y_m - walk
        while y > layout.cross_far_y_m - walk - 200:
            frontage = float(rng.uniform(5.0, 9.0))
            boxes.append((side_x, side_x + 12.0, y - frontage, y, float(rng.uniform(7.0, 22.0))))
            y -= frontage
    cam = projector.pose.centre[:2]
    boxes.sort(key=lambda b: -math.hypot((b[0] + b[1]) / 2 - cam[0], (b[2] + b[3]) / 2 - cam[1]))
    dim = 0.35 if lighting == "night" else 1.0
    for x0, x1, y0, y1, height in boxes:
        tone = float(rng.uniform(120, 200))
        colour = np.array([tone * 0.95, tone, tone * 1.05]) * dim
        projector.fill_box(image, (x0, x1, y0, y1, 0.0, height), colour)
    _mast(image, layout, projector)


def _mast(image: np.ndarray, layout: RoadLayout, projector: Projector) -> None:
    """The signal pole at the far kerb corner, its arm over the approach lanes, and the
    housings of the vehicle heads (their lamps are drawn per frame)."""
    y = layout.signal_mast_y_m()
    grey = np.array([95, 95, 100], np.float32)
    projector.fill_box(image, (-1.2, -0.9, y - 0.15, y + 0.15, 0.0, 6.6), grey)
    projector.fill_box(image, (-1.2, layout.median_x_m, y - 0.1, y + 0.1, 6.4, 6.6), grey)
    for head in layout.scenario.signals.heads:
        if head.lanes and not head.pedestrian:
            x = layout.signal_head_x_m(head.lanes)
            projector.fill_box(image, (x - 0.22, x + 0.22, y - 0.15, y + 0.15, *HEAD_HOUSING_Z_M),
                               np.array([30, 32, 30], np.float32))


def _light(image: np.ndarray, ground: np.ndarray, layout: RoadLayout, pose: SimCameraPose, lighting: str,
           weather: str) -> np.ndarray:
    """Night and rain: darker, street-light pools, lower contrast."""
    if lighting == "night":
        image = image * 0.22
        image[~ground] = np.array([40, 22, 14], np.float32)
        x, y, _ = _road_coordinates(pose)
        height, width = image.shape[:2]
        pools = np.zeros((height, width), np.float32)
        for lamp_y in np.arange(layout.cross_far_y_m - 30, layout.entry_y_m + 60, 25.0):
            for lamp_x in (-0.5, layout.far_kerb_x_m + 0.5):
                pools += np.exp(-((x - lamp_x) ** 2 + (y - lamp_y) ** 2) / 60.0)
        pools = np.where(ground, np.clip(pools, 0, 1.2), 0)[..., None]
        image = image * (1 + 2.2 * pools) + np.array([10, 40, 60], np.float32) * pools
    if weather == "rain":
        grey = image.mean(axis=2, keepdims=True)
        image = (image * 0.55 + grey * 0.25) * 0.9 + 18
    return np.clip(image, 0, 255)
