"""Plate reader benchmark: exact reads on plates the reader was never trained on, beside RapidOCR.

    .venv/bin/python -m roadcam.tools.bench_plates [--models PATH...] [--no-rapidocr] [--limit N]

Data sets (held-out plates only, :func:`roadcam.tools.plates.datasets.is_held_out`):

- ``plates-us``: each held-out photo cut by its labelled box with
  :data:`roadcam.tools.plates.datasets.CROP_MARGIN`;
- ``plates-br-crops photo`` and ``plates-br-crops rendered``: the held-out crops as they are;
- ``sim one-row`` and ``sim two-row`` (scooters): plates cut from the shipped scenarios' frames
  by their true boxes (at least :data:`SIM_MIN_PLATE_PX` wide), one frame in
  :data:`SIM_EVERY_N_FRAMES`.

A read is exact when its text, upper case with everything but A-Z and 0-9 dropped, equals the
label. Both readers run on one core (TFLite one thread; onnxruntime and OpenMP one thread), and
the time per plate covers everything from the BGR crop to the text. RapidOCR (the
rapidocr-onnxruntime wheel, in the [bench] extra) detects text lines in the crop and reads
each; its read is the line with at least four characters whose box is tallest (plate characters
are the largest text on a plate), else all lines joined. ``rapidocr one line`` skips its text
detector and reads the whole crop as one line (faster; two-row plates cannot be read that way).

Detector recall is printed too when ``roadcam.tools.plates.eval_detector`` can run.
"""

from __future__ import annotations

import argparse
import functools
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from roadcam.common.errors import ModelError
from roadcam.plugins.plate_capture.reader import DEFAULT_MODELS, PlateReader
from roadcam.sim import SimRoad, load_scenario
from roadcam.sim.plates import plate_format
from roadcam.sim.scenario import ScenarioError
from roadcam.tools.plates.datasets import (
    CROP_MARGIN,
    DatasetMissing,
    crop_box,
    load_br_crops,
    load_plates_us,
    plate_crop,
)

#: Sim plates narrower than this are not read (the simulator's scooter plates peak at about 35 px).
SIM_MIN_PLATE_PX = 30
SIM_RUNS = ("smoke", "junction", "night", "rain")
SIM_SECONDS = 30.0
SIM_EVERY_N_FRAMES = 10
#: Margin around a sim plate's true box, as around a labelled photo box.
SIM_MARGIN = CROP_MARGIN
#: Accuracy to beat on US crops (OpenALPR's own benchmark) and the speed-up wanted over RapidOCR.
OPENALPR_US_EXACT = 0.86
SPEEDUP_WANTED = 10.0

Labelled = list[tuple[np.ndarray, str]]


@dataclass(frozen=True)
class ReadScore:
    """How one reader did on one data set."""

    dataset: str
    reader: str
    plates: int
    exact: int
    seconds: float

    @property
    def accuracy(self) -> float:
        return self.exact / self.plates if self.plates else 0.0

    @property
    def ms_per_plate(self) -> float:
        return 1000 * self.seconds / self.plates if self.plates else 0.0


def plate_text(text: str) -> str:
    """Text as plates are compared: upper case, A-Z and 0-9 only."""
    return re.sub(r"[^A-Z0-9]", "", text.upper())


@functools.cache
def held_out_sets() -> dict[str, Labelled]:
    """Every held-out labelled crop by data set name; a data set that is absent is left out.
    Cut once a process (the model card measures the pair and each model on the same crops)."""
    sets: dict[str, Labelled] = {}
    try:
        sets["plates-us"] = [(plate_crop(s), s.text) for s in load_plates_us() if s.held_out]
    except DatasetMissing as missing:
        print(f"plates-us skipped: {missing}")
    try:
        br = [s for s in load_br_crops() if s.held_out]
    except DatasetMissing as missing:
        print(f"plates-br-crops skipped: {missing}")
        br = []
    for kind in ("photo", "rendered"):
        if br:
            sets[f"plates-br-crops {kind}"] = [(plate_crop(s), s.text) for s in br if s.kind == kind]
    try:
        sim = sim_plates()
    except ScenarioError as broken:
        print(f"sim skipped: {broken}")
        sim = []
    two_row = {"ABC-123", "123-ABC"}  # the simulator draws scooter plates in two rows
    sets["sim one-row"] = [(crop, text) for crop, text, printed in sim if plate_format(printed) not in two_row]
    sets["sim two-row"] = [(crop, text) for crop, text, printed in sim if plate_format(printed) in two_row]
    return sets


def sim_plates() -> list[tuple[np.ndarray, str, str]]:
    """Plates cut from simulator frames of the shipped scenarios by their true image boxes:
    crop, text as compared, text as printed."""
    crops = []
    for name in SIM_RUNS:
        scenario = load_scenario(name)
        road = SimRoad.from_scenario(scenario.model_copy(update={"duration_s": min(SIM_SECONDS, scenario.duration_s)}))
        while (frame := road.advance_frame()) is not None:
            for truth in road.truth.vehicles.values():
                box = truth.plate_boxes.get(frame.index)
                if box is None or box[4] < 1.0 or box[2] - box[0] < SIM_MIN_PLATE_PX:
                    continue
                x1, y1, x2, y2 = box[:4]
                margin = (SIM_MARGIN[0], SIM_MARGIN[1], SIM_MARGIN[0], SIM_MARGIN[1])
                crops.append((crop_box(frame.image, (x1, y1, x2 - x1, y2 - y1), margin).copy(),
                              plate_text(truth.plate), truth.plate))
            road.skip_frames(SIM_EVERY_N_FRAMES - 1)
    return crops


def score(read: Callable[[np.ndarray], str], name: str, dataset: str, labelled: Labelled) -> ReadScore:
    """Exact reads and total time of ``read`` over ``labelled`` (after one warm-up read)."""
    if labelled:
        read(labelled[0][0])
    exact, seconds = 0, 0.0
    for crop, text in labelled:
        started = time.perf_counter()
        got = read(crop)
        seconds += time.perf_counter() - started
        exact += plate_text(got) == plate_text(text)
    return ReadScore(dataset, name, len(labelled), exact, seconds)


def our_reader(model_paths: list[Path] | None) -> Callable[[np.ndarray], str]:
    reader = PlateReader(model_paths, threads=1)
    return lambda crop: reader.read(crop).text


def rapidocr_readers() -> dict[str, Callable[[np.ndarray], str]]:
    """RapidOCR on one thread, as it comes (find text lines, then read them) and reading the
    whole crop as one line; none when rapidocr-onnxruntime is not installed."""
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError:
        return {}
    engine = RapidOCR(intra_op_num_threads=1, inter_op_num_threads=1)

    def read(crop: np.ndarray) -> str:
        lines, _ = engine(crop)
        if not lines:
            return ""
        plate_like = [(np.ptp(np.asarray(box)[:, 1]), text) for box, text, _ in lines if len(plate_text(text)) >= 4]
        if plate_like:
            return max(plate_like)[1]
        return "".join(text for _, text, _ in lines)

    def read_as_one_line(crop: np.ndarray) -> str:
        lines, _ = engine(crop, use_det=False, use_cls=False, use_rec=True)
        return lines[0][0] if lines else ""

    return {"rapidocr": read, "rapidocr one line": read_as_one_line}


def run(model_paths: list[Path] | None, with_rapidocr: bool, limit: int = 0) -> list[ReadScore]:
    """Every score of our reader (and RapidOCR, when wanted and installed) on every data set,
    or on ``limit`` plates of each, spread evenly over it, when ``limit`` is not 0."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    cv2.setNumThreads(1)
    readers = {"roadcam": our_reader(model_paths)}
    if with_rapidocr:
        readers.update(rapidocr_readers())
        if len(readers) == 1:
            print("RapidOCR skipped: pip install rapidocr-onnxruntime (the [bench] extra)")
    return [score(read, name, dataset, evenly(labelled, limit))
            for dataset, labelled in held_out_sets().items() for name, read in readers.items()]


def evenly(labelled: Labelled, limit: int) -> Labelled:
    """``limit`` items spread evenly over ``labelled`` (all of them when ``limit`` is 0 or not
    below their number)."""
    if not limit or limit >= len(labelled):
        return labelled
    return [labelled[int(i)] for i in np.linspace(0, len(labelled) - 1, limit)]


def report(scores: list[ReadScore]) -> str:
    """The scores as a Markdown table, then the two targets checked."""
    lines = ["| data set | reader | plates | exact | exact % | ms per plate |", "|---|---|---|---|---|---|"]
    lines += [f"| {s.dataset} | {s.reader} | {s.plates} | {s.exact} | {100 * s.accuracy:.1f} | {s.ms_per_plate:.1f} |"
              for s in scores]
    ours = {s.dataset: s for s in scores if s.reader == "roadcam"}
    if "plates-us" in ours:
        verdict = "beats" if ours["plates-us"].accuracy > OPENALPR_US_EXACT else "does NOT beat"
        lines.append(f"\nplates-us: {100 * ours['plates-us'].accuracy:.1f} % exact {verdict} "
                     f"OpenALPR's {100 * OPENALPR_US_EXACT:.0f} %.")
    ours_s = _seconds_per_plate([s for s in scores if s.reader == "roadcam"])
    for other in sorted({s.reader for s in scores} - {"roadcam"}):
        theirs_s = _seconds_per_plate([s for s in scores if s.reader == other])
        lines.append(f"speed: roadcam {1000 * ours_s:.2f} ms per plate, {other} {1000 * theirs_s:.1f} ms: "
                     f"{theirs_s / ours_s:.0f}x faster (wanted {SPEEDUP_WANTED:.0f}x).")
    return "\n".join(lines)


def _seconds_per_plate(scores: list[ReadScore]) -> float:
    return sum(s.seconds for s in scores) / max(1, sum(s.plates for s in scores))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", type=Path, nargs="+", default=list(DEFAULT_MODELS),
                        help="reader models, the first reads every crop (default: the shipped pair)")
    parser.add_argument("--no-rapidocr", action="store_true", help="measure our reader only")
    parser.add_argument("--limit", type=int, default=0,
                        help="plates per data set, spread evenly (RapidOCR takes about a second a plate)")
    args = parser.parse_args(argv)
    print(report(run(args.models, with_rapidocr=not args.no_rapidocr, limit=args.limit)))
    _detector_recall()


def _detector_recall() -> None:
    """The plate detector's recall (helper module ``roadcam.tools.plates.eval_detector``) when it can run."""
    try:
        from roadcam.tools.plates.eval_detector import evaluate

        detections = evaluate()
    except (ImportError, ModelError) as missing:
        print(f"detector recall skipped: {missing}")
        return
    print("\nplate detector (tools/plates/eval_detector.py):")
    for detection in detections:
        print(detection.line())


if __name__ == "__main__":
    main()
