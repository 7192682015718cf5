"""The plate capture plugin gives an unsure read the reader's second look (``reread_unsure``, on by
default), but only a read that fits one of the site's plate formats: see the plate reader's model
card, "The second look in the appliance"."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from roadcam.plugins.plate_capture.reader import EU_MODELS, PlateReader
from roadcam.sim.plate_patch import plate_patches
from tests.appliances import read_tracks

#: A car's box in the scene below, its plate low in the middle.
CAR = (145, 60, 495, 340)


def faded_plate_scene(text: str, width_px: int = 70, contrast: float = 0.35) -> np.ndarray:
    """A grey scene with one EU-shaped plate of ``text`` in the car's box: ``width_px`` wide, its
    contrast to the grey scaled by ``contrast``, slightly out of focus (a far plate at dusk)."""
    scene = np.full((480, 640, 3), 90, np.uint8)
    patch = plate_patches(text, "car", (0.52, 0.11))[0].astype(np.float32)
    height_px = int(round(patch.shape[0] * width_px / patch.shape[1]))
    plate = cv2.resize(patch, (width_px, height_px), interpolation=cv2.INTER_AREA)
    x, y = 320 - width_px // 2, 300
    scene[y:y + height_px, x:x + width_px] = np.clip(90 + contrast * (plate - 90), 0, 255).astype(np.uint8)
    return cv2.GaussianBlur(scene, (3, 3), 0)


def test_a_faded_plate_read_unsurely_is_read_by_the_second_look(tmp_path):
    """One look at the faded plate is too unsure for a plate.read; the second look (more trims,
    the second model) reads it, by default. Without it the car gets no plate."""
    frames = [(faded_plate_scene("IS07KLM"), {1: CAR})]
    reads, _ = read_tracks(tmp_path / "default", frames, countries=["RO"])
    one_look, _ = read_tracks(tmp_path / "one_look", frames, countries=["RO"], reread_unsure=False)
    assert reads[1] == ["IS07KLM"]
    assert one_look[1] == []


@pytest.fixture(scope="module")
def eu_reader():
    return PlateReader(EU_MODELS)


def test_the_second_look_goes_only_to_reads_the_caller_can_use(eu_reader):
    """``read_many(reread_if=...)``: an unsure crop whose first read the caller turns down is read
    once, as without the second look; one it accepts gets the second look, as by default."""
    scene = faded_plate_scene("IS07KLM")
    crop = scene[290:330, 270:370]
    one_look = PlateReader(EU_MODELS[:1], reread_unsure=False).read(crop)
    assert one_look.confidence < 0.8    # unsure: a second look is due
    assert eu_reader.read_many([crop], reread_if=lambda read: False) == [one_look]
    assert eu_reader.read_many([crop], reread_if=lambda read: True) == eu_reader.read_many([crop])
    assert eu_reader.read_many([crop]) != [one_look]
