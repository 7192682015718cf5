"""The plate reader: the text on one plate crop, with how sure the models are of each character.

A reader model (trained by ``tools/plates/train_reader.py``) is a small convolutional network
read out with CTC. It takes the crop in grey, stretched to the model's input size and
standardised (zero mean, unit contrast); at every step of its output it gives a probability for
the CTC blank and each character of :data:`ALPHABET`. Greedy decoding keeps the most likely class
per step, merges repeats and drops blanks.

roadcam ships two such models (:data:`DEFAULT_MODELS`), trained by the same recipe from two
seeds: the first reads every crop, the second only takes the second look at unsure ones (below).
A site whose plates are Romanian reads with the EU pair instead (:data:`EU_MODELS`, the first
trained with Romanian plates too): :func:`models_for` picks the pair from the site's countries.

Two-row plates (Taiwanese scooters, many motorcycles) are read as one line: the crop's top and
bottom halves are put side by side (:func:`side_by_side`), so the top row's characters come first.
A crop narrower than :data:`TWO_ROW_MAX_ASPECT` may be either kind of plate (perspective squeezes
a one-row plate, a crop's margins widen a two-row one), so it is read both ways in one batch and
the more confident read wins; wider crops are read as one row only.

A crop the first model reads less surely than :data:`SURE_READ` gets a second look: the first
model reads it again in several trims (:data:`TRIMS`, a few per cent off its sides), the other
models read it in every trim, and the text whose reads add up to the most confidence wins. A
plate detector's box (or a photo's label) is never exactly the plate, and a character a model
misreads in one framing it mostly reads right in others; two models trained apart misread
different plates. On held-out real plates the trims took one model's exact reads from 34 to 41
of 49 US plates; with the second model too the reader reads 45 of 49 US plates and 294 of 333
Brazilian photos exactly (the first model alone with its trims: 42 and 286), for about 2-5 ms a
plate on one core. Still images are read this way; so are a vehicle's plates in the plate capture
plugin (``plate_capture.reread_unsure``, on by default), which gives the second look only to
unsure reads that fit a plate format (``read_many``'s ``reread_if``): the others cannot become a
``plate.read``. Only numpy, cv2 and :mod:`roadcam.appliance.inference`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from roadcam.appliance.inference import TFLiteModel, load_model
from roadcam.common.errors import ModelInvalid

from .detector import as_grey, check_image

#: The models shipped with roadcam: one recipe, two seeds (see the module and their model card).
DEFAULT_MODELS = tuple(Path(__file__).with_name("models") / f"plate_reader_seed{seed}.tflite" for seed in (4, 5))
#: The EU pair: the EU model (the default recipe plus Romanian plates) reads every crop, seed 5
#: joins the second look. Better on Romanian plates, a little worse on US ones (model card).
EU_MODELS = (DEFAULT_MODELS[0].with_name("plate_reader_eu_seed4.tflite"), DEFAULT_MODELS[1])
#: Country codes (``plate_capture.countries``) whose sites read with :data:`EU_MODELS`: the EU
#: formats the EU model was trained on.
EU_READER_COUNTRIES = frozenset({"RO"})
#: Characters the reader can output; class ``i + 1`` is ``ALPHABET[i]``, class 0 the CTC blank.
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#: Crops narrower than this (width / height) are also read as two-row plates. One-row plates are
#: 2:1 (US) to 4.7:1 (EU), two-row ones about 1.5:1.
TWO_ROW_MAX_ASPECT = 1.8
#: Share of a two-row crop's height each half keeps (they overlap in the middle, so a row that is
#: not exactly in its half is still whole in one of them).
ROW_HALF_SHARE = 0.56
#: Trims each crop is read in: shares of its width or height cut off (left, top, right, bottom).
TRIMS = ((0.0, 0.0, 0.0, 0.0), (0.04, 0.0, 0.04, 0.0), (0.0, 0.1, 0.0, 0.1), (0.04, 0.06, 0.04, 0.06),
         (0.08, 0.12, 0.08, 0.12))
#: A whole-crop read at least this confident is taken as it is; a less sure one is also read in
#: the other trims (most plates in a camera's near field are read surely at once).
SURE_READ = 0.8
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
    """Reads plate crops (BGR or grey uint8, any size) with one or more TFLite reader models."""

    def __init__(self, model_paths: str | Path | Sequence[str | Path] | None = None, threads: int = 1,
                 reread_unsure: bool = True):
        """``model_paths``: one reader model or several (the first reads every crop, the others
        join the second look, see the module), or None for :data:`DEFAULT_MODELS`.
        ``reread_unsure``: give unsure crops the second look (more exact reads of hard plates, up
        to nine more reads of each unsure crop). Without it only the first model is loaded."""
        if model_paths is None:
            model_paths = DEFAULT_MODELS
        elif isinstance(model_paths, (str, Path)):
            model_paths = (model_paths,)
        if not model_paths:
            raise ValueError("a plate reader needs at least one model")
        self.reread_unsure = reread_unsure
        if not reread_unsure:
            model_paths = model_paths[:1]    # the others only take part in the second look
        self.models = [load_model(path, threads=threads) for path in model_paths]
        first_shape = self.models[0].input_shape
        for model in self.models:
            shape = model.input_shape
            if len(shape) != 4 or shape[3] != 1:
                raise ModelInvalid(f"{model.path} takes input shaped {shape}, not a grey image "
                                   "(batch, height, width, 1): it is not a plate reader model")
            if tuple(shape[1:]) != tuple(first_shape[1:]):
                raise ModelInvalid(f"{model.path} takes input shaped {shape}, unlike {self.models[0].path} "
                                   f"({first_shape}): the reader's models must take one input size")
        _, height_px, width_px, _ = first_shape
        self.input_size_px = (width_px, height_px)

    def read(self, crop_bgr: np.ndarray) -> PlateRead:
        """The text on one plate crop (ImageInvalid for an empty or non-image array)."""
        return self.read_many([crop_bgr])[0]

    def read_many(self, crops_bgr: list[np.ndarray],
                  reread_if: Callable[[PlateRead], bool] | None = None) -> list[PlateRead]:
        """The text on several crops: each crop whole (in every layout, see the module) by the
        first model, all in one batch; with ``reread_unsure``, a crop read less surely than
        :data:`SURE_READ` then gets the second look (the first model in its other trims, the
        others in every trim, a batch each), if ``reread_if`` (when given) holds for its first
        read: a caller that can use only some reads (the plate capture plugin: those fitting a
        plate format) spends the second look on those alone. A crop's text is the one with the
        largest summed confidence over its reads."""
        if not crops_bgr:
            return []
        reads: list[list[PlateRead]] = [[] for _ in crops_bgr]
        first, *others = self.models
        self._read_into(reads, [(index, crop) for index, crop in enumerate(crops_bgr)], TRIMS[:1], first)
        if self.reread_unsure:
            unsure = [(i, crop) for i, crop in enumerate(crops_bgr)
                      if (read := _vote(reads[i])).confidence < SURE_READ and (reread_if is None or reread_if(read))]
            self._read_into(reads, unsure, TRIMS[1:], first)
            for model in others:
                self._read_into(reads, unsure, TRIMS, model)
        return [_vote(crop_reads) for crop_reads in reads]

    def _read_into(self, reads: list[list[PlateRead]], crops: list[tuple[int, np.ndarray]], cuts,
                   model: TFLiteModel) -> None:
        """Read each (index, crop) in every layout and each of ``cuts`` with ``model`` as one
        batch, appending the reads to ``reads[index]``."""
        owners, inputs = [], []
        for index, crop in crops:
            for two_rows in layouts(crop):
                for trimmed in trims(crop, cuts):
                    owners.append(index)
                    inputs.append(reader_input(trimmed, self.input_size_px, two_rows=two_rows))
        if not inputs:
            return
        (probabilities,) = model.run(np.stack(inputs))
        if probabilities.ndim != 3 or probabilities.shape[2] != len(ALPHABET) + 1:
            raise ModelInvalid(f"{model.path} outputs {probabilities.shape}, not per-step "
                               f"probabilities over {len(ALPHABET) + 1} classes: not a plate reader model")
        for index, steps in zip(owners, probabilities):
            reads[index].append(greedy_decode(steps))


def reads_eu_plates(countries: Iterable[str | Path]) -> bool:
    """Whether a site reading ``countries``' plates (codes or country files, as
    ``plate_capture.countries``) is an EU site: one of them is in :data:`EU_READER_COUNTRIES`."""
    return bool({str(country).upper() for country in countries} & EU_READER_COUNTRIES)


def models_for(countries: Iterable[str | Path]) -> tuple[Path, ...]:
    """The shipped reader models for a site reading ``countries``' plates: :data:`EU_MODELS`
    for an EU site (:func:`reads_eu_plates`), else :data:`DEFAULT_MODELS`."""
    return EU_MODELS if reads_eu_plates(countries) else DEFAULT_MODELS


def layouts(crop: np.ndarray) -> tuple[bool, ...]:
    """How a crop is to be read: (False,) as one row, or (False, True) also as two rows.
    ImageInvalid for an empty or non-image array."""
    check_image(crop)
    height_px, width_px = crop.shape[:2]
    return (False, True) if width_px < TWO_ROW_MAX_ASPECT * height_px else (False,)


def trims(crop: np.ndarray, cuts=TRIMS) -> list[np.ndarray]:
    """The crop cut by each of ``cuts`` (views, no copies; a trim rounds down, so a tiny crop is
    never cut to nothing)."""
    height_px, width_px = crop.shape[:2]
    return [crop[int(top * height_px):height_px - int(bottom * height_px),
                 int(left * width_px):width_px - int(right * width_px)]
            for left, top, right, bottom in cuts]


def _vote(reads: list[PlateRead]) -> PlateRead:
    """The most confident read of the text whose reads sum to the most confidence."""
    tallies: dict[str, float] = {}
    for read in reads:
        tallies[read.text] = tallies.get(read.text, 0.0) + read.confidence
    winner = max(tallies, key=tallies.get)
    return max((read for read in reads if read.text == winner), key=lambda read: read.confidence)


def side_by_side(grey: np.ndarray) -> np.ndarray:
    """A two-row plate's top half and bottom half next to each other, as one line."""
    height_px = grey.shape[0]
    half_px = max(1, int(round(height_px * ROW_HALF_SHARE)))
    return np.hstack([grey[:half_px], grey[height_px - half_px:]])


def reader_input(crop: np.ndarray, size_px: tuple[int, int], two_rows: bool = False) -> np.ndarray:
    """The crop as the reader model takes it: grey, its rows side by side when ``two_rows``,
    stretched to ``size_px`` (width, height), standardised, shaped (height, width, 1) float32.
    Training uses this same function."""
    grey = as_grey(crop)
    if two_rows:
        grey = side_by_side(grey)
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
