"""Measure the learned road-user detector on the shipped scenarios and write its model card.

    .venv/bin/python -m roadcam.tools.vehicles.eval_detector [--model FILE] [--card FILE] [--real ROOT] [scenario ...]

The shipped scenarios run at their shipped seeds, which training never used (it renders other
seeds with the camera pose jittered, see tools/vehicles/train_detector.py). Per scenario:

- detection: every object at least ``VISIBLE_MIN`` visible and ``MIN_BOX_PX`` across (the
  scorer's "well visible") in every ``EVERY_N_FRAMES``-th frame is *found* when a detection
  overlaps its true box by IoU >= ``IOU_MIN``; its class is right when the best-overlapping
  detection has its class. Detections overlapping no object at all (IoU < 0.1 with every true
  box, hidden ones included) are false detections. Time per frame covers resize, model and
  decoding on one thread.
- tracking: the rows ``python -m roadcam.tools.eval_tracking --detector tflite`` prints (the simulator's
  scorer), every frame, the learned detector and the core tracker as the appliance chains them.

With ``--real ROOT`` the model is first measured on the real labelled road-user frames of the
validation split that ``tools/data/real_sets.py`` extracted under ROOT
(``tools/vehicles/real_detection.py``); those figures come first on the card.

With ``--card`` the figures and how the model was made (the training script's
``vehicle_detector.train.json`` beside the model, when present) are written as the model card.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from roadcam.appliance.boxes import as_boxes, ious
from roadcam.plugins.detection import DetectionConfig, LearnedDetector
from roadcam.plugins.detection.learned import SHIPPED_MODEL
from roadcam.sim import SimRoad, available_scenarios
from roadcam.tools.eval_tracking import evaluate as evaluate_tracking
from roadcam.tools.vehicles import real_detection

VISIBLE_MIN = 0.6
MIN_BOX_PX = 24.0
IOU_MIN = 0.5
EVERY_N_FRAMES = 5


@dataclass
class DetectionFigures:
    """Detection figures of one scenario."""

    scenario: str
    frames: int = 0
    objects: int = 0
    found: int = 0
    right_class: int = 0
    false_detections: int = 0
    seconds: float = 0.0

    def row(self) -> str:
        return (f"| {self.scenario} | {self.frames} | {self.objects} | {100 * self.found / max(self.objects, 1):.1f}% "
                f"| {100 * self.right_class / max(self.found, 1):.1f}% "
                f"| {self.false_detections / max(self.frames, 1):.2f} "
                f"| {1000 * self.seconds / max(self.frames, 1):.1f} |")


def measure_detection(scenario: str, detector: LearnedDetector) -> DetectionFigures:
    """Recall, class accuracy, false detections and time per frame on one scenario."""
    road = SimRoad.from_scenario(scenario)
    figures = DetectionFigures(scenario)
    while (frame := road.advance_frame()) is not None:
        if frame.index % EVERY_N_FRAMES:
            continue
        started = time.perf_counter()
        detections = detector.roadcam_detect(frame=frame, geometry=None)
        figures.seconds += time.perf_counter() - started
        figures.frames += 1
        objects = [*road.truth.vehicles.values(), *road.truth.pedestrians.values()]   # grows as objects enter
        present = [(item, item.boxes[frame.index]) for item in objects if frame.index in item.boxes]
        if not detections:
            figures.objects += sum(1 for _, box in present if _well_visible(box))
            continue
        found = as_boxes([d.box for d in detections])
        if present:
            overlap = ious(as_boxes([box[:4] for _, box in present]), found)
            figures.false_detections += int(np.sum(overlap.max(axis=0) < 0.1))
        else:
            figures.false_detections += len(detections)
            continue
        for row, (item, box) in enumerate(present):
            if not _well_visible(box):
                continue
            figures.objects += 1
            best = int(np.argmax(overlap[row]))
            if overlap[row, best] >= IOU_MIN:
                figures.found += 1
                figures.right_class += detections[best].kind == item.kind
    return figures


def _well_visible(box) -> bool:
    return box[4] >= VISIBLE_MIN and ((box[2] - box[0]) * (box[3] - box[1])) ** 0.5 >= MIN_BOX_PX


def write_card(path: Path, model: Path, detection: list[DetectionFigures], tracking: dict[str, list[str]],
               real: list[real_detection.RealFigures] | None = None) -> None:
    """The model card: what the model is, how it was made, how well and how fast it does
    (on real frames first when ``real`` is given)."""
    made = model.with_suffix(".train.json")
    meta = json.loads(made.read_text()) if made.is_file() else {}
    how_made = (f"- Command: `.trainenv/bin/python -m roadcam.tools.vehicles.train_detector --steps {meta['steps']}` "
                f"(seed {meta['seed']}; "
                f"the same seed and simulator code give the same data and initialisation).\n"
                f"- Data: {meta['frames']} simulator frames of the runs {_runs(meta['training_runs'])}, "
                f"camera pose jittered, one frame in 4 after the first 4 s; never the shipped seeds.\n"
                f"- Training: {meta['steps']} steps of {meta['batch']} random 384x224 windows (frames with "
                f"scooters, trucks and buses drawn more often), Adam with cosine "
                f"decay, focal loss on class heatmaps and L1 on sizes and offsets, one TensorFlow thread, "
                f"{meta['train_seconds'] / 60:.0f} min with rendering.\n") if meta else "- (training record missing)\n"
    lines = [
        "# Road-user detector (`vehicle_detector.tflite`)", "",
        "Finds cars, scooters, trucks, buses and pedestrians in whole frames for",
        "`plugins/detection/learned.py` (`detection.type: tflite`).", "",
        "- **Input**: the frame scaled to 512x288, RGB, float32 pixel levels 0-255.",
        "- **Output**: 1x72x128x9, one cell per 4 input px: a score per class (sigmoid), then log",
        "  width, log height (in cells) and the centre's x/y offset in the cell (CenterNet). Peaks above",
        "  `detection.min_score`, then non-maximum suppression across classes.",
        "- **Network**: plain 3x3 convolutions to stride 32, a feature pyramid back to stride 4;",
        f"  {meta.get('weights', 'float16')} weights, float activations, {model.stat().st_size / 1024:.0f} KiB.", "",
        *(_real_section(real) if real else []),
        "## How it was made", "", how_made,
        "## How well, how fast (one thread; `.venv/bin/python -m roadcam.tools.vehicles.eval_detector`)", "",
        f"Shipped scenarios at their shipped seeds (not trained on). Detection: one frame in {EVERY_N_FRAMES}, objects",
        f"at least {VISIBLE_MIN:.0%} visible and {MIN_BOX_PX:.0f} px across, found at IoU >= {IOU_MIN}; false",
        "detections overlap no object (IoU < 0.1). Times include resizing and decoding.", "",
        "| scenario | frames | objects | found | class right | false per frame | ms per frame |",
        "|---|---|---|---|---|---|---|",
        *[figures.row() for figures in detection], "",
        "Tracking with the core tracker (`python -m roadcam.tools.eval_tracking --detector tflite`, "
        "the simulator's scorer):", "",
        "```",
        *[line for scenario, rows in tracking.items() for line in [f"== {scenario}", *rows]],
        "```", "",
        "## Limits", "",
        "- Trained on simulator renders only: on a real camera it needs training on that camera's",
        "  footage (the same script, other frames); background subtraction stays the default.",
        "- Objects under about 6 px in the 512x288 input (24 px at 1920x1080) are often missed.",
    ]
    path.write_text("\n".join(lines) + "\n")


def _real_section(real: list[real_detection.RealFigures]) -> list[str]:
    return [
        "## On real frames (`.venv/bin/python -m roadcam.tools.vehicles.eval_detector --real /work/data`)", "",
        "The validation split of `tools/data/real_sets.py` (road-user sources; see tools/data/SOURCES.md),",
        "never trained or tuned on. Objects at least "
        f"{real_detection.MIN_BOX_PX:.0f} px across; false detections overlap no labelled box",
        "(IoU < 0.1; road users a source leaves unlabelled, such as OTLabels' parked cars, count as",
        "false). Single frames, so background subtraction (which needs a clip) does not apply.", "",
        real_detection.HEADER,
        *[figures.row() for figures in real], "",
    ]


def _runs(runs) -> str:
    return ", ".join(f"{name} seed {seed}" for name, seed in runs)


def measure(model: Path, scenarios: list[str], card: Path | None = None, real_root: Path | None = None) -> None:
    """Print the detection and tracking figures of ``model`` on ``scenarios`` (one thread), and
    on the real validation frames under ``real_root`` when given; with ``card``, write them into
    the model card."""
    cv2.setNumThreads(1)
    config = DetectionConfig(type="tflite", model=str(model), threads=1)
    detector = LearnedDetector(config)
    real = real_detection.measure_real(real_root, detector) if real_root else None
    if real:
        print(real_detection.HEADER)
        print("\n".join(figures.row() for figures in real), flush=True)
    detection, tracking = [], {}
    for scenario in scenarios:
        detection.append(measure_detection(scenario, detector))
        print(detection[-1].row(), flush=True)
        tracking[scenario] = evaluate_tracking(scenario, config)
        print("\n".join(tracking[scenario]), flush=True)
    if card is not None:
        write_card(card, model, detection, tracking, real)
        print(f"wrote {card}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", help="scenario names (default: every shipped one)")
    parser.add_argument("--model", type=Path, default=SHIPPED_MODEL)
    parser.add_argument("--card", type=Path, help="write the model card here (e.g. the model's path with .md)")
    parser.add_argument("--real", type=Path,
                        help="also measure on the real validation frames extracted here (e.g. /work/data)")
    parser.add_argument("--real-only", action="store_true", help="with --real: skip the simulator scenarios")
    args = parser.parse_args()
    if args.real_only and args.card:
        parser.error("--card needs the simulator figures too; drop --real-only")
    scenarios = [] if args.real_only else (args.scenarios or available_scenarios())
    measure(args.model, scenarios, args.card, args.real)
    return 0


if __name__ == "__main__":
    sys.exit(main())
