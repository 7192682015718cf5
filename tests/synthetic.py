"""Synthetic road scenes for the detector and tracker tests.

A camera on a pole (the simulator's :class:`SimCameraPose`) looks along a textured road; road
users are solid boxes (width x length x height) moving at constant velocity, drawn with cv2 as
the silhouette of their eight projected corners, far ones first so near ones hide them.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from roadcam.appliance.geometry import RoadGeometry
from roadcam.hal.base import Frame
from roadcam.sim.camera_pose import SimCameraPose
from roadcam.sim.plate_patch import plate_patches

FRAME_SIZE = (1280, 720)
FPS = 25.0
FRAME_NS = int(1e9 / FPS)
#: Lane centres (x, metres) of the two approach lanes.
LANES_M = (3.75, 7.25)
POSE = SimCameraPose(x_m=-1.0, y_m=70.0, height_m=6.5, yaw_deg=8.0, pitch_deg=13.0, hfov_deg=45.0,
                     width_px=FRAME_SIZE[0], height_px=FRAME_SIZE[1])


def road_geometry() -> RoadGeometry:
    """The camera's calibration from eight road marks, as a technician would draw it."""
    road = np.array([(x, y) for x in (0.0, 9.0) for y in (10.0, 25.0, 40.0, 55.0)])
    pixels, _ = POSE.project(np.column_stack([road, np.zeros(len(road))]))
    return RoadGeometry(pixels, road)


def textured_road(seed: int = 0) -> np.ndarray:
    """Asphalt-like noise with lane lines, BGR uint8 at FRAME_SIZE."""
    rng = np.random.default_rng(seed)
    w, h = FRAME_SIZE
    noise = rng.normal(0, 1, (h // 4, w // 4, 3)).astype(np.float32)
    texture = cv2.resize(cv2.GaussianBlur(noise, (0, 0), 1.5), (w, h), interpolation=cv2.INTER_CUBIC)
    image = np.clip(100 + 18 * texture + rng.normal(0, 3, (h, w, 3)), 0, 255).astype(np.uint8)
    for x in (2.0, 5.5, 9.0):
        line = [(x - 0.08, 1.0, 0.0), (x + 0.08, 1.0, 0.0), (x + 0.08, 69.0, 0.0), (x - 0.08, 69.0, 0.0)]
        pixels, _ = POSE.project(line)
        cv2.fillPoly(image, [np.round(pixels).astype(np.int32)], (200, 200, 200))
    return image


@dataclass
class Mover:
    """A box standing on the road at (x, y) metres (its footprint's centre), moving at constant
    velocity, optionally only from ``start_s`` on."""

    x_m: float
    y_m: float
    width_m: float
    length_m: float
    height_m: float
    vx_mps: float = 0.0
    vy_mps: float = 0.0
    colour: tuple[int, int, int] = (40, 40, 200)
    start_s: float = 0.0

    def at(self, time_s: float) -> tuple[float, float]:
        moving_s = max(time_s - self.start_s, 0.0)
        return self.x_m + self.vx_mps * moving_s, self.y_m + self.vy_mps * moving_s

    def corners(self, time_s: float) -> np.ndarray:
        x, y = self.at(time_s)
        across, along = (self.width_m, self.length_m) if self.vx_mps == 0 else (self.length_m, self.width_m)
        return np.array([(x + sx * across / 2, y + sy * along / 2, z)
                         for sx in (-1, 1) for sy in (-1, 1) for z in (0.0, self.height_m)])

    def image_box(self, time_s: float) -> tuple[float, float, float, float] | None:
        """The box's image box, or None when any corner is behind the camera."""
        pixels, depth = POSE.project(self.corners(time_s))
        if np.any(depth <= 0.5):
            return None
        return (*pixels.min(axis=0), *pixels.max(axis=0))


def distance_m(mover: Mover, time_s: float) -> float:
    x, y = mover.at(time_s)
    return float(np.hypot(x - POSE.x_m, y - POSE.y_m))


def render(background: np.ndarray, movers: list[Mover], time_s: float, gain: float = 1.0,
           hidden: tuple[int, ...] = ()) -> np.ndarray:
    """The scene at ``time_s``; ``gain`` scales the whole image's brightness; movers whose index
    is in ``hidden`` are not drawn."""
    image = background.copy()
    for i in sorted(range(len(movers)), key=lambda i: -distance_m(movers[i], time_s)):
        pixels, depth = POSE.project(movers[i].corners(time_s))
        if i in hidden or np.any(depth <= 0.5):
            continue
        hull = cv2.convexHull(np.round(pixels).astype(np.int32))
        cv2.fillConvexPoly(image, hull, movers[i].colour, lineType=cv2.LINE_AA)
    if gain != 1.0:
        image = cv2.convertScaleAbs(image, alpha=gain)
    return image


def frame(index: int, image: np.ndarray, camera: str = "cam") -> Frame:
    return Frame(camera=camera, index=index, time_ns=1_700_000_000_000_000_000 + index * FRAME_NS,
                 mono_ns=index * FRAME_NS, image=image)


def run_pipeline(movers: list[Mover], frames: int, *, hidden_frames: dict[int, tuple[int, ...]] | None = None,
                 gains: list[float] | None = None, warmup_frames: int = 76, tracker=None, detector=None):
    """Render ``frames`` frames (movers appear after ``warmup_frames`` empty ones), detect and
    track them. Returns (finished tracks, per-frame detections, per-frame truth boxes
    {mover index: box})."""
    from roadcam.appliance.tracking import Tracker
    from roadcam.plugins.detection import BackgroundDetector, DetectionConfig

    geometry, background = road_geometry(), textured_road()
    detector = detector or BackgroundDetector(DetectionConfig())
    tracker = tracker or Tracker("cam", frame_size_px=FRAME_SIZE)
    finished, detections, truth = [], [], []
    for index in range(frames):
        time_s = (index - warmup_frames) / FPS
        shown = movers if index >= warmup_frames else []
        image = render(background, shown, time_s, gain=gains[index] if gains else 1.0,
                       hidden=(hidden_frames or {}).get(index, ()))
        found = detector.roadcam_detect(frame=frame(index, image), geometry=geometry)
        _, ended = tracker.update(index, frame(index, image).time_ns, found)
        finished += ended
        detections.append(found)
        truth.append({i: box for i, m in enumerate(shown) if (box := _visible_box(m, time_s)) is not None})
    return finished + tracker.finish_all(), detections, truth


def _visible_box(mover: Mover, time_s: float):
    box = mover.image_box(time_s)
    if box is None:
        return None
    w, h = FRAME_SIZE
    clipped = (max(box[0], 0), max(box[1], 0), min(box[2], w), min(box[3], h))
    return clipped if clipped[2] - clipped[0] > 4 and clipped[3] - clipped[1] > 4 else None


def track_ids_per_mover(tracks, truth, min_iou: float = 0.3) -> dict[int, set[int]]:
    """For each mover, the ids of the tracks whose boxes matched its true box in some frame."""
    from roadcam.appliance.boxes import as_boxes, ious

    ids: dict[int, set[int]] = {}
    points = {}
    for track in tracks:
        for point in track.points:
            points.setdefault(point.frame_index, []).append((track.id, point.box))
    for index, boxes in enumerate(truth):
        for mover, box in boxes.items():
            candidates = points.get(index, [])
            if not candidates:
                continue
            overlap = ious(as_boxes([box]), as_boxes([b for _, b in candidates]))[0]
            best = int(np.argmax(overlap))
            if overlap[best] >= min_iou:
                ids.setdefault(mover, set()).add(candidates[best][0])
    return ids


def eu_scene(text: str, width_px: int) -> np.ndarray:
    """A 4.7:1 plate (an EU plate's shape), ``width_px`` wide, on a plain grey scene."""
    patch = plate_patches(text, "car", (0.52, 0.11))[0]
    height_px = int(round(patch.shape[0] * width_px / patch.shape[1]))
    scene = np.full((480, 640, 3), 90, np.uint8)
    scene[200:200 + height_px, 250:250 + width_px] = cv2.resize(patch, (width_px, height_px),
                                                                interpolation=cv2.INTER_AREA)
    return scene
