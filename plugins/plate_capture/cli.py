"""``roadcam plate read IMAGE... [--json]``: plates in still images, read by the shipped models.

Each image may be a full scene (plates are searched for with the plate detector, then each is
read) or a plate crop (when the detector finds no plate in an image no larger than a crop, the
whole image is read). One line per plate: file, plate, confidence, box (x1, y1, x2, y2 in the
image's pixels); ``--json`` prints one JSON object per image instead, with every plate found
(strongest first). An image that is missing, corrupt or empty is reported on its line and the
others are still read; the exit status is 1 when any image could not be read.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np

from roadcam.common.errors import ImageInvalid

from .detector import PlateDetector
from .plugin import _cut
from .reader import PlateReader

#: An image whose sides are both at most this (pixels) may be a plate crop.
CROP_MAX_SIDE_PX = (400, 200)


def add_parser(commands) -> None:
    """Add ``plate read`` to the ``roadcam`` command's subparsers."""
    plate = commands.add_parser("plate", help="plate tools")
    plate_commands = plate.add_subparsers(dest="plate_command", required=True)
    read = plate_commands.add_parser("read", help="read the plates in still images (scenes or crops)")
    read.add_argument("images", nargs="+", type=Path, help="image files (JPEG, PNG, …)")
    read.add_argument("--json", action="store_true", help="one JSON object per image")
    read.add_argument("--detector-model", type=Path, help="plate detector .tflite (default: shipped)")
    read.add_argument("--reader-model", type=Path, action="append", dest="reader_models",
                      help="plate reader .tflite; repeat for several, the first reads every crop, the others "
                           "join the second look at unsure ones (default: the shipped pair)")
    read.set_defaults(handler=read_images)


def read_images(args) -> int:
    detector = PlateDetector(args.detector_model)
    reader = PlateReader(args.reader_models)
    failed = False
    for path in args.images:
        try:
            plates = read_image(load_image(path), detector, reader)
        except ImageInvalid as exc:
            failed = True
            print(json.dumps({"image": str(path), "error": str(exc)}) if args.json
                  else f"{path}\terror: {exc}", file=sys.stdout if args.json else sys.stderr)
            continue
        if args.json:
            print(json.dumps({"image": str(path), "plates": plates}))
        elif not plates:
            print(f"{path}\t-\t0.000\t-")
        else:
            for plate in plates:
                box = ",".join(f"{v:.0f}" for v in plate["box"])
                print(f"{path}\t{plate['plate'] or '-'}\t{plate['confidence']:.3f}\t{box}")
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


def read_image(image: np.ndarray, detector: PlateDetector, reader: PlateReader) -> list[dict]:
    """Every plate found in ``image`` and its read, strongest detection first; an image small
    enough to be a crop in which no plate is found is read whole."""
    plates = []
    for found in detector.detect(image):
        crop = _cut(image, found.box)
        if crop is None:
            continue
        read = reader.read(crop)
        plates.append({"plate": read.text, "confidence": round(read.confidence, 4),
                       "box": [round(v, 1) for v in found.box], "detector_score": round(found.score, 4)})
    height, width = image.shape[:2]
    if not plates and width <= CROP_MAX_SIDE_PX[0] and height <= CROP_MAX_SIDE_PX[1]:
        read = reader.read(image)
        plates.append({"plate": read.text, "confidence": round(read.confidence, 4),
                       "box": [0.0, 0.0, float(width), float(height)], "detector_score": None})
    return plates
