"""Plate formats per country: which texts a plate may carry, used to rank and mend reads.

A country's formats are a small YAML file (``formats/<CODE>.yaml`` beside this module: TW, the
default, and BR, DE, GB, RO, US as examples), each format a regular expression over the plate's
text in upper case without separators. ``plate_capture.countries`` names the shipped sets to use
(or the path of a file of one's own in the same shape) and ``plate_capture.formats`` adds bare
patterns; ``roadcam plate read`` takes ``--country`` and ``--format`` for the same.

A read that fits no format may still be one a reader got wrong on a look-alike character (0 for
O, 8 for B): :meth:`PlateFormats.fit` swaps at most :data:`MAX_SWAPS` look-alikes, least sure
characters first, to make it fit. A plate's rank (:func:`plate_rank`) is its read's confidence
times how plate-like it is: the detector's probability that the box is a whole plate, times one
for a read that fits as it is, :data:`SWAP_FACTOR` per swapped character, and
:data:`NO_FORMAT_FACTOR` for one that fits nothing (a sticker, a badge, a slogan).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from roadcam.common.errors import ConfigError
from roadcam.common.yaml_config import load_yaml, validate_config

#: The shipped country sets, one YAML file each.
FORMATS_DIR = Path(__file__).with_name("formats")
DEFAULT_COUNTRIES = ("TW",)
#: Characters plate readers confuse, each with those it may have been.
LOOKALIKES = {"0": "ODQ", "O": "0DQ", "D": "0O", "Q": "0O", "1": "I", "I": "1", "2": "Z", "Z": "2",
              "5": "S", "S": "5", "6": "G", "G": "6", "8": "B", "B": "8", "4": "A", "A": "4"}
#: Most characters swapped to make a read fit a format.
MAX_SWAPS = 2
#: Rank factor per swapped character, and for a read that fits no format even with swaps.
SWAP_FACTOR = 0.7
NO_FORMAT_FACTOR = 0.1


class FormatSpec(BaseModel):
    """One plate format in a country's file."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="What the format is for, e.g. car, scooter.")
    pattern: str = Field(min_length=1, description="Regular expression over the text without separators.")
    example: str = Field("", description="A plate as printed, e.g. ABC-1234.")

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"{pattern!r} is not a regular expression: {exc}") from None
        return pattern


class CountryFile(BaseModel):
    """A country's formats file."""

    model_config = ConfigDict(extra="forbid")

    country: str = Field(min_length=1, description="Its code, e.g. TW.")
    name: str = Field(min_length=1, description="The country's name.")
    formats: list[FormatSpec] = Field(min_length=1)


@dataclass(frozen=True)
class PlateFormat:
    """One format: its country and name, and its compiled pattern."""

    country: str
    name: str
    pattern: re.Pattern[str]

    @property
    def label(self) -> str:
        return f"{self.country} {self.name}"


@dataclass(frozen=True)
class Fit:
    """A read made to fit a format: its text (with any swaps), the format, the swaps made."""

    text: str
    format: PlateFormat
    swaps: int


class PlateFormats:
    """The formats a site's plates may have."""

    def __init__(self, formats: Sequence[PlateFormat]):
        if not formats:
            raise ConfigError("no plate format: name at least one country or pattern")
        self.formats = tuple(formats)

    @classmethod
    def load(cls, countries: Iterable[str | Path] = DEFAULT_COUNTRIES, patterns: Iterable[str] = ()) -> PlateFormats:
        """The formats of ``countries`` (shipped codes or paths of country files) and bare
        ``patterns``; ConfigError naming the file (and line) or pattern that is wrong."""
        formats = [form for country in countries for form in load_country(country)]
        for pattern in patterns:
            try:
                formats.append(PlateFormat("custom", pattern, re.compile(pattern)))
            except re.error as exc:
                raise ConfigError(f"plate format {pattern!r} is not a regular expression: {exc}") from None
        return cls(formats)

    def match(self, text: str) -> PlateFormat | None:
        """The first format ``text`` fits as it is, or None."""
        return next((form for form in self.formats if form.pattern.fullmatch(text)), None)

    def fit(self, text: str, char_confidences: Sequence[float] = ()) -> Fit | None:
        """``text`` as it is if it fits a format, else with the fewest look-alike swaps (at most
        :data:`MAX_SWAPS`, the least sure characters tried first); None when nothing fits."""
        found = self.match(text)
        if found is not None:
            return Fit(text, found, 0)
        positions = [i for i, char in enumerate(text) if char in LOOKALIKES]
        if char_confidences and len(char_confidences) == len(text):
            positions.sort(key=lambda i: char_confidences[i])
        for swaps in range(1, MAX_SWAPS + 1):
            for chosen in itertools.combinations(positions, swaps):
                for replacements in itertools.product(*(LOOKALIKES[text[i]] for i in chosen)):
                    chars = list(text)
                    for i, char in zip(chosen, replacements):
                        chars[i] = char
                    candidate = "".join(chars)
                    found = self.match(candidate)
                    if found is not None:
                        return Fit(candidate, found, swaps)
        return None


def load_country(country: str | Path) -> list[PlateFormat]:
    """The formats of a shipped country code (``TW``) or of a country file's path."""
    path = Path(country)
    if path.suffix not in (".yaml", ".yml"):
        path = FORMATS_DIR / f"{str(country).upper()}.yaml"
        if not path.is_file():
            shipped = ", ".join(sorted(p.stem for p in FORMATS_DIR.glob("*.yaml")))
            raise ConfigError(f"no shipped plate formats for country {country!r} (shipped: {shipped}; "
                              f"or give the path of a .yaml file in their shape)")
    data, node = load_yaml(path)
    spec = validate_config(CountryFile, data, node, source=str(path))
    return [PlateFormat(spec.country, form.name, re.compile(form.pattern)) for form in spec.formats]


def plate_rank(confidence: float, fit: Fit | None, plate_probability: float = 1.0) -> float:
    """How much a read is to be believed to be a plate's text (0-1): see the module."""
    likeness = NO_FORMAT_FACTOR if fit is None else SWAP_FACTOR ** fit.swaps
    return plate_probability * likeness * confidence
