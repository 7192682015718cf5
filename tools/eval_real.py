"""Perception on real labelled scenes, validation split only (issue 23): the plate detector's
boxes and how well its score, raw and calibrated, says whether a box is a whole plate.

    .venv/bin/python -m roadcam.tools.eval_real [--root /work/data] [--as-boxed]
    .venv/bin/python -m roadcam.tools.eval_real --reader-models A.tflite B.tflite --no-rapidocr  # a candidate

The data are ``tools/data/real_sets.py``'s validation split (``validation.jsonl``; whole clips
that no training or tuning step reads), of the sources that label plates (ro-plates). The
shipped detector runs in scene mode as ``roadcam plate read`` does. Printed, each beside its
reference in the same run:

- reliability: the expected calibration error (ECE, :data:`ECE_BINS` bins) and the mean
  probability against the share of boxes that are whole plates (IoU >= 0.5), with the raw score
  taken as a probability (before) and with the shipped calibration table (after; fitted on the
  training split by ``tools/plates/calibrate_detector.py``);
- boxes per plate (boxes touching a labelled plate, per plate touched: above 1 is a plate cut
  into pieces), whole-plate recall, and false boxes (touching no labelled plate) per scene,
  for every box the detector gives and for the boxes kept by each of :data:`CUTS`, on the raw
  score (before) and on the calibrated probability (after);
- end-to-end exact reads on the same scenes with their plate text (:mod:`roadcam.tools.plates.real_reads`):
  ours (``roadcam plate read`` with Romania's formats and reader pair
  (:func:`roadcam.plugins.plate_capture.reader.models_for`), as a site there is configured, and with
  no format at all; with ``--as-boxed`` also reading each detector box only as boxed, as before
  the framing step) beside RapidOCR's top-1 (skipped, saying so, when rapidocr-onnxruntime is
  not installed: ``pip install 'roadcam[bench]'``);
- the same on the held-out photos of ``plates-us`` (``../shared/data``, one labelled plate
  each, chosen by plate text and never trained or tuned on), with the US formats and reader pair.

``--reader-models`` reads both data sets with a candidate's models instead.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from roadcam.plugins.plate_capture.detector import PlateDetector
from roadcam.plugins.plate_capture.formats import PlateFormats
from roadcam.plugins.plate_capture.reader import models_for
from roadcam.tools.data.real_sets import validation_records
from roadcam.tools.plates import real_reads
from roadcam.tools.plates.datasets import SHARED_DATA, DatasetMissing
from roadcam.tools.plates.real_detections import (
    ECE_BINS,
    BoxFigures,
    box_figures,
    detect_scenes,
    expected_calibration_error,
    plate_records,
)

#: The cuts compared: 0.5, "more likely a whole plate than not", and a looser one.
CUTS = (0.2, 0.5)


def _row(name: str, before: str, after: str) -> str:
    return f"{name:<44} {before:>16} {after:>16}"


def _boxes(figures: BoxFigures) -> tuple[str, str, str]:
    return (f"{figures.boxes_per_plate:.2f}",
            f"{100 * figures.whole_recall:.1f}% {figures.whole_plates}/{figures.plates}",
            f"{figures.false_per_scene:.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path("/work/data"), help="where real_sets.py extracted the data")
    parser.add_argument("--as-boxed", action="store_true",
                        help="also read each detector box only as boxed (before the framing step), for comparison")
    parser.add_argument("--shared-data", type=Path, default=SHARED_DATA,
                        help="where the given development sets are (plates-us; skipped, saying so, when missing)")
    parser.add_argument("--reader-models", type=Path, nargs="+",
                        help="reader models to read with instead of the shipped ones (a candidate's)")
    parser.add_argument("--no-rapidocr", action="store_true", help="leave RapidOCR out (quicker)")
    args = parser.parse_args(argv)
    detector = PlateDetector()
    if detector.calibration is None:
        raise SystemExit("the shipped plate detector has no calibration table that fits it: run "
                         "python -m roadcam.tools.plates.calibrate_detector")
    records = plate_records(validation_records(args.root))
    scenes = detect_scenes(records, args.root, detector)
    scores = np.concatenate([scene.scores for scene in scenes])
    whole = np.concatenate([scene.whole() for scene in scenes])
    probabilities = detector.calibration.probability(scores)
    sources = ", ".join(sorted({record.source for record in records}))
    print(f"plate detector on the real validation split ({sources}): {len(scenes)} scenes, "
          f"{sum(len(s.plates) for s in scenes)} labelled plates, {len(scores)} boxes at its score floor "
          f"{detector.score_floor}, {int(whole.sum())} of them whole plates")
    print(f"calibration: {detector.calibration.about.get('method')}; fitted on "
          f"{detector.calibration.about.get('split')} ({detector.calibration.about.get('scenes')} scenes, "
          f"{detector.calibration.about.get('boxes')} boxes)")
    print()
    print(_row("", "raw score", "calibrated"))
    print(_row(f"ECE ({ECE_BINS} bins)", f"{expected_calibration_error(scores, whole):.3f}",
               f"{expected_calibration_error(probabilities, whole):.3f}"))
    print(_row("mean probability (share whole plates)", f"{scores.mean():.3f} ({whole.mean():.3f})",
               f"{probabilities.mean():.3f} ({whole.mean():.3f})"))
    every = _boxes(box_figures(scenes))
    cut = {}
    for threshold in CUTS:
        cut[threshold] = (
            _boxes(box_figures([scene.kept(scene.scores >= threshold) for scene in scenes])),
            _boxes(box_figures([scene.kept(detector.calibration.probability(scene.scores) >= threshold)
                                for scene in scenes])))
    for index, name in enumerate(("boxes per plate touched", "whole-plate recall", "false boxes per scene")):
        print(_row(f"{name}, every box", every[index], every[index]))
        for threshold, (before, after) in cut.items():
            print(_row(f"{name}, kept at {threshold}", before[index], after[index]))
    print()
    _print_reads(records, args.root, args.as_boxed, args.shared_data, args.reader_models, not args.no_rapidocr)
    return 0


def _print_reads(records, root: Path, as_boxed: bool, shared_data: Path,
                 reader_models: list[Path] | None = None, with_rapidocr: bool = True) -> None:
    scenes = real_reads.text_scenes(records)
    legible = sum(1 for scene in scenes for text in scene.texts if text)
    unread = sum(1 for scene in scenes for text in scene.texts if not text)
    rapid = real_reads.rapidocr() if with_rapidocr else None
    if reader_models:
        print("reader models: " + ", ".join(str(path) for path in reader_models))
    print(f"end-to-end exact reads: {len(scenes)} scenes, {legible} plates with text "
          f"({unread} not legible by eye, left out; {real_reads.TEXT_LABELS.name})")
    _print_read_table(scenes, root, "RO", rapid, as_boxed, reader_models)
    print()
    try:
        us = real_reads.us_scenes(shared_data)
    except DatasetMissing as exc:
        print(f"plates-us skipped: {exc}")
        return
    print(f"end-to-end exact reads, plates-us held-out photos (../shared/data; US, one labelled plate each): "
          f"{len(us)} scenes")
    _print_read_table(us, root, "US", rapid, as_boxed, reader_models)


def _print_read_table(scenes, root: Path, country: str, rapid, as_boxed: bool,
                      reader_models: list[Path] | None = None) -> None:
    """Ours with ``country``'s formats and with none (and read as boxed, with ``as_boxed``),
    beside RapidOCR's top-1, on ``scenes``; with ``reader_models``, else ``country``'s shipped pair."""
    formats = PlateFormats.load([country])
    reader_models = reader_models or list(models_for([country]))
    readers = {f"ours, countries [{country}]": real_reads.ours(formats, reader_models=reader_models),
               "ours, no format": real_reads.ours(PlateFormats.load([], ["[A-Z0-9]*"]), reader_models=reader_models)}
    if as_boxed:
        readers[f"ours [{country}], as boxed"] = real_reads.ours(formats, framed=False, reader_models=reader_models)
    if rapid is None:
        print("RapidOCR left out (--no-rapidocr, or not installed: the [bench] extra)")
    else:
        readers["RapidOCR top-1"] = rapid
    print(f"{'':<24} {'plate read':>16} {'scene top-1':>16}")
    for name, read in readers.items():
        figures = real_reads.score(scenes, root, read)
        print(f"{name:<24} {_share(figures.plates_read, figures.plates):>16} "
              f"{_share(figures.scenes_top1, figures.scenes):>16}")


def _share(part: int, whole: int) -> str:
    return f"{100 * part / max(whole, 1):.1f}% {part}/{whole}"


if __name__ == "__main__":
    raise SystemExit(main())
