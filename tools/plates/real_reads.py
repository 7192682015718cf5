"""End-to-end plate reads on real scenes with plate text, ours beside RapidOCR's top-1.

The text labels are ``tools/data/labels/ro-plates-validation-text.csv``: every labelled plate of
the ro-plates validation split (``tools/data/real_sets.py``), read by eye from the image (a
plate's k-th box in its record; an empty text where the plate cannot be read with certainty:
those are left out). Two figures per system, each over the plates with a text:

- *plate read*: the system's best read located on the plate (a box whose centre lies in the
  labelled box, or IoU >= 0.1) is its text exactly (upper case, A-Z and 0-9 only);
- *scene top-1*: the scene's single best read is the text of one of its plates (a read of a
  badge or a sign ranked first is a miss).

Ours is ``roadcam plate read`` on the whole scene (:func:`roadcam.plugins.plate_capture.cli.read_image`,
the shipped detector, reader and calibration) with the formats given (a site in Romania
configures ``countries: [RO]``), ranked by its own rank. RapidOCR (rapidocr-onnxruntime, the
``[bench]`` extra; one thread) reads the whole scene as it comes: its lines, ranked by its own
score, each line's box standing for a read.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from roadcam.plugins.plate_capture.cli import read_image
from roadcam.plugins.plate_capture.detector import PlateDetector
from roadcam.plugins.plate_capture.formats import PlateFormats
from roadcam.plugins.plate_capture.reader import PlateReader
from roadcam.tools.data.real_sets import Record

from .datasets import PlateSample, load_plates_us, load_ro_training
from .real_detections import SceneBoxes

#: The text labels, beside real_sets.py.
TEXT_LABELS = Path(__file__).resolve().parent.parent / "data" / "labels" / "ro-plates-validation-text.csv"

#: A scene reader: image -> reads as (text, box x1 y1 x2 y2), best first.
SceneReader = Callable[[np.ndarray], list[tuple[str, tuple[float, float, float, float]]]]


@dataclass(frozen=True)
class TextScene:
    """A validation scene and the text of each of its labelled plates ("" when not legible)."""

    image: str
    plates: np.ndarray
    texts: tuple[str, ...]


@dataclass(frozen=True)
class ReadFigures:
    plates: int
    plates_read: int
    scenes: int
    scenes_top1: int


def plate_text(text: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", text.upper())


def text_scenes(records: list[Record], labels: Path = TEXT_LABELS) -> list[TextScene]:
    """The records that have text labels, with them."""
    with open(labels, newline="", encoding="utf-8") as handle:
        texts = {(row["image"], int(row["plate_index"])): row["text"] for row in csv.DictReader(handle)}
    scenes = []
    for record in records:
        plates = [box for box in record.boxes if box.cls == "plate"]
        if not any((record.image, k) in texts for k in range(len(plates))):
            continue
        scenes.append(TextScene(record.image, np.array([(b.x, b.y, b.x + b.w, b.y + b.h) for b in plates], float),
                                tuple(texts.get((record.image, k), "") for k in range(len(plates)))))
    return scenes


def us_scenes(shared_data: Path | None = None, held_out: bool = True) -> list[TextScene]:
    """The held-out photos of ``plates-us`` (``../shared/data``, :mod:`.datasets`; chosen by plate
    text, never trained or tuned on) as scenes with their one labelled plate each; with
    ``held_out=False`` its training photos instead. Other vehicles'
    plates in a photo are not labelled: a read of one ranked first is a scene top-1 miss.
    ``shared_data``: where the data sets are (default :data:`.datasets.SHARED_DATA`);
    :class:`.datasets.DatasetMissing` when plates-us is not there."""
    return [_sample_scene(sample) for sample in load_plates_us(shared_data) if sample.held_out == held_out]


def ro_training_scenes(root: Path) -> list[TextScene]:
    """The ro-plates training plates whose text was read by eye (:func:`.datasets.load_ro_training`),
    one scene each, its image an absolute path: for tuning; the validation split stays unseen."""
    return [_sample_scene(sample) for sample in load_ro_training(root)]


def _sample_scene(sample: PlateSample) -> TextScene:
    x, y, width, height = sample.box
    return TextScene(str(sample.path), np.array([(x, y, x + width, y + height)], float), (plate_text(sample.text),))


def ours(formats: PlateFormats, framed: bool = True, reader_models: list[Path] | None = None) -> SceneReader:
    """``roadcam plate read`` on a scene; ``framed=False`` reads each detector box only as boxed
    (no half-plate merging, no widened framings: :mod:`roadcam.plugins.plate_capture.framing`).
    ``reader_models``: reader models to use instead of the shipped ones (a candidate's)."""
    detector, reader = PlateDetector(), PlateReader(reader_models)
    framing = {} if framed else {"aspects": (), "merge": False}

    def read(image: np.ndarray):
        return [(plate["plate"], tuple(plate["box"]))
                for plate in read_image(image, detector, reader, formats, **framing)]

    return read


def rapidocr() -> SceneReader | None:
    """RapidOCR on one thread, or None when rapidocr-onnxruntime is not installed."""
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError:
        return None
    engine = RapidOCR(intra_op_num_threads=1, inter_op_num_threads=1)

    def read(image: np.ndarray):
        lines, _ = engine(image)
        ranked = sorted(lines or [], key=lambda line: -float(line[2]))
        return [(text, (*np.min(box, axis=0), *np.max(box, axis=0))) for box, text, _ in ranked]

    return read


def score(scenes: list[TextScene], root: Path, read: SceneReader) -> ReadFigures:
    plates = plates_read = scenes_with_text = top1 = 0
    for scene in scenes:
        image = cv2.imread(str(Path(root) / scene.image), cv2.IMREAD_COLOR)
        reads = [(plate_text(text), box) for text, box in read(image)]
        wanted = [i for i, text in enumerate(scene.texts) if text]
        if not wanted:
            continue
        scenes_with_text += 1
        boxes = np.array([box for _, box in reads], float).reshape(-1, 4)
        touching = SceneBoxes(scene.image, boxes, np.zeros(len(boxes)), scene.plates).touching()
        for i in wanted:
            plates += 1
            on_it = [reads[j][0] for j in range(len(reads)) if touching[j, i]]
            plates_read += bool(on_it) and on_it[0] == scene.texts[i]
        top1 += bool(reads) and reads[0][0] in {scene.texts[i] for i in wanted}
    return ReadFigures(plates, plates_read, scenes_with_text, top1)
