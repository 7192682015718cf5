"""The ``plate_capture`` config section: models, when plates are read, formats, the hotlist."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from roadcam.appliance.config import ModelFile, Section
from roadcam.common.errors import ConfigError

from .formats import DEFAULT_COUNTRIES, PlateFormats
from .reader import reads_eu_plates


class PlateCaptureConfig(Section):
    """Plate reading on every tracked vehicle, fused per vehicle, matched against the hotlist."""

    detector_model: ModelFile = Field(
        None, title="Plate detector model",
        description="The plate detector's .tflite; default: the one shipped with roadcam "
                    "(plugins/plate_capture/models/plate_detector.tflite, see its model card).")
    reader_models: list[ModelFile] = Field(
        default_factory=list, title="Plate reader models",
        description="The plate reader's .tflite files, one or more: the first reads every crop, the "
                    "others join the second look at unsure ones (reread_unsure); empty: a pair shipped with roadcam "
                    "chosen by countries: with RO among them the EU pair "
                    "(plugins/plate_capture/models/plate_reader_eu_seed4.tflite and _seed5), else "
                    "plate_reader_seed4.tflite and _seed5 (see their model card plate_reader.md).")
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
        True, title="Reread unsure plates",
        description="Give an unsure read (reader.SURE_READ) that fits a plate format the reader's second "
                    "look, as roadcam plate read does: read again in four more trims of its crop and by the "
                    "second model, the text with the most summed confidence wins. Reads that fit no format "
                    "(a tail light, a foreign plate) are not read again: they cannot become a plate.read. "
                    "Chosen on the training splits (plate_reader.md, \"The second look in the appliance\"): "
                    "exact plate.reads of 534 ro-plates training plates 377 -> 388, of 168 plates-us "
                    "training photos 135 -> 153; tools/bench_pipeline.py, 200 junction frames, 23.6 -> "
                    "29.4 ms a frame of CPU, 28.5 -> 34.7 for a site read as [RO]. Off: one read per crop, "
                    "and only the first reader model is loaded.")
    wide_plates: bool | None = Field(
        None, title="Wide plates",
        description="The site's plates are wide (EU plates are 4.7:1), which the detector often boxes in "
                    "part or in two halves: side-by-side halves are merged and each box is also read "
                    "widened to 3 and 4 box heights, keeping the best-ranked read (framing.py; up to three "
                    "reads a plate instead of one: tools/bench_pipeline.py, 200 junction frames, 21.8 -> "
                    "26.2 ms a frame of CPU). Unset: on where countries pick the EU reader (RO among them, "
                    "as reader_models), as roadcam plate read frames the plates its model card measures; "
                    "off elsewhere, for plates of about 2:1 (Taiwan, US) the detector boxes whole.")
    plate_score_floor: float = Field(
        0.1, ge=0.01, le=1, title="Plate score floor",
        description="The least detector score of a box in a vehicle that is read as its plate. The "
                    "detector's scores are low on real vehicles (legible plates at night score 0.1-0.3), "
                    "so the reader and the formats judge the boxes instead (plate_reader.md, \"Plates "
                    "inside a vehicle's box\": 0.3 -> 0.1 with plate_candidates 1 -> 6 took exact reads "
                    "of 534 ro-plates training plates from 290 to 377).")
    plate_candidates: int = Field(
        6, ge=1, le=16, title="Plate boxes per vehicle",
        description="At most this many of the boxes found in a vehicle are read, strongest first, until "
                    "one gives a read above min_confidence that fits a format (a tail light, a badge or "
                    "a sticker often scores above the plate). Each box is one read (three with "
                    "wide_plates): tools/bench_pipeline.py, 200 junction frames, 1 -> 6 took 22.1 -> "
                    "22.6 ms a frame of CPU, 25.6 -> 27.7 for a site read as [RO].")
    min_confidence: float = Field(
        0.5, ge=0, le=1, title="Confidence floor",
        description="Reads less sure than this (the weakest character's probability) are not counted, "
                    "and a vehicle whose fused plate is less sure than this (see fusion.py) gets no "
                    "plate.read: its plate was not legible.")
    countries: list[str] = Field(
        default_factory=lambda: list(DEFAULT_COUNTRIES), title="Plate countries",
        description="Whose plate formats a read must fit: codes of the shipped sets "
                    "(plugins/plate_capture/formats/: TW, the default; BR, DE, GB, RO, US as examples) "
                    "or paths of .yaml files in their shape. A read that fits none even after swapping "
                    "look-alike characters (0/O, 8/B) is not counted.")
    formats: list[str] = Field(
        default_factory=list, title="More plate formats",
        description="Regular expressions a read may match in full instead (upper-case letters and "
                    "digits, no hyphen or space), besides the countries' formats.")
    hotlist_file: Path | None = Field(
        None, title="Hotlist file",
        description="Where the hotlist is kept between restarts; default: hotlist.json beside the "
                    "event database.")
    hotlist_max_distance: float = Field(
        1.0, ge=0, le=3, title="Hotlist distance",
        description="A read matches a listed plate within this edit distance; swapping characters "
                    "a reader confuses (0/O, 1/I, 8/B, 5/S, 2/Z) costs a quarter.")

    @model_validator(mode="after")
    def _wide_plates_by_country(self) -> PlateCaptureConfig:
        if self.wide_plates is None:
            self.wide_plates = reads_eu_plates(self.countries)
        return self

    @model_validator(mode="after")
    def _formats_load(self) -> PlateCaptureConfig:
        try:
            self.plate_formats()
        except ConfigError as exc:
            raise ValueError("; ".join(exc.problems)) from None
        return self

    def plate_formats(self) -> PlateFormats:
        """The formats of ``countries`` and ``formats`` (ConfigError when one is wrong)."""
        return PlateFormats.load(self.countries, self.formats)
