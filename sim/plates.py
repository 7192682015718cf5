"""Taiwanese licence plates: the formats, a validity check, and a seeded generator.

The simulator gives every vehicle a plate that a real Taiwanese vehicle of its class could
carry, so the plate reader is trained and scored on realistic text. Letters I and O are never
issued (they read as 1 and 0).
"""

from __future__ import annotations

import re

import numpy as np

#: Plate formats by name, as regular expressions over the printed text (with its hyphen).
PLATE_FORMATS: dict[str, re.Pattern[str]] = {
    "ABC-1234": re.compile(r"^[A-HJ-NP-Z]{3}-\d{4}$"),
    "AB-1234": re.compile(r"^[A-HJ-NP-Z]{2}-\d{4}$"),
    "ABC-123": re.compile(r"^[A-HJ-NP-Z]{3}-\d{3}$"),
    "123-ABC": re.compile(r"^\d{3}-[A-HJ-NP-Z]{3}$"),
}

#: Which formats each vehicle class is issued, with their relative frequency.
FORMATS_BY_KIND: dict[str, dict[str, float]] = {
    "car": {"ABC-1234": 0.75, "AB-1234": 0.25},
    "truck": {"ABC-1234": 0.5, "AB-1234": 0.5},
    "bus": {"ABC-1234": 1.0},
    "scooter": {"ABC-123": 0.6, "123-ABC": 0.4},
}

_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"


def is_valid_plate(text: str) -> bool:
    """True when ``text`` matches one of :data:`PLATE_FORMATS` exactly."""
    return any(pattern.match(text) for pattern in PLATE_FORMATS.values())


def plate_format(text: str) -> str | None:
    """Name of the format ``text`` is written in, or None."""
    return next((name for name, pattern in PLATE_FORMATS.items() if pattern.match(text)), None)


def normalise_plate(text: str) -> str:
    """Plate text as readers compare it: upper case, without hyphens or spaces."""
    return re.sub(r"[\s-]", "", text).upper()


class PlateGenerator:
    """Draws valid plates for vehicle classes from a seeded generator, never the same twice."""

    def __init__(self, rng: np.random.Generator):
        self._rng = rng
        self._issued: set[str] = set()

    def reserve(self, plate: str) -> None:
        """Mark a plate given explicitly by a scenario as taken, so it is not drawn again."""
        self._issued.add(normalise_plate(plate))

    def issue(self, kind: str) -> str:
        """A fresh plate for a vehicle of class ``kind`` (car, scooter, truck, bus)."""
        formats = FORMATS_BY_KIND[kind]
        names = list(formats)
        weights = np.array([formats[name] for name in names])
        while True:
            name = names[int(self._rng.choice(len(names), p=weights / weights.sum()))]
            plate = self._fill(name)
            if normalise_plate(plate) not in self._issued:
                self._issued.add(normalise_plate(plate))
                return plate

    def _fill(self, format_name: str) -> str:
        out = []
        for symbol in format_name:
            if symbol.isalpha():
                out.append(_LETTERS[int(self._rng.integers(len(_LETTERS)))])
            elif symbol.isdigit():
                out.append(str(int(self._rng.integers(10))))
            else:
                out.append(symbol)
        plate = "".join(out)
        digits = re.sub(r"\D", "", plate)
        return plate if int(digits) else self._fill(format_name)
