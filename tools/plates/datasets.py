"""The real plate images beside the project (``../shared/data``), read in place, never copied.

Two data sets (each folder's README says where it comes from):

- ``plates-us``: 217 road photos of US vehicles, one labelled plate each (box and text);
- ``plates-br-crops``: 3,319 crops of Brazilian LLL-DDDD plates with their text, ``photo`` or
  ``rendered``.

Held-out plates are chosen by their text, not their file, so every crop of a plate falls on
the same side: :func:`is_held_out` keeps about a fifth of all plate texts out of training, the
same ones on every machine and in every run. Training scripts train on the rest; benchmarks
measure on the held-out ones only.

A third set is real and extracted by :mod:`roadcam.tools.data.real_sets`: the Romanian plates of
the ro-plates *training* split, whose text was read by eye (:data:`RO_TRAINING_TEXT`);
:func:`load_ro_training` reads them through ``training_records``, which refuses the validation
split. Their held-out plates are the validation split's two other videos, not a share of texts.
"""

from __future__ import annotations

import csv
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

#: Where the data sets are: ``$ROADCAM_SHARED_DATA``, else ``../shared/data`` beside the repository.
SHARED_DATA = Path(os.environ.get("ROADCAM_SHARED_DATA",
                                  Path(__file__).resolve().parents[2].parent / "shared" / "data"))
#: Margin cut around a labelled plate box for the reader (fractions of the box's width, height a side):
#: about what a plate detector's box plus the plugin's margin gives.
CROP_MARGIN = (0.08, 0.15)
#: One plate text in this many is held out of training (chosen by the text's sha256).
HELD_OUT_ONE_IN = 5
#: Plate texts of the ro-plates training split, read by eye (the file's header says how).
RO_TRAINING_TEXT = Path(__file__).resolve().parents[1] / "data" / "labels" / "ro-plates-training-text.csv"
#: Label qualities of that file trained on: read on the crop itself, or too blurred to read alone
#: but the same vehicle as in neighbouring frames ("unsure" and "illegible" are left out).
RO_TRAINED_QUALITIES = ("clear", "track")


@dataclass(frozen=True)
class PlateSample:
    """One labelled plate image. ``box`` is (x, y, width, height) in pixels for a full scene,
    None for a crop that is the plate. ``split_by_text`` is False for a set whose held-out
    plates are elsewhere (a separate validation split), so none of its texts is held out."""

    path: Path
    text: str
    dataset: str
    kind: str
    box: tuple[int, int, int, int] | None = None
    split_by_text: bool = True

    @property
    def held_out(self) -> bool:
        return self.split_by_text and is_held_out(self.text)


class DatasetMissing(FileNotFoundError):
    """A data set folder is not where it is expected."""


def is_held_out(text: str) -> bool:
    """Is this plate text kept out of training (the same answer everywhere, always)?"""
    return hashlib.sha256(text.encode()).digest()[0] % HELD_OUT_ONE_IN == 0


def load_plates_us(root: Path | None = None) -> list[PlateSample]:
    """Every labelled photo of ``plates-us`` (``NAME.txt``: name, x, y, width, height, plate)."""
    folder = _folder(root, "plates-us")
    samples = []
    for label in sorted(folder.glob("*.txt")):
        for number, line in enumerate(label.read_text().splitlines(), 1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 6:
                raise ValueError(f"{label}:{number}: expected 'NAME x y width height PLATE', got {line!r}")
            name, x, y, width, height, text = fields
            samples.append(PlateSample(folder / name, text.upper(), "plates-us", "photo",
                                       (int(x), int(y), int(width), int(height))))
    return samples


def load_br_crops(root: Path | None = None) -> list[PlateSample]:
    """Every crop of ``plates-br-crops`` listed in its ``labels.csv`` (file, plate, kind)."""
    folder = _folder(root, "plates-br-crops")
    with open(folder / "labels.csv", newline="") as handle:
        return [PlateSample(folder / row["file"], row["plate"].upper(), "plates-br-crops", row["kind"])
                for row in csv.DictReader(handle)]


def load_ro_training(root: Path, labels: Path = RO_TRAINING_TEXT) -> list[PlateSample]:
    """The ro-plates training plates whose text was read (:data:`RO_TRAINED_QUALITIES`), each
    as its frame under ``root`` (where ``real_sets`` extracted it) and its labelled box.
    ``labels`` is a CSV (``#`` lines are comments) of image, plate_index, text, quality."""
    from roadcam.tools.data.real_sets import training_records

    records = {record.image: record for record in training_records(root)}
    samples = []
    with open(labels, newline="") as handle:
        rows = csv.DictReader(line for line in handle if not line.startswith("#"))
        for row in rows:
            if row["quality"] not in RO_TRAINED_QUALITIES:
                continue
            record = records.get(row["image"])
            if record is None:
                raise ValueError(f"{labels}: {row['image']} is not an image of the training split under {root}")
            box = record.boxes[int(row["plate_index"])]
            samples.append(PlateSample(Path(root) / record.image, row["text"], "ro-plates", "photo",
                                       (round(box.x), round(box.y), round(box.w), round(box.h)),
                                       split_by_text=False))
    return samples


def plate_crop(sample: PlateSample, margin: tuple[float, float] = CROP_MARGIN) -> np.ndarray:
    """The sample's plate as a BGR crop: the crop file itself, or the labelled box of a photo
    with ``margin`` (fractions of the box's width and height) on each side."""
    image = cv2.imread(str(sample.path), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"{sample.path} cannot be read as an image")
    if sample.box is None:
        return image
    return crop_box(image, sample.box, (margin[0], margin[1], margin[0], margin[1]))


def crop_box(image: np.ndarray, box: tuple[int, int, int, int],
             margin: tuple[float, float, float, float]) -> np.ndarray:
    """The (x, y, width, height) box of ``image`` grown by ``margin`` (left, top, right, bottom, as
    fractions of the box's width or height), clipped to the image."""
    x, y, width, height = box
    left, top, right, bottom = margin
    x1 = max(0, int(round(x - left * width)))
    y1 = max(0, int(round(y - top * height)))
    x2 = min(image.shape[1], int(round(x + width + right * width)))
    y2 = min(image.shape[0], int(round(y + height + bottom * height)))
    return image[y1:y2, x1:x2]


def _folder(root: Path | None, name: str) -> Path:
    folder = Path(root or SHARED_DATA) / name
    if not folder.is_dir():
        raise DatasetMissing(f"{folder} not found: put the shared data there or set ROADCAM_SHARED_DATA")
    return folder
