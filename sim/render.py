"""Per-frame drawing: copy the static background, then draw what moves.

Objects are drawn far to near (painter's order): first every shadow, then each vehicle as a
few projected boxes with its rear plate warped into place over the plate's own small region
only, then pedestrians, signal lamps and rain. Every object's image box is returned with the
picture, for the ground truth; the image box of every plate drawn in the last frame is kept in
:attr:`Renderer.plate_boxes` (ground truth for training and scoring plate detectors).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .background import HEAD_HOUSING_Z_M, build_backgrounds
from .camera_pose import SimCameraPose
from .layout import RoadLayout
from .pedestrians import DEPTH_M, WIDTH_M, Pedestrian
from .plate_patch import plate_patches
from .projection import FACES, NEAR_M, SHADE, SHIFT_BITS, Projector, visible_faces
from .scenario import Scenario
from .signals import SignalController
from .vehicles import Part, Vehicle

_SCALE = float(1 << SHIFT_BITS)
_LAMP_RADIUS_M = 0.12
_LAMP_COLOURS = {"red": (40, 40, 255), "amber": (30, 190, 255), "green": (140, 255, 60)}
_LAMP_OFF = (45, 50, 45)
_PLATE_MIN_PX = 8.0
_RAIN_PATTERNS = 8
_PEDESTRIAN_PARTS = (
    Part(0.05, 0.3, -0.18, 0.18, 0.0, 0.85, "trousers"),
    Part(0.0, DEPTH_M, -WIDTH_M / 2, WIDTH_M / 2, 0.85, 1.45, "shirt"),
    Part(0.08, 0.28, -0.1, 0.1, 1.47, 1.7, "skin"),
)

#: An object's image box: x1, y1, x2, y2 clipped to the image, and the fraction left after clipping.
Box = tuple[float, float, float, float, float]


@dataclass
class _Look:
    """How one object is drawn: its parts, their face colours, and its plate images."""

    parts: tuple[Part, ...]
    length_m: float
    width_m: float
    local_corners: np.ndarray  # (parts * 8, 3): u (from the centre), v, z
    face_colours: list[dict[str, tuple[float, float, float]]]
    plate_levels: list[np.ndarray] | None = None
    plate_corners: np.ndarray | None = None  # (4, 3) local, patch order TL, TR, BR, BL
    tail_lights: np.ndarray | None = None  # (lamps, 4, 3) local


class Renderer:
    """Draws the world as the scenario's camera sees it."""

    def __init__(self, scenario: Scenario, layout: RoadLayout, pose: SimCameraPose, signals: SignalController):
        self.pose = pose
        self.projector = Projector(pose)
        self.signals = signals
        self.night = scenario.lighting == "night"
        rng = np.random.default_rng([scenario.seed, 0x5EED])
        self.backgrounds, _ = build_backgrounds(layout, pose, scenario.lighting, scenario.weather, rng)
        self._rain = _rain_patterns(pose, rng) if scenario.weather == "rain" else None
        self._lamps = self._lamp_spots(scenario, layout)
        self._looks: dict[int, _Look] = {}
        self._shadow = (52, 53, 51) if not self.night else (12, 12, 12)
        self._light = 0.3 if self.night else (0.8 if scenario.weather == "rain" else 1.0)
        #: Vehicle id -> image box of its plate as drawn in the last rendered frame (clipped Box).
        self.plate_boxes: dict[int, Box] = {}

    @property
    def size(self) -> tuple[int, int]:
        return self.pose.width_px, self.pose.height_px

    def render(self, vehicles: list[Vehicle], pedestrians: list[Pedestrian], t_s: float,
               frame_index: int) -> tuple[np.ndarray, dict[int, Box], list[int]]:
        """The frame at ``t_s``: the image, each visible object's box, and the ids of the drawn
        objects from far to near."""
        image = self.backgrounds[frame_index % len(self.backgrounds)].copy()
        self._draw_lamps(image, t_s)
        scene = []
        camera_xy = self.pose.centre[:2]
        for vehicle in vehicles:
            centre, heading = vehicle.pose()
            scene.append((vehicle.id, centre, heading, self._vehicle_look(vehicle), vehicle.accel_mps2))
        for person in pedestrians:
            scene.append((person.id, np.array([person.x_m, person.y_m]), person.heading,
                          self._person_look(person), 0.0))
        scene.sort(key=lambda item: -float(np.hypot(*(item[1] - camera_xy))))
        placed = [(item, self._place(item[1], item[2], item[3])) for item in scene]
        for (_, centre, heading, look, _), _ in placed:
            self._draw_shadow(image, centre, heading, look)
        boxes: dict[int, Box] = {}
        order = []
        self.plate_boxes = {}
        for (object_id, centre, heading, look, accel), camera_points in placed:
            box, plate_box = self._draw_object(image, look, camera_points, centre, heading, accel)
            if box is not None:
                boxes[object_id] = box
                order.append(object_id)
            if plate_box is not None:
                self.plate_boxes[object_id] = plate_box
        if self._rain is not None:
            cv2.polylines(image, self._rain[frame_index % _RAIN_PATTERNS], False, (200, 200, 200), 1, cv2.LINE_AA)
        self._forget([v.id for v in vehicles] + [p.id for p in pedestrians])
        return image, boxes, order

    # ---- looks -------------------------------------------------------------------------------

    def _vehicle_look(self, vehicle: Vehicle) -> _Look:
        look = self._looks.get(vehicle.id)
        if look is None:
            spec = vehicle.spec
            look = self._make_look(spec.parts, spec.length_m, spec.width_m, vehicle.colours)
            plate_w, plate_h = spec.plate_size_m
            u = -spec.length_m / 2 - 0.02
            z0, z1 = spec.plate_height_m - plate_h / 2, spec.plate_height_m + plate_h / 2
            look.plate_corners = np.array([[u, plate_w / 2, z1], [u, -plate_w / 2, z1],
                                           [u, -plate_w / 2, z0], [u, plate_w / 2, z0]])
            look.plate_levels = plate_patches(vehicle.plate, vehicle.kind, spec.plate_size_m)
            look.tail_lights = _tail_lights(vehicle.kind, spec.length_m, spec.width_m, spec.plate_height_m)
            self._looks[vehicle.id] = look
        return look

    def _person_look(self, person: Pedestrian) -> _Look:
        look = self._looks.get(person.id)
        if look is None:
            look = self._make_look(_PEDESTRIAN_PARTS, DEPTH_M, WIDTH_M, person.colours)
            self._looks[person.id] = look
        return look

    def _make_look(self, parts, length_m: float, width_m: float, colours) -> _Look:
        corners = []
        face_colours = []
        for part in parts:
            u0, u1 = part.u0 - length_m / 2, part.u1 - length_m / 2
            for iu in (u0, u1):
                for iv in (part.v0, part.v1):
                    for iz in (part.z0, part.z1):
                        corners.append((iu, iv, iz))
            base = np.asarray(colours[part.role], dtype=float) * self._light
            face_colours.append({face: tuple(float(c) for c in base * shade) for face, shade in SHADE.items()})
        return _Look(tuple(parts), length_m, width_m, np.array(corners), face_colours)

    def _forget(self, alive: list[int]) -> None:
        if len(self._looks) > 2 * len(alive) + 32:
            keep = set(alive)
            self._looks = {key: look for key, look in self._looks.items() if key in keep}

    # ---- drawing -----------------------------------------------------------------------------

    def _place(self, centre: np.ndarray, heading: np.ndarray, look: _Look) -> np.ndarray:
        """Camera-frame coordinates of all the look's corners for this pose."""
        to_world = np.array([[heading[0], heading[1], 0.0], [-heading[1], heading[0], 0.0], [0.0, 0.0, 1.0]])
        offset = (np.array([centre[0], centre[1], 0.0]) - self.projector.centre) @ self.projector.rotation.T
        return look.local_corners @ (to_world @ self.projector.rotation.T) + offset

    def _camera_local(self, centre: np.ndarray, heading: np.ndarray) -> tuple[float, float, float]:
        d = self.pose.centre[:2] - centre
        return (float(d @ heading), float(-d[0] * heading[1] + d[1] * heading[0]), float(self.pose.centre[2]))

    def _draw_shadow(self, image: np.ndarray, centre, heading, look: _Look) -> None:
        left = np.array([-heading[1], heading[0]])
        half_l, half_w = look.length_m / 2 + 0.15, look.width_m / 2 + 0.15
        sun = np.array([0.35, 0.25])
        footprint = [centre + sx * half_l * heading + sy * half_w * left + sun
                     for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1))]
        ground = np.column_stack([np.array(footprint), np.zeros(4)])
        pixels = self.projector.polygon_px(self.projector.to_camera(ground))
        if pixels is not None:
            cv2.fillConvexPoly(image, np.round(pixels * _SCALE).astype(np.int32), self._shadow, cv2.LINE_AA, SHIFT_BITS)

    def _draw_object(self, image: np.ndarray, look: _Look, camera_points: np.ndarray, centre, heading,
                     accel: float) -> tuple[Box | None, Box | None]:
        """Draw one object; return its image box and its plate's image box (None where not drawn)."""
        width, height = self.size
        depth = camera_points[:, 2]
        if depth.max() < NEAR_M:
            return None, None
        clipped = depth.min() < NEAR_M
        if not clipped:
            pixels = camera_points[:, :2] / depth[:, None] * self.projector.focal + self.projector.principal
            x1, y1 = pixels.min(axis=0)
            x2, y2 = pixels.max(axis=0)
            if x2 < 0 or y2 < 0 or x1 >= width or y1 >= height:
                return None, None
            fixed = np.round(pixels * _SCALE).astype(np.int32)
        camera_local = self._camera_local(centre, heading)
        extent_points = []
        for index, part in enumerate(look.parts):
            u_shift = look.length_m / 2
            extents = (part.u0 - u_shift, part.u1 - u_shift, part.v0, part.v1, part.z0, part.z1)
            base = index * 8
            for face in visible_faces(camera_local, extents):
                loop = [base + corner for corner in FACES[face]]
                if clipped:
                    face_px = self.projector.polygon_px(camera_points[loop])
                    if face_px is None:
                        continue
                    extent_points.append(face_px)
                    points = np.round(face_px * _SCALE).astype(np.int32)
                else:
                    points = fixed[loop]
                cv2.fillConvexPoly(image, points, look.face_colours[index][face], cv2.LINE_AA, SHIFT_BITS)
        if clipped:
            if not extent_points:
                return None, None
            every = np.vstack(extent_points)
            x1, y1 = every.min(axis=0)
            x2, y2 = every.max(axis=0)
        plate_box = None
        if look.plate_levels is not None and camera_local[0] < -look.length_m / 2:
            plate_box = self._draw_rear(image, look, centre, heading, accel)
        return _clip_box(x1, y1, x2, y2, width, height), plate_box

    def _draw_rear(self, image: np.ndarray, look: _Look, centre, heading, accel: float) -> Box | None:
        """Tail lights and the plate on the rear face; returns the plate's image box (None when
        the plate is behind the camera or too small to be drawn as more than a blob)."""
        to_world = np.array([[heading[0], heading[1], 0.0], [-heading[1], heading[0], 0.0], [0.0, 0.0, 1.0]])
        origin = np.array([centre[0], centre[1], 0.0])
        braking = accel < -0.8
        lamp = (70, 70, 255) if braking else ((50, 50, 235) if self.night else (40, 40, 150))
        for light in look.tail_lights:
            camera = self.projector.to_camera(light @ to_world + origin)
            pixels = self.projector.polygon_px(camera)
            if pixels is not None:
                cv2.fillConvexPoly(image, np.round(pixels * _SCALE).astype(np.int32), lamp, cv2.LINE_AA, SHIFT_BITS)
        camera = self.projector.to_camera(look.plate_corners @ to_world + origin)
        if camera[:, 2].min() < NEAR_M:
            return None
        pixels = self.projector.pixels(camera)
        if not self._warp_plate(image, look.plate_levels, pixels):
            return None
        (x1, y1), (x2, y2) = pixels.min(axis=0), pixels.max(axis=0)
        return _clip_box(x1, y1, x2, y2, *self.size)

    def _warp_plate(self, image: np.ndarray, levels: list[np.ndarray], corners_px: np.ndarray) -> bool:
        """Warp the plate patch level nearest its on-screen size over the plate's region only.
        True when the patch was drawn; False when off-image or too small (drawn as a blob)."""
        width, height = self.size
        span = float(np.linalg.norm(corners_px[1] - corners_px[0]))
        if span < 1.0:
            return False
        x0, y0 = np.floor(corners_px.min(axis=0)).astype(int)
        x1, y1 = np.ceil(corners_px.max(axis=0)).astype(int) + 1
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
        if x1 - x0 < 1 or y1 - y0 < 1:
            return False
        if span < _PLATE_MIN_PX:
            colour = tuple(float(c) for c in levels[-1].reshape(-1, 3).mean(axis=0))
            cv2.fillConvexPoly(image, np.round(corners_px * _SCALE).astype(np.int32), colour, cv2.LINE_AA, SHIFT_BITS)
            return False
        patch = next((level for level in reversed(levels) if level.shape[1] >= span), levels[0])
        h, w = patch.shape[:2]
        source = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
        target = (corners_px - np.array([x0, y0])).astype(np.float32)
        matrix = cv2.getPerspectiveTransform(source, target)
        region = image[y0:y1, x0:x1]
        cv2.warpPerspective(patch, matrix, (x1 - x0, y1 - y0), dst=region, flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_TRANSPARENT)
        return True

    def _lamp_spots(self, scenario: Scenario, layout: RoadLayout) -> list[tuple[str, dict[str, tuple]]]:
        """Pixel centre and radius of each vehicle head's three lamps (they face the traffic)."""
        spots = []
        y = layout.signal_mast_y_m() + 0.16
        bottom, top = HEAD_HOUSING_Z_M
        step = (top - bottom) / 3
        for head in scenario.signals.heads:
            if head.pedestrian or not head.lanes:
                continue
            x = layout.signal_head_x_m(head.lanes)
            lamps = {}
            for rank, colour in enumerate(("red", "amber", "green")):
                z = top - step * (rank + 0.5)
                uv, depth = self.pose.project([[x, y, z]])
                if depth[0] > NEAR_M:
                    radius = max(1, int(round(self.pose.focal_px * _LAMP_RADIUS_M / depth[0])))
                    lamps[colour] = ((int(round(uv[0, 0])), int(round(uv[0, 1]))), radius)
            spots.append((head.name, lamps))
        return spots

    def _draw_lamps(self, image: np.ndarray, t_s: float) -> None:
        for head, lamps in self._lamps:
            state = self.signals.state(head, t_s)
            for colour, (centre, radius) in lamps.items():
                cv2.circle(image, centre, radius, _LAMP_COLOURS[colour] if colour == state else _LAMP_OFF, -1,
                           cv2.LINE_AA)


def _tail_lights(kind: str, length_m: float, width_m: float, plate_z_m: float) -> np.ndarray:
    """Tail lamp quads on the rear face (local frame, centred on the vehicle)."""
    u = -length_m / 2 - 0.02
    if kind == "scooter":
        spots = [(0.0, plate_z_m + 0.15, 0.16, 0.07)]
    else:
        spots = [(side * (width_m / 2 - 0.2), plate_z_m + 0.28, 0.24, 0.12) for side in (-1, 1)]
    return np.array([[[u, v - w / 2, z + h / 2], [u, v + w / 2, z + h / 2], [u, v + w / 2, z - h / 2],
                      [u, v - w / 2, z - h / 2]] for v, z, w, h in spots])


def _clip_box(x1: float, y1: float, x2: float, y2: float, width: int, height: int) -> Box | None:
    full = max(x2 - x1, 1e-6) * max(y2 - y1, 1e-6)
    cx1, cy1, cx2, cy2 = max(x1, 0.0), max(y1, 0.0), min(x2, float(width)), min(y2, float(height))
    if cx2 <= cx1 or cy2 <= cy1:
        return None
    return (round(cx1, 2), round(cy1, 2), round(cx2, 2), round(cy2, 2), round((cx2 - cx1) * (cy2 - cy1) / full, 4))


def _rain_patterns(pose: SimCameraPose, rng: np.random.Generator) -> list[list[np.ndarray]]:
    """A few fixed sets of short slanted streaks, cycled frame by frame."""
    patterns = []
    for _ in range(_RAIN_PATTERNS):
        starts = rng.uniform([0, 0], [pose.width_px, pose.height_px], size=(220, 2))
        lengths = rng.uniform(12, 34, size=(220, 1))
        ends = starts + lengths * np.array([[0.25, 1.0]])
        patterns.append([np.array([[s, e]], dtype=np.int32).reshape(2, 2) for s, e in zip(starts, ends)])
    return patterns
