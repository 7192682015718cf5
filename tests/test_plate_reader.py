"""The plate reader with the shipped model: plates drawn as the simulator draws them, CTC
decoding, and clear errors for bad images and wrong model files."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from roadcam.common.errors import ImageInvalid, ModelInvalid, ModelNotFound
from roadcam.plugins.plate_capture.reader import (
    ALPHABET,
    DEFAULT_MODELS,
    EU_MODELS,
    TRIMS,
    PlateRead,
    PlateReader,
    greedy_decode,
    layouts,
    models_for,
    side_by_side,
    trims,
)
from roadcam.sim.plate_patch import plate_patches

TINY_MODEL = Path(__file__).with_name("data") / "affine_float.tflite"


@pytest.fixture(scope="module")
def reader():
    return PlateReader()


def framed(patch: np.ndarray, width_px: int) -> np.ndarray:
    """A plate patch shrunk to ``width_px`` on a dark surround, as a detector crop with margin."""
    height_px = int(round(patch.shape[0] * width_px / patch.shape[1]))
    plate = cv2.resize(patch, (width_px, height_px), interpolation=cv2.INTER_AREA)
    crop = np.full((int(height_px * 1.4), int(width_px * 1.2), 3), 60, np.uint8)
    top, left = (crop.shape[0] - height_px) // 2, (crop.shape[1] - width_px) // 2
    crop[top:top + height_px, left:left + width_px] = plate
    return crop


@pytest.mark.parametrize("text, kind, size_m", [
    ("ABC-1234", "car", (0.38, 0.16)),
    ("KLM-5067", "truck", (0.38, 0.16)),
    ("RT-8802", "bus", (0.38, 0.16)),
    ("XYZ-123", "scooter", (0.21, 0.14)),
    ("456-HJK", "scooter", (0.21, 0.14)),
])
def test_reads_plates_drawn_as_the_simulator_draws_them(reader, text, kind, size_m):
    crop = framed(plate_patches(text, kind, size_m)[0], 90 if kind == "scooter" else 120)
    read = reader.read(crop)
    assert read.text == text.replace("-", "")
    assert len(read.char_confidences) == len(read.text)
    assert read.confidence == min(read.char_confidences) > 0.5


def test_a_batch_reads_the_same_as_one_at_a_time(reader):
    crops = [framed(plate_patches(text, "car", (0.38, 0.16))[0], 110) for text in ("DEF-4821", "GH-3390")]
    grey = cv2.cvtColor(crops[1], cv2.COLOR_BGR2GRAY)
    assert [r.text for r in reader.read_many([crops[0], grey])] == [reader.read(crops[0]).text,
                                                                    reader.read(grey).text]
    assert reader.read_many([]) == []


def test_a_blank_crop_reads_nothing_confidently(reader):
    read = reader.read(np.full((40, 120, 3), 128, np.uint8))
    assert read.confidence < 0.5 or read.text == ""


def test_greedy_decoding_merges_repeats_and_keeps_doubles_split_by_a_blank():
    one, blank = ALPHABET.index("1") + 1, 0
    steps = [(one, 0.6), (one, 0.9), (blank, 0.8), (one, 0.7), (ALPHABET.index("Z") + 1, 0.55), (blank, 0.9)]
    probabilities = np.full((len(steps), len(ALPHABET) + 1), 0.01, np.float32)
    for row, (label, p) in enumerate(steps):
        probabilities[row, label] = p
    read = greedy_decode(probabilities)
    assert read == PlateRead("11Z", pytest.approx(0.55), pytest.approx((0.9, 0.7, 0.55)))


def test_all_blanks_decode_to_an_empty_read_with_no_confidence():
    probabilities = np.zeros((64, len(ALPHABET) + 1), np.float32)
    probabilities[:, 0] = 1.0
    assert greedy_decode(probabilities) == PlateRead("", 0.0, ())


@pytest.mark.parametrize("image", [None, np.zeros((0, 0, 3), np.uint8), np.zeros((20, 60, 3), np.float32),
                                   np.zeros((20, 60, 4), np.uint8), b"\xff\xd8\xff truncated jpeg"])
def test_not_an_image_is_refused(reader, image):
    with pytest.raises(ImageInvalid):
        reader.read(image)


def test_a_model_that_is_not_a_plate_reader_is_refused():
    with pytest.raises(ModelInvalid, match="not a plate reader"):
        PlateReader(TINY_MODEL)


def test_each_shipped_model_reads_alone_and_a_second_model_leaves_a_sure_read_as_it_is():
    crop = framed(plate_patches("MNP-7315", "car", (0.38, 0.16))[0], 110)
    first, second = DEFAULT_MODELS
    alone = PlateReader(first).read(crop)
    assert alone.text == PlateReader(second).read(crop).text == "MNP7315"
    assert PlateReader([first, second]).read(crop) == alone


def test_without_the_second_look_only_the_first_model_is_loaded():
    assert len(PlateReader(reread_unsure=False).models) == 1
    assert len(PlateReader().models) == len(DEFAULT_MODELS) == 2


def test_a_romanian_site_reads_with_the_eu_pair_and_every_other_site_with_the_default_pair():
    assert models_for(["RO"]) == models_for(["US", "ro"]) == EU_MODELS
    assert models_for(["TW"]) == models_for(["US", "DE"]) == models_for([]) == DEFAULT_MODELS
    assert EU_MODELS[0] not in DEFAULT_MODELS
    assert len(PlateReader(EU_MODELS).models) == 2


def test_a_reader_without_models_is_refused():
    with pytest.raises(ValueError, match="at least one model"):
        PlateReader([])


def test_a_missing_model_is_named(tmp_path):
    with pytest.raises(ModelNotFound, match="reader.tflite"):
        PlateReader(tmp_path / "reader.tflite")


def test_narrow_crops_are_also_read_as_two_rows_side_by_side():
    assert layouts(np.zeros((40, 60, 3), np.uint8)) == (False, True)
    assert layouts(np.zeros((40, 100), np.uint8)) == (False,)
    two_rows = np.zeros((50, 60), np.uint8)
    two_rows[:25] = 200                                      # top row bright, bottom row dark
    line = side_by_side(two_rows)
    assert line.shape == (28, 120)
    assert line[:, :60].mean() > 150 and line[:, 60:].mean() < 50


def test_each_crop_is_read_in_every_trim_and_tiny_crops_are_never_cut_to_nothing():
    crop = np.arange(50 * 100, dtype=np.uint8).reshape(50, 100)
    cut = trims(crop)
    assert len(cut) == len(TRIMS) and cut[0].shape == crop.shape
    for piece, (left, top, right, bottom) in zip(cut, TRIMS):
        assert piece.shape == (50 - int(top * 50) - int(bottom * 50), 100 - int(left * 100) - int(right * 100))
        assert np.shares_memory(piece, crop), "trims are views, not copies"
    assert all(piece.size for piece in trims(np.zeros((1, 1), np.uint8)))
