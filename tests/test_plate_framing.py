"""Framing detector boxes as whole plates: half-plate boxes merged, narrow boxes also read widened;
end to end through ``roadcam plate read`` with the shipped detector and reader."""

from __future__ import annotations

import json

import cv2
import pytest

from roadcam.appliance.cli import main
from roadcam.plugins.plate_capture.cli import read_image
from roadcam.plugins.plate_capture.detector import PlateBox, PlateDetector
from roadcam.plugins.plate_capture.formats import PlateFormats
from roadcam.plugins.plate_capture.framing import framings, merge_halves
from roadcam.plugins.plate_capture.reader import DEFAULT_MODELS, PlateReader
from tests.appliances import read_tracks
from tests.synthetic import eu_scene


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


@pytest.mark.parametrize("text, width_px", [("B123XYZ", 240), ("CJ12ABC", 280)])
def test_with_wide_plates_the_appliance_reads_a_wide_plate_boxed_in_part_whole(tmp_path, text, width_px):
    """The same framing in the appliance (``plate_capture.wide_plates``): a tracked car carrying
    a wide Romanian plate the detector boxes without its left end gets its whole plate in its
    plate.read; without it, none. (On this grey scene, texts CJ12ABC, B123XYZ, IF99STK at
    160-280 px: 10 of 12 plates read whole with it, 5 without.) Read with the default pair, as
    those figures were: the EU pair a Romanian site gets already reads these two boxed in part."""
    scene = eu_scene(text, width_px)
    car = {1: (190, 70, 310 + width_px, 240 + round(width_px / 4.7))}  # the plate in its lower two thirds
    settings = {"countries": ["RO"], "min_confidence": 0.3, "reader_models": [str(p) for p in DEFAULT_MODELS]}
    narrow, _ = read_tracks(tmp_path / "narrow", [(scene, car)] * 3, wide_plates=False, **settings)
    wide, figures = read_tracks(tmp_path / "wide", [(scene, car)] * 3, wide_plates=True, **settings)
    assert narrow[1] == []
    assert wide[1] == [text]
    assert figures["reads"] > 3, "each frame's plate was read in more than one framing"


@pytest.mark.parametrize("countries, framed", [(["RO"], True), (["US", "RO"], True), (["TW"], False), (["US"], False)])
def test_unset_wide_plates_follows_the_countries_as_the_reader_pair_does(tmp_path, countries, framed):
    """``wide_plates`` left out: a site whose countries pick the EU reader (reader.models_for)
    frames each plate box wide (more than one read a frame), other sites read it as boxed;
    set, it is obeyed either way."""
    scene = eu_scene("CJ12ABC", 240)
    car = {1: (190, 70, 550, 291)}
    _, unset = read_tracks(tmp_path / "unset", [(scene, car)] * 3, countries=countries)
    _, told = read_tracks(tmp_path / "told", [(scene, car)] * 3, countries=countries, wide_plates=not framed)
    assert (unset["reads"] > 3) is framed
    assert (told["reads"] > 3) is not framed
