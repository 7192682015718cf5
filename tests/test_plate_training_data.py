"""The reader's training data: the ro-plates training texts read by eye are loaded from the
training split only, the synthesizer draws Romanian EU plates, and the EU reader model trained
on them reads a Romanian plate."""

from __future__ import annotations

import re

import cv2
import numpy as np
import pytest

from roadcam.plugins.plate_capture.reader import PlateReader, models_for
from roadcam.tools.data.real_sets import Box, Record, write_manifests
from roadcam.tools.plates.datasets import RO_TRAINING_TEXT, load_ro_training
from roadcam.tools.plates.synth import PlateSynthesizer

#: Romanian plate texts as compared: Bucharest B 12(3) ABC, a county's AB 12 ABC, a temporary B 123456.
RO_TEXT = re.compile(r"^(B\d{2,3}[A-Z]{3}|[A-Z]{2}\d{2}[A-Z]{3}|B\d{6})$")


def record(name: str, split: str) -> Record:
    return Record("ro-plates", split, split, f"real/ro-plates/{name}.jpg", 1280, 720,
                  (Box("plate", 10.4, 20.6, 100.0, 25.0, None), Box("plate", 500.0, 300.0, 80.0, 20.0, None)))


@pytest.fixture
def root(tmp_path):
    write_manifests([record("t1", "train"), record("v1", "validation")], tmp_path)
    return tmp_path


def labels(tmp_path, rows: list[str]):
    path = tmp_path / "texts.csv"
    path.write_text("# read by eye\nimage,plate_index,text,quality\n" + "".join(row + "\n" for row in rows))
    return path


def test_clear_and_track_reads_are_loaded_with_their_box_and_never_held_out(root, tmp_path):
    path = labels(tmp_path, ["real/ro-plates/t1.jpg,0,B12ABC,clear", "real/ro-plates/t1.jpg,1,CJ34XYZ,track"])
    first, second = load_ro_training(root, path)
    assert (first.text, first.box, first.dataset) == ("B12ABC", (10, 21, 100, 25), "ro-plates")
    assert first.path == root / "real/ro-plates/t1.jpg"
    assert second.box == (500, 300, 80, 20)
    assert not first.held_out and not second.held_out


def test_unsure_and_illegible_plates_are_left_out(root, tmp_path):
    path = labels(tmp_path, ["real/ro-plates/t1.jpg,0,B12ABC,unsure", "real/ro-plates/t1.jpg,1,,illegible"])
    assert load_ro_training(root, path) == []


def test_a_validation_image_in_the_labels_is_refused(root, tmp_path):
    path = labels(tmp_path, ["real/ro-plates/v1.jpg,0,B12ABC,clear"])
    with pytest.raises(ValueError, match="v1.jpg is not an image of the training split"):
        load_ro_training(root, path)


def test_the_committed_training_texts_are_romanian_and_say_how_they_were_read():
    text = RO_TRAINING_TEXT.read_text()
    assert "read by eye" in text
    rows = [line.split(",") for line in text.splitlines()[1:] if not line.startswith("#")][1:]
    assert all("ro-plates/dayride_type1_001/" in row[0] or "ro-plates/nightride_type3_001/" in row[0] for row in rows)
    read = [row[2] for row in rows if row[3] in ("clear", "track")]
    assert len(read) >= 150 and all(RO_TEXT.match(text) for text in read)


def test_the_synthesizer_draws_long_romanian_plates():
    synthesizer = PlateSynthesizer(7, font_paths=[])
    samples = [synthesizer.sample() for _ in range(300)]
    romanian = [sample for sample in samples if sample.format_name.startswith("eu-ro")]
    assert len(romanian) >= 30
    assert all(RO_TEXT.match(sample.text) for sample in romanian)
    assert np.median([s.crop_bgr.shape[1] / s.crop_bgr.shape[0] for s in romanian]) > 3.2
    assert not any(sample.two_rows for sample in romanian)


def eu_plate(text: str) -> np.ndarray:
    """A clean Romanian plate: white, the blue EU band on the left, black characters."""
    plate = np.full((60, 284, 3), 235, np.uint8)
    plate[:, :24] = (150, 50, 0)
    cv2.putText(plate, text, (32, 46), cv2.FONT_HERSHEY_DUPLEX, 1.45, (20, 20, 20), 3, cv2.LINE_AA)
    return cv2.copyMakeBorder(plate, 12, 12, 16, 16, cv2.BORDER_CONSTANT, value=(60, 60, 60))


@pytest.mark.parametrize("text", ["B 123 ABC", "CJ 12 MNW", "MM 11 XYL"])
def test_a_romanian_sites_shipped_reader_reads_a_clean_romanian_plate(text):
    reader = PlateReader(models_for(["RO"]))
    assert reader.read(eu_plate(text)).text == text.replace(" ", "")
