"""The appliance's plate reading on real scenes: the plate capture plugin's read step, given each
labelled plate's vehicle, with ``plate_capture.wide_plates`` on and off.

    .venv/bin/python -m roadcam.tools.plates.appliance_reads [--root /work/data] [--split validation|training]

``eval_real`` measures ``roadcam plate read`` on whole scenes; the appliance reads differently:
the plate detector searches one tracked vehicle's box, one plate is kept per vehicle, framed
wide only with ``wide_plates``, and a ``plate.read`` needs a read that fits the site's formats
above ``min_confidence``. No real clip here has plate text, so this drives the plugin
(:class:`~roadcam.plugins.plate_capture.plugin.PlateCapture`, through its hooks) with still
scenes: each labelled plate is one vehicle seen in one frame, its box made from the plate's
(:func:`vehicle_box`: a car 3.5 plate widths wide, its plate low in the middle), so vehicle
detection and tracking are left out. Scenes (``--split validation``, the default): the ro-plates
validation split with ``countries: [RO]`` and the held-out plates-us photos with ``[US]``, as
``eval_real``; the reader pair each site's countries give
(:func:`~roadcam.plugins.plate_capture.reader.models_for`). ``--split training``: the ro-plates
training plates read by eye (:func:`~roadcam.tools.plates.real_reads.ro_training_scenes`) and the
plates-us training photos, the only figures a plate capture setting may be tuned on
(the EU reader was trained on those Romanian plates, so their reads are optimistic once the plate is
boxed; plates-us trained the detector).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import cv2

from roadcam.appliance.tracking import Track, TrackPoint
from roadcam.hal.base import Frame
from roadcam.plugins.plate_capture.config import PlateCaptureConfig
from roadcam.plugins.plate_capture.detector import PlateDetector
from roadcam.plugins.plate_capture.hotlist import Hotlist
from roadcam.plugins.plate_capture.plugin import PlateCapture
from roadcam.plugins.plate_capture.reader import PlateReader, models_for
from roadcam.tools.data.real_sets import validation_records
from roadcam.tools.plates import real_reads
from roadcam.tools.plates.datasets import DatasetMissing

#: A car's width in plate widths (a 0.52 m EU plate on a 1.8 m car) and its height in car widths.
CAR_PLATE_WIDTHS, CAR_HEIGHT = 3.5, 0.8


def vehicle_box(plate, width: int, height: int) -> tuple[float, float, float, float]:
    """A car's box around a plate box (x1, y1, x2, y2): centred on it, its bottom one plate
    height below the plate, clipped to the image."""
    x1, y1, x2, y2 = (float(v) for v in plate)
    car_w = (x2 - x1) * CAR_PLATE_WIDTHS
    bottom = y2 + (y2 - y1)
    centre = (x1 + x2) / 2
    return (max(centre - car_w / 2, 0.0), max(bottom - car_w * CAR_HEIGHT, 0.0),
            min(centre + car_w / 2, width - 1.0), min(bottom, height - 1.0))


def appliance_reads(scenes, root: Path, country: str, wide: bool, **settings) -> tuple[int, int, int]:
    """(plates with text, plates whose plate.read is their text, plates with any plate.read).
    ``settings``: other ``plate_capture`` settings than their defaults (a candidate's)."""
    config = PlateCaptureConfig(countries=[country], wide_plates=wide, min_vehicle_px=8, **settings)
    with tempfile.TemporaryDirectory(prefix="appliance-reads-") as scratch:
        reader = PlateReader(models_for(config.countries), reread_unsure=config.reread_unsure)  # as the plugin's
        capture = PlateCapture(None, config, PlateDetector(), reader, Hotlist(Path(scratch) / "hotlist.json"))
        total = exact = any_read = 0
        for index, scene in enumerate(scenes):
            image = cv2.imread(str(Path(root) / scene.image), cv2.IMREAD_COLOR)
            height, width = image.shape[:2]
            frame = Frame(camera="cam", index=index, time_ns=index, mono_ns=index, image=image)
            for number, (plate, text) in enumerate(zip(scene.plates, scene.texts)):
                if not text:
                    continue
                track = Track(id=index * 100 + number, camera="cam", confirmed=True, kind_votes={"car": 1.0})
                track.points.append(TrackPoint(index, index, vehicle_box(plate, width, height), None))
                capture.roadcam_analyze(frame=frame, tracks=[track], signals={})
                reads = [draft.data["plate"] for draft in capture.roadcam_track_finished(track=track)]
                total += 1
                exact += reads == [real_reads.plate_text(text)]
                any_read += bool(reads)
    return total, exact, any_read


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("/work/data"), help="where real_sets.py put the data")
    parser.add_argument("--split", choices=("validation", "training"), default="validation",
                        help="validation: ro-plates validation, plates-us held out; training: their training plates")
    args = parser.parse_args()
    if args.split == "training":
        sets = [("ro-plates training", real_reads.ro_training_scenes(args.root), Path("/"), "RO")]
    else:
        sets = [("ro-plates validation", real_reads.text_scenes(validation_records(args.root)), args.root, "RO")]
    try:
        us = real_reads.us_scenes(held_out=args.split == "validation")
        sets.append((f"plates-us {'held out' if args.split == 'validation' else 'training'}", us, Path("/"), "US"))
    except DatasetMissing as exc:
        print(f"plates-us left out: {exc}")
    print("| data set | countries | wide_plates | plate.read exact | any plate.read |\n|---|---|---|---|---|")
    for name, scenes, root, country in sets:
        for wide in (False, True):
            total, exact, any_read = appliance_reads(scenes, root, country, wide)
            print(f"| {name} | [{country}] | {'on' if wide else 'off'} | {exact / total:.1%} ({exact}/{total}) "
                  f"| {any_read}/{total} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
