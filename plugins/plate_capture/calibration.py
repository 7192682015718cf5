"""The plate detector's score as a probability: how often a box of that score is a whole plate.

The detector's raw score is not a probability (on real scenes only about 1 box in 20 scored
0.3-0.4 is a whole plate). A calibration table, fitted on real labelled scenes by
``tools/plates/calibrate_detector.py`` (training split only) and shipped beside the model
(``models/plate_detector.calibration.json``, with its data source, counts and the model's
SHA-256), maps a score to the share of boxes of that score that overlap a labelled plate with
IoU >= 0.5, by linear interpolation between its knots. It is monotone, so it never reorders
boxes; it makes scores comparable with the reader's confidence and thresholds mean what they say.

A table is used only with the model it was fitted for (the SHA-256 must match): another model's
boxes get no probability (None) and are ranked by their raw score.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from roadcam.common.errors import ModelInvalid

#: The table shipped with the shipped detector.
DEFAULT_CALIBRATION = Path(__file__).with_name("models") / "plate_detector.calibration.json"


@dataclass(frozen=True)
class ScoreCalibration:
    """Knots (score, probability), scores increasing; ``model_sha256`` of the detector it fits."""

    scores: tuple[float, ...]
    probabilities: tuple[float, ...]
    model_sha256: str
    about: dict[str, Any]

    def probability(self, scores: np.ndarray | float) -> np.ndarray:
        """The probability of a whole plate for each score (clamped to the table's ends)."""
        return np.interp(np.asarray(scores, float), self.scores, self.probabilities)

    def fits(self, model_path: str | Path) -> bool:
        """Was this table fitted for the model file at ``model_path``?"""
        return file_sha256(model_path) == self.model_sha256

    @classmethod
    def load(cls, path: str | Path) -> ScoreCalibration:
        """Read a table; ModelInvalid naming the file when it is not one."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            scores, probabilities = zip(*data["knots"])
            table = cls(tuple(map(float, scores)), tuple(map(float, probabilities)), str(data["model_sha256"]),
                        {key: value for key, value in data.items() if key not in ("knots", "model_sha256")})
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelInvalid(f"{path}: not a plate detector calibration table "
                               f"({type(exc).__name__}: {exc})") from None
        if any(b <= a for a, b in zip(table.scores, table.scores[1:])) or not all(
                0.0 <= p <= 1.0 for p in table.probabilities):
            raise ModelInvalid(f"{path}: the knots' scores must increase and their probabilities lie in 0-1")
        return table

    def to_json(self) -> str:
        knots = [[round(s, 4), round(p, 4)] for s, p in zip(self.scores, self.probabilities)]
        return json.dumps({**self.about, "model_sha256": self.model_sha256, "knots": knots}, indent=1) + "\n"


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
