"""Fit the plate detector's score-to-probability table on real scenes (training split only).

    .venv/bin/python -m roadcam.tools.plates.calibrate_detector [--root /work/data] [--out FILE]

Runs the shipped detector (scene mode, its own score floor) over the training split of
``tools/data/real_sets.py`` (sources that label plates), marks each box whole plate or not
(:mod:`.real_detections`) and fits an isotonic (monotone) map from score to the share of whole
plates: the boxes sorted by score are put in bins of :data:`BIN_BOXES`, and adjacent bins whose
shares fall as the score rises are pooled until none does (pool adjacent violators). The knots
are the pooled bins' mean scores and shares. It writes
``plugins/plate_capture/models/plate_detector.calibration.json`` with its source (data sets
and commits, split, counts, method) and the model's SHA-256. It never reads the validation
split (:func:`roadcam.tools.data.real_sets.training_records` refuses it).
"""

from __future__ import annotations

import argparse
import datetime
from pathlib import Path

import numpy as np

from roadcam.plugins.plate_capture.calibration import DEFAULT_CALIBRATION, ScoreCalibration, file_sha256
from roadcam.plugins.plate_capture.detector import DEFAULT_MODEL, PlateDetector
from roadcam.tools.data.real_sets import SOURCES, training_records

from .real_detections import WHOLE_IOU, detect_scenes, plate_records

#: Boxes per bin before pooling: fewer would let a handful of boxes set a knot.
BIN_BOXES = 50


def isotonic_knots(scores: np.ndarray, outcomes: np.ndarray, bin_boxes: int = BIN_BOXES
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Knots (mean score, share of positive outcomes) of the isotonic fit described above."""
    order = np.argsort(scores, kind="stable")
    scores, outcomes = np.asarray(scores, float)[order], np.asarray(outcomes, float)[order]
    blocks = [[float(s.sum()), float(o.sum()), len(s)]   # [score sum, positives, count]
              for s, o in zip(np.array_split(scores, max(len(scores) // bin_boxes, 1)),
                              np.array_split(outcomes, max(len(scores) // bin_boxes, 1)))]
    pooled: list[list[float]] = []
    for block in blocks:
        pooled.append(block)
        while len(pooled) > 1 and pooled[-2][1] / pooled[-2][2] >= pooled[-1][1] / pooled[-1][2]:
            last = pooled.pop()
            pooled[-1] = [a + b for a, b in zip(pooled[-1], last)]
    knot_scores = np.array([b[0] / b[2] for b in pooled])
    shares = np.array([b[1] / b[2] for b in pooled])
    return knot_scores, shares


def fit(root: Path, detector: PlateDetector) -> ScoreCalibration:
    records = plate_records(training_records(root))
    scenes = detect_scenes(records, root, detector)
    scores = np.concatenate([scene.scores for scene in scenes])
    whole = np.concatenate([scene.whole() for scene in scenes])
    knot_scores, shares = isotonic_knots(scores, whole)
    used = sorted({record.source for record in records})
    about = {
        "what": "plate detector score -> probability that the box is a whole plate "
                f"(IoU >= {WHOLE_IOU} with a labelled plate)",
        "method": f"isotonic (pool adjacent violators over bins of {BIN_BOXES} boxes), linear between knots",
        "fitted_by": "python -m roadcam.tools.plates.calibrate_detector",
        "fitted_on": datetime.date.today().isoformat(),
        "data": {source.name: {"repository": source.repo, "commit": source.commit, "licence": source.licence}
                 for source in SOURCES if source.name in used},
        "split": "train",
        "scenes": len(scenes), "boxes": int(len(scores)), "whole_plate_boxes": int(whole.sum()),
        "score_floor": detector.score_floor,
        "scene_long_sides_px": [detector.scene_long_side_px, detector.coarse_long_side_px],
    }
    return ScoreCalibration(tuple(knot_scores), tuple(shares), file_sha256(DEFAULT_MODEL), about)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path("/work/data"), help="where real_sets.py extracted the data")
    parser.add_argument("--out", type=Path, default=DEFAULT_CALIBRATION, help="the table to write")
    args = parser.parse_args(argv)
    table = fit(args.root, PlateDetector(calibration=None))
    args.out.write_text(table.to_json(), encoding="utf-8")
    print(f"{args.out}: {len(table.scores)} knots from {table.about['boxes']} boxes "
          f"({table.about['whole_plate_boxes']} whole plates) in {table.about['scenes']} training scenes")
    for score, probability in zip(table.scores, table.probabilities):
        print(f"  score {score:.3f} -> {probability:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
