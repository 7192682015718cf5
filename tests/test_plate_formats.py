"""Plate formats per country (plate_capture.countries, ``roadcam plate read --country``), the
look-alike fit, the rank, and ``roadcam plate read --crop``."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import yaml

from roadcam.appliance.cli import main
from roadcam.common.errors import ConfigError
from roadcam.common.yaml_config import load_yaml, validate_config
from roadcam.plugins.plate_capture.config import PlateCaptureConfig
from roadcam.plugins.plate_capture.formats import (
    FORMATS_DIR,
    NO_FORMAT_FACTOR,
    SWAP_FACTOR,
    CountryFile,
    PlateFormats,
    plate_rank,
)
from roadcam.sim.plate_patch import plate_patches

SHIPPED = sorted(path.stem for path in FORMATS_DIR.glob("*.yaml"))


def test_taiwan_is_the_default_and_the_examples_are_shipped():
    assert PlateCaptureConfig().countries == ["TW"]
    assert SHIPPED == ["BR", "DE", "GB", "RO", "TW", "US"]


@pytest.mark.parametrize("country", SHIPPED)
def test_each_shipped_example_plate_fits_its_own_format(country):
    spec = validate_config(CountryFile, *load_yaml(FORMATS_DIR / f"{country}.yaml"))
    formats = PlateFormats.load([country])
    assert spec.country == country
    for form in spec.formats:
        text = "".join(ch for ch in form.example if ch.isalnum())
        assert formats.match(text) is not None and formats.match(text).name == form.name, form


def test_plates_of_one_country_do_not_fit_another():
    taiwan, brazil = PlateFormats.load(["TW"]), PlateFormats.load(["BR"])
    assert taiwan.match("ABC1D23") is None and brazil.match("ABC1D23").name == "Mercosur"
    assert taiwan.match("ABO1234") is None  # Taiwan issues no I and no O
    assert PlateFormats.load(["TW", "BR"]).match("ABC1D23").country == "BR"


def test_look_alikes_are_swapped_to_fit_least_sure_first():
    taiwan = PlateFormats.load(["TW"])
    assert taiwan.fit("KLM2786").swaps == 0
    fit = taiwan.fit("KLM27B6")  # B where a digit must be
    assert (fit.text, fit.swaps) == ("KLM2786", 1)
    # 8 and B are both look-alikes here: the least sure one is swapped
    assert taiwan.fit("A8C12B4", (0.9, 0.4, 0.9, 0.9, 0.9, 0.3, 0.9)).text == "ABC1284"
    assert taiwan.fit("XY") is None and taiwan.fit("K1M27B6X") is None


def test_rank_puts_a_fitting_read_above_a_sure_badge():
    taiwan = PlateFormats.load(["TW"])
    plate = plate_rank(0.7, taiwan.fit("KLM2786"), 0.6)
    swapped = plate_rank(0.7, taiwan.fit("KLM27B6"), 0.6)
    badge = plate_rank(0.99, taiwan.fit("GT"), 0.9)
    assert plate > swapped > badge
    assert swapped == pytest.approx(plate * SWAP_FACTOR) and badge == pytest.approx(0.99 * 0.9 * NO_FORMAT_FACTOR)


def test_a_country_file_of_ones_own(tmp_path):
    own = tmp_path / "XX.yaml"
    own.write_text(yaml.safe_dump({"country": "XX", "name": "Example", "formats": [
        {"name": "car", "pattern": "[A-Z]{2}[0-9]{3}", "example": "AB 123"}]}))
    config = PlateCaptureConfig(countries=[str(own)], formats=["[0-9]{6}"])
    formats = config.plate_formats()
    assert formats.match("AB123").label == "XX car" and formats.match("123456").label == "custom [0-9]{6}"


@pytest.mark.parametrize("section, message", [
    ({"countries": ["ZZ"]}, "no shipped plate formats for country 'ZZ'"),
    ({"formats": ["[A-Z"]}, "is not a regular expression"),
    ({"countries": [], "formats": []}, "no plate format"),
])
def test_a_wrong_country_or_pattern_is_a_config_error_with_its_line(tmp_path, section, message):
    from roadcam.appliance.site import load_site

    site = {"device": {"id": "tn-test", "site": "tn-bench"}, "gpio": {"pin_factory": "mock"},
            "storage": {"database": str(tmp_path / "e.db"), "evidence_dir": str(tmp_path / "ev")},
            "plate_capture": section}
    (tmp_path / "site.yaml").write_text(yaml.safe_dump(site, sort_keys=False))
    with pytest.raises(ConfigError) as refused:
        load_site(tmp_path / "site.yaml")
    (problem,) = refused.value.problems
    assert "site.yaml:" in problem and "plate_capture" in problem and message in problem


def test_a_broken_country_file_names_its_line(tmp_path):
    own = tmp_path / "XX.yaml"
    own.write_text("country: XX\nname: Example\nformats:\n  - {name: car, patern: '[A-Z]{3}'}\n")
    with pytest.raises(ConfigError) as refused:
        PlateFormats.load([own])
    assert any("XX.yaml:4" in problem and "patern" in problem for problem in refused.value.problems)


def crop_of(text: str, kind: str = "car") -> np.ndarray:
    """A plate drawn as the simulator draws it, 120 px wide on a dark surround."""
    patch = plate_patches(text, kind, (0.38, 0.16) if kind != "scooter" else (0.21, 0.14))[0]
    plate = cv2.resize(patch, (120, int(round(patch.shape[0] * 120 / patch.shape[1]))), interpolation=cv2.INTER_AREA)
    crop = np.full((plate.shape[0] + 16, 136, 3), 60, np.uint8)
    crop[8:8 + plate.shape[0], 8:128] = plate
    return crop


def test_plate_read_crop_reads_each_image_whole_with_its_format(tmp_path, capsys):
    big = cv2.resize(crop_of("KLM-2786"), None, fx=4, fy=4)  # larger than a crop: read whole all the same
    cv2.imwrite(str(tmp_path / "big.png"), big)
    cv2.imwrite(str(tmp_path / "scooter.png"), crop_of("XYZ-123", "scooter"))
    status = main(["plate", "read", "--crop", str(tmp_path / "big.png"), str(tmp_path / "scooter.png"), "--json"])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert status == 0
    (car,), (scooter,) = lines[0]["plates"], lines[1]["plates"]
    assert (car["plate"], car["format"], car["detector_score"]) == ("KLM2786", "TW car", None)
    assert car["box"] == [0.0, 0.0, float(big.shape[1]), float(big.shape[0])]
    assert car["rank"] == pytest.approx(car["confidence"], abs=1e-4)  # a crop is a plate: rank = confidence
    assert (scooter["plate"], scooter["format"]) == ("XYZ123", "TW scooter")


def test_plate_read_country_changes_what_fits(tmp_path, capsys):
    cv2.imwrite(str(tmp_path / "car.png"), crop_of("KLM-2786"))
    main(["plate", "read", "--crop", "--country", "BR", str(tmp_path / "car.png")])
    path, plate, rank, confidence, form, box = capsys.readouterr().out.strip().split("\t")
    assert plate == "KLM2786" and form == "BR grey plate" and float(rank) == pytest.approx(float(confidence), abs=2e-3)
    main(["plate", "read", "--crop", "--country", "GB", str(tmp_path / "car.png")])
    path, plate, rank, confidence, form, box = capsys.readouterr().out.strip().split("\t")
    assert form == "-" and float(rank) == pytest.approx(NO_FORMAT_FACTOR * float(confidence), abs=2e-3)
