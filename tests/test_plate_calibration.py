"""The plate detector's calibrated score: the shipped table, its use by the detector and by
``roadcam plate read``, and the isotonic fit that makes it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from roadcam.common.errors import ModelInvalid
from roadcam.plugins.plate_capture.calibration import DEFAULT_CALIBRATION, ScoreCalibration, file_sha256
from roadcam.plugins.plate_capture.detector import DEFAULT_MODEL, PlateDetector
from roadcam.tools.plates.calibrate_detector import isotonic_knots
from roadcam.tools.plates.real_detections import expected_calibration_error


def test_the_shipped_table_fits_the_shipped_model_and_names_its_source():
    table = ScoreCalibration.load(DEFAULT_CALIBRATION)
    assert table.fits(DEFAULT_MODEL)
    assert table.about["split"] == "train" and "ro-plates" in table.about["data"]
    assert table.about["data"]["ro-plates"]["licence"].startswith("MIT")
    assert list(table.probabilities) == sorted(table.probabilities)  # monotone: never reorders boxes
    assert PlateDetector().calibration == table


def test_probabilities_interpolate_between_knots_and_clamp_at_the_ends():
    table = ScoreCalibration((0.3, 0.5, 0.7), (0.0, 0.2, 0.6), "x", {})
    assert table.probability([0.1, 0.3, 0.4, 0.6, 0.9]).tolist() == pytest.approx([0.0, 0.0, 0.1, 0.4, 0.6])


def test_a_table_for_another_model_is_not_used(tmp_path):
    other = ScoreCalibration((0.3, 0.9), (0.1, 0.9), "0" * 64, {"split": "train"})
    (tmp_path / "other.json").write_text(other.to_json())
    assert ScoreCalibration.load(tmp_path / "other.json") == other
    detector = PlateDetector(calibration=tmp_path / "other.json")
    assert detector.calibration is None
    image = np.zeros((64, 64, 3), np.uint8)
    assert all(box.probability is None for box in detector.detect(image))


@pytest.mark.parametrize("text, problem", [
    ("not json", "not a plate detector calibration table"),
    (json.dumps({"model_sha256": "x", "knots": [[0.5, 0.1], [0.4, 0.2]]}), "must increase"),
    (json.dumps({"model_sha256": "x", "knots": [[0.4, 0.1], [0.5, 1.2]]}), "lie in 0-1"),
    (json.dumps({"knots": [[0.4, 0.1]]}), "KeyError"),
])
def test_a_broken_table_is_refused_naming_its_file(tmp_path, text, problem):
    (tmp_path / "table.json").write_text(text)
    with pytest.raises(ModelInvalid, match=problem) as refused:
        ScoreCalibration.load(tmp_path / "table.json")
    assert "table.json" in str(refused.value)


def test_the_isotonic_fit_recovers_a_known_probability_and_is_monotone():
    rng = np.random.default_rng(3)
    scores = rng.uniform(0.3, 0.9, 20_000)
    truth = (scores - 0.3) ** 2 / 0.36          # 0 at 0.3, 1 at 0.9: far from the raw score
    outcomes = rng.random(scores.size) < truth
    knot_scores, shares = isotonic_knots(scores, outcomes)
    assert np.all(np.diff(knot_scores) > 0) and np.all(np.diff(shares) > 0)
    table = ScoreCalibration(tuple(knot_scores), tuple(shares), "x", {})
    assert expected_calibration_error(table.probability(scores), outcomes) < 0.02
    assert expected_calibration_error(scores, outcomes) > 0.1


def test_pooling_flattens_a_dip():
    scores = np.arange(200) / 200
    outcomes = np.r_[np.zeros(50), np.ones(50), np.zeros(50), np.ones(50)]  # a rise, a fall, a rise
    _, shares = isotonic_knots(scores, outcomes, bin_boxes=50)
    assert shares.tolist() == [0.0, 0.5, 1.0]


def test_file_sha256_of_the_model():
    assert len(file_sha256(DEFAULT_MODEL)) == 64
