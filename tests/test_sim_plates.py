"""Taiwanese plates: every generated plate is valid for its class, and none repeats."""

import numpy as np
import pytest

from roadcam.sim.plates import FORMATS_BY_KIND, PLATE_FORMATS, PlateGenerator, is_valid_plate, plate_format


@pytest.mark.parametrize("kind", sorted(FORMATS_BY_KIND))
def test_generated_plates_match_their_class_formats(kind):
    generator = PlateGenerator(np.random.default_rng(5))
    plates = [generator.issue(kind) for _ in range(300)]
    assert all(plate_format(plate) in FORMATS_BY_KIND[kind] for plate in plates)
    assert len(set(plates)) == len(plates)
    assert not any(letter in plate for plate in plates for letter in "IO")


def test_formats_as_issued():
    assert PLATE_FORMATS["ABC-1234"].match("KLA-0812")
    assert PLATE_FORMATS["AB-1234"].match("XY-9999")
    assert PLATE_FORMATS["ABC-123"].match("MNB-123")
    assert PLATE_FORMATS["123-ABC"].match("123-ABC")
    for bad in ("ABC1234", "AB-12345", "IOA-1234", "abc-1234", "12-ABCD", "ABCD-123", ""):
        assert not is_valid_plate(bad)


def test_same_seed_same_plates_and_reserved_plates_are_skipped():
    first = PlateGenerator(np.random.default_rng(9))
    second = PlateGenerator(np.random.default_rng(9))
    drawn = [first.issue("car") for _ in range(20)]
    assert drawn == [second.issue("car") for _ in range(20)]
    again = PlateGenerator(np.random.default_rng(9))
    again.reserve(drawn[0])
    assert again.issue("car") != drawn[0]
