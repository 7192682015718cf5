"""The plate capture plugin finds a vehicle's plate among the boxes the detector keeps in its box,
not only in the strongest one (on real Romanian scenes the strongest box in a vehicle is often a
tail light, a badge or a slogan; see the plate reader's model card, "Plates inside a vehicle's box")."""

from __future__ import annotations

import cv2
import numpy as np

from roadcam.plugins.plate_capture.detector import PlateDetector
from roadcam.sim.plate_patch import plate_patches
from tests.appliances import read_tracks

#: A car's box in the scene below, with its plate and a dealer's sticker in its lower two thirds.
CAR = (145, 60, 495, 340)


def _paste(scene: np.ndarray, text: str, x: int, y: int, width_px: int, contrast: float) -> tuple[int, int, int, int]:
    """An EU-shaped plate of ``text`` (4.7:1), ``width_px`` wide at (x, y), its contrast to the
    scene's grey scaled by ``contrast``; its box."""
    patch = plate_patches(text, "car", (0.52, 0.11))[0].astype(np.float32)
    height_px = int(round(patch.shape[0] * width_px / patch.shape[1]))
    resized = cv2.resize(patch, (width_px, height_px), interpolation=cv2.INTER_AREA)
    scene[y:y + height_px, x:x + width_px] = np.clip(90 + contrast * (resized - 90), 0, 255).astype(np.uint8)
    return x, y, x + width_px, y + height_px


def sticker_car(plate: str) -> tuple[np.ndarray, tuple[int, int, int, int], tuple[int, int, int, int]]:
    """A grey scene: a car whose plate (90 px wide, as the ro-plates frames' plates are, faded) hangs
    under a larger, crisper sticker that looks like a plate but reads as no plate's text.
    Returns the scene, the plate's box and the sticker's."""
    scene = np.full((480, 640, 3), 90, np.uint8)
    sticker = _paste(scene, "AUTOMOBIL", 250, 230, 140, 1.0)
    return scene, _paste(scene, plate, 275, 300, 90, 0.5), sticker


def _centre_in(found, box) -> bool:
    x, y = (found.x1 + found.x2) / 2, (found.y1 + found.y2) / 2
    return box[0] <= x <= box[2] and box[1] <= y <= box[3]


def test_a_plate_under_a_stronger_plate_like_sticker_is_read(tmp_path):
    """The detector scores the sticker above the plate; the sticker's read fits no Romanian format,
    so the next box, the plate, is read. Reading only the strongest box, the car gets no plate."""
    scene, plate, sticker = sticker_car("CJ12ABC")
    found = PlateDetector().detect(scene, region=CAR)
    assert _centre_in(found[0], sticker) and any(_centre_in(box, plate) for box in found[1:])
    frames = [(scene, {1: CAR})] * 3
    reads, figures = read_tracks(tmp_path / "default", frames, countries=["RO"])
    strongest_only, _ = read_tracks(tmp_path / "strongest", frames, countries=["RO"], plate_candidates=1)
    assert reads[1] == ["CJ12ABC"]
    assert figures["accepted"] == 3
    assert strongest_only[1] == []
