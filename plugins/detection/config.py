"""The ``detection`` config section: which vehicle detector runs and how it is tuned.

``type`` chooses the detector: ``background`` (background subtraction, the default) or
``tflite`` (the learned detector, plugins/detection/learned.py). The fields after ``type`` up
to ``scene_change_fraction`` tune background subtraction, ``model`` to ``threads`` the learned
detector; ``class_sizes`` serves both (classes from size, road-plane sizes). Thresholds are in
full-resolution pixels, seconds and road metres, so they do not change when the working
resolution does.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from roadcam.appliance.config import ModelFile, Section
from roadcam.appliance.tracking import CLASSES


class ClassSize(Section):
    """The typical size of one class of road user."""

    width_m: float = Field(gt=0, title="Width (m)", description="Typical width across the direction of travel.")
    length_m: float = Field(gt=0, title="Length (m)", description="Typical length along the direction of travel.")
    height_m: float = Field(gt=0, title="Height (m)", description="Typical height above the road (with rider).")


def _default_class_sizes() -> dict[str, ClassSize]:
    return {
        "pedestrian": ClassSize(width_m=0.5, length_m=0.5, height_m=1.7),
        "scooter": ClassSize(width_m=0.7, length_m=1.9, height_m=1.7),
        "car": ClassSize(width_m=1.8, length_m=4.5, height_m=1.5),
        "truck": ClassSize(width_m=2.4, length_m=7.5, height_m=3.2),
        "bus": ClassSize(width_m=2.5, length_m=11.0, height_m=3.2),
    }


class DetectionConfig(Section):
    """Vehicle and pedestrian detection: background subtraction or a TFLite model."""

    type: Literal["background", "tflite"] = Field(
        "background", title="Detector type",
        description="Which detector finds road users. 'background': background subtraction on a "
                    "downscaled frame, classes from the blob's size on the road plane. 'tflite': "
                    "the learned detector (a TFLite model), classes from appearance.")
    work_width_px: int = Field(
        480, ge=64, le=1920, title="Working width (px)",
        description="Frames are downscaled to this width (keeping the aspect ratio) before "
                    "subtraction; smaller is faster, larger finds smaller objects.")
    learn_time_s: float = Field(
        4.0, gt=0, title="Background learning time (s)",
        description="Time constant with which the empty road's appearance follows slow changes "
                    "(sun, clouds, dusk). Global brightness changes are compensated at once.")
    absorb_time_s: float = Field(
        1200.0, gt=0, title="Stationary absorb time (s)",
        description="Time constant with which an object that stays put fades into the "
                    "background. Long, so that vehicles waiting at a red light or parked stay seen.")
    warmup_s: float = Field(
        1.0, ge=0, title="Warm-up (s)",
        description="After start (or a scene change) the background is the median of frames "
                    "sampled over this many seconds; nothing is reported before.")
    min_difference: float = Field(
        45.0, gt=0, le=765, title="Minimum colour difference",
        description="Smallest difference from the background (sum over B, G and R, 0-765) that "
                    "counts as foreground.")
    noise_factor: float = Field(
        4.0, gt=0, title="Noise factor",
        description="A pixel is foreground when it differs from the background by more than this "
                    "many times its own usual fluctuation (and by at least the minimum difference).")
    ghost_edge_ratio: float = Field(
        1.5, gt=1, title="Ghost edge ratio",
        description="A blob whose outline has this many times stronger edges in the background "
                    "than in the frame is a ghost (something learnt as background has left): it "
                    "is learnt as road at once and not reported.")
    close_px: int = Field(
        5, ge=1, le=31, title="Closing kernel (working px)",
        description="Size of the morphological closing that joins a vehicle's parts into one blob.")
    min_box_area_px: int = Field(
        600, ge=1, title="Smallest box (px²)",
        description="Blobs whose box is smaller than this, in full-resolution pixels, are noise.")
    scene_change_fraction: float = Field(
        0.6, gt=0, le=1, title="Scene-change fraction",
        description="When more than this fraction of the frame differs from the background (camera "
                    "moved, lights switched), the background is learnt afresh.")
    model: ModelFile = Field(
        None, title="Detector model (tflite)",
        description="The .tflite file of the learned detector; default: the model shipped with "
                    "roadcam (plugins/detection/models/vehicle_detector.tflite, see its model card).")
    min_score: float = Field(
        0.3, gt=0, lt=1, title="Minimum score (tflite)",
        description="Peaks of the learned detector below this score are not reported.")
    threads: int = Field(
        1, ge=1, le=8, title="Threads (tflite)",
        description="CPU threads the learned detector's model runs on.")
    class_sizes: dict[str, ClassSize] = Field(
        default_factory=_default_class_sizes, title="Class sizes",
        description="Typical size per class; a blob gets the class whose size fits it best "
                    "(see plugins/detection/cuboids.py and classify.py).")
    uncalibrated_px_per_m: float = Field(
        25.0, gt=0, title="Pixels per metre without calibration",
        description="Rough image scale used to guess classes from a blob's pixel width and height "
                    "(compared with each class's width and height) on a camera that has no "
                    "calibration. Calibrate the camera for reliable classes.")

    @model_validator(mode="after")
    def _known_classes(self):
        unknown = sorted(set(self.class_sizes) - set(CLASSES))
        if unknown:
            raise ValueError(f"class_sizes: unknown class(es) {', '.join(unknown)}; "
                             f"known classes: {', '.join(CLASSES)}")
        if not self.class_sizes:
            raise ValueError("class_sizes: give at least one class")
        return self
