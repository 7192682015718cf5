"""``roadcam plate read IMAGE... [--crop] [--country CODE]... [--format REGEX]... [--json]``:
plates in still images, read by the shipped models (the reader pair for the countries:
:func:`.reader.models_for`).

Each image may be a full scene (plates are searched for with the plate detector, then each is
read) or a plate crop (when the detector finds no plate in an image no larger than a crop, the
whole image is read; ``--crop`` reads every image whole, without looking for plates in it).
A plate the detector boxes in two halves is one plate, and each box is read as it is and widened
to a wide plate's shape (:mod:`.framing`); its best-ranked read is kept.
Every read is fitted to the plate formats of ``--country`` (shipped sets, default TW; see
:mod:`.formats`) and ``--format``, swapping look-alike characters where that makes it fit, and
the plates of an image are ranked by :func:`.formats.plate_rank`: the read's confidence times
how plate-like it is (the detector's calibrated probability that the box is a whole plate,
:mod:`.calibration`, and whether the text fits a format). One line per plate, best first: file,
plate, rank, confidence, format, box (x1, y1, x2, y2 in the image's pixels); ``--json`` prints one JSON object per image
instead, with every plate found. An image that is missing, corrupt or empty is reported on its
line and the others are still read; the exit status is 1 when any image could not be read.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np

from roadcam.common.errors import ImageInvalid

from .detector import PlateBox, PlateDetector
from .formats import DEFAULT_COUNTRIES, PlateFormats, plate_rank
from .framing import WIDE_ASPECTS, framings, merge_halves
from .plugin import _cut
from .reader import PlateRead, PlateReader, models_for

#: An image whose sides are both at most this (pixels) may be a plate crop.
CROP_MAX_SIDE_PX = (400, 200)


def add_parser(commands) -> None:
    """Add ``plate read`` to the ``roadcam`` command's subparsers."""
    plate = commands.add_parser("plate", help="plate tools")
    plate_commands = plate.add_subparsers(dest="plate_command", required=True)
    read = plate_commands.add_parser("read", help="read the plates in still images (scenes or crops)")
    read.add_argument("images", nargs="+", type=Path, help="image files (JPEG, PNG, …)")
    read.add_argument("--json", action="store_true", help="one JSON object per image")
    read.add_argument("--crop", action="store_true",
                      help="each image is a plate already: read it whole, do not look for plates in it")
    read.add_argument("--country", action="append", dest="countries",
                      help="plate formats to fit reads to: a shipped set (TW, BR, DE, GB, RO, US) or a .yaml "
                           "file in their shape; repeatable (default: TW)")
    read.add_argument("--format", action="append", dest="formats", default=[],
                      help="a plate format of your own, a regular expression over the text without "
                           "separators; repeatable")
    read.add_argument("--detector-model", type=Path, help="plate detector .tflite (default: shipped)")
    read.add_argument("--reader-model", type=Path, action="append", dest="reader_models",
                      help="plate reader .tflite; repeat for several, the first reads every crop, the others "
                           "join the second look at unsure ones (default: the shipped pair for the countries, "
                           "the EU pair for RO)")
    read.set_defaults(handler=read_images)


def read_images(args) -> int:
    countries = args.countries or DEFAULT_COUNTRIES
    formats = PlateFormats.load(countries, args.formats)
    detector = None if args.crop else PlateDetector(args.detector_model)
    reader = PlateReader(args.reader_models or models_for(countries))
    failed = False
    for path in args.images:
        try:
            plates = read_image(load_image(path), detector, reader, formats)
        except ImageInvalid as exc:
            failed = True
            print(json.dumps({"image": str(path), "error": str(exc)}) if args.json
                  else f"{path}\terror: {exc}", file=sys.stdout if args.json else sys.stderr)
            continue
        if args.json:
            print(json.dumps({"image": str(path), "plates": plates}))
        elif not plates:
            print(f"{path}\t-\t0.000\t0.000\t-\t-")
        else:
            for plate in plates:
                box = ",".join(f"{v:.0f}" for v in plate["box"])
                print(f"{path}\t{plate['plate'] or '-'}\t{plate['rank']:.3f}\t{plate['confidence']:.3f}\t"
                      f"{plate['format'] or '-'}\t{box}")
    return 1 if failed else 0


def load_image(path: Path) -> np.ndarray:
    """The image at ``path`` as BGR; ImageInvalid when it is missing, corrupt or empty."""
    if not path.is_file():
        raise ImageInvalid(f"{path}: no such file")
    data = np.fromfile(path, np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None or image.size == 0:
        raise ImageInvalid(f"{path}: not a readable image (corrupt, truncated or not a picture)")
    return image


def read_image(image: np.ndarray, detector: PlateDetector | None, reader: PlateReader,
               formats: PlateFormats, aspects: tuple[float, ...] = WIDE_ASPECTS,
               merge: bool = True) -> list[dict]:
    """Every plate found in ``image`` and its read, best ranked first (see the module). Without a
    detector the image is one plate crop; an image small enough to be a crop in which the
    detector finds no plate is read whole too. Side-by-side half-plate boxes are merged first
    (``merge``) and each box is read as it is and widened to each of ``aspects`` (:mod:`.framing`);
    a box's most believable read (by rank) is its plate, with the box it was read in."""
    height, width = image.shape[:2]
    found = detector.detect(image) if detector is not None else []
    if merge:
        found = merge_halves(found)
    cuts: list[tuple[int, PlateBox | None, np.ndarray]] = [
        (index, framed, crop) for index, plate in enumerate(found)
        for framed in framings(plate, width, height, aspects) if (crop := _cut(image, framed.box)) is not None]
    if not cuts and (detector is None or (width <= CROP_MAX_SIDE_PX[0] and height <= CROP_MAX_SIDE_PX[1])):
        cuts = [(0, None, image)]
    reads = reader.read_many([crop for _, _, crop in cuts])
    best: dict[int, dict] = {}
    for read, (index, plate, _) in zip(reads, cuts):
        described = _described(read, plate, (width, height), formats)
        if index not in best or described["rank"] > best[index]["rank"]:
            best[index] = described
    return sorted(best.values(), key=lambda plate: -plate["rank"])


def _described(read: PlateRead, plate: PlateBox | None, size: tuple[int, int], formats: PlateFormats) -> dict:
    """One plate's JSON: the fitted text (the read as it is when nothing fits), the read, its
    format, the rank, the reader's confidence, the box, and the detector's score and calibrated
    probability (None for an image read whole, which is taken to be a plate)."""
    fit = formats.fit(read.text, read.char_confidences)
    if plate is None:
        likely, box = 1.0, (0.0, 0.0, float(size[0]), float(size[1]))
    else:
        likely, box = plate.probability if plate.probability is not None else plate.score, plate.box
    return {"plate": fit.text if fit else read.text, "read": read.text,
            "format": fit.format.label if fit else None, "rank": round(plate_rank(read.confidence, fit, likely), 4),
            "confidence": round(read.confidence, 4), "box": [round(v, 1) for v in box],
            "detector_score": None if plate is None else round(plate.score, 4),
            "plate_probability": None if plate is None or plate.probability is None else round(plate.probability, 4)}
