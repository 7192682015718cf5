"""Framing detector boxes as whole plates: half-plate boxes merged, narrow boxes also read widened;
end to end through ``roadcam plate read`` with the shipped detector and reader."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from roadcam.appliance.cli import main
from roadcam.plugins.plate_capture.cli import read_image
from roadcam.plugins.plate_capture.detector import PlateBox, PlateDetector
from roadcam.plugins.plate_capture.formats import PlateFormats
from roadcam.plugins.plate_capture.framing import framings, merge_halves
from roadcam.plugins.plate_capture.reader import PlateReader
from roadcam.sim.plate_patch import plate_patches


def eu_scene(text: str, width_px: int) -> np.ndarray:
    """A 4.7:1 plate (an EU plate's shape), ``width_px`` wide, on a plain grey scene."""
    patch = plate_patches(text, "car", (0.52, 0.11))[0]
    height_px = int(round(patch.shape[0] * width_px / patch.shape[1]))
    scene = np.full((480, 640, 3), 90, np.uint8)
    scene[200:200 + height_px, 250:250 + width_px] = cv2.resize(patch, (width_px, height_px),
                                                                interpolation=cv2.INTER_AREA)
    return scene


def test_two_half_plate_boxes_side_by_side_become_one_box_with_the_stronger_score():
    left = PlateBox(100, 50, 160, 80, 0.6, 0.3)
    right = PlateBox(155, 52, 215, 83, 0.4, 0.1)
    elsewhere = PlateBox(400, 300, 460, 330, 0.5, 0.2)
    merged = merge_halves([right, elsewhere, left])
    assert merged == [PlateBox(100, 50, 215, 83, 0.6, 0.3), elsewhere]


@pytest.mark.parametrize("other", [
    PlateBox(100, 90, 160, 120, 0.4),     # the row below (a slogan under the plate)
    PlateBox(250, 50, 310, 80, 0.4),      # on the row but far off (the next car's plate)
    PlateBox(165, 40, 225, 110, 0.4),     # beside it but more than 1.6 times as tall
])
def test_boxes_not_side_by_side_on_one_row_stay_apart(other):
    plate = PlateBox(100, 50, 160, 80, 0.6)
    assert sorted(merge_halves([plate, other]), key=lambda box: box.x1) == sorted([plate, other],
                                                                                   key=lambda box: box.x1)


def test_a_narrow_box_is_also_framed_wider_about_its_centre_inside_the_image():
    box = PlateBox(20, 100, 80, 130, 0.5)
    framed = framings(box, 640, 480, aspects=(3.0, 4.0))
    assert framed[0] == box
    assert [(b.x1, b.x2, b.y1, b.y2) for b in framed[1:]] == [(5.0, 95.0, 100, 130), (0.0, 110.0, 100, 130)]
    assert framings(PlateBox(0, 0, 200, 40, 0.5), 640, 480, aspects=(3.0, 4.0)) == [PlateBox(0, 0, 200, 40, 0.5)]


@pytest.fixture(scope="module")
def models():
    return PlateDetector(), PlateReader()


@pytest.mark.parametrize("text", ["CJ12ABC", "B123XYZ"])
def test_a_large_wide_plate_boxed_in_part_is_read_whole(models, text):
    """The shipped detector boxes a 240 px wide 4.7:1 plate narrower than it is (its boxes are
    about 2.3:1); read as boxed, characters at the ends are lost."""
    detector, reader = models
    scene = eu_scene(text, 240)
    formats = PlateFormats.load(["RO"])
    assert max(box.x2 - box.x1 for box in detector.detect(scene)) < 200
    as_boxed = read_image(scene, detector, reader, formats, aspects=(), merge=False)
    assert text not in [plate["plate"] for plate in as_boxed]
    framed = read_image(scene, detector, reader, formats)
    assert framed[0]["plate"] == text
    assert framed[0]["box"][2] - framed[0]["box"][0] > 200


def test_plate_read_gives_one_whole_read_for_a_plate_the_detector_splits(models, tmp_path, capsys):
    scene = eu_scene("IF99STK", 180)
    assert len([box for box in models[0].detect(scene) if box.x1 < 340 < box.x2 or 250 < box.x1 < 430]) >= 2
    cv2.imwrite(str(tmp_path / "scene.png"), scene)
    status = main(["plate", "read", str(tmp_path / "scene.png"), "--country", "RO", "--json"])
    plates = json.loads(capsys.readouterr().out)["plates"]
    assert status == 0
    on_plate = [p for p in plates if p["box"][0] < 340 < p["box"][2] and p["box"][1] < 215 < p["box"][3]]
    assert [p["plate"] for p in on_plate] == ["IF99STK"]
