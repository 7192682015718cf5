"""The real-data plate tools on a small data root made here: the calibration fit reads the
training split only, ``roadcam.tools.eval_real`` the validation split only, and the box figures."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from roadcam.plugins.plate_capture.detector import DEFAULT_MODEL, PlateDetector
from roadcam.plugins.plate_capture.formats import PlateFormats
from roadcam.sim.plate_patch import plate_patches
from roadcam.tools import eval_real
from roadcam.tools.data.real_sets import Box, Record, write_manifests
from roadcam.tools.plates import real_reads
from roadcam.tools.plates.calibrate_detector import fit
from roadcam.tools.plates.real_detections import SceneBoxes, box_figures


def scene(root, name: str, split: str, plates: list[tuple[str, int, int, int]]) -> Record:
    """A 640x360 noise scene with Taiwanese plates (text, x, y, width) drawn as the simulator
    draws them, saved under root, and its record."""
    rng = np.random.default_rng(len(name))
    image = cv2.GaussianBlur(rng.integers(60, 140, (360, 640, 3), dtype=np.uint8), (0, 0), 2)
    boxes = []
    for text, x, y, width in plates:
        patch = plate_patches(text, "car", (0.38, 0.16))[0]
        height = int(round(patch.shape[0] * width / patch.shape[1]))
        image[y:y + height, x:x + width] = cv2.resize(patch, (width, height), interpolation=cv2.INTER_AREA)
        boxes.append(Box("plate", x, y, width, height, None))
    relative = f"real/made/{split}/{name}.png"
    (root / relative).parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(root / relative), image)
    return Record("made", split, split, relative, 640, 360, tuple(boxes))


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    train = [scene(root, f"t{i}", "train", [("KLM-2786", 100 + 40 * i, 150, 90), ("ABC-1234", 400, 250, 70)])
             for i in range(3)]
    validation = [scene(root, "v0", "validation", [("XYZ-5678", 250, 180, 100)])]
    write_manifests(train + validation, root)
    return root


def test_the_fit_reads_the_training_split_only(root):
    validation = root / "real" / "validation.jsonl"
    kept = validation.read_text()
    validation.write_text("not even json\n")  # reading it would fail
    try:
        table = fit(root, PlateDetector(calibration=None))
    finally:
        validation.write_text(kept)
    assert table.about["split"] == "train" and table.about["scenes"] == 3
    assert table.about["whole_plate_boxes"] >= 5  # the six drawn plates, found whole
    assert table.fits(DEFAULT_MODEL)


def test_eval_real_prints_the_validation_figures_before_and_after(root, capsys):
    (root / "real" / "train.jsonl").rename(root / "real" / "train.hidden")
    try:
        assert eval_real.main(["--root", str(root), "--shared-data", str(root / "no-shared-data")]) == 0
    finally:
        (root / "real" / "train.hidden").rename(root / "real" / "train.jsonl")
    out = capsys.readouterr().out
    assert "validation split (made): 1 scenes, 1 labelled plates" in out
    lines = {line[:44].strip(): line[44:].split() for line in out.splitlines() if line.startswith(("ECE", "whole"))}
    assert set(lines) >= {"ECE (10 bins)", "whole-plate recall, every box"}
    assert lines["whole-plate recall, every box"] == ["100.0%", "1/1", "100.0%", "1/1"]
    assert "plates-us skipped:" in out


def test_box_figures_count_pieces_whole_plates_and_false_boxes():
    plates = np.array([[0, 0, 100, 20], [200, 0, 300, 20]], float)
    boxes = np.array([[0, 0, 40, 20], [40, 0, 80, 20],    # the first plate in two pieces
                      [198, 0, 301, 21],                  # the second whole
                      [400, 100, 420, 110]], float)       # a badge
    figures = box_figures([SceneBoxes("x", boxes, np.full(4, 0.5), plates), SceneBoxes("y", boxes[:0], np.zeros(0),
                                                                                       plates[:0])])
    assert (figures.plates, figures.whole_plates, figures.touched_plates) == (2, 1, 2)
    assert figures.boxes_per_plate == 1.5 and figures.false_boxes == 1 and figures.false_per_scene == 0.5


def test_end_to_end_reads_are_scored_per_plate_and_per_scene(root, tmp_path):
    labels = tmp_path / "text.csv"
    labels.write_text("image,plate_index,text\n"
                      "real/made/train/t0.png,0,KLM2786\n"
                      "real/made/train/t0.png,1,\n"              # not legible: left out
                      "real/made/train/t1.png,0,KLM2786\n"
                      "real/made/train/t1.png,1,ABC1235\n"       # a wrong label: never read so
                      "real/made/train/t2.png,0,KLM2786\n"
                      "real/made/train/t2.png,1,ABC1234\n")      # whichever ranks first is right
    records = [Record.from_json(line) for line in (root / "real" / "train.jsonl").read_text().splitlines()]
    scenes = real_reads.text_scenes(records, labels)
    assert [scene.texts for scene in scenes] == [("KLM2786", ""), ("KLM2786", "ABC1235"), ("KLM2786", "ABC1234")]
    figures = real_reads.score(scenes, root, real_reads.ours(PlateFormats.load(["TW"])))
    assert (figures.plates, figures.plates_read, figures.scenes) == (5, 4, 3)
    assert figures.scenes_top1 >= 1

    def reads_a_badge_first(image):
        return [("GT", (0.0, 0.0, 10.0, 10.0)), ("KLM-2786", (100.0, 150.0, 190.0, 170.0))]

    badge = real_reads.score(scenes[:1], root, reads_a_badge_first)
    assert (badge.plates_read, badge.scenes_top1) == (1, 0)
