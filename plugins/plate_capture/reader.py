"""The plate reader: the text on one plate crop, with how sure the model is of each character.

The model (``models/plate_reader.tflite``, trained by ``tools/plates/train_reader.py``) is a small
convolutional network read out with CTC. It takes the crop in grey, stretched to the model's
input size and standardised (zero mean, unit contrast). Its last feature map has two rows, read
one after the other as one sequence, so a two-row scooter plate is read top row first and a
one-row plate from whichever row the model chose; at every step it gives a probability for the
CTC blank and each character of :data:`ALPHABET`. Greedy decoding keeps the most likely class
per step, merges repeats and drops blanks. Only numpy, cv2 and :mod:`appliance.inference`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from appliance.errors import ModelInvalid
from appliance.inference import load_model

from .detector import as_grey

#: The model shipped with roadcam.
DEFAULT_MODEL = Path(__file__).with_name("models") / "plate_reader.tflite"
#: Characters the reader can output; class ``i + 1`` is ``ALPHABET[i]``, class 0 the CTC blank.
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#: Contrast (grey levels) below which a crop's contrast is not stretched further (flat crops stay flat).
_MIN_CONTRAST = 4.0


@dataclass(frozen=True)
class PlateRead:
    """What the reader read: the text (upper case, no separators), the weakest character's
    probability as the read's confidence (0 for an empty read), and each character's probability."""

    text: str
    confidence: float
    char_confidences: tuple[float, ...]


class PlateReader:
    """Reads plate crops (BGR or grey uint8, any size) with the TFLite reader model."""

    def __init__(self, model_path: str | Path | None = None, threads: int = 1):
        self.model = load_model(model_path or DEFAULT_MODEL, threads=threads)
        shape = self.model.input_shape
        if len(shape) != 4 or shape[3] != 1:
            raise ModelInvalid(f"{self.model.path} takes input shaped {shape}, not a grey image "
                               "(batch, height, width, 1): it is not a plate reader model")
        self.input_size_px = (shape[2], shape[1])

    def read(self, crop_bgr: np.ndarray) -> PlateRead:
        """The text on one plate crop (ImageInvalid for an empty or non-image array)."""
        return self.read_many([crop_bgr])[0]

    def read_many(self, crops_bgr: list[np.ndarray]) -> list[PlateRead]:
        """The text on several crops, run as one batch."""
        if not crops_bgr:
            return []
        batch = np.stack([reader_input(crop, self.input_size_px) for crop in crops_bgr])
        (probabilities,) = self.model.run(batch)
        if probabilities.ndim != 3 or probabilities.shape[2] != len(ALPHABET) + 1:
            raise ModelInvalid(f"{self.model.path} outputs {probabilities.shape}, not per-step "
                               f"probabilities over {len(ALPHABET) + 1} classes: not a plate reader model")
        return [greedy_decode(steps) for steps in probabilities]


def reader_input(crop: np.ndarray, size_px: tuple[int, int]) -> np.ndarray:
    """The crop as the reader model takes it: grey, stretched to ``size_px`` (width, height),
    standardised, shaped (height, width, 1) float32. Training uses this same function."""
    grey = as_grey(crop)
    shrinking = grey.shape[1] > size_px[0]
    resized = cv2.resize(grey, size_px, interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    values = resized.astype(np.float32)
    values -= values.mean()
    values /= max(float(values.std()), _MIN_CONTRAST)
    return values[..., None]


def greedy_decode(probabilities: np.ndarray) -> PlateRead:
    """CTC greedy decoding of (steps, classes) probabilities. A character's confidence is its
    highest probability over the steps it was read on."""
    best = probabilities.argmax(axis=1)
    chars: list[str] = []
    confidences: list[float] = []
    previous = 0
    for step, label in enumerate(best):
        if label != 0:
            if label != previous:
                chars.append(ALPHABET[label - 1])
                confidences.append(float(probabilities[step, label]))
            else:
                confidences[-1] = max(confidences[-1], float(probabilities[step, label]))
        previous = label
    return PlateRead("".join(chars), min(confidences, default=0.0), tuple(confidences))
