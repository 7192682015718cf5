"""Plate detector recall on plates it was not trained on, and its time per image on one core.

    .venv/bin/python -m roadcam.tools.plates.eval_detector [--model PATH]

Data sets, each measured with the runtime's own :class:`PlateDetector` (one thread):

- ``plates-us``: the held-out photos (:func:`roadcam.tools.plates.datasets.is_held_out`), each whole as
  a scene, two ways: ``tiled`` (scaled to a longer side of 768 px and tiled, the CLI's default)
  and ``downscaled`` (one view of the whole photo at the model's input size);
- ``roadcam.sim``: the shipped scenarios at their own seeds (training used other seeds and poses):
  ``vehicle region`` runs the detector on each clearly visible vehicle's true box, as the plugin
  does with a tracked vehicle; ``full frame 1920`` runs it on whole 1920x1080 frames tiled at
  full resolution, ``full frame 768`` scaled to 768x432 and tiled as the CLI does. Plates count
  when at least 60 % visible and :data:`READABLE_PLATE_PX` wide.

A plate is found when a detection's centre lies inside its labelled box or the two overlap with
IoU >= 0.5. A detection that matches no plate (drawn or labelled) is a false positive.

:func:`evaluate` returns the scores (the benchmark ``tools/bench_plates.py`` and the training
script call it); :func:`write_model_card` writes them into the model card.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from roadcam.appliance.boxes import ious
from roadcam.plugins.plate_capture.detector import DEFAULT_MODEL, PlateBox, PlateDetector
from roadcam.sim import SimRoad, load_scenario
from roadcam.tools.plates.datasets import DatasetMissing, load_plates_us

#: Narrower plates are not counted in the simulator (too small for any reader).
READABLE_PLATE_PX = 16
MIN_VISIBLE = 0.6
#: Shipped scenarios at their shipped seeds, and how many seconds of each are measured.
SIM_RUNS = ("smoke", "junction", "night", "rain")
SIM_SECONDS = 30.0
REGION_EVERY_N_FRAMES = 5
FULL_FRAME_EVERY_N_FRAMES = 50
#: The CLI's scene working size, and the single-view size compared with it.
TILED_LONG_SIDE_PX = 768


@dataclass(frozen=True)
class DetectionScore:
    """How one detector setting did on one data set."""

    dataset: str
    mode: str
    images: int
    plates: int
    found: int
    false_positives: int
    seconds: float

    @property
    def recall(self) -> float:
        return self.found / self.plates if self.plates else 0.0

    @property
    def ms_per_image(self) -> float:
        return 1000 * self.seconds / self.images if self.images else 0.0

    def line(self) -> str:
        return (f"{self.dataset:<10} {self.mode:<16} images {self.images:5d}  plates {self.plates:5d}  "
                f"recall {self.recall:6.1%}  false+ {self.false_positives:4d}  {self.ms_per_image:7.1f} ms/image")


def evaluate(model_path: str | Path | None = None) -> list[DetectionScore]:
    """Every score of the model at ``model_path`` (the shipped one by default); plates-us is
    left out with a note when the shared data is absent."""
    cv2.setNumThreads(1)
    scores = []
    try:
        held_out = [sample for sample in load_plates_us() if sample.held_out]
    except DatasetMissing as missing:
        print(f"plates-us skipped: {missing}")
        held_out = []
    if held_out:
        for mode, detector in scene_detectors(model_path).items():
            scores.append(score_photos(detector, held_out, mode))
    scores.extend(score_sim(model_path))
    return scores


def scene_detectors(model_path: str | Path | None) -> dict[str, PlateDetector]:
    """The two ways of looking at a whole scene that are compared."""
    tiled = PlateDetector(model_path, threads=1, scene_long_side_px=TILED_LONG_SIDE_PX)
    return {"tiled 768": tiled,
            "downscaled": PlateDetector(model_path, threads=1, scene_long_side_px=tiled.side_px)}


def score_photos(detector: PlateDetector, samples, mode: str) -> DetectionScore:
    """Recall on labelled photos, each looked at whole."""
    found = false_positives = 0
    seconds = 0.0
    for sample in samples:
        image = cv2.imread(str(sample.path))
        x, y, w, h = sample.box
        started = time.perf_counter()
        detections = detector.detect(image)
        seconds += time.perf_counter() - started
        hit, spurious = match(detections, [(x, y, x + w, y + h)], [(x, y, x + w, y + h)])
        found += hit
        false_positives += spurious
    return DetectionScore("plates-us", mode, len(samples), len(samples), found, false_positives, seconds)


def score_sim(model_path: str | Path | None) -> list[DetectionScore]:
    """Recall in vehicle regions and whole frames of the shipped scenarios."""
    region_detector = PlateDetector(model_path, threads=1)
    frame_detectors = {long_side: PlateDetector(model_path, threads=1, scene_long_side_px=long_side)
                       for long_side in (1920, TILED_LONG_SIDE_PX)}
    region = _Tally()
    full = {long_side: _Tally() for long_side in frame_detectors}
    for name in SIM_RUNS:
        scenario = load_scenario(name)
        road = SimRoad.from_scenario(scenario.model_copy(update={"duration_s": min(SIM_SECONDS, scenario.duration_s)}))
        while (frame := road.advance_frame()) is not None:
            readable, drawn = _sim_plates(road, frame.index)
            for vehicle_id, plate in readable.items():
                box = road.truth.vehicles[vehicle_id].boxes.get(frame.index)
                if box is not None and box[4] >= MIN_VISIBLE:
                    region.add(region_detector, frame.image, box[:4], [plate], drawn)
            if frame.index % FULL_FRAME_EVERY_N_FRAMES == 0:
                for long_side, detector in frame_detectors.items():
                    full[long_side].add(detector, frame.image, None, list(readable.values()), drawn)
            road.skip_frames(REGION_EVERY_N_FRAMES - 1)
    return [region.score("sim", "vehicle region"),
            *(tally.score("sim", f"full frame {long_side}") for long_side, tally in full.items())]


def _sim_plates(road: SimRoad, index: int) -> tuple[dict[int, tuple], list[tuple]]:
    """The frame's readable plates by vehicle id, and every plate drawn in it."""
    readable, drawn = {}, []
    for vehicle_id, truth in road.truth.vehicles.items():
        plate = truth.plate_boxes.get(index)
        if plate is None:
            continue
        drawn.append(plate[:4])
        if plate[4] >= MIN_VISIBLE and plate[2] - plate[0] >= READABLE_PLATE_PX:
            readable[vehicle_id] = plate[:4]
    return readable, drawn


class _Tally:
    """Counts and time of detector calls on simulator images."""

    def __init__(self):
        self.images = self.plates = self.found = self.false_positives = 0
        self.seconds = 0.0

    def add(self, detector: PlateDetector, image: np.ndarray, region, wanted: list, drawn: list) -> None:
        started = time.perf_counter()
        detections = detector.detect(image, region)
        self.seconds += time.perf_counter() - started
        hit, spurious = match(detections, wanted, drawn)
        self.images += 1
        self.plates += len(wanted)
        self.found += hit
        self.false_positives += spurious

    def score(self, dataset: str, mode: str) -> DetectionScore:
        return DetectionScore(dataset, mode, self.images, self.plates, self.found, self.false_positives,
                              self.seconds)


def match(detections: list[PlateBox], wanted, known) -> tuple[int, int]:
    """How many ``wanted`` plates a detection finds, and how many detections match no plate in
    ``known`` (which holds every plate present, wanted or not)."""
    found_boxes = np.array([d.box for d in detections], float).reshape(-1, 4)
    return (int(_matches(found_boxes, wanted).any(axis=0).sum()),
            int((~_matches(found_boxes, known).any(axis=1)).sum()))


def _matches(detections: np.ndarray, plates) -> np.ndarray:
    """(detections, plates): the detection's centre is inside the plate, or IoU >= 0.5."""
    plates = np.asarray(plates, float).reshape(-1, 4)
    centres = (detections[:, :2] + detections[:, 2:]) / 2
    inside = ((centres[:, None, 0] >= plates[None, :, 0]) & (centres[:, None, 0] <= plates[None, :, 2])
              & (centres[:, None, 1] >= plates[None, :, 1]) & (centres[:, None, 1] <= plates[None, :, 3]))
    return inside | (ious(detections, plates) >= 0.5)


def write_model_card(path: Path, scores: list[DetectionScore], made: dict[str, str]) -> None:
    """The model card beside the model: what it is, how it was made, how well and how fast."""
    model = path.with_suffix(".tflite")
    rows = "\n".join(f"| {s.dataset} | {s.mode} | {s.images} | {s.plates} | {s.recall:.1%} | {s.false_positives} "
                     f"| {s.ms_per_image:.1f} |" for s in scores)
    path.write_text(f"""# Plate detector (`{model.name}`)

Finds licence plates in a vehicle region or a whole scene; `plugins/plate_capture/detector.py`
runs it (`PlateDetector.detect(image, region=None)`).

- **Input**: one grey square 1x256x256x1, float32 pixel levels 0-255 (the runtime frames a
  vehicle region whole with a 10 % margin, or tiles a scene scaled to a longer side of 768 px).
- **Output**: 1x64x64x5 every 4 input px: plate-centre score (sigmoid), x/y offset in the cell,
  log width and log height in cells (CenterNet); peaks above 0.3, then NMS at IoU 0.3.
- **Network**: MobileNet-style depthwise-separable blocks to stride 16, decoder with skips back
  to stride 4; float32 TFLite, {model.stat().st_size / 1024:.0f} KiB.

## How it was made

- Command: `{made['command']}` (seed {made['seed']}; same seed and simulator code, same model).
- Data: {made['squares']}. Held-out plates-us plates (chosen by text) are never used.
- Training: {made['training']}.

## How well, how fast (one thread; `.venv/bin/python -m roadcam.tools.plates.eval_detector`)

A plate is found when a detection's centre lies inside its labelled box or IoU >= 0.5; a
false positive is a detection on no plate. plates-us: held-out photos, whole. sim: the shipped
scenarios at their shipped seeds (training used other seeds and camera poses), first
{SIM_SECONDS:.0f} s, plates at least {READABLE_PLATE_PX} px wide and {MIN_VISIBLE:.0%} visible.
Times include cutting, resampling and decoding.

| data set | mode | images | plates | recall | false positives | ms per image |
|---|---|---|---|---|---|---|
{rows}

## Limits

- Raw scores are not probabilities: true plates mostly score between 0.3 and 0.7, so at the
  0.3 floor the detector also marks road texture, lamps, lettering (and, in plates-us, the
  unlabelled plates of other vehicles). The calibration table beside the model turns a score
  into the probability of a whole plate (`PlateBox.probability`, used to rank reads in
  `roadcam plate read`); it holds for this model only (its SHA-256 is checked) and must be
  fitted again after retraining (`python -m roadcam.tools.plates.calibrate_detector`).
- A whole 1920x1080 simulator frame scaled to 768 px loses plates under about 40 px wide: the
  plugin looks in each tracked vehicle's region instead, where they are framed large.
- In real vehicles' regions legible plates often score 0.1-0.3, under a tail light or a badge
  (ro-plates training): the plugin reads a vehicle's boxes down to 0.1, strongest first, until
  one reads as a plate (`plate_capture.plate_score_floor`, `plate_candidates`; plate_reader.md,
  "Plates inside a vehicle's box").
- Trained on grey input: plate colour is not used.
""", encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Plate detector recall and speed on held-out plates")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="the .tflite plate detector")
    args = parser.parse_args(argv)
    for score in evaluate(args.model):
        print(score.line())


if __name__ == "__main__":
    main()
