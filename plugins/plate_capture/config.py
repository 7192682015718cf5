"""The ``plate_capture`` config section: models, when plates are read, formats, the hotlist."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field, field_validator

from roadcam.appliance.config import ModelFile, Section

#: Plate shapes read by default, over the plate's letters and digits (no hyphen): Taiwan's
#: ABC-1234, AB-1234 and 1234-AB car plates, ABC-123 and 123-ABC scooter plates.
TAIWAN_FORMATS = (r"[A-Z]{3}\d{4}", r"[A-Z]{2}\d{4}", r"\d{4}[A-Z]{2}", r"[A-Z]{3}\d{3}", r"\d{3}[A-Z]{3}")


class PlateCaptureConfig(Section):
    """Plate reading on every tracked vehicle, fused per vehicle, matched against the hotlist."""

    detector_model: ModelFile = Field(
        None, title="Plate detector model",
        description="The plate detector's .tflite; default: the one shipped with roadcam "
                    "(plugins/plate_capture/models/plate_detector.tflite, see its model card).")
    reader_models: list[ModelFile] = Field(
        default_factory=list, title="Plate reader models",
        description="The plate reader's .tflite files, one or more: the first reads every crop, the "
                    "others join the second look at unsure ones (reread_unsure); empty: the two shipped with roadcam "
                    "(plugins/plate_capture/models/plate_reader_seed4.tflite and _seed5, see their "
                    "model card plate_reader.md).")
    threads: int = Field(1, ge=1, le=8, title="Threads", description="CPU threads each model runs on.")
    min_vehicle_px: int = Field(
        70, ge=8, title="Smallest vehicle (px)",
        description="Vehicles whose box is less high than this (full-resolution pixels) are too far "
                    "for their plate to be legible and are not read yet.")
    read_every_frames: int = Field(
        1, ge=1, le=25, title="Read every (frames)",
        description="A vehicle's plate is read at most once in this many frames (CPU budget). Every "
                    "frame counts: a small plate is legible in a few frames only.")
    max_reads_per_frame: int = Field(
        3, ge=1, le=64, title="Reads per frame",
        description="At most this many vehicles are read in one frame, those read longest ago first "
                    "(the CPU budget: tools/bench_pipeline.py keeps up with 25 frames/s with room to "
                    "spare at 3 on one core).")
    reread_unsure: bool = Field(
        False, title="Reread unsure plates",
        description="Read a plate the reader is unsure of again in four trims of its crop and vote "
                    "(more exact reads of hard plates; tools/bench_pipeline.py ran at 23 instead of 30 "
                    "frames/s with it); off by default, as a track's plate is read in many frames and "
                    "voted anyway. `roadcam plate read` always does it.")
    min_confidence: float = Field(
        0.5, ge=0, le=1, title="Confidence floor",
        description="Reads less sure than this (the weakest character's probability) are not counted, "
                    "and a vehicle whose fused plate is less sure than this (see fusion.py) gets no "
                    "plate.read: its plate was not legible.")
    formats: list[str] = Field(
        default_factory=lambda: list(TAIWAN_FORMATS), min_length=1, title="Plate formats",
        description="Regular expressions a read must match in full (upper-case letters and digits, "
                    "no hyphen or space) to count; default: Taiwan's car and scooter plates.")
    hotlist_file: Path | None = Field(
        None, title="Hotlist file",
        description="Where the hotlist is kept between restarts; default: hotlist.json beside the "
                    "event database.")
    hotlist_max_distance: float = Field(
        1.0, ge=0, le=3, title="Hotlist distance",
        description="A read matches a listed plate within this edit distance; swapping characters "
                    "a reader confuses (0/O, 1/I, 8/B, 5/S, 2/Z) costs a quarter.")

    @field_validator("formats")
    @classmethod
    def _valid_patterns(cls, formats: list[str]) -> list[str]:
        for index, pattern in enumerate(formats):
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"formats[{index}] {pattern!r} is not a regular expression: {exc}") from None
        return formats
