"""One plate per vehicle from the reads of many frames: a vote weighted by confidence.

Each accepted read of a track adds its confidence to its text's tally; the track's plate is
the text with the largest tally, and its confidence that tally's share of all votes times the
best single confidence for that text (one sure read among many doubtful ones stays doubtful;
many agreeing reads make a sure one). The read with the highest confidence for the winning
text keeps its crop and frame, for the evidence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


#: Texts per track whose best read keeps its whole frame (see PlateVote._drop_trailing_frames).
FRAMES_KEPT = 2


@dataclass
class Sighting:
    """One read of a plate in one frame, with what the evidence needs."""

    text: str
    confidence: float
    frame_index: int
    time_ns: int
    box: tuple[float, float, float, float]
    crop: Any = None
    frame: Any = None


@dataclass
class PlateVote:
    """The reads of one track so far."""

    tallies: dict[str, float] = field(default_factory=dict)
    best: dict[str, Sighting] = field(default_factory=dict)
    reads: int = 0

    def add(self, sighting: Sighting) -> None:
        self.tallies[sighting.text] = self.tallies.get(sighting.text, 0.0) + sighting.confidence
        self.reads += 1
        kept = self.best.get(sighting.text)
        if kept is None or sighting.confidence > kept.confidence:
            self.best[sighting.text] = sighting
        self._drop_trailing_frames()

    def _drop_trailing_frames(self) -> None:
        """Keep whole frames only for the ``FRAMES_KEPT`` leading texts: a frame is 6 MB at
        1920x1080, and a long-lived track (a queue, a parked car) collects many misreads. A
        text that later wins without its frame still has its crop as evidence."""
        leading = sorted(self.tallies, key=self.tallies.get, reverse=True)[:FRAMES_KEPT]
        for text, kept in self.best.items():
            if text not in leading and kept.frame is not None:
                kept.frame = None

    @property
    def leader(self) -> str | None:
        return max(self.tallies, key=self.tallies.get) if self.tallies else None

    def result(self) -> tuple[Sighting, float] | None:
        """The winning read (with its crop and frame) and the fused confidence, or None."""
        text = self.leader
        if text is None:
            return None
        total = sum(self.tallies.values())
        best = self.best[text]
        return best, (self.tallies[text] / total) * best.confidence if total > 0 else 0.0
