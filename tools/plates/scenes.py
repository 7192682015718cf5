"""Training squares for the plate detector: grey model-input squares with their plate boxes.

Every square is cut through :mod:`roadcam.plugins.plate_capture.windows`, exactly as the runtime cuts
its vehicle regions and scene tiles, from three sources:

- simulator frames (:func:`sim_squares`): vehicle regions and scene tiles of shipped scenarios
  run with other seeds and camera poses, plate boxes from the ground truth;
- real photos (:func:`photo_squares`): the non-held-out plates-us photos at many plate scales;
- synthetic scenes (:func:`synthetic_squares`): generated plates warped in perspective onto
  road and photo backgrounds, often on a drawn vehicle rear, with text-like distractors;
- plate-free squares (:func:`background_squares`) of the same backgrounds, so texture, lamps
  and lettering are learnt as not plates.

:func:`photometric` then varies light, blur, noise, night and compression.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from roadcam.plugins.plate_capture.detector import as_grey
from roadcam.plugins.plate_capture.windows import Window, region_window, scene_windows
from roadcam.sim import SimRoad, load_scenario
from roadcam.sim.plate_patch import plate_patches
from roadcam.sim.plates import PlateGenerator
from roadcam.tools.plates.datasets import PlateSample

#: Plate widths (input px) the detector is trained on: smaller are unreadable, larger are rare.
PLATE_WIDTH_PX = (12.0, 160.0)
#: Least visible fraction of a simulated plate to count it as one to find.
MIN_PLATE_VISIBLE = 0.6
#: Simulated vehicles framed as regions: at least this visible and this many pixels on a side.
MIN_VEHICLE_VISIBLE = 0.6
MIN_VEHICLE_PX = 24
_ALPHANUMERIC = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_US_PLATE_SIZE_M = (0.305, 0.152)
_EU_PLATE_SIZE_M = (0.52, 0.11)
_TW_PLATE_SIZE_M = (0.38, 0.16)
_SCOOTER_PLATE_SIZE_M = (0.21, 0.14)


@dataclass
class Square:
    """One training input: a grey square and its plate boxes (N, 4) in its pixels."""

    image: np.ndarray
    boxes: np.ndarray


def cut_square(grey: np.ndarray, window: Window, side_px: int, plate_boxes) -> Square:
    """The window's square with the plates whose centre falls inside it."""
    boxes = window.to_input(np.asarray(plate_boxes, np.float64).reshape(-1, 4))
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    inside = ((centres >= 0) & (centres < side_px)).all(axis=1)
    return Square(window.cut(grey, side_px), boxes[inside].astype(np.float32))


# ---- simulator -----------------------------------------------------------------------------------

def sim_squares(rng: np.random.Generator, runs: list[tuple[str, int]], side_px: int, duration_s: float,
                every_n_frames: int, tiles_per_frame: float) -> tuple[list[Square], list[np.ndarray]]:
    """Vehicle-region and scene-tile squares from simulator runs (scenario name, seed), one
    rendered frame in ``every_n_frames``; also each run's grey backgrounds for synthetic scenes."""
    squares, backgrounds = [], []
    for name, seed in runs:
        road = SimRoad.from_scenario(_varied_scenario(rng, name, seed, duration_s))
        backgrounds.append(as_grey(road.renderer.backgrounds[0]))
        while (frame := road.advance_frame()) is not None:
            grey = as_grey(frame.image)
            vehicles, plates = _frame_truth(road, frame.index)
            for box in vehicles:
                squares.append(cut_square(grey, _jittered_region_window(rng, box, side_px), side_px, plates))
            for _ in range(rng.poisson(tiles_per_frame)):
                squares.append(cut_square(grey, _random_scene_tile(rng, grey.shape, side_px), side_px, plates))
            road.skip_frames(every_n_frames - 1)
    return squares, backgrounds


def _varied_scenario(rng: np.random.Generator, name: str, seed: int, duration_s: float):
    """A shipped scenario with another seed and a camera pose varied around its own."""
    scenario = load_scenario(name)
    camera = scenario.camera
    varied = camera.model_copy(update={
        "height_m": float(np.clip(camera.height_m + rng.uniform(-1.5, 1.5), 4.0, 9.0)),
        "pitch_deg": float(np.clip(camera.pitch_deg + rng.uniform(-3, 3), 6, 30)),
        "hfov_deg": float(np.clip(camera.hfov_deg * rng.uniform(0.7, 1.15), 20, 70)),
    })
    return scenario.model_copy(update={"seed": seed, "camera": varied,
                                       "duration_s": min(duration_s, scenario.duration_s)})


def _frame_truth(road: SimRoad, index: int) -> tuple[list[tuple], list[tuple]]:
    """Boxes of the frame's clearly visible vehicles, and of its plates to find."""
    vehicles, plates = [], []
    for truth in road.truth.vehicles.values():
        box = truth.boxes.get(index)
        if (box is not None and box[4] >= MIN_VEHICLE_VISIBLE
                and min(box[2] - box[0], box[3] - box[1]) >= MIN_VEHICLE_PX):
            vehicles.append(box[:4])
        plate = truth.plate_boxes.get(index)
        if plate is not None and plate[4] >= MIN_PLATE_VISIBLE:
            plates.append(plate[:4])
    return vehicles, plates


def _jittered_region_window(rng: np.random.Generator, box, side_px: int) -> Window:
    """The runtime's region window of a tracker-like box: edges off by a few percent."""
    x1, y1, x2, y2 = box
    size = np.array([x2 - x1, y2 - y1, x2 - x1, y2 - y1])
    jittered = np.asarray(box) + rng.normal(0.0, 0.05, 4) * size
    if jittered[2] - jittered[0] < 8 or jittered[3] - jittered[1] < 8:
        jittered = np.asarray(box)
    return region_window(tuple(jittered), side_px, margin=float(rng.uniform(0.0, 0.25)))


def _random_scene_tile(rng: np.random.Generator, shape: tuple[int, int], side_px: int) -> Window:
    """One tile of the runtime's scene tiling at a random working size."""
    height, width = shape
    long_side = int(rng.uniform(side_px, max(width, height)))
    tiles = scene_windows(width, height, side_px, long_side)
    return tiles[int(rng.integers(len(tiles)))]


# ---- real photos ---------------------------------------------------------------------------------

def photo_squares(rng: np.random.Generator, samples: list[PlateSample], side_px: int, count: int) -> list[Square]:
    """``count`` squares of labelled photos, each plate shown at a random width in
    :data:`PLATE_WIDTH_PX` at a random place of the square."""
    greys = [as_grey(cv2.imread(str(sample.path))) for sample in samples]
    squares = []
    for _ in range(count):
        index = int(rng.integers(len(samples)))
        x, y, w, h = samples[index].box
        plate = (x, y, x + w, y + h)
        scale = _log_uniform(rng, *PLATE_WIDTH_PX) / w
        centre_in = rng.uniform(0.1 * side_px, 0.9 * side_px, 2)
        window = Window(x + w / 2 - centre_in[0] / scale, y + h / 2 - centre_in[1] / scale, scale)
        squares.append(cut_square(greys[index], window, side_px, [plate]))
    return squares


def photo_backgrounds(samples: list[PlateSample]) -> list[np.ndarray]:
    """The photos in grey with their labelled plate smeared out, as backgrounds for synthetic
    plates (so a real plate is never shown as background)."""
    backgrounds = []
    for sample in samples:
        grey = as_grey(cv2.imread(str(sample.path)))
        x, y, w, h = sample.box
        x1, y1, x2, y2 = max(x - w // 4, 0), max(y - h // 4, 0), x + w + w // 4, y + h + h // 4
        grey[y1:y2, x1:x2] = cv2.blur(grey[y1:y2, x1:x2], (w, h))
        backgrounds.append(grey)
    return backgrounds


# ---- synthetic scenes ----------------------------------------------------------------------------

def synthetic_squares(rng: np.random.Generator, backgrounds: list[np.ndarray], side_px: int,
                      count: int) -> list[Square]:
    """``count`` squares of generated plates on backgrounds (random crops of ``backgrounds``),
    on a drawn vehicle rear two times in three, with painted text that is not a plate."""
    plates = PlateGenerator(rng)
    squares = []
    for _ in range(count):
        canvas = _background_crop(rng, backgrounds, side_px)
        plate_width = _log_uniform(rng, *PLATE_WIDTH_PX)
        anchor = rng.uniform(0.15 * side_px, 0.85 * side_px, 2)
        if rng.random() < 0.67:
            anchor = _draw_vehicle_rear(rng, canvas, plate_width)
        if rng.random() < 0.4:
            _draw_distractor_text(rng, canvas)
        boxes = [_paste_plate(rng, canvas, _plate_image(rng, plates), plate_width, anchor)]
        if rng.random() < 0.2:
            second = rng.uniform(0.1 * side_px, 0.9 * side_px, 2)
            width_px = _log_uniform(rng, *PLATE_WIDTH_PX)
            boxes.append(_paste_plate(rng, canvas, _plate_image(rng, plates), width_px, second))
        squares.append(Square(canvas, np.array(boxes, np.float32)))
    return squares


def background_squares(rng: np.random.Generator, backgrounds: list[np.ndarray], side_px: int,
                       count: int) -> list[Square]:
    """``count`` squares with no plate: background crops, some with a vehicle rear or lettering."""
    squares = []
    for _ in range(count):
        canvas = _background_crop(rng, backgrounds, side_px)
        if rng.random() < 0.3:
            _draw_vehicle_rear(rng, canvas, _log_uniform(rng, *PLATE_WIDTH_PX))
        if rng.random() < 0.4:
            _draw_distractor_text(rng, canvas)
        squares.append(Square(canvas, np.zeros((0, 4), np.float32)))
    return squares


def _background_crop(rng: np.random.Generator, backgrounds: list[np.ndarray], side_px: int) -> np.ndarray:
    grey = backgrounds[int(rng.integers(len(backgrounds)))]
    height, width = grey.shape
    span = rng.uniform(side_px * 0.5, min(height, width))
    window = Window(rng.uniform(0, width - span), rng.uniform(0, height - span), side_px / span)
    return window.cut(grey, side_px)


def _draw_vehicle_rear(rng: np.random.Generator, canvas: np.ndarray, plate_width: float) -> np.ndarray:
    """A box-shaped vehicle rear about five plates wide, bumper and tail lamps; returns where
    its plate goes."""
    side = canvas.shape[0]
    width = plate_width * rng.uniform(3.5, 6.5)
    height = width * rng.uniform(0.6, 1.1)
    centre = rng.uniform(0.2 * side, 0.8 * side, 2)
    x1, y1 = centre - (width / 2, height / 2)
    body = int(rng.integers(20, 236))
    skew = rng.uniform(-0.15, 0.15) * width
    corners = np.array([[x1 + skew, y1], [x1 + width + skew, y1], [x1 + width, y1 + height], [x1, y1 + height]])
    cv2.fillConvexPoly(canvas, np.round(corners).astype(np.int32), body, cv2.LINE_AA)
    glass_bottom = y1 + height * rng.uniform(0.3, 0.5)
    cv2.rectangle(canvas, (int(x1 + skew + 0.1 * width), int(y1 + 0.05 * height)),
                  (int(x1 + skew + 0.9 * width), int(glass_bottom)), int(rng.integers(10, 80)), -1)
    lamp = int(rng.integers(40, 200))
    for side_x in (x1 + 0.04 * width, x1 + 0.8 * width):
        cv2.rectangle(canvas, (int(side_x), int(glass_bottom + 0.05 * height)),
                      (int(side_x + 0.16 * width), int(glass_bottom + 0.18 * height)), lamp, -1)
    cv2.rectangle(canvas, (int(x1), int(y1 + 0.85 * height)), (int(x1 + width), int(y1 + height)),
                  int(rng.integers(10, 120)), -1)
    return np.array([x1 + width * rng.uniform(0.4, 0.6), y1 + height * rng.uniform(0.62, 0.78)])


def _draw_distractor_text(rng: np.random.Generator, canvas: np.ndarray) -> None:
    """Painted lettering with no plate around it (company names, phone numbers, badges)."""
    side = canvas.shape[0]
    text = "".join(rng.choice(list(_ALPHANUMERIC + " -"), int(rng.integers(3, 14))))
    scale = rng.uniform(0.3, 1.2)
    origin = (int(rng.uniform(0, 0.7 * side)), int(rng.uniform(0.1 * side, side)))
    level = int(rng.integers(0, 256))
    cv2.putText(canvas, text, origin, int(rng.choice([0, 1, 2, 3, 4, 6, 7])), scale, level,
                int(rng.integers(1, 3)), cv2.LINE_AA)


def _plate_image(rng: np.random.Generator, plates: PlateGenerator) -> np.ndarray:
    """A grey plate: Taiwanese car or scooter plate as the simulator draws them, or a
    generic Latin plate (US or European shape) in random tones, some with a header line."""
    style = rng.random()
    if style < 0.35:
        kind = str(rng.choice(["car", "truck", "bus"]))
        patch = plate_patches(plates.issue(kind), kind, _TW_PLATE_SIZE_M)[0]
    elif style < 0.5:
        patch = plate_patches(plates.issue("scooter"), "scooter", _SCOOTER_PLATE_SIZE_M)[0]
    else:
        text = "".join(rng.choice(list(_ALPHANUMERIC), int(rng.integers(5, 9))))
        size = _US_PLATE_SIZE_M if rng.random() < 0.7 else _EU_PLATE_SIZE_M
        patch = plate_patches(text, "car", size)[0]
    grey = as_grey(patch).astype(np.float32)
    ink = np.clip((grey.max() - grey) / max(float(grey.max() - grey.min()), 1.0), 0, 1)
    paper, colour = _plate_tones(rng)
    plate = np.clip(paper * (1 - ink) + colour * ink, 0, 255).astype(np.uint8)
    if style >= 0.5 and rng.random() < 0.6:
        _draw_header(rng, plate, int(colour))
    return plate


def _plate_tones(rng: np.random.Generator) -> tuple[float, float]:
    """Background and character grey levels: mostly dark on light, sometimes light on dark."""
    light, dark = rng.uniform(150, 250), rng.uniform(0, 110)
    return (light, dark) if rng.random() < 0.85 else (dark, light)


def _draw_header(rng: np.random.Generator, plate: np.ndarray, colour: int) -> None:
    """A small line of text along the top edge (a US state name)."""
    height, width = plate.shape
    word = "".join(rng.choice(list(_ALPHANUMERIC[:26]), int(rng.integers(4, 12))))
    cv2.putText(plate, word, (int(width * 0.25), int(height * 0.12)), cv2.FONT_HERSHEY_SIMPLEX,
                height / 260, colour, max(1, height // 90), cv2.LINE_AA)


def _paste_plate(rng: np.random.Generator, canvas: np.ndarray, plate: np.ndarray, width_px: float,
                 centre: np.ndarray) -> list[float]:
    """Warp ``plate`` onto ``canvas`` ``width_px`` wide around ``centre`` with a little roll,
    yaw and pitch; returns its box."""
    height, width = plate.shape
    half_w, half_h = width_px / 2, width_px * height / width / 2
    yaw = rng.uniform(-0.2, 0.2)
    pitch = rng.uniform(-0.1, 0.1)
    corners = np.array([[-half_w * (1 + pitch), -half_h * (1 - yaw)], [half_w * (1 + pitch), -half_h * (1 + yaw)],
                        [half_w * (1 - pitch), half_h * (1 + yaw)], [-half_w * (1 - pitch), half_h * (1 - yaw)]])
    roll = rng.uniform(-0.12, 0.12)
    rotation = np.array([[np.cos(roll), -np.sin(roll)], [np.sin(roll), np.cos(roll)]])
    target = (corners @ rotation.T + centre).astype(np.float32)
    source = np.float32([[0, 0], [width, 0], [width, height], [0, height]])
    matrix = cv2.getPerspectiveTransform(source, target)
    side = canvas.shape[0]
    warped = cv2.warpPerspective(plate, matrix, (side, side), flags=cv2.INTER_AREA)
    mask = cv2.warpPerspective(np.full_like(plate, 255), matrix, (side, side), flags=cv2.INTER_AREA)
    alpha = mask.astype(np.float32) / 255
    canvas[:] = (canvas * (1 - alpha) + warped * alpha).astype(np.uint8)
    (x1, y1), (x2, y2) = target.min(axis=0), target.max(axis=0)
    return [float(x1), float(y1), float(x2), float(y2)]


# ---- photometric variation -----------------------------------------------------------------------

def photometric(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """The square under other light and optics: contrast and gamma, sometimes night, blur,
    motion blur, sensor noise and JPEG compression."""
    out = image.astype(np.float32) / 255
    out = np.clip((out - 0.5) * rng.uniform(0.6, 1.3) + 0.5 + rng.uniform(-0.15, 0.15), 0, 1)
    out = out ** rng.uniform(0.7, 1.4)
    if rng.random() < 0.15:
        out = out * rng.uniform(0.15, 0.5)
    if rng.random() < 0.35:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.4, 1.4))
    if rng.random() < 0.15:
        out = _motion_blur(rng, out)
    out = out + rng.normal(0, rng.uniform(0, 0.03), out.shape).astype(np.float32)
    result = np.clip(out * 255, 0, 255).astype(np.uint8)
    if rng.random() < 0.3:
        quality = int(rng.integers(30, 90))
        result = cv2.imdecode(cv2.imencode(".jpg", result, [cv2.IMWRITE_JPEG_QUALITY, quality])[1],
                              cv2.IMREAD_GRAYSCALE)
    return result


def _motion_blur(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """A short straight smear in a random direction."""
    length = int(rng.integers(3, 8))
    line = np.zeros((length, length), np.float32)
    line[length // 2, :] = 1
    rotation = cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5), float(rng.uniform(0, 180)), 1.0)
    kernel = cv2.warpAffine(line, rotation, (length, length))
    return cv2.filter2D(image, -1, kernel / max(float(kernel.sum()), 1e-6))


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))
