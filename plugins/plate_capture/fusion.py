"""One plate per vehicle from the reads of many frames: a vote weighted by confidence, by
how clearly the plate was seen, and by how many different views of it there were.

Each accepted read of a track adds its confidence to its text's tally, times the square of
its plate's width over the widest plate read on the track: the clearest views of a plate count
most. (A vehicle driving away is read first at 40 px, sure and right, then for a hundred frames
at 20-30 px, where the reader confuses K with E: unweighted, those far reads outvote the near
ones.) Reads of one *view* (the plate box's centre in the same ``VIEW_CELL_PX`` cell of the
frame: a vehicle waiting at a red light) count together as one read: their misreads are not
independent, the same picture misread again and again. (Rain FRW-858, a scooter read FRW858
while it drove up, then FRW058 in 150 frames while it waited: counted one by one, the waiting
reads won.) The track's plate is voted character by character over the texts' tallies
(:func:`character_vote`), and its confidence is its least supported character's share of all
votes times the best single confidence for that text (one sure read among many doubtful ones
stays doubtful; many agreeing reads make a sure one). The read with the highest confidence for
the winning text keeps its crop and frame, for the evidence.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: Texts per track whose best read keeps its whole frame (see PlateVote._drop_trailing_frames).
FRAMES_KEPT = 2
#: Side of the frame cells (pixels) that tell views apart: a plate box whose centre stays in one
#: cell shows the same picture (the detector's box jitters by a few pixels on a still vehicle).
VIEW_CELL_PX = 8


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
class _View:
    """The reads of one track whose plate box centre fell in one frame cell."""

    reads: int = 0
    #: Per text, the sum of confidence x plate width² over this view's reads.
    weighted: dict[str, float] = field(default_factory=dict)

    def shares(self) -> dict[str, float]:
        """Each text's part of this view's single vote: its weighted sum divided by the view's reads."""
        return {text: total / self.reads for text, total in self.weighted.items()}


@dataclass
class PlateVote:
    """The reads of one track so far."""

    best: dict[str, Sighting] = field(default_factory=dict)
    reads: int = 0
    #: Per text, the sum over views of its share of each view's vote (confidence x plate
    #: width², averaged over the view's reads); divided by the widest plate's width² this is
    #: its tally. Kept as sums, updated per read for the one view it joins, so a read costs the
    #: same on a parked car's thousandth read as on its first.
    _weighted: dict[str, float] = field(default_factory=dict)
    _views: dict[tuple[int, int], _View] = field(default_factory=dict)
    _widest_px: float = 0.0

    @property
    def tallies(self) -> dict[str, float]:
        """Each text's votes: confidences weighted by (plate width / widest plate read) squared,
        the reads of one view counting as one."""
        scale = self._widest_px ** 2
        return {text: total / scale if scale > 0 else total for text, total in self._weighted.items()}

    def add(self, sighting: Sighting) -> None:
        x1, y1, x2, y2 = sighting.box
        width = max(x2 - x1, 0.0)
        cell = (int((x1 + x2) / 2 // VIEW_CELL_PX), int((y1 + y2) / 2 // VIEW_CELL_PX))
        view = self._views.setdefault(cell, _View())
        for text, share in view.shares().items():
            self._weighted[text] -= share
        view.reads += 1
        view.weighted[sighting.text] = view.weighted.get(sighting.text, 0.0) + sighting.confidence * width ** 2
        for text, share in view.shares().items():
            self._weighted[text] = self._weighted.get(text, 0.0) + share
        self._widest_px = max(self._widest_px, width)
        self.reads += 1
        kept = self.best.get(sighting.text)
        if kept is None or sighting.confidence > kept.confidence:
            self.best[sighting.text] = sighting
        self._drop_trailing_frames()

    def _drop_trailing_frames(self) -> None:
        """Keep whole frames only for the ``FRAMES_KEPT`` leading texts: a frame is 6 MB at
        1920x1080, and a long-lived track (a queue, a parked car) collects many misreads. A
        text that later wins without its frame still has its crop as evidence."""
        tallies = self.tallies
        leading = sorted(tallies, key=tallies.get, reverse=True)[:FRAMES_KEPT]
        for text, kept in self.best.items():
            if text not in leading and kept.frame is not None:
                kept.frame = None

    def result(self, accept: Callable[[str], bool] = lambda plate: True) -> tuple[str, Sighting, float] | None:
        """The plate, the read shown as its evidence (with crop and frame) and the fused
        confidence, or None before any read.

        The plate is voted character by character (:func:`character_vote`); its confidence is
        the weakest character's share of all votes times the evidence read's confidence. A
        plate so voted that ``accept`` refuses (it fits no plate format: characters of texts in
        two formats of one length mixed) gives way to the text with the most votes. The
        evidence is the most confident read of the plate's text, or, when no single read had
        it, of the texts nearest to it."""
        tallies = self.tallies
        if not tallies:
            return None
        plate, support = character_vote(tallies)
        if not accept(plate):
            plate = max(tallies, key=tallies.get)
            support = tallies[plate]
        evidence = self._evidence_for(plate)
        total = sum(tallies.values())
        return plate, evidence, (support / total) * evidence.confidence if total > 0 else 0.0

    def _evidence_for(self, plate: str) -> Sighting:
        """The surest read of ``plate``, else of the texts fewest characters away from it."""
        if plate in self.best:
            return self.best[plate]
        return min(self.best.values(), key=lambda kept: (_differences(kept.text, plate), -kept.confidence))


def character_vote(tallies: dict[str, float]) -> tuple[str, float]:
    """The plate voted per character, and the votes behind its least supported character.

    The texts of the length with the most votes take part; at each position the character
    with the most votes wins. Misreads of one plate mostly differ in one character each
    (MHN6423, NHM6423, MHM8423 beside MHM6423), so the texts split the votes while the
    characters agree: counted whole, a junction car's right text had a fused confidence of
    0.42, under the floor; counted per character, 0.57. When one text leads, its weakest
    character has at least its votes, so the result is the same as a whole-text vote or surer."""
    by_length: dict[int, float] = {}
    for text, tally in tallies.items():
        by_length[len(text)] = by_length.get(len(text), 0.0) + tally
    length = max(by_length, key=lambda size: (by_length[size], size))
    group = {text: tally for text, tally in tallies.items() if len(text) == length}
    plate, support = "", by_length[length]
    for position in range(length):
        votes: dict[str, float] = {}
        for text, tally in group.items():
            votes[text[position]] = votes.get(text[position], 0.0) + tally
        character = max(sorted(votes), key=votes.get)
        plate += character
        support = min(support, votes[character])
    return plate, support


def _differences(text: str, plate: str) -> int:
    """Characters in which two texts differ (a different length differs in every one)."""
    if len(text) != len(plate):
        return max(len(text), len(plate))
    return sum(a != b for a, b in zip(text, plate))
