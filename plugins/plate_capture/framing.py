"""Framing detector boxes as whole plates before they are read.

The plate detector learned its box shape from US-like and Taiwanese plates (about 2:1); on wide
plates (EU plates are 4.7:1) its box is often part of the plate, and a long plate sometimes gets
two half-plate boxes ("AZJ69" + "J699"). On the real training scenes of ro-plates
(``tools/data/real_sets.py``, 468 frames, 569 plates) the boxes touching a plate have a median
width of 0.75 of the plate's but about its height (median 1.09), and 82 plates carry two or
more boxes. Two steps mend that without retraining:

- :func:`merge_halves`: boxes side by side on one row (their rows overlap by at least
  :data:`ROW_OVERLAP` of the lower box, heights within :data:`HEIGHT_RATIO`, a gap of at most
  :data:`GAP_HEIGHTS` of their height) are one plate: their union, with the stronger score;
- :func:`framings`: each box is read as it is and widened about its centre to each of
  :data:`WIDE_ASPECTS` (width over height; only where that widens it), and the most believable
  read wins (:func:`roadcam.plugins.plate_capture.cli.read_image` ranks them like plates).
  A plate of the detector's own shape is read best as boxed; a wide plate in its widened box.

Chosen on training data only (``roadcam plate read``'s :func:`~roadcam.plugins.plate_capture.cli.read_image`
over the shipped detector's boxes): on every 3rd ro-plates training frame (186 plates, no text there) the plates
whose read on them fits a Romanian format unswapped went from 42 (as boxed) to 47 (merging
only), 57 (widened to 3.0), 60 (3.0 and 4.0) and 62 (both steps; 3.0, 3.5 and 4.0: 63 at a
third more reads); on the 168 plates-us training photos exact reads went 153 -> 154 (merging
alone cost one). Figures on the validation splits: the model cards.

``roadcam plate read`` always frames; the appliance's plugin frames with
``plate_capture.wide_plates`` (for EU-shaped plates; Taiwan's are boxed whole, and each
framing is one more read).
"""

from __future__ import annotations

from dataclasses import replace

from .detector import PlateBox

#: Two boxes are on one row when their vertical overlap is at least this share of the lower one's height.
ROW_OVERLAP = 0.6
#: ... their heights differ by at most this factor ...
HEIGHT_RATIO = 1.6
#: ... and the horizontal gap between them is at most this many times the taller one's height.
GAP_HEIGHTS = 0.5
#: A merged box wider than this many heights is not a plate (two plates side by side, a sign).
MAX_ASPECT = 6.0
#: The widths (in box heights) a box is also read at, when it is narrower.
WIDE_ASPECTS = (3.0, 4.0)


def merge_halves(plates: list[PlateBox]) -> list[PlateBox]:
    """The boxes with every pair of side-by-side half-plate boxes (see the module) replaced by
    their union, strongest first; repeated until no pair is left."""
    boxes = sorted(plates, key=lambda plate: -plate.score)
    merged = True
    while merged:
        merged = False
        for i, first in enumerate(boxes):
            for j in range(i + 1, len(boxes)):
                union = _union_if_halves(first, boxes[j])
                if union is not None:
                    boxes[i] = union
                    del boxes[j]
                    merged = True
                    break
            if merged:
                break
    return boxes


def _union_if_halves(a: PlateBox, b: PlateBox) -> PlateBox | None:
    height_a, height_b = a.y2 - a.y1, b.y2 - b.y1
    low, high = min(height_a, height_b), max(height_a, height_b)
    if low <= 0 or high > HEIGHT_RATIO * low:
        return None
    if min(a.y2, b.y2) - max(a.y1, b.y1) < ROW_OVERLAP * low:
        return None
    if max(a.x1, b.x1) - min(a.x2, b.x2) > GAP_HEIGHTS * high:
        return None
    x1, y1, x2, y2 = min(a.x1, b.x1), min(a.y1, b.y1), max(a.x2, b.x2), max(a.y2, b.y2)
    if x2 - x1 > MAX_ASPECT * (y2 - y1):
        return None
    stronger = a if a.score >= b.score else b
    return replace(stronger, x1=x1, y1=y1, x2=x2, y2=y2)


def framings(plate: PlateBox, width_px: int, height_px: int,
             aspects: tuple[float, ...] = WIDE_ASPECTS) -> list[PlateBox]:
    """The box as it is, then widened about its centre to each of ``aspects`` where that makes it
    wider, kept inside the ``width_px`` x ``height_px`` image."""
    found = [plate]
    centre, height = (plate.x1 + plate.x2) / 2, plate.y2 - plate.y1
    for aspect in aspects:
        half = aspect * height / 2
        if 2 * half <= plate.x2 - plate.x1:
            continue
        found.append(replace(plate, x1=max(centre - half, 0.0), x2=min(centre + half, float(width_px))))
    return found
